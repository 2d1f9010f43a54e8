"""Attachments of a submission: only the declared kinds, and only real, bounded images.

Every attachment a device may send is an image (photos of the house and of documents, signature and thumbprint
images). An image is accepted only when

1. it is within the byte limit (judged from the base64 length before anything is decoded),
2. its first bytes are those of JPEG, PNG or WebP, and Pillow, restricted to that one format, agrees,
3. its dimensions (read from the header, before any pixel is decoded) are within the pixel limit, it is a
   single frame, and Pillow does not consider it a decompression bomb,
4. ``verify()`` passes and a full decode succeeds (a truncated file fails here). JPEGs are decoded in draft
   mode at 1/8 scale: every byte of the entropy-coded data is still read, at a fraction of the cost.

Pillow's globals (``Image.MAX_IMAGE_PIXELS``, ``ImageFile.LOAD_TRUNCATED_IMAGES``) are never changed. Its
warnings are caught locally: a ``DecompressionBombWarning`` becomes a refusal, any other warning (e.g. corrupt
EXIF) is ignored. ``warnings.catch_warnings`` swaps process-wide state on Python 3.11, and two threads
interleaving it can leave the filters changed for good, so the decoding is serialised by a lock inside this
module: one image at a time per process (scale out with processes or gateway replicas). The pixel limit itself
is checked from the header, independently of any warning.

EXIF capture time (``DateTimeOriginal`` with ``OffsetTimeOriginal`` when present) and GPS position are
returned as metadata; they are never a reason to refuse.
"""

from __future__ import annotations

import base64
import binascii
import io
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from PIL import ExifTags, Image, ImageFile

from agent_forms.models.base import AttachmentKind
from agent_forms.problems import Problem

MIB = 1024 * 1024

_DECODE_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class Limits:
    """Limits on what one written document may carry. The gateway builds it from its settings."""

    max_image_bytes: int = 8 * MIB
    max_image_pixels: int = 40_000_000
    #: All attachments of one document together.
    max_document_bytes: int = 24 * MIB
    max_attachments: int = 24
    #: A house photo whose EXIF time is older than this before ``captured_at`` gets a warning.
    max_photo_age: timedelta = timedelta(days=2)


#: Pillow format name → the only content type accepted for it.
IMAGE_TYPES: dict[str, str] = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


