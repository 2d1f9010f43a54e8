"""``/api/v1/decisions``: the central verifier's feed (NDJSON, streamed) and its CSV export. Read-only, whole
region, verifier (and admin) only; every read is audited with the exact span of positions it served (``after <
id <= until`` of ``case_decisions``), so which cases a verifier received can be answered from the trail. The span is
fixed before the first line is sent: a consumer that stops reading early received a prefix of it (the trail errs on
the side of more, never less)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from server.audit import service as audit
from server.audit.models import AuditAction
from server.auth.deps import require_role
from server.auth.models import Role, User
from server.core.state import SessionDep, StateDep
from server.feed.service import DecisionFeed, decode_cursor

router = APIRouter(prefix="/api/v1", tags=["decisions"])

VerifierUser = Annotated[User, Depends(require_role(Role.verifier, Role.admin))]
Cursor = Annotated[
    str | None, Query(description="Continue after this line's `cursor`; omit to start from the first decision.")
]
Limit = Annotated[int, Query(ge=1, le=100_000, description="At most this many lines in this response.")]


def _feed(state: StateDep) -> DecisionFeed:
    return DecisionFeed(state.sessions, settle_s=state.settings.decision_feed_settle_s)


FeedDep = Annotated[DecisionFeed, Depends(_feed)]


@router.get(
    "/decisions",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}, "description": "One finalised decision per line."}},
)
async def decisions(
    user: VerifierUser, session: SessionDep, feed: FeedDep, cursor: Cursor = None, limit: Limit = 10_000
) -> StreamingResponse:
    """Finalised decisions (eligible / not_eligible) in the order they were finalised, one JSON object per line,
    each with its ``cursor``: pass the last one back to continue. A case once final that changes again (an
    objection, a withdrawal, a correction) comes again with ``"final": false``: keep the latest line per
    ``application_id``. An empty body: nothing new yet. Photos are not included, only links."""
    read = await feed.plan(decode_cursor(cursor), limit)
    audit.record(session, user, AuditAction.read, "decision_feed", detail=read.audit_detail())
    return StreamingResponse(feed.ndjson(read), media_type="application/x-ndjson")


@router.get(
    "/decisions.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "The same decisions as CSV, with a header row."}},
)
async def decisions_csv(
    user: VerifierUser, session: SessionDep, feed: FeedDep, cursor: Cursor = None, limit: Limit = 10_000
) -> StreamingResponse:
    read = await feed.plan(decode_cursor(cursor), limit)
    audit.record(session, user, AuditAction.read, "decision_feed_csv", detail=read.audit_detail())
    return StreamingResponse(
        feed.csv(read),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="keputusan.csv"'},
    )
