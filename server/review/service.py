"""The supervisors' review: the queue of cases awaiting them, a case in full, its photos, and the two actions
(approve or reject field evidence; decide a ``needs_review`` case). Raises domain errors only.

**Where things come from.** The queue is the projection (``cases`` and ``case_decisions``); a case's documents are
gathered from its desa database exactly as the pipeline gathers them (:func:`sync.cases.documents.gather_case`:
current versions only, corrections applied), so a supervisor judges what the worker evaluated.

**Actions** write a ``review:`` document into the desa database (:mod:`server.review.documents`); the worker sees it
on the database's changes feed, re-evaluates the case and pushes the new result down. Nothing here changes the
projection: the worker stays its only writer.

**Audit.** Every read of personal data (a case, a photo) and every action is recorded in the request's own session,
so the action and its audit row commit together. The queue is recorded too (it reveals which families wait). Logs
carry ids and counts, never names or NIKs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from sqlalchemy import func, or_
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from agent_forms import wilayah
from agent_forms.attachments import IMAGE_TYPES, Limits, inspect_image
from agent_forms.models import Application, Evidence, FieldVisit, Household, Objection
from agent_forms.models.base import AttachmentKind, has_invisible_characters
from agent_forms.models.field_visit import DocumentType
from replication.couch import CouchClient, doc_path
from replication.errors import CouchError
from server.audit import service as audit
from server.audit.models import AuditAction
from server.core.errors import BadRequest, Conflict, Forbidden, NotFound, ServiceUnavailable
from server.review.access import Reviewer
from server.review.documents import (
    MAX_REASON,
    MIN_REASON,
    CaseReview,
    CaseVerdict,
    EvidenceDecision,
    EvidenceReview,
    review_id,
    write_review,
)
from server.review.routing import segment
from server.review.schemas import (
    CasePublic,
    DecisionHistoryPublic,
    EvidencePublic,
    PhotoPublic,
    QueueItemPublic,
    QueuePublic,
    QueueStatus,
    ReviewKind,
    ReviewPublic,
)
from server.review.thumbnails import ThumbnailCache, UnreadablePhoto, thumbnail_key
from sync.cases.documents import UnreadableApplication, fetch_documents, gather_case, parse, task_id
from sync.cases.store import LinkStore
from sync.cases.tables import CaseDecision, CaseRecord
from sync.checkpoints import utcnow
from sync.uow import UnitOfWork
from sync.verification.case import Doc

log = logging.getLogger(__name__)

#: Statuses in which nothing may be processed any more: consent withdrawn or processing restricted, a correction
#: replaced the application, or the application was removed.
CLOSED_STATUSES = frozenset({"stopped", "superseded", "removed"})
API_PREFIX = "/api/v1/cases"
#: The only types a photo is served as: those the gateway accepts for an attachment (agent_forms.attachments).
PHOTO_TYPES = frozenset(IMAGE_TYPES.values())
_EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}


def case_url(application_id: str) -> str:
    return f"{API_PREFIX}/{segment(application_id)}"


def photo_url(application_id: str, evidence_id: str, attachment: str, *, original: bool) -> str:
    size = "original" if original else "thumbnail"
    return f"{case_url(application_id)}/evidence/{segment(evidence_id)}/photos/{segment(attachment)}?size={size}"


def photo_filename(attachment: str, content_type: str) -> str:
    """A file name for ``Content-Disposition``: ASCII letters, digits, ``-`` and ``_`` from the attachment's name
    (``foto/rumah depan.png`` → ``rumah_depan``), and the extension of the type actually served (``.png``)."""
    stem = attachment.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_-")[:64] or "foto"
    return stem + _EXTENSIONS.get(content_type, ".bin")


def attachment_path(db: str, doc_id: str, attachment: str) -> str:
    """CouchDB's path of an attachment: each ``/``-separated part of its name encoded on its own (PROTOCOL.md)."""
    return f"{doc_path(db, doc_id)}/{'/'.join(quote(part, safe='') for part in attachment.split('/'))}"


def clean_reason(reason: str) -> str:
    """The reason as the reviewer wrote it, trimmed; refused when too short to say anything."""
    text = reason.strip()
    if has_invisible_characters(text):
        raise BadRequest("Alasan tidak boleh berisi karakter tak terlihat (kontrol, lebar nol, pengatur arah teks)")
    if len(text) < MIN_REASON:
        raise BadRequest(f"Alasan wajib diisi dengan kata-kata Anda sendiri, paling sedikit {MIN_REASON} huruf")
    if len(text) > MAX_REASON:
        raise BadRequest(f"Alasan paling panjang {MAX_REASON} huruf")
    return text


