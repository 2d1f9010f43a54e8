"""The I/O side of the verification pipeline: what the pure rules of :mod:`sync.verification` need and what becomes
of their verdicts.

- :mod:`~sync.cases.documents` gathers a case file from the desa database (current versions only);
- :mod:`~sync.cases.facts` asks the registries exactly what the consent gate allows;
- :mod:`~sync.cases.writer` pushes ``result:<application id>`` and ``task:<application id>`` down, only on change;
- :mod:`~sync.cases.processor` runs one case start to finish, serialised per case;
- :mod:`~sync.cases.handler` is the changes-feed handler; :mod:`~sync.cases.background` the sweeper and the dynamic
  layer; :mod:`~sync.cases.pipeline` wires them (``build_pipeline``);
- :mod:`~sync.cases.tables` / :mod:`~sync.cases.store`: the relational projection (cases, decisions, people, the
  consent ledger, document links, registry cursors).

A case is an application: its id is the application's document id. A correction of an application
(``supersedes``) is a new case; the old one is closed as ``superseded`` and its result says so.
"""
