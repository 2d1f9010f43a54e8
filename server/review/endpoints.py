"""``/api/v1/review/queue`` and ``/api/v1/cases/...``: the supervisors' review over the API.

Supervisors see their kecamatan, admins everything; the central verifier may read a finalised case and its photos
(its decision feed links here) but act on nothing. Every read of personal data and every action is audited by the
service.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from agent_forms.attachments import Limits
from server.auth.deps import CurrentUser
from server.core.state import SessionDep, StateDep
from server.review.access import READER_ROLES, REVIEWER_ROLES, Reviewer, reviewer_of
from server.review.routing import RawPathRoute
from server.review.schemas import (
    CaseDecisionCreate,
    CasePublic,
    EvidenceReviewCreate,
    QueuePublic,
    QueueStatus,
    ReviewPublic,
)
from server.review.service import PhotoBytes, QueueFilters, ReviewService

# Ids are single, percent-encoded segments read from the raw path: an id may hold "/" (server.review.routing).
router = APIRouter(prefix="/api/v1", tags=["review"], route_class=RawPathRoute)

#: The deepest a queue may be paged: far beyond any region's cases, and within every database's integers.
MAX_OFFSET = 1_000_000


async def _reviewer(user: CurrentUser, session: SessionDep) -> Reviewer:
    return await reviewer_of(session, user, REVIEWER_ROLES)


async def _reader(user: CurrentUser, session: SessionDep) -> Reviewer:
    return await reviewer_of(session, user, READER_ROLES)


def image_limits(state: StateDep) -> Limits:
    """The gateway's limits on a photo: an original is served only within them."""
    return Limits(max_image_bytes=state.settings.max_image_bytes, max_image_pixels=state.settings.max_image_pixels)


def _service(state: StateDep, session: SessionDep) -> ReviewService:
    return ReviewService(session, state.couch, state.engine, image_limits=image_limits(state))


ReviewerDep = Annotated[Reviewer, Depends(_reviewer)]
ReaderDep = Annotated[Reviewer, Depends(_reader)]
ServiceDep = Annotated[ReviewService, Depends(_service)]


class PhotoSize(StrEnum):
    thumbnail = "thumbnail"
    original = "original"


@router.get("/review/queue", response_model=QueuePublic)
async def queue(
    reviewer: ReviewerDep,
    service: ServiceDep,
    desa: Annotated[str | None, Query(description="A desa of your regions, e.g. 35.10.16.1014")] = None,
    status: QueueStatus = QueueStatus.needs_review,
    min_age_days: Annotated[int, Query(ge=0, le=3650, description="Only cases in this status for as long")] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> QueuePublic:
    """Cases awaiting a supervisor (field evidence to approve, ``needs_review`` decisions, objections), oldest
    first; ``kinds`` says why each waits."""
    filters = QueueFilters(desa=desa, status=status, min_age_days=min_age_days, limit=limit, offset=offset)
    return await service.queue(reviewer, filters)


@router.get("/cases/{application_id}", response_model=CasePublic)
async def case(application_id: str, reader: ReaderDep, service: ServiceDep) -> CasePublic:
    """A case in full: the decision trace, the application (without the bank account), the household, the field
    visits, the evidence with links to its photos and their reviews, the objections."""
    view = await service.case(reader, application_id)
    return view.to_public()


@router.get(
    "/cases/{application_id}/evidence/{evidence_id}/photos/{attachment}",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}}},
)
async def photo(
    application_id: str,
    evidence_id: str,
    attachment: str,
    reader: ReaderDep,
    service: ServiceDep,
    size: PhotoSize = PhotoSize.thumbnail,
) -> Response:
    """A photo of the case's evidence: a small JPEG thumbnail by default, the original with ``size=original``. 409
    when the attachment is not stored as a JPEG, PNG or WebP image, or its bytes do not decode as one."""
    photo = await service.photo(reader, application_id, evidence_id, attachment, original=size is PhotoSize.original)
    return photo_response(photo)


#: A photo is an image and nothing else, even when opened on its own: nothing loads, nothing runs (as GitHub serves
#: raw files; the inline style is the browser's own image viewer's).
PHOTO_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


def photo_response(photo: PhotoBytes) -> Response:
    """The photo with :func:`photo_headers` (the API's and the pages' photos alike)."""
    return Response(photo.data, media_type=photo.content_type, headers=photo_headers(photo))


def photo_headers(photo: PhotoBytes) -> dict[str, str]:
    """Thumbnails never change for a URL (keyed by content) and may stay in the browser's private cache for a day,
    which spares a slow link; originals are not kept. The type was checked by the service; the browser is told not
    to guess another (``nosniff``), to run nothing in it (the CSP's ``sandbox``), and what to call it if saved."""
    return {
        "Cache-Control": "private, max-age=86400" if photo.thumbnail else "private, no-store",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": PHOTO_CSP,
        "Content-Disposition": f'inline; filename="{photo.filename}"',
    }


@router.post("/cases/{application_id}/evidence/{evidence_id}/review", response_model=ReviewPublic)
async def review_evidence(
    application_id: str, evidence_id: str, body: EvidenceReviewCreate, reviewer: ReviewerDep, service: ServiceDep
) -> ReviewPublic:
    """Approve or reject a piece of evidence with a reason: writes ``review:<evidence id>`` into the desa
    database; the worker re-evaluates the case and the pendamping sees the review on the next pull."""
    return await service.review_evidence(reviewer, application_id, evidence_id, body.decision, body.reason)


@router.post("/cases/{application_id}/decision", response_model=ReviewPublic)
async def decide(
    application_id: str, body: CaseDecisionCreate, reviewer: ReviewerDep, service: ServiceDep
) -> ReviewPublic:
    """Decide a ``needs_review`` case (eligible or not) with a reason: writes ``review:<application id>``; the
    worker re-evaluates the case and pushes the new result down."""
    return await service.decide(reviewer, application_id, body.decision, body.reason)
