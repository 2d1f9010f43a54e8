"""The reference sources the checks consult: the population registry (Dukcapil), DTSEN (BPS) and ministries'
data over SPLP.

- ``protocols``: one interface per source; ``models``: what they answer (also the HTTP contract).
- ``local``: the local store (``reg_`` tables); ``http``: adapters for the real services; ``sources``: wiring.
- ``errors``: the one small hierarchy callers catch (``SourceUnavailable`` means "defer").
- ``generator``: deterministic Banyuwangi reference data; ``simulator``: the local store over HTTP.
- ``cli``: ``simpul registries ...``; ``bench``: the benchmark.

Kept import-light: ``simpul.settings`` imports ``registries.config``.
"""
