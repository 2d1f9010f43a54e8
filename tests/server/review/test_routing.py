"""Ids in URLs (:mod:`server.review.routing`), in process: one encoded segment each, routed from the raw path, the
sub-resources still told apart; and the names a photo is served under."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from server.review.routing import RawPathRoute, segment
from server.review.service import attachment_path, photo_filename

IDS = [
    "application:plain-1234",
    "application:a/b",
    "application:x?y#z",
    "application:p%2Fq",
    "application:désa-ü-日本",
    "application:a/b/decision",
    "application:..",
    "application:+=@ &;",
]


def app() -> FastAPI:
    router = APIRouter(prefix="/cases", route_class=RawPathRoute)

    @router.get("/{application_id}")
    async def case(application_id: str) -> dict[str, str]:
        return {"route": "case", "application_id": application_id}

    @router.post("/{application_id}/decision")
    async def decide(application_id: str) -> dict[str, str]:
        return {"route": "decision", "application_id": application_id}

    @router.get("/{application_id}/evidence/{evidence_id}/photos/{attachment}")
    async def photo(application_id: str, evidence_id: str, attachment: str) -> dict[str, str]:
        return {"route": "photo", "application_id": application_id, "evidence_id": evidence_id, "name": attachment}

    application = FastAPI()
    application.include_router(router)
    return application


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app()), base_url="http://test") as client:
        yield client


@pytest.mark.anyio
@pytest.mark.parametrize("doc_id", IDS)
async def test_any_id_is_one_segment_and_comes_back_whole(client: httpx.AsyncClient, doc_id: str):
    encoded = segment(doc_id)
    assert "/" not in encoded and "?" not in encoded and "#" not in encoded
    assert (await client.get(f"/cases/{encoded}")).json() == {"route": "case", "application_id": doc_id}
    assert (await client.post(f"/cases/{encoded}/decision")).json() == {"route": "decision", "application_id": doc_id}
    evidence = doc_id.replace("application:", "evidence:")
    photo = await client.get(f"/cases/{encoded}/evidence/{segment(evidence)}/photos/{segment('a/b.jpg')}?size=x")
    assert photo.json() == {"route": "photo", "application_id": doc_id, "evidence_id": evidence, "name": "a/b.jpg"}


@pytest.mark.anyio
async def test_an_unencoded_slash_separates_segments(client: httpx.AsyncClient):
    assert (await client.get("/cases/application:a/b")).status_code == 404
    assert (await client.post("/cases/application:a/decision")).json()["application_id"] == "application:a"
    assert (await client.get("/cases/application:%FF")).status_code == 404, "not UTF-8 once decoded"


def test_segments_keep_ids_readable():
    assert segment("application:9b2c-1f0a") == "application:9b2c-1f0a"
    assert segment("application:p%2Fq") == "application:p%252Fq"
    assert segment("application:x?y#z") == "application:x%3Fy%23z"


@pytest.mark.parametrize(
    ("name", "content_type", "expected"),
    [
        ("depan.jpg", "image/jpeg", "depan.jpg"),
        ("kk.jpeg", "image/png", "kk.png"),
        ("foto/rumah depan.png", "image/png", "rumah_depan.png"),
        ('a"; filename=evil.html', "image/jpeg", "a_filename_evil.jpg"),
        ("../../etc/passwd", "image/webp", "passwd.webp"),
        ("日本.jpg", "image/jpeg", "foto.jpg"),
        ("\r\nSet-Cookie: x=1", "image/jpeg", "Set-Cookie_x_1.jpg"),
    ],
)
def test_a_photo_is_served_under_a_plain_name_of_its_own_type(name: str, content_type: str, expected: str):
    assert photo_filename(name, content_type) == expected


def test_an_attachment_name_is_encoded_a_part_at_a_time():
    assert attachment_path("desa_1", "evidence:a/b", "foto/depan #1.jpg") == (
        "/desa_1/evidence%3Aa%2Fb/foto/depan%20%231.jpg"
    )
