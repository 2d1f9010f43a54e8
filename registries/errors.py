"""The registries' one small error hierarchy.

Callers (the pipeline, the server) catch these and nothing else: transport failures of the HTTP adapters are
translated at that edge and chained (``raise ... from exc``), so no httpx exception ever escapes this package.

``SourceUnavailable`` is the explicit "no answer" of a source: the pipeline then defers the check and never
decides on missing data.
"""

from __future__ import annotations


class RegistryError(Exception):
    """Base of every error raised by ``registries``. ``code`` is stable and machine-readable."""

    code = "registry_error"

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.message = message


class SourceUnavailable(RegistryError):
    """The source could not answer now (network, timeout, 5xx, open circuit, bad credentials, garbled answer).

    ``retry_after_s`` is a hint for when to try again, if the source or the circuit breaker knows one.
    """

    code = "source_unavailable"

    def __init__(self, source: str, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(source, message)
        self.retry_after_s = retry_after_s


class CircuitOpen(SourceUnavailable):
    """Too many recent failures: calls are refused locally, without the network, until the reset time."""

    code = "circuit_open"


class SourceAuthError(SourceUnavailable):
    """The source refused our client credentials. Still 'unavailable' for the pipeline (it defers), but an
    operator must fix the configuration."""

    code = "source_auth_error"


class InvalidQuery(RegistryError):
    """The source refused the question itself (malformed NIK or KK, missing field): retrying will not help."""

    code = "invalid_query"


class InvalidCursor(InvalidQuery):
    """A changes cursor that this source did not mint."""

    code = "invalid_cursor"
