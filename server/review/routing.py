"""Document ids in URLs: each id is one percent-encoded path segment, and routes read it back from the raw path.

A CouchDB document id may hold any character (PROTOCOL.md): ``application:a/b``, ``application:x?y#z``,
``application:p%2Fq``, unicode. In a URL such an id is one segment with everything but letters, digits, ``-._~``
and ``:`` percent-encoded (:func:`segment`): ``/api/v1/cases/application:a%2Fb/decision``.

The server receives the path decoded (``%2F`` is ``/`` again), which would make ``a/b`` two segments and no route
match. So :class:`RawPathRoute` matches its template against the raw path, where an encoded ``/`` is still
``%2F``, and decodes each parameter on its own: the routes keep their templates (``/cases/{application_id}``) and
stay unambiguous whatever an id holds. A path with nothing encoded is matched as usual.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote

from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import Scope

#: Left as they are in a segment besides letters, digits and ``-._~``: ids read as ids (``application:…``).
_SAFE = ":"


def segment(value: str) -> str:
    """``value`` as one path segment: ``application:a/b`` → ``application:a%2Fb``."""
    return quote(value, safe=_SAFE)


def _raw_route_path(scope: Scope) -> str | None:
    """The raw path, when it is the one the server decoded (else ``None``: route on the decoded path)."""
    raw = scope.get("raw_path")
    if not isinstance(raw, bytes) or b"%" not in raw:
        return None
    try:
        path = raw.partition(b"?")[0].decode("ascii")
    except UnicodeDecodeError:
        return None
    return path if unquote(path) == scope.get("path") else None


class RawPathRoute(APIRoute):
    """A route whose path parameters are single segments of the raw path, each percent-decoded on its own."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        raw = _raw_route_path(scope) if scope["type"] == "http" else None
        if raw is None:
            return super().matches(scope)
        match, child_scope = super().matches({**scope, "path": raw})
        if match is Match.NONE:
            return match, child_scope
        params: dict[str, Any] = dict(child_scope.get("path_params", {}))
        for name in self.param_convertors:
            value = params.get(name)
            if isinstance(value, str):
                try:
                    params[name] = unquote(value, errors="strict")
                except UnicodeDecodeError:  # not UTF-8 once decoded: no document has that id
                    return Match.NONE, {}
        child_scope["path_params"] = params
        return match, child_scope
