"""Every route × every role (pendamping, supervisor, verifier, admin, nobody) × inside and outside the user's scope
→ the expected answer, against the real server process.

**Every route.** The routes are read from the application's own route table: a route added without a row here
fails :func:`test_every_route_has_a_row`, so nobody ships an endpoint whose access was never decided; a row for a
route that no longer exists fails it too. Public routes (the OpenAPI pages, ``/healthz``, ``/metrics``, the
stylesheet) have rows as well: being public is a decision too. ``/sync`` is not in the route table (the gateway is
an ASGI endpoint in front of FastAPI, :mod:`server.gateway.endpoints`, routing its raw paths itself): it has a row
for each kind of path the gateway routes (:class:`server.gateway.paths.Target`), and
:func:`test_every_kind_of_sync_path_has_a_row` fails when a kind has none. Those rows decide who replicates which
database; the other ways in and out of a token (expired, forged, revoked device, removed assignment, unknown or
foreign database, refused methods) are tested in ``tests/server/gateway/test_protocol.py``.

**Every role, with its own credential.** ``/api`` and ``/sync`` take a bearer token; ``/web`` takes the session
cookie of its log-in form, and each form's CSRF token (so that a refusal is the role's, never the token's).
Pendamping and verifier cannot log in to ``/web`` (the log-in row); their sessions here are written straight into
the store, as a session would be whose user's role changed after log-in, to show that every page checks the role
and not only the session. "Nobody" sends no credential (the log-in routes: a wrong password): ``/api`` and
``/sync`` answer 401, a page sends the browser to the log-in form.

**Scope.** "Inside" uses a case in Kelurahan Lateng (kecamatan 35.10.16, the supervisor's; the pendamping
``agent.lateng``'s desa), "outside" a case in Desa Kemiren (35.10.15, neither's). Each is there awaiting review and
finalised (eligible): the central verifier reads finalised cases of the whole region only. Routes without a
regional scope (log-in, forms, admin, the verifier's feed) are called the same way for both, and expect the same.

**Expected** is what DESIGN.md's "Who uses it" gives each actor: a pendamping works from the device (their desa
over ``/sync``, nothing of the review); a supervisor the cases and evidence of their kecamatan, on the pages and the
API, and reviews them; the verifier finalised records of the whole region through the API, photos on request, and
writes nothing; an admin sees everything, and writes users, assignments and rule sets. Every cell answers as
expected: a cell that does not fails the matrix test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from server.app import create_app
from server.gateway import paths
from server.gateway.endpoints import SyncEndpoint
from server.web import sessions
from simpul.settings import Settings
from tests.agent_forms import forms_testkit as kit
from tests.fixtures.forms import form_doc
from tests.fixtures.gateway import KEMIREN, LATENG, LATENG_DB, PASSWORD, GatewayProcess, ServerEnv, login
from tests.server.review.seed import SeededCase, seed_case
from tests.server.web import web_sessions

ROLES = ("pendamping", "supervisor", "verifier", "admin", "none")
SCOPES = ("inside", "outside")
USERNAMES = {
    "pendamping": "agent.lateng",
    "supervisor": "spv.banyuwangi",
    "verifier": "verifier",
    "admin": "admin.kabupaten",
}
#: The roles that may log in to the pages (server.review.access.REVIEWER_ROLES).
WEB_ROLES = ("supervisor", "admin")
DEVICE = "matrix-device"
REASON = "Diperiksa dalam uji matriks otorisasi."
#: A NIK no test case uses: restricting it changes nothing else.
SPARE_NIK = kit.make_nik(date(1991, 4, 5), serial="0999")
LOGIN_PAGE = "/web/masuk"
QUEUE_PAGE = "/web/antrian"


@dataclass(frozen=True)
class Redirect:
    """A 303 whose ``Location`` starts with ``to`` (a page's "yes", or its "log in first")."""

    to: str


@dataclass(frozen=True)
class Photo:
    """A 200 image: the original as the device wrote it, or a thumbnail made from it."""

    original: bool


@dataclass(frozen=True)
class Batch:
    """``_bulk_docs``' answer: every document stored (a 201 of ``ok`` rows), or none (a 403, or a 201 refusing each
    document)."""

    stored: bool


Outcome = int | Redirect | Photo | Batch
#: role → outcome, or role → (inside, outside).
Expected = dict[str, Outcome | tuple[Outcome, Outcome]]
Credential = Literal["bearer", "session", "none"]


@dataclass
class World:
    url: str
    env: ServerEnv
    #: "inside", "outside" (awaiting review), "final-inside", "final-outside" (eligible).
    cases: dict[str, SeededCase]
    tokens: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    csrf_keys: dict[str, str] = field(default_factory=dict)

    def bearer(self, role: str) -> dict[str, str]:
        if role == "none":
            return {}
        if role not in self.tokens:
            self.tokens[role] = login(self.url, USERNAMES[role], device_id=DEVICE)["access_token"]
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def new_session(self, role: str) -> str:
        """A new session of ``role``: through the log-in form where the role may log in, else minted."""
        if role in WEB_ROLES:
            return web_sessions.log_in(self.url, USERNAMES[role])
        return web_sessions.mint(self.env, USERNAMES[role])

    def session(self, role: str) -> str | None:
        if role == "none":
            return None
        if role not in self.cookies:
            self.cookies[role] = self.new_session(role)
        return self.cookies[role]

    def csrf(self, role: str, action: str, cookie: str | None = None) -> str:
        """The token of the form posting to ``action`` in the role's session (or in ``cookie``'s)."""
        cookie = cookie or self.session(role)
        if cookie is None:
            return ""
        if cookie not in self.csrf_keys:
            self.csrf_keys[cookie] = web_sessions.csrf_key(self.env, cookie)
        return sessions.form_token(self.csrf_keys[cookie], action)


@dataclass(frozen=True)
class Call:
    path: str
    params: dict[str, Any] | None = None
    json: Any = None
    data: dict[str, str] | None = None
    #: What the role sends: its bearer token, its web session, or nothing (the log-in routes take credentials in
    #: the form).
    credential: Credential = "bearer"
    #: Cookies sent instead of the role's session.
    cookies: dict[str, str] | None = None
    #: The photo asked for, as the device wrote it (to tell an original from a thumbnail).
    photo: bytes | None = None


Builder = Callable[[World, str, str], Call]


@dataclass(frozen=True)
class Row:
    method: str
    template: str
    build: Builder
    expected: Expected
    #: What sets this row apart from another of the same route.
    variant: str = ""

    @property
    def name(self) -> str:
        return f"{self.method} {self.template}" + (f" [{self.variant}]" if self.variant else "")


# --- expectations -------------------------------------------------------------------------------------------


def everyone(outcome: Outcome) -> Expected:
    expected: Expected = dict.fromkeys(ROLES, outcome)
    return expected


def signed_in(ok: int) -> Expected:
    return {**everyone(ok), "none": 401}


def only(roles: tuple[str, ...], ok: int) -> Expected:
    expected: Expected = {role: (ok if role in roles else 403) for role in ROLES}
    return expected | {"none": 401}


def scoped(ok: Outcome) -> Expected:
    """Supervisor inside their kecamatan only; admin everywhere; nobody else (the verifier: the case is not
    final)."""
    return {"pendamping": 403, "supervisor": (ok, 403), "verifier": 403, "admin": ok, "none": 401}


def final_read(ok: Outcome) -> Expected:
    """A finalised case: as :func:`scoped`, and the verifier reads it anywhere in the region."""
    return {**scoped(ok), "verifier": ok}


def page(ok: Outcome) -> Expected:
    """A supervisor's page: as :func:`scoped`; without a session, the log-in form."""
    return {"pendamping": 403, "supervisor": (ok, 403), "verifier": 403, "admin": ok, "none": Redirect(LOGIN_PAGE)}


def replicated(ok: Outcome) -> Expected:
    """A desa database over ``/sync``: the pendamping's own desa, every desa for an admin; supervisors and the
    verifier use the API."""
    return {"pendamping": (ok, 403), "supervisor": 403, "verifier": 403, "admin": ok, "none": 401}


# --- calls --------------------------------------------------------------------------------------------------


def plain(path: str, credential: Credential = "bearer", **params: str) -> Builder:
    return lambda world, role, scope: Call(path, params=params or None, credential=credential)


def case_of(world: World, scope: str, final: bool) -> SeededCase:
    return world.cases[f"final-{scope}" if final else scope]


def case_path(suffix: str = "", *, final: bool = False) -> Builder:
    def build(world: World, role: str, scope: str) -> Call:
        return Call(f"/api/v1/cases/{case_of(world, scope, final).application_id}{suffix}")

    return build


def token_call(world: World, role: str, scope: str) -> Call:
    username = USERNAMES.get(role, "spv.banyuwangi")
    password = PASSWORD if role != "none" else "not-the-password"
    return Call(
        "/api/auth/token", data={"username": username, "password": password, "device_id": DEVICE}, credential="none"
    )


def refresh_call(world: World, role: str, scope: str) -> Call:
    token = login(world.url, USERNAMES[role], device_id=DEVICE)["refresh_token"] if role != "none" else "not-a-token"
    return Call("/api/auth/refresh", data={"refresh_token": token, "device_id": DEVICE}, credential="none")


def photo_call(*, final: bool = False, original: bool = False) -> Builder:
    def build(world: World, role: str, scope: str) -> Call:
        case = case_of(world, scope, final)
        return Call(
            f"/api/v1/cases/{case.application_id}/evidence/{case.evidence_id}/photos/depan.jpg",
            params={"size": "original"} if original else None,
            photo=case.photos["depan.jpg"],
        )

    return build


def evidence_review_call(world: World, role: str, scope: str) -> Call:
    case = world.cases[scope]
    return Call(
        f"/api/v1/cases/{case.application_id}/evidence/{case.evidence_id}/review",
        json={"decision": "approved", "reason": REASON},
    )


def queue_call(world: World, role: str, scope: str) -> Call:
    return Call("/api/v1/review/queue", params={"desa": LATENG if scope == "inside" else KEMIREN})


def web_login_call(world: World, role: str, scope: str) -> Call:
    form = httpx.get(world.url + LOGIN_PAGE, timeout=30)
    token = form.cookies[sessions.LOGIN_COOKIE]
    username = USERNAMES.get(role, "spv.banyuwangi")
    password = PASSWORD if role != "none" else "not-the-password"
    return Call(
        LOGIN_PAGE,
        data={"username": username, "password": password, "csrf": token, "lanjut": QUEUE_PAGE},
        credential="none",
        cookies={sessions.LOGIN_COOKIE: token},
    )


def web_logout_call(world: World, role: str, scope: str) -> Call:
    # A session of its own: logging out must not end the one the other rows use.
    if role == "none":
        return Call("/web/keluar", data={"csrf": ""}, credential="none")
    cookie = world.new_session(role)
    return Call(
        "/web/keluar",
        data={"csrf": world.csrf(role, "/web/keluar", cookie)},
        credential="none",
        cookies={sessions.COOKIE: cookie},
    )


def web_queue_call(world: World, role: str, scope: str) -> Call:
    return Call(QUEUE_PAGE, params={"desa": LATENG if scope == "inside" else KEMIREN}, credential="session")


def web_case_call(*, final: bool = False) -> Builder:
    def build(world: World, role: str, scope: str) -> Call:
        return Call(f"/web/kasus/{case_of(world, scope, final).application_id}", credential="session")

    return build


def web_photo_call(*, original: bool = False) -> Builder:
    def build(world: World, role: str, scope: str) -> Call:
        case = world.cases[scope]
        return Call(
            f"/web/kasus/{case.application_id}/foto/{case.evidence_id}/depan.jpg",
            params={"ukuran": "asli"} if original else None,
            credential="session",
            photo=case.photos["depan.jpg"],
        )

    return build


def web_evidence_call(world: World, role: str, scope: str) -> Call:
    case = world.cases[scope]
    action = f"/web/kasus/{case.application_id}/bukti/{case.evidence_id}"
    return Call(
        action,
        data={"keputusan": "approved", "alasan": REASON, "csrf": world.csrf(role, action)},
        credential="session",
    )


def web_decide_call(world: World, role: str, scope: str) -> Call:
    action = f"/web/kasus/{world.cases[scope].application_id}/keputusan"
    return Call(
        action, data={"keputusan": "eligible", "alasan": REASON, "csrf": world.csrf(role, action)}, credential="session"
    )


def sync_call(suffix: str = "", **params: str) -> Builder:
    """``/sync/<the scope's desa database>/<suffix>``; ``{doc_id}`` and ``{evidence_id}`` are the case's."""

    def build(world: World, role: str, scope: str) -> Call:
        case = world.cases[scope]
        rest = suffix.format(doc_id=case.application_id, evidence_id=case.evidence_id)
        return Call(f"/sync/{case.db}/{rest}", params=params or None)

    return build


def sync_write_call(world: World, role: str, scope: str) -> Call:
    """A household captured by the caller in the scope's desa: a valid submission of its own."""
    case = world.cases[scope]
    doc = form_doc("household", agent=USERNAMES.get(role, "agent.lateng"), desa=case.desa)
    return Call(f"/sync/{case.db}/_bulk_docs", json={"docs": [doc]})


MATRIX: list[Row] = [
    # --- public: the OpenAPI pages, health and metrics -----------------------------------------------------
    Row("GET", "/openapi.json", plain("/openapi.json"), everyone(200)),
    Row("GET", "/docs", plain("/docs"), everyone(200)),
    Row("GET", "/docs/oauth2-redirect", plain("/docs/oauth2-redirect"), everyone(200)),
    Row("GET", "/redoc", plain("/redoc"), everyone(200)),
    Row("GET", "/healthz", plain("/healthz"), everyone(200)),
    Row("GET", "/metrics", plain("/metrics"), everyone(200)),
    # --- /api: log-in and forms ----------------------------------------------------------------------------
    Row("POST", "/api/auth/token", token_call, signed_in(200)),
    Row("POST", "/api/auth/refresh", refresh_call, signed_in(200)),
    Row(
        "POST",
        "/api/auth/logout",
        lambda world, role, scope: Call("/api/auth/logout", data={"device_id": "matrix-logout"}),
        signed_in(204),
    ),
    Row("GET", "/api/auth/me", plain("/api/auth/me"), signed_in(200)),
    Row("GET", "/api/forms", plain("/api/forms"), everyone(200)),
    Row("GET", "/api/forms/{form_type}/{version}", plain("/api/forms/household/1"), everyone(200)),
    # --- /api: the admin's -------------------------------------------------------------------------------------
    Row("GET", "/api/v1/admin/dead-letters", plain("/api/v1/admin/dead-letters"), only(("admin",), 200)),
    Row(
        "POST",
        "/api/v1/admin/dead-letters/{dead_letter_id}/requeue",
        plain("/api/v1/admin/dead-letters/999999999/requeue"),
        only(("admin",), 404),
    ),
    Row("GET", "/api/v1/admin/audit", plain("/api/v1/admin/audit"), only(("admin",), 200)),
    Row(
        "GET",
        "/api/v1/admin/people/{nik}/export",
        plain(f"/api/v1/admin/people/{SPARE_NIK}/export"),
        only(("admin",), 200),
    ),
    Row(
        "POST",
        "/api/v1/admin/people/{nik}/restriction",
        lambda world, role, scope: Call(
            f"/api/v1/admin/people/{SPARE_NIK}/restriction", json={"reason": "Uji matriks otorisasi"}
        ),
        only(("admin",), 201),
    ),
    Row(
        "DELETE",
        "/api/v1/admin/people/{nik}/restriction",
        plain(f"/api/v1/admin/people/{SPARE_NIK}/restriction"),
        only(("admin",), 200),
    ),
    # --- /api: the verifier's feed ---------------------------------------------------------------------------
    Row("GET", "/api/v1/decisions", plain("/api/v1/decisions"), only(("verifier", "admin"), 200)),
    Row("GET", "/api/v1/decisions.csv", plain("/api/v1/decisions.csv"), only(("verifier", "admin"), 200)),
    # --- /api: the review ------------------------------------------------------------------------------------
    Row("GET", "/api/v1/review/queue", queue_call, scoped(200)),
    Row("GET", "/api/v1/cases/{application_id}", case_path(), scoped(200), "awaiting review"),
    Row("GET", "/api/v1/cases/{application_id}", case_path(final=True), final_read(200), "finalised"),
    Row(
        "GET",
        "/api/v1/cases/{application_id}/evidence/{evidence_id}/photos/{attachment}",
        photo_call(),
        scoped(Photo(original=False)),
        "awaiting review, thumbnail",
    ),
    Row(
        "GET",
        "/api/v1/cases/{application_id}/evidence/{evidence_id}/photos/{attachment}",
        photo_call(original=True),
        scoped(Photo(original=True)),
        "awaiting review, ?size=original",
    ),
    Row(
        "GET",
        "/api/v1/cases/{application_id}/evidence/{evidence_id}/photos/{attachment}",
        photo_call(final=True),
        final_read(Photo(original=False)),
        "finalised, thumbnail",
    ),
    Row(
        "GET",
        "/api/v1/cases/{application_id}/evidence/{evidence_id}/photos/{attachment}",
        photo_call(final=True, original=True),
        final_read(Photo(original=True)),
        "finalised, ?size=original",
    ),
    Row("POST", "/api/v1/cases/{application_id}/evidence/{evidence_id}/review", evidence_review_call, scoped(200)),
    Row(
        "POST",
        "/api/v1/cases/{application_id}/decision",
        lambda world, role, scope: Call(
            f"/api/v1/cases/{world.cases[scope].application_id}/decision",
            json={"decision": "eligible", "reason": REASON},
        ),
        scoped(200),
    ),
    # --- /web: the supervisors' pages ------------------------------------------------------------------------
    Row("GET", "/web", plain("/web", "session"), everyone(Redirect(QUEUE_PAGE))),
    Row("GET", "/web/", plain("/web/", "session"), everyone(Redirect(QUEUE_PAGE))),
    Row("GET", "/web/static/simpul.css", plain("/web/static/simpul.css", "session"), everyone(200)),
    # With a live session the form sends the browser on to the queue, whose own row says who gets in.
    Row("GET", "/web/masuk", plain(LOGIN_PAGE, "session"), {**everyone(Redirect(QUEUE_PAGE)), "none": 200}),
    Row(
        "POST",
        "/web/masuk",
        web_login_call,
        # Nobody: a wrong password.
        {
            "pendamping": 403,
            "supervisor": Redirect(QUEUE_PAGE),
            "verifier": 403,
            "admin": Redirect(QUEUE_PAGE),
            "none": 401,
        },
    ),
    # Anyone with a session may end it.
    Row(
        "POST",
        "/web/keluar",
        web_logout_call,
        {**everyone(Redirect(f"{LOGIN_PAGE}?pesan=keluar")), "none": Redirect(f"{LOGIN_PAGE}?lanjut=")},
    ),
    Row("GET", "/web/antrian", web_queue_call, page(200)),
    Row("GET", "/web/kasus/{application_id}", web_case_call(), page(200), "awaiting review"),
    # The verifier reads finalised cases through the API (its feed links there), not on the supervisors' pages.
    Row("GET", "/web/kasus/{application_id}", web_case_call(final=True), page(200), "finalised"),
    Row(
        "GET",
        "/web/kasus/{application_id}/foto/{evidence_id}/{attachment}",
        web_photo_call(),
        page(Photo(original=False)),
        "thumbnail",
    ),
    Row(
        "GET",
        "/web/kasus/{application_id}/foto/{evidence_id}/{attachment}",
        web_photo_call(original=True),
        page(Photo(original=True)),
        "?ukuran=asli",
    ),
    Row("POST", "/web/kasus/{application_id}/bukti/{evidence_id}", web_evidence_call, page(Redirect("/web/kasus/"))),
    Row("POST", "/web/kasus/{application_id}/keputusan", web_decide_call, page(Redirect("/web/kasus/"))),
    # --- /sync: one row per kind of gateway path (server.gateway.paths.Target) ----------------------------------
    Row("GET", "/sync/", plain("/sync/"), everyone(200), "the gateway's identity, public (docs/gateway.md)"),
    Row("GET", "/sync/_all_dbs", plain("/sync/_all_dbs"), signed_in(200), "each user's own list"),
    Row("GET", "/sync/{db}/", sync_call(), replicated(200)),
    Row("GET", "/sync/{db}/_changes", sync_call("_changes", limit="1"), replicated(200)),
    # DESIGN.md: an admin sees everything and writes users, assignments and rule sets, not submissions.
    Row(
        "POST",
        "/sync/{db}/_bulk_docs",
        sync_write_call,
        {**replicated(Batch(stored=True)), "admin": 403},
        "a submission of the caller's",
    ),
    Row("GET", "/sync/{db}/{doc_id}", sync_call("{doc_id}"), replicated(200)),
    Row("GET", "/sync/{db}/{doc_id}/{attachment}", sync_call("{evidence_id}/depan.jpg"), replicated(200)),
]


def is_sync(template: str) -> bool:
    return template == paths.PREFIX or template.startswith(paths.PREFIX + "/")


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    routes: set[tuple[str, str]] = set()
    for context in iter_route_contexts(app.routes):
        routes |= {(method, context.path or "") for method in context.methods or () if method != "HEAD"}
    return routes


def test_every_route_has_a_row(tmp_path: Path) -> None:
    routes = app_routes(create_app(Settings(data_dir=tmp_path)))
    rows = {(row.method, row.template) for row in MATRIX if not is_sync(row.template)}
    missing = sorted(routes - rows)
    stale = sorted(rows - routes)
    assert not missing, f"routes without a row in the authorization matrix (decide who may call them): {missing}"
    assert not stale, f"matrix rows for routes that no longer exist: {stale}"


def test_every_kind_of_sync_path_has_a_row(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path))
    assert any(middleware.cls is SyncEndpoint for middleware in app.user_middleware), "/sync is not the gateway's"
    shadowed = sorted(route for route in app_routes(app) if is_sync(route[1]))
    assert not shadowed, f"routes under /sync, which the gateway answers before FastAPI sees them: {shadowed}"
    examples = {
        row.template: row.template.format(db=LATENG_DB, doc_id="application:x", attachment="depan.jpg")
        for row in MATRIX
        if is_sync(row.template)
    }
    kinds = {paths.parse(example.encode()).target for example in examples.values()}
    assert kinds == set(paths.Target), f"kinds of /sync path without a row: {sorted(set(paths.Target) - kinds)}"