def kinds_of(result: Mapping[str, Any] | None) -> list[ReviewKind]:
    """Why the case waits for a person, from the rules of its decision trace."""
    kinds: set[ReviewKind] = set()
    for rule in (result or {}).get("rules") or []:
        if not isinstance(rule, Mapping) or rule.get("outcome") != "review":
            continue
        name = str(rule.get("rule", ""))
        if name in ("review.field_visit", "review.evidence"):  # field-visit evidence, or attached to the application
            kinds.add(ReviewKind.evidence)
        elif name == "review.objection":
            kinds.add(ReviewKind.objection)
        else:
            kinds.add(ReviewKind.review)
    return sorted(kinds, key=list(ReviewKind).index)


def region_names(desa: str) -> tuple[str, str]:
    """(desa name, kecamatan name) from the region file; the code itself when it is not there."""
    region = wilayah.find(desa)
    if region is None:
        return desa, ""
    parent = wilayah.find(region.parent_code)
    return region.name, parent.name if parent else ""


@dataclass(frozen=True, slots=True)
class QueueFilters:
    desa: str | None = None
    status: QueueStatus = QueueStatus.needs_review
    min_age_days: int = 0
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True, slots=True)
class PhotoView:
    attachment: str
    kind: str
    document_type: str | None
    caption: str | None
    content_type: str | None
    size: int | None

    @property
    def kind_label(self) -> str:
        return _label(AttachmentKind, self.kind)

    @property
    def document_type_label(self) -> str | None:
        return _label(DocumentType, self.document_type) if self.document_type else None


@dataclass(frozen=True, slots=True)
class EvidenceView:
    doc: Doc[Evidence]
    photos: tuple[PhotoView, ...]
    review: dict[str, Any] | None


@dataclass(slots=True)
class CaseView:
    """A case as a supervisor sees it; rendered by the web page, or turned into :class:`CasePublic`."""

    record: CaseRecord
    result: dict[str, Any] | None
    decisions: list[CaseDecision]
    application: Doc[Application] | None = None
    household: Doc[Household] | None = None
    field_visits: tuple[Doc[FieldVisit], ...] = ()
    evidence: tuple[EvidenceView, ...] = ()
    objections: tuple[Doc[Objection], ...] = ()
    case_review: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    now: dt.datetime = field(default_factory=utcnow)

    @property
    def application_id(self) -> str:
        return self.record.application_id

    @property
    def since(self) -> dt.datetime:
        return self.record.decided_at or self.record.first_seen_at

    @property
    def age_days(self) -> int:
        return max(0, (self.now - self.since).days)

    @property
    def kinds(self) -> list[ReviewKind]:
        return kinds_of(self.result) if self.record.status == "needs_review" else []

    @property
    def can_decide(self) -> bool:
        return self.record.status == "needs_review" or (
            self.case_review is not None and self.record.status not in CLOSED_STATUSES
        )

    @property
    def closed(self) -> bool:
        return self.record.status in CLOSED_STATUSES

    def to_public(self) -> CasePublic:
        desa_name, kecamatan_name = region_names(self.record.desa)
        application = None
        if self.application is not None:
            application = {"id": self.application.id, **self.application.body.model_dump(mode="json")}
            application.pop("bank_account", None)
        return CasePublic(
            application_id=self.application_id,
            desa=self.record.desa,
            desa_name=desa_name,
            kecamatan_name=kecamatan_name,
            db_name=self.record.db_name,
            status=self.record.status,
            decision=self.record.decision,
            rule_set_version=self.record.rule_set_version,
            since=self.since,
            age_days=self.age_days,
            kinds=self.kinds,
            can_decide=self.can_decide,
            result=self.result,
            decisions=[
                DecisionHistoryPublic(status=d.status, rule_set_version=d.rule_set_version, decided_at=d.decided_at)
                for d in self.decisions
            ],
            application=application,
            household=_dump(self.household),
            field_visits=[_dump(doc) or {} for doc in self.field_visits],
            evidence=[
                EvidencePublic(
                    id=ev.doc.id,
                    field_visit_id=ev.doc.body.field_visit_id,
                    application_id=ev.doc.body.application_id,
                    captured_at=ev.doc.body.captured_at,
                    agent_id=ev.doc.body.agent_id,
                    photos=[
                        PhotoPublic(
                            attachment=photo.attachment,
                            kind=photo.kind,
                            kind_label=photo.kind_label,
                            document_type=photo.document_type,
                            document_type_label=photo.document_type_label,
                            caption=photo.caption,
                            content_type=photo.content_type,
                            bytes=photo.size,
                            thumbnail_url=photo_url(self.application_id, ev.doc.id, photo.attachment, original=False),
                            original_url=photo_url(self.application_id, ev.doc.id, photo.attachment, original=True),
                        )
                        for photo in ev.photos
                    ],
                    review=review_public(ev.review),
                )
                for ev in self.evidence
            ],
            objections=[_dump(doc) or {} for doc in self.objections],
            case_review=review_public(self.case_review),
            notes=self.notes,
        )


