"""The supervisors' web pages (``/web``), server-rendered with Jinja2, in Bahasa Indonesia.

Built for a low-end laptop on a slow link: plain HTML forms (no script at all), one small stylesheet, photos as
thumbnails (the original opens on request). Every page is a GET, every action a POST answered with a redirect
(post/redirect/get), so a reload never repeats an action.

The pages call the same service as the API (:class:`server.review.service.ReviewService`): the same scope rules,
the same ``review:`` documents, the same audit rows. Log-in and CSRF: :mod:`server.web.sessions`.

Errors are shown as pages, not JSON: :class:`WebRoute` turns a domain error into an error page (or, when the
session is missing, a redirect to the log-in page) and rolls back whatever the request had written.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Coroutine
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlmodel.ext.asyncio.session import AsyncSession

from agent_forms.models.base import age_on
from server.core.errors import BadRequest, Conflict, Forbidden, SimpulError
from server.core.state import SessionDep, StateDep
from server.review.access import REVIEWER_ROLES, Reviewer, reviewer_of
from server.review.documents import MIN_REASON, CaseVerdict, EvidenceDecision
from server.review.endpoints import image_limits, photo_response
from server.review.routing import RawPathRoute, segment
from server.review.schemas import QueueStatus
from server.review.service import CaseView, QueueFilters, ReviewService, region_names
from server.web import present, sessions
from sync.checkpoints import utcnow

HERE = Path(__file__).parent
PREFIX = "/web"
QUEUE_PAGE = f"{PREFIX}/antrian"
LOGIN_PAGE = f"{PREFIX}/masuk"
PAGE_SIZE = 50

#: What the pages allow the browser: nothing from elsewhere, no script, no framing.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self'; style-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

#: Messages shown after a redirect, by code: only these can appear (a code in the URL cannot inject text).
FLASH = {
    "bukti-disetujui": "Bukti disetujui. Pendamping akan menerimanya pada sinkronisasi berikutnya.",
    "bukti-ditolak": "Bukti ditolak. Pendamping akan menerimanya pada sinkronisasi berikutnya.",
    "kasus-diputuskan": "Keputusan disimpan. Kasus akan diperiksa ulang dan hasilnya dikirim ke pendamping.",
    "keluar": "Anda sudah keluar.",
    "sesi-habis": "Sesi Anda berakhir. Silakan masuk lagi.",
}


class LoginRequired(Exception):
    """No live session: the page redirects to the log-in form and comes back afterwards."""


class WebRoute(RawPathRoute):
    """Routes whose errors are pages (see the module docstring), and whose ids are encoded segments of the raw path
    (:mod:`server.review.routing`)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                await _rollback(request)
                target = _raw_path(request) if request.method == "GET" else QUEUE_PAGE
                query = urlencode({"lanjut": target, "pesan": "sesi-habis"})
                return RedirectResponse(f"{LOGIN_PAGE}?{query}", status_code=303)
            except SimpulError as exc:
                await _rollback(request)
                return error_page(request, exc.status_code, exc.message)
            except RequestValidationError:
                await _rollback(request)
                return error_page(request, 400, "Isian tidak lengkap atau tidak sah. Kembali dan periksa isian Anda.")

        return guarded


def _raw_path(request: Request) -> str:
    """The path as the browser sent it: ids still encoded, so that coming back after log-in finds the same page."""
    raw = request.scope.get("raw_path")
    if isinstance(raw, bytes):
        try:
            return raw.partition(b"?")[0].decode("ascii")
        except UnicodeDecodeError:
            pass
    return quote(request.url.path, safe=":/")


async def _rollback(request: Request) -> None:
    session: AsyncSession | None = getattr(request.state, "web_db", None)
    if session is not None:
        await session.rollback()


router = APIRouter(prefix=PREFIX, route_class=WebRoute, include_in_schema=False)


# --- templates ----------------------------------------------------------------------------------------------


@cache
def templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=present.when,
        day=present.day,
        rupiah=present.rupiah,
        nik=present.masked_nik,
        display=present.display,
        status=present.status_label,
        datum=present.datum_value,
        # Every id that goes into a URL goes through this: one encoded segment (server.review.routing).
        segment=segment,
        anchor=present.anchor,
    )
    env.globals.update(
        OUTCOME_LABELS=present.OUTCOME_LABELS,
        KIND_LABELS=present.KIND_LABELS,
        EVIDENCE_DECISION_LABELS=present.EVIDENCE_DECISION_LABELS,
        CASE_DECISION_LABELS=present.CASE_DECISION_LABELS,
        STATUS_LABELS=present.STATUS_LABELS,
        MIN_REASON=MIN_REASON,
        PREFIX=PREFIX,
    )
    return env