def _body(response: httpx.Response) -> str:
    kind = response.headers.get("content-type", "")
    return response.text[:160] if kind.startswith(("text/", "application/json")) else f"<{kind}>"


def _batch(response: httpx.Response) -> list[dict[str, Any]] | None:
    rows = response.json() if response.status_code == 201 else None
    return rows if isinstance(rows, list) and all(isinstance(item, dict) for item in rows) else None


def _matches(want: Outcome, call: Call, response: httpx.Response) -> bool:
    status = response.status_code
    if isinstance(want, Redirect):
        return status == 303 and response.headers.get("location", "").startswith(want.to)
    if isinstance(want, Photo):
        image = status == 200 and response.headers.get("content-type", "").startswith("image/")
        return image and (response.content == call.photo) is want.original
    if isinstance(want, Batch):
        if not want.stored and status == 403:
            return True
        rows = _batch(response)
        if rows is None:
            return False
        if want.stored:
            return all(item.get("ok") for item in rows)
        return all(item.get("error") == "forbidden" for item in rows)
    return status == want


def _describe(want: Outcome) -> str:
    if isinstance(want, Redirect):
        return f"303 to {want.to}…"
    if isinstance(want, Photo):
        return f"200 with the {'original' if want.original else 'thumbnail'}"
    if isinstance(want, Batch):
        return "201, every document stored" if want.stored else "403, or 201 refusing every document"
    return str(want)