@dataclass(frozen=True, slots=True)
class PhotoBytes:
    data: bytes
    #: Always one of :data:`PHOTO_TYPES`.
    content_type: str
    #: True for an immutable thumbnail (it may be cached by the browser), False for an original.
    thumbnail: bool
    #: Safe to put in ``Content-Disposition`` as it is (:func:`photo_filename`).
    filename: str


def _label(choice: Any, value: str) -> str:
    try:
        return str(choice(value).label)
    except ValueError:
        return value


def _dump(doc: Doc[Any] | None) -> dict[str, Any] | None:
    if doc is None:
        return None
    body: dict[str, Any] = doc.body.model_dump(mode="json")
    return {"id": doc.id, **body}


def review_public(doc: Mapping[str, Any] | None) -> ReviewPublic | None:
    if not doc:
        return None
    return ReviewPublic(
        id=str(doc.get("_id", "")),
        subject=str(doc.get("subject", "")),
        desa=str(doc.get("desa", "")),
        application_id=str(doc.get("application_id", "")),
        evidence_id=doc.get("evidence_id"),
        field_visit_id=doc.get("field_visit_id"),
        decision=str(doc.get("decision", "")),
        reason=str(doc.get("reason", "")),
        reviewer=str(doc.get("reviewer", "")),
        reviewed_at=str(doc.get("reviewed_at", "")),
        history=[dict(entry) for entry in doc.get("history") or [] if isinstance(entry, Mapping)],
    )


