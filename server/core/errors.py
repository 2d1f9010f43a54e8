"""The one error hierarchy of the API. Services raise these; one handler turns them into responses.

On ``/api`` the body is ``{"error": <code>, "detail": <text>}``; on ``/sync`` it is CouchDB's
``{"error": <code>, "reason": <text>}`` (a replicator reads ``error`` to decide whether to log in, retry or stop).
"""

from __future__ import annotations


class SimpulError(Exception):
    status_code = 500
    code = "internal_error"
    # True when what the service did before raising must still be committed (e.g. revoking a stolen token's
    # device before refusing it): the request's unit of work commits, then the error is answered.
    keeps_changes = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(SimpulError):
    status_code = 400
    code = "bad_request"


class Unauthorized(SimpulError):
    """The caller must log in (again): missing, expired or forged credentials."""

    status_code = 401
    code = "unauthorized"


class RevokedOnReplay(Unauthorized):
    """A rotated refresh token was presented again: the device's tokens were revoked, and that must stick."""

    keeps_changes = True


class Forbidden(SimpulError):
    status_code = 403
    code = "forbidden"


class NotFound(SimpulError):
    status_code = 404
    code = "not_found"


class Conflict(SimpulError):
    status_code = 409
    code = "conflict"


class RequestTimeout(SimpulError):
    status_code = 408
    code = "request_timeout"


class PayloadTooLarge(SimpulError):
    status_code = 413
    code = "too_large"


class ServiceUnavailable(SimpulError):
    """Transient trouble behind us (CouchDB, the relational store): clients retry with back-off."""

    status_code = 503
    code = "service_unavailable"
