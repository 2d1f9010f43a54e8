"""Thumbnails of evidence photos: made once with Pillow, kept in the relational store, served instead of originals.

A supervisor on a low-end laptop and a slow link sees a case's photos as small JPEGs (about 10–30 kB instead of up
to 8 MB); the original is fetched from CouchDB only when asked for.

**Made once.** A thumbnail is keyed by the database, the evidence id, the attachment name and the attachment's
``digest`` (CouchDB's content hash): the same bytes always give the same key, so it is made the first time any
server replica is asked and read from the table afterwards. A device never edits a synced document, so a key never
goes stale; should an operator replace an attachment, the digest changes and a new thumbnail is made. The table is
shared by every gateway replica (a disk cache would be per container, and lost with it).

**Safe decoding.** Photos were checked at the gateway (format, size, pixels, a full decode). They are decoded here
again in a worker thread, restricted to JPEG, PNG and WebP, JPEGs in draft mode near the target size (fast, and
little memory). EXIF orientation is applied, then every metadata block is dropped: a thumbnail carries no GPS
position and no capture time.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
from dataclasses import dataclass
from datetime import datetime

from PIL import Image, ImageOps
from sqlalchemy import LargeBinary
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from sync.cases.tables import UtcDateTime
from sync.checkpoints import utcnow

#: The longest side of a thumbnail, in pixels: sharp enough to judge a house or read a KK's layout on a laptop.
THUMBNAIL_SIZE = 320
THUMBNAIL_QUALITY = 70
THUMBNAIL_TYPE = "image/jpeg"
_FORMATS = ["JPEG", "PNG", "WEBP"]


class PhotoThumbnail(SQLModel, table=True):
    __tablename__ = "photo_thumbnails"

    key: str = Field(primary_key=True, max_length=64, description="SHA-256 of db, evidence id, attachment, digest.")
    content_type: str = Field(max_length=32)
    data: bytes = Field(sa_type=LargeBinary)
    width: int
    height: int
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class UnreadablePhoto(Exception):
    """The stored bytes do not decode as an image (they passed the gateway, so something changed them since)."""


@dataclass(frozen=True, slots=True)
class Thumbnail:
    data: bytes
    content_type: str
    width: int
    height: int


def thumbnail_key(db: str, evidence_id: str, attachment: str, digest: str) -> str:
    return hashlib.sha256("\x00".join((db, evidence_id, attachment, digest)).encode()).hexdigest()


def make_thumbnail(data: bytes, size: int = THUMBNAIL_SIZE) -> Thumbnail:
    """A JPEG no larger than ``size``×``size``, upright, without metadata. Raises :class:`UnreadablePhoto`."""
    try:
        with Image.open(io.BytesIO(data), formats=_FORMATS) as image:
            if image.format == "JPEG":
                image.draft("RGB", (size * 2, size * 2))
            upright = ImageOps.exif_transpose(image)
            upright.thumbnail((size, size), Image.Resampling.LANCZOS)
            if upright.mode not in ("RGB", "L"):
                upright = _flatten(upright)
            out = io.BytesIO()
            upright.save(out, "JPEG", quality=THUMBNAIL_QUALITY, optimize=True, progressive=True)
            return Thumbnail(out.getvalue(), THUMBNAIL_TYPE, upright.width, upright.height)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise UnreadablePhoto(type(exc).__name__) from exc


def _flatten(image: Image.Image) -> Image.Image:
    """Transparent or palette images on white (JPEG has no alpha)."""
    rgba = image.convert("RGBA")
    background = Image.new("RGB", rgba.size, (255, 255, 255))
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


class ThumbnailCache:
    """Thumbnails in ``photo_thumbnails``, made on first request. Uses the request's session (the route commits)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, key: str) -> Thumbnail | None:
        row = await self._session.get(PhotoThumbnail, key)
        if row is None:
            return None
        return Thumbnail(row.data, row.content_type, row.width, row.height)

    async def make(self, key: str, original: bytes) -> Thumbnail:
        """Make and store the thumbnail of ``original``. Two replicas making the same one at once both answer: the
        insert that loses the race is dropped (inside its own savepoint), the row already holds the same bytes."""
        thumbnail = await asyncio.to_thread(make_thumbnail, original)
        row = PhotoThumbnail(
            key=key,
            content_type=thumbnail.content_type,
            data=thumbnail.data,
            width=thumbnail.width,
            height=thumbnail.height,
        )
        try:
            async with self._session.begin_nested():
                self._session.add(row)
        except IntegrityError:
            pass
        return thumbnail