class ReviewService:
    """One request's review work: its session (for the projection and the audit rows) and the CouchDB client."""

    def __init__(
        self,
        session: AsyncSession,
        couch: CouchClient,
        engine: AsyncEngine,
        clock: Callable[[], dt.datetime] = utcnow,
        *,
        image_limits: Limits | None = None,
    ) -> None:
        self._session = session
        self._couch = couch
        self._engine = engine
        self._clock = clock
        self._image_limits = image_limits or Limits()

    # --- the queue -------------------------------------------------------------------------------------------

    async def queue(self, reviewer: Reviewer, filters: QueueFilters) -> QueuePublic:
        """Cases in the reviewer's regions with ``filters.status``, oldest first."""
        statement = select(CaseRecord).where(CaseRecord.status == filters.status.value)
        if filters.desa is not None:
            region = wilayah.find(filters.desa)
            if region is None or region.level != "desa":
                raise BadRequest(f"{filters.desa!r} bukan kode desa/kelurahan di daftar wilayah")
            if not reviewer.covers(region.code):
                raise Forbidden("Desa ini di luar wilayah tugas Anda")
            statement = statement.where(CaseRecord.desa == region.code)
        elif not reviewer.whole_region:
            if not reviewer.regions:
                return QueuePublic(items=[], total=0, limit=filters.limit, offset=filters.offset)
            statement = statement.where(
                or_(*(col(CaseRecord.desa).startswith(region + ".") for region in reviewer.regions))
            )
        now = self._clock()
        if filters.min_age_days > 0:
            horizon = now - dt.timedelta(days=filters.min_age_days)
            statement = statement.where(
                or_(
                    col(CaseRecord.decided_at) <= horizon,
                    (col(CaseRecord.decided_at).is_(None)) & (col(CaseRecord.first_seen_at) <= horizon),
                )
            )
        total = (await self._session.exec(select(func.count()).select_from(statement.subquery()))).one()
        rows = list(
            (
                await self._session.exec(
                    statement.order_by(
                        func.coalesce(col(CaseRecord.decided_at), col(CaseRecord.first_seen_at)),
                        col(CaseRecord.application_id),
                    )
                    .limit(filters.limit)
                    .offset(filters.offset)
                )
            ).all()
        )
        latest = await self._latest_results([row.application_id for row in rows])
        items = []
        for row in rows:
            result = latest.get(row.application_id)
            since = row.decided_at or row.first_seen_at
            desa_name, kecamatan_name = region_names(row.desa)
            items.append(
                QueueItemPublic(
                    application_id=row.application_id,
                    desa=row.desa,
                    desa_name=desa_name,
                    kecamatan_name=kecamatan_name,
                    status=row.status,
                    kinds=kinds_of(result) if row.status == "needs_review" else [],
                    since=since,
                    age_days=max(0, (now - since).days),
                    explanation=(result or {}).get("explanation"),
                    links={"case": case_url(row.application_id)},
                )
            )
        audit.record(
            self._session,
            reviewer.user,
            AuditAction.read,
            "review_queue",
            detail={
                "desa": filters.desa,
                "status": filters.status.value,
                "min_age_days": filters.min_age_days,
                "offset": filters.offset,
                "cases": [item.application_id for item in items],
            },
        )
        return QueuePublic(items=items, total=int(total), limit=filters.limit, offset=filters.offset)

    async def _latest_results(self, application_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not application_ids:
            return {}
        newest = (
            select(func.max(col(CaseDecision.id)))
            .where(col(CaseDecision.application_id).in_(application_ids))
            .group_by(col(CaseDecision.application_id))
        )
        rows = await self._session.exec(select(CaseDecision).where(col(CaseDecision.id).in_(newest)))
        return {row.application_id: dict(row.result) for row in rows.all()}

    # --- a case ------------------------------------------------------------------------------------------------

    async def _record(self, application_id: str) -> CaseRecord:
        record = await self._session.get(CaseRecord, application_id)
        if record is None:
            raise NotFound("Kasus tidak ditemukan")
        return record

    async def case(self, reviewer: Reviewer, application_id: str) -> CaseView:
        """The case in full: decision trace, application, household, field visits, evidence with their reviews,
        objections and the case's own review. Audited."""
        record = await self._record(application_id)
        reviewer.check_read(record.desa, record.status)
        decisions = list(
            (
                await self._session.exec(
                    select(CaseDecision)
                    .where(CaseDecision.application_id == application_id)
                    .order_by(col(CaseDecision.id).desc())
                    .limit(20)
                )
            ).all()
        )
        view = CaseView(
            record=record,
            result=dict(decisions[0].result) if decisions else None,
            decisions=decisions,
            now=self._clock(),
        )
        try:
            await self._gather(view)
        except CouchError as exc:
            raise ServiceUnavailable("Dokumen kasus sedang tidak dapat dibaca; coba lagi sebentar lagi") from exc
        audit.record(
            self._session,
            reviewer.user,
            AuditAction.read,
            "case",
            case_id=application_id,
            detail={
                "household": view.household.id if view.household else None,
                "field_visits": [doc.id for doc in view.field_visits],
                "evidence": [ev.doc.id for ev in view.evidence],
                "objections": [doc.id for doc in view.objections],
            },
        )
        return view

    async def _gather(self, view: CaseView) -> None:
        record = view.record
        db = record.db_name
        try:
            gathered = await gather_case(
                self._couch, UnitOfWork(self._engine), db, record.application_id, waiting_since=None
            )
        except UnreadableApplication:
            view.notes.append("Dokumen pengajuan tidak dapat dibaca; hanya hasil pemeriksaan yang ditampilkan.")
            return
        if gathered is None:
            view.notes.append("Dokumen pengajuan sudah tidak ada di database desa.")
            return
        case = gathered.case
        view.application = case.application
        view.household = case.household
        view.field_visits = case.field_visits
        view.objections = case.objections
        if gathered.unreadable:
            view.notes.append(f"{len(gathered.unreadable)} dokumen tidak dapat dibaca dan tidak ditampilkan.")
        evidence_ids = [doc.id for doc in case.evidence]
        raw = await fetch_documents(self._couch, db, evidence_ids)
        reviews = await fetch_documents(self._couch, db, [review_id(i) for i in [*evidence_ids, record.application_id]])
        view.case_review = reviews.get(review_id(record.application_id))
        view.evidence = tuple(
            EvidenceView(doc, _photos(doc.body, raw.get(doc.id, {})), reviews.get(review_id(doc.id)))
            for doc in case.evidence
        )

    # --- photos ------------------------------------------------------------------------------------------------

    async def photo(
        self, reviewer: Reviewer, application_id: str, evidence_id: str, attachment: str, *, original: bool
    ) -> PhotoBytes:
        """One photo of the case's evidence: its thumbnail (made once, then cached) or the original. Audited.

        Served only when the attachment is stored as an image type the gateway accepts and, for an original, its
        bytes decode as an image of that type (:func:`agent_forms.attachments.inspect_image`): a document written
        to CouchDB past the gateway must not be able to put a page (a script) on the supervisors' origin."""
        record = await self._record(application_id)
        reviewer.check_read(record.desa, record.status)
        db = record.db_name
        if not await self._evidence_of_case(db, application_id, evidence_id):
            raise NotFound("Bukti tidak ditemukan pada kasus ini")
        try:
            body = await self._couch.get_doc(db, evidence_id)
            evidence = parse(evidence_id, body)
            if body is None or not isinstance(evidence, Evidence):
                raise NotFound("Bukti tidak ditemukan pada kasus ini")
            photo = next((p for p in _photos(evidence, body) if p.attachment == attachment), None)
            stub = (body.get("_attachments") or {}).get(attachment)
            if photo is None or not isinstance(stub, Mapping):
                raise NotFound("Foto tidak ditemukan pada bukti ini")
            content_type = str(stub.get("content_type") or "")
            if content_type not in PHOTO_TYPES:
                log.warning("attachment %s of %s in %s is stored as a non-image type", attachment, evidence_id, db)
                raise Conflict(
                    "Lampiran ini tidak tersimpan sebagai gambar JPEG, PNG atau WebP, sehingga tidak ditampilkan"
                )
            audit.record(
                self._session,
                reviewer.user,
                AuditAction.read,
                "evidence_photo" if original else "evidence_thumbnail",
                case_id=application_id,
                detail={"evidence_id": evidence_id, "attachment": attachment},
            )
            if original:
                data = await self._original(db, evidence_id, attachment, content_type, stub)
                return PhotoBytes(data, content_type, False, photo_filename(attachment, content_type))
            cache = ThumbnailCache(self._session)
            key = thumbnail_key(db, evidence_id, attachment, str(stub.get("digest") or ""))
            cached = await cache.get(key)
            if cached is None:
                cached = await cache.make(key, await self._attachment(db, evidence_id, attachment))
            return PhotoBytes(cached.data, cached.content_type, True, photo_filename(attachment, cached.content_type))
        except UnreadablePhoto as exc:
            log.warning("photo %s of %s in %s does not decode: %s", attachment, evidence_id, db, exc)
            raise Conflict("Foto ini rusak dan tidak dapat ditampilkan") from None
        except CouchError as exc:
            raise ServiceUnavailable("Foto sedang tidak dapat dibaca; coba lagi sebentar lagi") from exc

    async def _original(
        self, db: str, evidence_id: str, attachment: str, content_type: str, stub: Mapping[str, Any]
    ) -> bytes:
        """The original's bytes, once they decode as an image of ``content_type`` within the gateway's limits."""
        length = stub.get("length")
        if isinstance(length, int) and length > self._image_limits.max_image_bytes:
            raise Conflict("Foto asli ini melebihi batas ukuran foto, sehingga tidak ditampilkan")
        data = await self._attachment(db, evidence_id, attachment)
        info, problems = await asyncio.to_thread(inspect_image, data, self._image_limits)
        if info is None:
            raise UnreadablePhoto(", ".join(problem.code for problem in problems))
        if IMAGE_TYPES[info.format] != content_type:
            raise UnreadablePhoto(f"{info.format} stored as another type")
        return data

    async def _attachment(self, db: str, evidence_id: str, attachment: str) -> bytes:
        async with self._couch.stream("GET", attachment_path(db, evidence_id, attachment)) as response:
            if response.status_code == 404:
                raise NotFound("Foto tidak ditemukan pada bukti ini")
            if response.status_code != 200:
                raise ServiceUnavailable("Foto sedang tidak dapat dibaca; coba lagi sebentar lagi")
            return await response.aread()

    async def _evidence_of_case(self, db: str, application_id: str, evidence_id: str) -> bool:
        """Whether ``evidence_id`` belongs to the case: attached to the application, or to a field visit that
        answers the case's task (read from the projection's links, as the pipeline does)."""
        if not evidence_id.startswith("evidence:"):
            return False
        links = LinkStore(self._session)
        for link in await links.outgoing(db, evidence_id):
            if link.relation == "application" and link.target_id == application_id:
                return True
            if link.relation == "field_visit":
                visit_links = await links.outgoing(db, link.target_id)
                if any(v.relation == "task" and v.target_id == task_id(application_id) for v in visit_links):
                    return True
        return False

    # --- actions -----------------------------------------------------------------------------------------------

    async def review_evidence(
        self, reviewer: Reviewer, application_id: str, evidence_id: str, decision: EvidenceDecision, reason: str
    ) -> ReviewPublic:
        """Approve or reject one piece of evidence of the case (its current version). Audited."""
        text = clean_reason(reason)
        record = await self._record(application_id)
        reviewer.check_act(record.desa)
        self._check_open(record)
        db = record.db_name
        if not await self._evidence_of_case(db, application_id, evidence_id):
            raise NotFound("Bukti tidak ditemukan pada kasus ini")
        if await LinkStore(self._session).superseded_by(db, evidence_id):
            raise Conflict("Bukti ini sudah digantikan koreksi dari pendamping; tinjau versi terbarunya")
        try:
            evidence = parse(evidence_id, await self._couch.get_doc(db, evidence_id))
        except CouchError as exc:
            raise ServiceUnavailable("Database desa sedang tidak dapat dihubungi; coba lagi sebentar lagi") from exc
        if not isinstance(evidence, Evidence):
            raise NotFound("Bukti tidak ditemukan pada kasus ini")
        review = EvidenceReview(
            desa=record.desa,
            evidence_id=evidence_id,
            application_id=application_id,
            field_visit_id=evidence.field_visit_id,
            decision=decision,
            reason=text,
            reviewer=reviewer.user.username,
        )
        doc = await write_review(self._couch, db, review, self._clock())
        audit.record(
            self._session,
            reviewer.user,
            AuditAction.review,
            "evidence",
            case_id=application_id,
            detail={"evidence_id": evidence_id, "decision": decision.value, "review_id": review.doc_id},
        )
        log.info("evidence %s of %s %s by %s", evidence_id, application_id, decision.value, reviewer.user.username)
        public = review_public(doc)
        assert public is not None
        return public

    async def decide(self, reviewer: Reviewer, application_id: str, decision: CaseVerdict, reason: str) -> ReviewPublic:
        """Decide a case that needs review (or change one's earlier decision on it). Audited."""
        text = clean_reason(reason)
        record = await self._record(application_id)
        reviewer.check_act(record.desa)
        self._check_open(record)
        try:
            earlier = await self._couch.get_doc(record.db_name, review_id(application_id))
        except CouchError as exc:
            raise ServiceUnavailable("Database desa sedang tidak dapat dihubungi; coba lagi sebentar lagi") from exc
        if record.status != "needs_review" and earlier is None:
            raise Conflict(f"Kasus ini tidak sedang menunggu keputusan supervisor (status: {record.status})")
        review = CaseReview(
            desa=record.desa,
            application_id=application_id,
            decision=decision,
            reason=text,
            reviewer=reviewer.user.username,
        )
        doc = await write_review(self._couch, record.db_name, review, self._clock())
        audit.record(
            self._session,
            reviewer.user,
            AuditAction.decide,
            "case",
            case_id=application_id,
            detail={"decision": decision.value, "review_id": review.doc_id, "status_before": record.status},
        )
        log.info("case %s decided %s by %s", application_id, decision.value, reviewer.user.username)
        public = review_public(doc)
        assert public is not None
        return public

    @staticmethod
    def _check_open(record: CaseRecord) -> None:
        if record.status == "stopped":
            raise Conflict("Pemrosesan kasus ini dihentikan (persetujuan ditarik atau pemrosesan dibatasi)")
        if record.status in CLOSED_STATUSES:
            raise Conflict("Pengajuan ini sudah digantikan atau dihapus; tinjau pengajuan yang berlaku")


def _photos(evidence: Evidence, raw: Mapping[str, Any]) -> tuple[PhotoView, ...]:
    stubs = raw.get("_attachments") or {}
    photos = []
    for photo in evidence.photos:
        stub = stubs.get(photo.attachment) if isinstance(stubs, Mapping) else None
        stub = stub if isinstance(stub, Mapping) else {}
        length = stub.get("length")
        photos.append(
            PhotoView(
                attachment=photo.attachment,
                kind=photo.kind,
                document_type=photo.document_type.value if photo.document_type else None,
                caption=photo.caption,
                content_type=stub.get("content_type"),
                size=length if isinstance(length, int) else None,
            )
        )
    return tuple(photos)