def render(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = templates().get_template(name).render(**context)
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


def error_page(request: Request, status_code: int, message: str) -> HTMLResponse:
    active: sessions.ActiveSession | None = getattr(request.state, "web_active", None)
    return render(
        "galat.html",
        status_code,
        message=message,
        code=status_code,
        active=active,
        logout_token=_logout_token(active),
    )


def _logout_token(active: sessions.ActiveSession | None) -> str:
    return active.token(f"{PREFIX}/keluar") if active else ""


# --- dependencies -------------------------------------------------------------------------------------------


async def _db(request: Request, session: SessionDep) -> AsyncSession:
    """The request's session, remembered so that :class:`WebRoute` can roll it back on an error."""
    request.state.web_db = session
    return session


WebDb = Annotated[AsyncSession, Depends(_db)]


async def _active(request: Request, session: WebDb) -> sessions.ActiveSession:
    active = await sessions.resume(session, request.cookies.get(sessions.COOKIE))
    if active is None:
        raise LoginRequired
    request.state.web_active = active
    return active


Active = Annotated[sessions.ActiveSession, Depends(_active)]


async def _reviewer(active: Active, session: WebDb) -> Reviewer:
    return await reviewer_of(session, active.user, REVIEWER_ROLES)


def _service(state: StateDep, session: WebDb) -> ReviewService:
    return ReviewService(session, state.couch, state.engine, image_limits=image_limits(state))


WebReviewer = Annotated[Reviewer, Depends(_reviewer)]
Service = Annotated[ReviewService, Depends(_service)]


def _check_csrf(active: sessions.ActiveSession, action: str, token: str) -> None:
    """``token`` must be the session's for the form posting to ``action`` (its ``action`` attribute, ids
    encoded)."""
    if not active.check(action, token):
        raise Forbidden(
            "Formulir ini sudah kedaluwarsa atau tidak berasal dari halaman ini. Muat ulang halaman lalu coba lagi."
        )


def _cookie_flags(request: Request) -> dict[str, Any]:
    return {
        "httponly": True,
        "samesite": "strict",
        "secure": sessions.secure_cookie(request.url.scheme, request.url.hostname),
        "path": sessions.COOKIE_PATH,
    }


def _safe_next(target: str | None) -> str:
    """Only a page of these pages: never another site (an open redirect), never a protocol-relative URL."""
    if target and target.startswith(f"{PREFIX}/") and "//" not in target and "\\" not in target:
        return target
    return QUEUE_PAGE


# --- log-in -------------------------------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
async def home() -> Response:
    return RedirectResponse(QUEUE_PAGE, status_code=303)


@router.get("/masuk", response_class=HTMLResponse)
async def login_form(request: Request, session: WebDb, lanjut: str | None = None, pesan: str | None = None) -> Response:
    if await sessions.resume(session, request.cookies.get(sessions.COOKIE)) is not None:
        return RedirectResponse(_safe_next(lanjut), status_code=303)
    return _login_page(request, lanjut=_safe_next(lanjut), notice=FLASH.get(pesan or ""))


def _login_page(
    request: Request,
    *,
    lanjut: str,
    notice: str | None = None,
    error: str | None = None,
    username: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    token = sessions.new_login_token()
    response = render(
        "masuk.html",
        status_code,
        login_token=token,
        lanjut=lanjut,
        notice=notice,
        error=error,
        username=username,
        active=None,
    )
    response.set_cookie(
        sessions.LOGIN_COOKIE, token, max_age=int(sessions.LOGIN_FORM_AGE.total_seconds()), **_cookie_flags(request)
    )
    return response


@router.post("/masuk", response_class=HTMLResponse)
async def login(
    request: Request,
    session: WebDb,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
    lanjut: Annotated[str, Form(max_length=500)] = QUEUE_PAGE,
) -> Response:
    expected = request.cookies.get(sessions.LOGIN_COOKIE, "")
    target = _safe_next(lanjut)
    if not expected or not csrf or not hmac.compare_digest(expected, csrf):
        return _login_page(
            request,
            lanjut=target,
            error="Formulir masuk sudah kedaluwarsa. Silakan coba lagi.",
            username=username,
            status_code=400,
        )
    user = await sessions.authenticate(session, username.strip(), password)
    if user is None:
        return _login_page(
            request, lanjut=target, error="Nama pengguna atau kata sandi salah.", username=username, status_code=401
        )
    if user.role not in REVIEWER_ROLES:
        return _login_page(
            request,
            lanjut=target,
            error="Halaman ini untuk supervisor dan admin. Pendamping bekerja melalui aplikasi di perangkat.",
            username=username,
            status_code=403,
        )
    await sessions.purge_expired(session)
    token = await sessions.start(session, user)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(sessions.COOKIE, token, max_age=int(sessions.MAX_AGE.total_seconds()), **_cookie_flags(request))
    response.delete_cookie(sessions.LOGIN_COOKIE, path=sessions.COOKIE_PATH)
    return response


@router.post("/keluar", response_class=HTMLResponse)
async def logout(
    request: Request, active: Active, session: WebDb, csrf: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    _check_csrf(active, f"{PREFIX}/keluar", csrf)
    await sessions.end(session, request.cookies.get(sessions.COOKIE))
    response = RedirectResponse(f"{LOGIN_PAGE}?pesan=keluar", status_code=303)
    response.delete_cookie(sessions.COOKIE, path=sessions.COOKIE_PATH, httponly=True, samesite="strict")
    return response


# --- the queue ----------------------------------------------------------------------------------------------


@router.get("/antrian", response_class=HTMLResponse)
async def queue_page(
    request: Request,
    active: Active,
    reviewer: WebReviewer,
    service: Service,
    desa: str | None = None,
    status: str | None = None,
    umur: str | None = None,
    halaman: str | None = None,
) -> Response:
    chosen_status = QueueStatus(status) if status in set(QueueStatus) else QueueStatus.needs_review
    min_age = _small_int(umur, "Umur kasus harus berupa angka hari")
    page = max(1, _small_int(halaman, "Halaman harus berupa angka") or 1)
    filters = QueueFilters(
        desa=desa or None, status=chosen_status, min_age_days=min_age, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    result = await service.queue(reviewer, filters)
    base = {"desa": desa or "", "status": chosen_status.value, "umur": str(min_age or "")}
    return render(
        "antrian.html",
        active=active,
        logout_token=_logout_token(active),
        reviewer=reviewer,
        queue=result,
        desa=desa or "",
        status=chosen_status.value,
        umur=min_age or "",
        statuses=[(s.value, present.status_label(s.value)) for s in QueueStatus],
        desa_choices=present.desa_choices(reviewer.regions, reviewer.whole_region),
        page=page,
        previous_url=f"{QUEUE_PAGE}?{urlencode({**base, 'halaman': page - 1})}" if page > 1 else None,
        next_url=f"{QUEUE_PAGE}?{urlencode({**base, 'halaman': page + 1})}"
        if result.offset + len(result.items) < result.total
        else None,
    )


_SMALL_INT = re.compile(r"[0-9]{1,4}")


def _small_int(raw: str | None, message: str) -> int:
    """0 to 9999 from a query field; ASCII digits only (``str.isdigit`` also takes ``²``, which ``int`` refuses)."""
    if raw is None or raw.strip() == "":
        return 0
    if not _SMALL_INT.fullmatch(raw.strip()):
        raise BadRequest(message)
    return int(raw.strip())


# --- a case -------------------------------------------------------------------------------------------------


def case_path(application_id: str) -> str:
    return f"{PREFIX}/kasus/{segment(application_id)}"


def evidence_action(application_id: str, evidence_id: str) -> str:
    return f"{case_path(application_id)}/bukti/{segment(evidence_id)}"


def decision_action(application_id: str) -> str:
    return f"{case_path(application_id)}/keputusan"


def _case_page(
    request: Request,
    active: sessions.ActiveSession,
    view: CaseView,
    *,
    notice: str | None = None,
    error: str | None = None,
    error_form: str | None = None,
    form_values: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    base = case_path(view.application_id)
    evidence_by_visit: dict[str | None, list[Any]] = {}
    for ev in view.evidence:
        evidence_by_visit.setdefault(ev.doc.body.field_visit_id, []).append(ev)
    household = view.household.body if view.household else None
    reference = view.application.body.captured_at.date() if view.application else utcnow().date()
    members = [
        {"member": member, "age": age_on(member.birth_date, reference)}
        for member in (household.members if household else [])
    ]
    visits = [
        {
            "doc": visit,
            "checklist": present.checklist(household.housing if household else None, visit.body.checklist),
            "evidence": evidence_by_visit.get(visit.id, []),
        }
        for visit in view.field_visits
    ]
    loose = [
        ev
        for key, items in evidence_by_visit.items()
        if key is None or key not in {v.id for v in view.field_visits}
        for ev in items
    ]
    actions = {f"bukti:{ev.doc.id}": evidence_action(view.application_id, ev.doc.id) for ev in view.evidence}
    actions["keputusan"] = decision_action(view.application_id)
    tokens = {key: active.token(action) for key, action in actions.items()}
    desa_name, kecamatan_name = region_names(view.record.desa)
    return render(
        "kasus.html",
        status_code,
        active=active,
        logout_token=_logout_token(active),
        view=view,
        base=base,
        desa_name=desa_name,
        kecamatan_name=kecamatan_name,
        visits=visits,
        loose=loose,
        members=members,
        household=household,
        actions=actions,
        tokens=tokens,
        notice=notice,
        error=error,
        error_form=error_form,
        form_values=form_values or {},
        result=view.result or {},
    )


@router.get("/kasus/{application_id}", response_class=HTMLResponse)
async def case_page(
    request: Request,
    application_id: str,
    active: Active,
    reviewer: WebReviewer,
    service: Service,
    pesan: str | None = None,
) -> Response:
    view = await service.case(reviewer, application_id)
    return _case_page(request, active, view, notice=FLASH.get(pesan or ""))


@router.get("/kasus/{application_id}/foto/{evidence_id}/{attachment}")
async def photo(
    application_id: str,
    evidence_id: str,
    attachment: str,
    active: Active,
    reviewer: WebReviewer,
    service: Service,
    ukuran: str | None = None,
) -> Response:
    original = ukuran == "asli"
    photo = await service.photo(reviewer, application_id, evidence_id, attachment, original=original)
    return photo_response(photo)


@router.post("/kasus/{application_id}/bukti/{evidence_id}", response_class=HTMLResponse)
async def review_evidence(
    request: Request,
    application_id: str,
    evidence_id: str,
    active: Active,
    reviewer: WebReviewer,
    service: Service,
    keputusan: Annotated[str, Form(max_length=32)] = "",
    alasan: Annotated[str, Form(max_length=4000)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    _check_csrf(active, evidence_action(application_id, evidence_id), csrf)
    try:
        if keputusan not in set(EvidenceDecision):
            raise BadRequest("Pilih setujui atau tolak")
        decision = EvidenceDecision(keputusan)
        await service.review_evidence(reviewer, application_id, evidence_id, decision, alasan)
    except (BadRequest, Conflict) as exc:
        return await _again(
            request, active, reviewer, service, application_id, exc, f"bukti:{evidence_id}", keputusan, alasan
        )
    flash = "bukti-disetujui" if decision is EvidenceDecision.approved else "bukti-ditolak"
    target = f"{case_path(application_id)}?pesan={flash}#bukti-{present.anchor(evidence_id)}"
    return RedirectResponse(target, status_code=303)


@router.post("/kasus/{application_id}/keputusan", response_class=HTMLResponse)
async def decide(
    request: Request,
    application_id: str,
    active: Active,
    reviewer: WebReviewer,
    service: Service,
    keputusan: Annotated[str, Form(max_length=32)] = "",
    alasan: Annotated[str, Form(max_length=4000)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    _check_csrf(active, decision_action(application_id), csrf)
    try:
        if keputusan not in set(CaseVerdict):
            raise BadRequest("Pilih layak atau tidak layak")
        await service.decide(reviewer, application_id, CaseVerdict(keputusan), alasan)
    except (BadRequest, Conflict) as exc:
        return await _again(request, active, reviewer, service, application_id, exc, "keputusan", keputusan, alasan)
    return RedirectResponse(f"{case_path(application_id)}?pesan=kasus-diputuskan#keputusan", status_code=303)


async def _again(
    request: Request,
    active: sessions.ActiveSession,
    reviewer: Reviewer,
    service: ReviewService,
    application_id: str,
    exc: SimpulError,
    form: str,
    decision: str,
    reason: str,
) -> HTMLResponse:
    """The case page again, with the error beside the form and what the supervisor typed kept."""
    view = await service.case(reviewer, application_id)
    return _case_page(
        request,
        active,
        view,
        error=exc.message,
        error_form=form,
        form_values={"keputusan": decision, "alasan": reason},
        status_code=exc.status_code,
    )


# --- the stylesheet -----------------------------------------------------------------------------------------


@cache
def _stylesheet() -> bytes:
    return (HERE / "static" / "simpul.css").read_bytes()


@router.get("/static/simpul.css")
async def stylesheet() -> Response:
    return Response(
        _stylesheet(),
        media_type="text/css; charset=utf-8",
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )
