"""Every ``/api`` route × every role (pendamping, supervisor, verifier, admin, no token) × inside and outside the
user's scope → the expected status, against the real server process.

The routes are read from the application's own route table: a route added without an entry here fails
:func:`test_every_api_route_has_an_entry`, so nobody ships an endpoint whose access was never decided. A stale entry
(a route that no longer exists) fails it too.

**Scope.** "Inside" uses a case in Kelurahan Lateng (kecamatan 35.10.16, the supervisor's), "outside" a case in Desa
Kemiren (35.10.15, not theirs). Routes without a regional scope (log-in, forms, admin, the verifier's feed) are
called the same way for both, and expect the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from server.app import create_app
from simpul.settings import Settings
from tests.agent_forms import forms_testkit as kit
from tests.fixtures.gateway import KEMIREN, LATENG, PASSWORD, GatewayProcess, ServerEnv, login
from tests.server.review.seed import SeededCase, seed_case

ROLES = ("pendamping", "supervisor", "verifier", "admin", "none")
SCOPES = ("inside", "outside")
USERNAMES = {
    "pendamping": "agent.lateng",
    "supervisor": "spv.banyuwangi",
    "verifier": "verifier",
    "admin": "admin.kabupaten",
}
DEVICE = "matrix-device"
REASON = "Diperiksa dalam uji matriks otorisasi."
#: A NIK no test case uses: restricting it changes nothing else.
SPARE_NIK = kit.make_nik(date(1991, 4, 5), serial="0999")


@dataclass
class World:
    url: str
    cases: dict[str, SeededCase]
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, role: str) -> dict[str, str]:
        if role == "none":
            return {}
        if role not in self.tokens:
            self.tokens[role] = login(self.url, USERNAMES[role], device_id=DEVICE)["access_token"]
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@dataclass(frozen=True)
class Call:
    path: str
    params: dict[str, Any] | None = None
    json: Any = None
    data: dict[str, str] | None = None
    #: Send the role's bearer token (False for the log-in routes, which take credentials in the form).
    auth: bool = True


Builder = Callable[[World, str, str], Call]
#: role → status, or role → (inside, outside).
Expected = dict[str, int | tuple[int, int]]


def everyone(status: int) -> Expected:
    expected: Expected = dict.fromkeys(ROLES, status)
    return expected


def only(roles: tuple[str, ...], ok: int) -> Expected:
    expected: Expected = {role: (ok if role in roles else 403) for role in ROLES}
    return expected | {"none": 401}


def scoped(ok: int) -> Expected:
    """Supervisor inside their kecamatan only; admin everywhere; nobody else."""
    return {"pendamping": 403, "supervisor": (ok, 403), "verifier": 403, "admin": ok, "none": 401}


def plain(path: str) -> Builder:
    return lambda world, role, scope: Call(path)


def case_path(suffix: str = "") -> Builder:
    def build(world: World, role: str, scope: str) -> Call:
        return Call(f"/api/v1/cases/{world.cases[scope].application_id}{suffix}")

    return build


def token_call(world: World, role: str, scope: str) -> Call:
    username = USERNAMES.get(role, "spv.banyuwangi")
    password = PASSWORD if role != "none" else "not-the-password"
    return Call("/api/auth/token", data={"username": username, "password": password, "device_id": DEVICE}, auth=False)


def refresh_call(world: World, role: str, scope: str) -> Call:
    token = login(world.url, USERNAMES[role], device_id=DEVICE)["refresh_token"] if role != "none" else "not-a-token"
    return Call("/api/auth/refresh", data={"refresh_token": token, "device_id": DEVICE}, auth=False)


def photo_call(world: World, role: str, scope: str) -> Call:
    case = world.cases[scope]
    return Call(f"/api/v1/cases/{case.application_id}/evidence/{case.evidence_id}/photos/depan.jpg")


def evidence_review_call(world: World, role: str, scope: str) -> Call:
    case = world.cases[scope]
    return Call(
        f"/api/v1/cases/{case.application_id}/evidence/{case.evidence_id}/review",
        json={"decision": "approved", "reason": REASON},
    )


def queue_call(world: World, role: str, scope: str) -> Call:
    return Call("/api/v1/review/queue", params={"desa": LATENG if scope == "inside" else KEMIREN})


MATRIX: dict[tuple[str, str], tuple[Builder, Expected]] = {
    ("POST", "/api/auth/token"): (token_call, {**everyone(200), "none": 401}),
    ("POST", "/api/auth/refresh"): (refresh_call, {**everyone(200), "none": 401}),
    ("POST", "/api/auth/logout"): (
        lambda world, role, scope: Call("/api/auth/logout", data={"device_id": "matrix-logout"}),
        {**everyone(204), "none": 401},
    ),
    ("GET", "/api/auth/me"): (plain("/api/auth/me"), {**everyone(200), "none": 401}),
    ("GET", "/api/forms"): (plain("/api/forms"), everyone(200)),
    ("GET", "/api/forms/{form_type}/{version}"): (plain("/api/forms/household/1"), everyone(200)),
    ("GET", "/api/v1/admin/dead-letters"): (plain("/api/v1/admin/dead-letters"), only(("admin",), 200)),
    ("POST", "/api/v1/admin/dead-letters/{dead_letter_id}/requeue"): (
        plain("/api/v1/admin/dead-letters/999999999/requeue"),
        only(("admin",), 404),
    ),
    ("GET", "/api/v1/admin/audit"): (plain("/api/v1/admin/audit"), only(("admin",), 200)),
    ("GET", "/api/v1/admin/people/{nik}/export"): (
        plain(f"/api/v1/admin/people/{SPARE_NIK}/export"),
        only(("admin",), 200),
    ),
    ("POST", "/api/v1/admin/people/{nik}/restriction"): (
        lambda world, role, scope: Call(
            f"/api/v1/admin/people/{SPARE_NIK}/restriction", json={"reason": "Uji matriks otorisasi"}
        ),
        only(("admin",), 201),
    ),
    ("DELETE", "/api/v1/admin/people/{nik}/restriction"): (
        plain(f"/api/v1/admin/people/{SPARE_NIK}/restriction"),
        only(("admin",), 200),
    ),
    ("GET", "/api/v1/decisions"): (plain("/api/v1/decisions"), only(("verifier", "admin"), 200)),
    ("GET", "/api/v1/decisions.csv"): (plain("/api/v1/decisions.csv"), only(("verifier", "admin"), 200)),
    ("GET", "/api/v1/review/queue"): (queue_call, scoped(200)),
    # The verifier reads finalised cases only; both cases here await review.
    ("GET", "/api/v1/cases/{application_id}"): (case_path(), scoped(200)),
    ("GET", "/api/v1/cases/{application_id}/evidence/{evidence_id}/photos/{attachment}"): (photo_call, scoped(200)),
    ("POST", "/api/v1/cases/{application_id}/evidence/{evidence_id}/review"): (evidence_review_call, scoped(200)),
    ("POST", "/api/v1/cases/{application_id}/decision"): (
        lambda world, role, scope: Call(
            f"/api/v1/cases/{world.cases[scope].application_id}/decision",
            json={"decision": "eligible", "reason": REASON},
        ),
        scoped(200),
    ),
}


def api_routes(tmp_path: Path) -> set[tuple[str, str]]:
    app = create_app(Settings(data_dir=tmp_path))
    routes: set[tuple[str, str]] = set()
    for context in iter_route_contexts(app.routes):
        path = context.path or ""
        if path == "/api" or path.startswith("/api/"):
            routes |= {(method, path) for method in context.methods or () if method != "HEAD"}
    return routes


def test_every_api_route_has_an_entry(tmp_path: Path) -> None:
    routes = api_routes(tmp_path)
    missing = sorted(routes - set(MATRIX))
    stale = sorted(set(MATRIX) - routes)
    assert not missing, f"routes without an entry in the authorization matrix (decide who may call them): {missing}"
    assert not stale, f"matrix entries for routes that no longer exist: {stale}"


@pytest.mark.live
def test_every_route_answers_every_role_as_decided(
    gateway: GatewayProcess, server_env: ServerEnv, tmp_path: Path
) -> None:
    world = World(
        gateway.url,
        {"inside": seed_case(server_env, desa=LATENG), "outside": seed_case(server_env, desa=KEMIREN)},
    )
    wrong: list[str] = []
    routes = api_routes(tmp_path)
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        for (method, template), (build, expected) in MATRIX.items():
            if (method, template) not in routes:
                continue  # reported by test_every_api_route_has_an_entry
            for role in ROLES:
                for index, scope in enumerate(SCOPES):
                    want = expected[role]
                    status = want[index] if isinstance(want, tuple) else want
                    call = build(world, role, scope)
                    response = client.request(
                        method,
                        call.path,
                        params=call.params,
                        json=call.json,
                        data=call.data,
                        headers=world.headers(role) if call.auth else {},
                    )
                    if response.status_code != status:
                        wrong.append(
                            f"{method} {template} as {role} ({scope}): {response.status_code}, expected {status}: "
                            f"{response.text[:160]}"
                        )
    assert not wrong, "\n".join(wrong)
