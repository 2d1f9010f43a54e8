"""What the CouchDB layer raises. No caller sees an httpx exception: transport failures and statuses are
translated here, chained ``from`` the original."""

from __future__ import annotations


class CouchError(Exception):
    """A CouchDB request failed; ``status`` is the HTTP status when there was an answer."""

    def __init__(self, message: str, *, status: int | None = None, error: str = "", reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.reason = reason


class CouchUnavailable(CouchError):
    """CouchDB could not be reached, timed out or answered 5xx: transient, try again later."""


class CouchNotFound(CouchError):
    pass


class CouchConflict(CouchError):
    """409 (document update conflict) or 412 (database already exists)."""


class CouchUnauthorized(CouchError):
    """401/403 from CouchDB: the server's own credentials are wrong or lack rights."""