def sniff(data: bytes) -> str | None:
    """The image format from the magic bytes, or ``None``."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if len(data) >= 12 and data[0:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


@dataclass(frozen=True, slots=True)
class ImageInfo:
    format: str
    width: int
    height: int
    size_bytes: int
    exif_captured_at: datetime | None = None
    gps: dict[str, float] | None = None

    def as_metadata(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": self.format,
            "content_type": IMAGE_TYPES[self.format],
            "width": self.width,
            "height": self.height,
            "bytes": self.size_bytes,
        }
        if self.exif_captured_at is not None:
            out["exif_captured_at"] = self.exif_captured_at.isoformat()
        if self.gps is not None:
            out["gps"] = dict(self.gps)
        return out


def _mib(n: int) -> str:
    return f"{n / MIB:.1f} MB".replace(".", ",")


def inspect_image(data: bytes, limits: Limits, field: str = "") -> tuple[ImageInfo | None, list[Problem]]:
    """Decode ``data`` safely. Returns the image's facts, or ``None`` and the reasons it is refused.

    Never raises on hostile input.
    """
    if len(data) > limits.max_image_bytes:
        return None, [_too_big(field, len(data), limits)]
    fmt = sniff(data)
    if fmt is None:
        return None, [Problem(field, "image.format", "Lampiran bukan gambar JPEG, PNG atau WebP")]
    try:
        with _DECODE_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return _decode(data, fmt, limits, field)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None, [
            Problem(field, "image.bomb", "Gambar ditolak: dimensinya sangat besar (kemungkinan bom dekompresi)")
        ]
    except Exception:  # Pillow raises many types (OSError, SyntaxError, ValueError, struct.error…) on hostile input
        return None, [Problem(field, "image.corrupt", f"Gambar {fmt} rusak atau terpotong dan tidak dapat dibuka")]


def _too_big(field: str, size: int, limits: Limits) -> Problem:
    return Problem(
        field,
        "image.too_large",
        f"Ukuran gambar {_mib(size)} melebihi batas {_mib(limits.max_image_bytes)}",
    )


def _decode(data: bytes, fmt: str, limits: Limits, field: str) -> tuple[ImageInfo | None, list[Problem]]:
    with Image.open(io.BytesIO(data), formats=[fmt]) as im:
        width, height = im.size
        if width * height > limits.max_image_pixels:
            return None, [
                Problem(
                    field,
                    "image.too_many_pixels",
                    f"Gambar {width}×{height} piksel melebihi batas {limits.max_image_pixels / 1e6:g} megapiksel",
                )
            ]
        if getattr(im, "n_frames", 1) > 1:
            return None, [Problem(field, "image.animated", "Gambar animasi atau berhalaman banyak tidak diterima")]
        im.verify()
    if ImageFile.LOAD_TRUNCATED_IMAGES:  # someone changed the global: we still refuse what does not decode whole
        return None, [Problem(field, "image.unchecked", "Gambar tidak dapat diperiksa utuh di server ini")]
    with Image.open(io.BytesIO(data), formats=[fmt]) as im:
        if fmt == "JPEG":
            im.draft(im.mode, (max(1, width // 8), max(1, height // 8)))
        im.load()
        exif = im.getexif()
        captured = _exif_time(exif)
        gps = _exif_gps(exif)
    return ImageInfo(fmt, width, height, len(data), captured, gps), []


def _exif_time(exif: Image.Exif) -> datetime | None:
    try:
        ifd = exif.get_ifd(ExifTags.IFD.Exif)
        raw = ifd.get(ExifTags.Base.DateTimeOriginal) or exif.get(ExifTags.Base.DateTime)
        if not isinstance(raw, str):
            return None
        value = datetime.strptime(raw.strip("\x00 "), "%Y:%m:%d %H:%M:%S")
        offset = ifd.get(ExifTags.Base.OffsetTimeOriginal)
        if isinstance(offset, str) and offset:
            return datetime.fromisoformat(f"{value.isoformat()}{offset.strip()}")
        return value
    except Exception:  # EXIF is device-written and often malformed: no metadata, never a refusal
        return None


def _degrees(value: Any, ref: Any, negative: str) -> float:
    d, m, s = (float(x) for x in value)
    out = d + m / 60 + s / 3600
    return -out if str(ref).upper().startswith(negative) else out


def _exif_gps(exif: Image.Exif) -> dict[str, float] | None:
    try:
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        if not gps or ExifTags.GPS.GPSLatitude not in gps or ExifTags.GPS.GPSLongitude not in gps:
            return None
        lat = _degrees(gps[ExifTags.GPS.GPSLatitude], gps.get(ExifTags.GPS.GPSLatitudeRef, "N"), "S")
        lon = _degrees(gps[ExifTags.GPS.GPSLongitude], gps.get(ExifTags.GPS.GPSLongitudeRef, "E"), "W")
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            return None
        out = {"lat": round(lat, 7), "lon": round(lon, 7)}
        if ExifTags.GPS.GPSAltitude in gps:
            alt = float(gps[ExifTags.GPS.GPSAltitude])
            below = gps.get(ExifTags.GPS.GPSAltitudeRef) in (1, b"\x01")
            out["alt"] = -alt if below else alt
        return out
    except Exception:  # malformed GPS IFD: no metadata, never a refusal
        return None


# --- The attachments of one document ------------------------------------------------------------------------


@dataclass(slots=True)
class AttachmentReport:
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)


def _field(name: str) -> str:
    return f"_attachments.{name}"


def _b64_size(text: str) -> int:
    return len(text) * 3 // 4 - (text.endswith("=") + text.endswith("=="))


def check_attachments(
    stubs: Any,
    payloads: Mapping[str, bytes] | None,
    declared: Mapping[str, AttachmentKind],
    limits: Limits,
    *,
    captured_at: datetime | None = None,
) -> AttachmentReport:
    """Check the ``_attachments`` of a document against what its form declares.

    ``stubs`` is the document's ``_attachments`` object. The bytes of an attachment come from
    ``payloads[name]`` when given (e.g. a multipart upload decoded by the gateway), else from the inline
    base64 ``data``. An attachment without bytes (``stub`` or ``follows`` with nothing supplied) is refused: a
    device pushing a submission sends every attachment of it.
    """
    report = AttachmentReport()
    if stubs is None:
        stubs = {}
    if not isinstance(stubs, Mapping):
        report.errors.append(Problem("_attachments", "attachment.format", "_attachments harus berupa objek"))
        return report
    payloads = payloads or {}
    for name in payloads:
        if name not in stubs:
            report.errors.append(
                Problem(_field(name), "attachment.unlisted", "Lampiran dikirim tanpa keterangan di _attachments")
            )
    if len(stubs) > limits.max_attachments:
        report.errors.append(
            Problem(
                "_attachments",
                "attachment.too_many",
                f"Jumlah lampiran {len(stubs)} melebihi batas {limits.max_attachments}",
            )
        )
        return report
    for name in declared:
        if name not in stubs:
            report.errors.append(
                Problem(
                    _field(name),
                    "attachment.missing",
                    f"Lampiran '{name}' disebut di formulir tetapi tidak dikirim",
                )
            )
    total = 0
    for name, stub in stubs.items():
        where = _field(str(name))
        kind = declared.get(name)
        if kind is None:
            report.errors.append(
                Problem(
                    where,
                    "attachment.undeclared",
                    "Lampiran ini tidak disebut di formulir, atau jenisnya tidak diterima",
                )
            )
            continue
        if not isinstance(stub, Mapping):
            report.errors.append(Problem(where, "attachment.format", "Keterangan lampiran harus berupa objek"))
            continue
        data, size_error = _bytes_of(name, stub, payloads, limits, where)
        if size_error is not None:
            report.errors.append(size_error)
            total += _declared_size(stub)
            continue
        if data is None:
            report.errors.append(Problem(where, "attachment.no_data", "Isi lampiran tidak ikut terkirim"))
            continue
        total += len(data)
        info, problems = inspect_image(data, limits, where)
        report.errors.extend(problems)
        if info is None:
            continue
        content_type = stub.get("content_type")
        expected = IMAGE_TYPES[info.format]
        if content_type != expected:
            report.errors.append(
                Problem(
                    where,
                    "attachment.content_type",
                    f"content_type '{content_type}' tidak sesuai dengan isi lampiran ({expected})",
                )
            )
        report.metadata[name] = {"kind": kind.value, **info.as_metadata()}
        report.warnings.extend(_photo_warnings(info, kind, captured_at, limits, where))
    if total > limits.max_document_bytes:
        report.errors.append(
            Problem(
                "_attachments",
                "attachment.document_too_large",
                f"Total lampiran {_mib(total)} melebihi batas {_mib(limits.max_document_bytes)} per dokumen",
            )
        )
    return report


def _declared_size(stub: Mapping[str, Any]) -> int:
    data = stub.get("data")
    if isinstance(data, str):
        return _b64_size(data)
    length = stub.get("length")
    return length if isinstance(length, int) else 0


def _bytes_of(
    name: str, stub: Mapping[str, Any], payloads: Mapping[str, bytes], limits: Limits, where: str
) -> tuple[bytes | None, Problem | None]:
    if name in payloads:
        data = payloads[name]
        return (None, _too_big(where, len(data), limits)) if len(data) > limits.max_image_bytes else (data, None)
    inline = stub.get("data")
    if inline is None:
        return None, None
    if not isinstance(inline, str):
        return None, Problem(where, "attachment.base64", "Isi lampiran harus berupa teks base64")
    if _b64_size(inline) > limits.max_image_bytes:
        return None, _too_big(where, _b64_size(inline), limits)
    try:
        return base64.b64decode(inline, validate=True), None
    except (binascii.Error, ValueError):
        return None, Problem(where, "attachment.base64", "Isi lampiran bukan base64 yang sah")


_HOUSE_PHOTOS = (AttachmentKind.HOUSE_FRONT, AttachmentKind.HOUSE_INSIDE)


def _photo_warnings(
    info: ImageInfo, kind: AttachmentKind, captured_at: datetime | None, limits: Limits, where: str
) -> list[Problem]:
    if kind not in _HOUSE_PHOTOS or captured_at is None:
        return []
    if info.exif_captured_at is None:
        return [Problem(where, "photo.no_exif_time", "Foto rumah tanpa waktu pengambilan (EXIF)")]
    taken = info.exif_captured_at
    if taken.tzinfo is None:  # camera local time: assume the device's zone, that of captured_at
        taken = taken.replace(tzinfo=captured_at.tzinfo)
    if captured_at - taken > limits.max_photo_age:
        return [
            Problem(
                where,
                "photo.old",
                f"Foto rumah diambil {taken:%d-%m-%Y}, lebih awal dari batas "
                f"{limits.max_photo_age.days} hari "
                "sebelum pencatatan",
            )
        ]
    return []
