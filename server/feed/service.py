"""The central verifier's decision feed: finalised decisions of the whole region, in the order they were
finalised, behind a stable, resumable cursor.

**Finalised** means an ``eligible`` or ``not_eligible`` verdict (automated, or after a supervisor's review); the
other statuses are steps on the way, and a case that never reached a final verdict is not in the feed. Once a case
has been served final, every later change of its verdict is served too, with ``"final": false`` when it is no
longer final: an objection (``needs_review``), a consent withdrawal or a restriction (``stopped``), a correction
(``superseded``), a removal (``removed``), new facts that need a field visit. The consumer keeps the latest line per
``application_id``, so a decision it holds is withdrawn as soon as the case leaves it, not left standing.

**The cursor** is the position in ``case_decisions`` (append-only), wrapped so that consumers treat it as opaque.
Positions come from the database's id sequence, and on PostgreSQL a transaction can commit a lower id after a
higher one is visible; a consumer that had read past it would miss it for ever. So the feed serves only rows
recorded more than ``settle_s`` ago (``CaseDecision.decided_at`` is the projection's own clock at the append; a
transaction of the worker lasts milliseconds; the margin is generous), which makes a served prefix final: nothing
missed, nothing repeated.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import exists, or_
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.core.errors import BadRequest
from server.review.routing import segment
from sync.cases.tables import CaseDecision, CaseRecord
from sync.checkpoints import utcnow

FINAL_STATUSES = ("eligible", "not_eligible")
_CURSOR_PREFIX = b"cd1:"
PAGE_ROWS = 500


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(_CURSOR_PREFIX + str(position).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The position after which to continue; a missing cursor starts from the beginning."""
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        digits = raw.removeprefix(_CURSOR_PREFIX)
        # Only what encode_cursor writes: ASCII digits (int() would also take "+1", " 1", "1_0"), and a position
        # SQLite's INTEGER and PostgreSQL's BIGINT hold (a larger one overflows in the query: a 500).
        if digits == raw or not digits.isdigit() or len(digits) > 19 or int(digits) > 2**63 - 1:
            raise ValueError
        position = int(digits)
    except (ValueError, binascii.Error):
        raise BadRequest("cursor is not one this feed gave: start without it, or pass a line's 'cursor'") from None
    return position


def feed_line(decision: CaseDecision, desa: str | None) -> dict[str, Any]:
    """One decision as the verifier receives it: the result as pushed to the device, without photos (links only).
    ``decided_at`` is the result's own (when the verdict was first written), else when it was recorded."""
    result = dict(decision.result)
    for private in ("_id", "_rev", "type"):
        result.pop(private, None)
    assert decision.id is not None
    return {
        **result,
        "cursor": encode_cursor(decision.id),
        "application_id": decision.application_id,
        "desa": desa or result.get("desa"),
        "status": decision.status,
        "final": decision.status in FINAL_STATUSES,
        "rule_set_version": decision.rule_set_version,
        "decided_at": result.get("decided_at") or decision.decided_at.isoformat(),
        "links": {"case": f"/api/v1/cases/{segment(decision.application_id)}"},
    }


def _served() -> Any:
    """Rows in the feed: final verdicts, and every later change of a case already served final."""
    earlier = aliased(CaseDecision)
    was_final = exists().where(
        col(earlier.application_id) == col(CaseDecision.application_id),
        col(earlier.id) < col(CaseDecision.id),
        col(earlier.status).in_(FINAL_STATUSES),
    )
    return or_(col(CaseDecision.status).in_(FINAL_STATUSES), was_final)


@dataclass
class FeedRead:
    """One read of the feed: the rows ``after < id <= until`` that were settled at ``horizon``."""

    after: int
    limit: int
    horizon: datetime
    until: int = 0
    count: int = 0

    def audit_detail(self) -> dict[str, int]:
        return {"after": self.after, "until": self.until, "lines": self.count, "limit": self.limit}


class DecisionFeed:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, settle_s: float) -> None:
        self._sessions = sessions
        self._settle = timedelta(seconds=settle_s)

    async def plan(self, after: int, limit: int, *, now: datetime | None = None) -> FeedRead:
        """What a read from ``after`` will serve: fixed before the first line, so the audit trail can say exactly
        which decisions a verifier received (positions ``after < id <= until``)."""
        read = FeedRead(after=after, limit=limit, horizon=(now or utcnow()) - self._settle)
        async with self._sessions() as session:
            statement = (
                select(col(CaseDecision.id))
                .where(col(CaseDecision.id) > after, _served(), col(CaseDecision.decided_at) <= read.horizon)
                .order_by(col(CaseDecision.id))
                .limit(limit)
            )
            ids = [position for position in (await session.exec(statement)).all() if position is not None]
        if ids:
            read.until, read.count = ids[-1], len(ids)
        return read

    async def lines(self, after: int, limit: int, *, now: datetime | None = None) -> AsyncIterator[dict[str, Any]]:
        """Decisions served after position ``after`` (see the module docstring), at most ``limit``."""
        async for line in self.serve(await self.plan(after, limit, now=now)):
            yield line

    async def serve(self, read: FeedRead) -> AsyncIterator[dict[str, Any]]:
        """The lines of a planned read, a page at a time (each page in a short session of its own, so a slow
        consumer holds no transaction)."""
        after, sent = read.after, 0
        while sent < read.count:
            async with self._sessions() as session:
                statement = (
                    select(CaseDecision, CaseRecord.desa)
                    .join(CaseRecord, col(CaseRecord.application_id) == col(CaseDecision.application_id), isouter=True)
                    .where(
                        col(CaseDecision.id) > after,
                        col(CaseDecision.id) <= read.until,
                        _served(),
                        col(CaseDecision.decided_at) <= read.horizon,
                    )
                    .order_by(col(CaseDecision.id))
                    .limit(min(PAGE_ROWS, read.count - sent))
                )
                rows = list((await session.exec(statement)).all())
            if not rows:
                return
            for decision, desa in rows:
                yield feed_line(decision, desa)
                assert decision.id is not None
                after = decision.id
                sent += 1

    async def ndjson(self, read: FeedRead) -> AsyncIterator[bytes]:
        async for line in self.serve(read):
            yield orjson.dumps(line) + b"\n"

    async def csv(self, read: FeedRead) -> AsyncIterator[bytes]:
        yield _csv_rows([CSV_COLUMNS])
        async for line in self.serve(read):
            yield _csv_rows([[_csv_value(line, column) for column in CSV_COLUMNS]])


CSV_COLUMNS = [
    "cursor",
    "application_id",
    "desa",
    "status",
    "final",
    "rule_set_version",
    "yearly_benefit",
    "decided_at",
    "explanation",
    "reasons",
]


def _csv_value(line: dict[str, Any], column: str) -> str:
    if column == "reasons":
        return " | ".join(
            f"{rule.get('rule')}: {rule.get('outcome')}: {rule.get('reason')}" for rule in line.get("rules") or []
        )
    value = line.get(column)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _csv_rows(rows: Iterable[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode()