def answer(world: World, row: Row, role: str, scope: str) -> str | None:
    """Calls ``row`` as ``role`` in ``scope``; what went otherwise than expected, or None."""
    expected = row.expected[role]
    want = expected[SCOPES.index(scope)] if isinstance(expected, tuple) else expected
    call = row.build(world, role, scope)
    headers = world.bearer(role) if call.credential == "bearer" else {}
    cookies = call.cookies
    if cookies is None and call.credential == "session" and (cookie := world.session(role)):
        cookies = {sessions.COOKIE: cookie}
    if cookies:
        headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
    # A client per call: no cookie a response set carries over, and no kept-alive connection that the server may
    # have closed while a builder was logging someone in.
    with httpx.Client(base_url=world.url, timeout=30) as client:
        response = client.request(
            row.method, call.path, params=call.params, json=call.json, data=call.data, headers=headers
        )
    if _matches(want, call, response):
        return None
    location = response.headers.get("location")
    shown = f"{response.status_code} to {location!r}" if location else str(response.status_code)
    return f"{row.name} as {role} ({scope}): {shown}, expected {_describe(want)}: {_body(response)}"


@pytest.fixture(scope="module")
def world(gateway: GatewayProcess, server_env: ServerEnv) -> World:
    return World(
        gateway.url,
        server_env,
        {
            "inside": seed_case(server_env, desa=LATENG),
            "outside": seed_case(server_env, desa=KEMIREN),
            "final-inside": seed_case(server_env, desa=LATENG, status="eligible"),
            "final-outside": seed_case(server_env, desa=KEMIREN, status="eligible"),
        },
    )


@pytest.mark.live
def test_every_route_answers_every_role_as_decided(world: World) -> None:
    wrong = [
        problem for row in MATRIX for role in ROLES for scope in SCOPES if (problem := answer(world, row, role, scope))
    ]
    assert not wrong, "\n".join(wrong)


def test_rows_have_distinct_names() -> None:
    assert len({row.name for row in MATRIX}) == len(MATRIX), "two rows of the same name: give one a variant"
