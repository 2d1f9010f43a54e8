"""Builders for agent_forms tests: NIKs, valid documents of every form, images (kept small and fast)."""

from __future__ import annotations

import base64
import copy
import io
import struct
import zlib
from datetime import date
from typing import Any

from PIL import Image

from agent_forms import Limits

DESA = "35.10.16.1014"  # Kelurahan Lateng
DESA_DIGITS = "3510161014"
AGENT = "pendamping.lateng"
DEVICE = "dev-7f3a"
CAPTURED = "2025-09-14T09:12:03+07:00"
LIMITS = Limits()


def make_nik(born: date, *, female: bool = False, region: str = "351016", serial: str = "0001") -> str:
    day = born.day + (40 if female else 0)
    return f"{region}{day:02d}{born.month:02d}{born.year % 100:02d}{serial}"


HEAD_NIK = make_nik(date(1980, 5, 17), serial="0001")  # 3510161705800001
SPOUSE_NIK = make_nik(date(1984, 2, 3), female=True, serial="0002")  # 3510164302840002
CHILD_NIK = make_nik(date(2019, 7, 23), female=True, serial="0003")
PUPIL_NIK = make_nik(date(2012, 1, 9), serial="0004")
KK = "3510161203150007"


def _common(doc_type: str, key: str = "9b2c6c1e-1f0a-4a52-9b53-6f1d8e2f7a10") -> dict[str, Any]:
    return {
        "_id": f"{doc_type}:{key}",
        "type": doc_type,
        "form_version": 1,
        "desa": DESA,
        "agent_id": AGENT,
        "device_id": DEVICE,
        "captured_at": CAPTURED,
    }


def housing() -> dict[str, Any]:
    return {
        "ownership": "own",
        "floor_area_m2": 36,
        "floor": "cement_brick",
        "wall": "woven_bamboo",
        "roof": "clay_tile",
        "drinking_water": "protected_well",
        "toilet": "shared",
        "toilet_disposal": "pit",
        "lighting": "pln_metered",
        "electricity_va": 450,
        "cooking_fuel": "lpg_3kg",
        "assets": ["motorcycle", "smartphone"],
        "livestock": {"goat_sheep": 2},
    }


def household() -> dict[str, Any]:
    return {
        **_common("household"),
        "kk_number": KK,
        "address": {
            "street": "Jl. Kapten Ilyas Gg. Mawar 7",
            "rt": "002",
            "rw": "005",
            "postal_code": "68414",
        },
        "location": {"lat": -8.2146, "lon": 114.3688, "accuracy_m": 12},
        "members": [
            {
                "nik": HEAD_NIK,
                "name": "Slamet Riyadi",
                "birth_date": "1980-05-17",
                "sex": "male",
                "relationship": "head",
                "marital_status": "married",
                "school_level": "smp",
                "school_status": "finished",
                "occupation": "farm_labourer",
            },
            {
                "nik": SPOUSE_NIK,
                "name": "Siti Aminah",
                "birth_date": "1984-02-03",
                "sex": "female",
                "relationship": "spouse",
                "maternal_status": "pregnant",
                "school_level": "sd",
                "school_status": "finished",
                "occupation": "homemaker",
            },
            {
                "nik": CHILD_NIK,
                "name": "Dewi Lestari",
                "birth_date": "2019-07-23",
                "sex": "female",
                "relationship": "child",
                "school_level": "paud",
                "school_status": "enrolled",
                "occupation": "not_working",
            },
            {
                "nik": PUPIL_NIK,
                "name": "Bagus Santoso",
                "birth_date": "2012-01-09",
                "sex": "male",
                "relationship": "child",
                "disability": "severe",
                "school_level": "smp",
                "school_status": "enrolled",
                "nisn": "0123456789",
                "occupation": "student",
            },
        ],
        "housing": housing(),
    }


def consent() -> dict[str, Any]:
    return {
        **_common("consent"),
        "household_id": "household:9b2c6c1e-1f0a-4a52-9b53-6f1d8e2f7a10",
        "subject_nik": SPOUSE_NIK,
        "subject_name": "Siti Aminah",
        "subject_birth_date": "1984-02-03",
        "purposes": [
            {"source": "population_registry", "granted": True},
            {"source": "dtsen", "granted": True},
            {"source": "bpjs_kesehatan", "granted": False},
        ],
        "method": {"kind": "signature", "attachment": "ttd.png"},
        "notice_version": "pemberitahuan-2025-09-v1",
        "_attachments": {"ttd.png": inline(png_bytes(), "image/png")},
    }


def verbal_consent() -> dict[str, Any]:
    doc = consent()
    del doc["_attachments"]
    doc["method"] = {"kind": "witnessed_verbal", "witness": {"name": "Pak RT Suwito", "role": "rt_rw"}}
    return doc


def consent_withdrawal() -> dict[str, Any]:
    doc = verbal_consent()
    doc.update(_common("consent_withdrawal"))
    for key in ("household_id", "purposes", "notice_version"):
        del doc[key]
    doc["consent_id"] = "consent:9b2c6c1e-1f0a-4a52-9b53-6f1d8e2f7a10"
    doc["scope"] = "sources"
    doc["sources"] = ["dtsen"]
    return doc


def application() -> dict[str, Any]:
    return {
        **_common("application"),
        "household_id": "household:9b2c6c1e-1f0a-4a52-9b53-6f1d8e2f7a10",
        "applicant_nik": SPOUSE_NIK,
        "channel": "assisted",
        "components": [
            {"component": "pregnant_postpartum", "member_nik": SPOUSE_NIK},
            {"component": "early_childhood", "member_nik": CHILD_NIK},
            {"component": "severe_disability", "member_nik": PUPIL_NIK},
        ],
        "consent_id": "consent:9b2c6c1e-1f0a-4a52-9b53-6f1d8e2f7a10",
        "bank_account": {"bank": "bri", "account_number": "012301000123567", "holder_name": "Siti Aminah"},
    }


def field_visit() -> dict[str, Any]:
    return {
        **_common("field_visit"),
        "task_id": "task:application:9b2c6c1e-1f0a-4a52-9b53-6f1d8e2f7a10",
        "household_id": "household:9b2c6c1e-1f0a-4a52-9b53-6f1d8e2f7a10",
        "visited_at": "2025-09-14T08:40:00+07:00",
        "location": {"lat": -8.2147, "lon": 114.3689},
        "address_found": True,
        "respondent_nik": SPOUSE_NIK,
        "checklist": housing(),
        "findings": "Rumah semi permanen, dinding anyaman bambu; suami buruh tani harian.",
        "recommendation": "eligible",
    }


def evidence() -> dict[str, Any]:
    return {
        **_common("evidence"),
        "field_visit_id": "field_visit:9b2c6c1e-1f0a-4a52-9b53-6f1d8e2f7a10",
        "photos": [
            {"attachment": "depan.jpg", "kind": "house_front"},
            {"attachment": "kk.jpg", "kind": "supporting_document", "document_type": "kk"},
        ],
        "_attachments": {
            "depan.jpg": inline(jpeg_bytes(exif_time="2025:09:14 08:45:10"), "image/jpeg"),
            "kk.jpg": inline(jpeg_bytes(), "image/jpeg"),
        },
    }


def objection() -> dict[str, Any]:
    return {
        **_common("objection"),
        "application_id": "application:9b2c6c1e-1f0a-4a52-9b53-6f1d8e2f7a10",
        "result_id": "result:application:9b2c6c1e-1f0a-4a52-9b53-6f1d8e2f7a10",
        "objector_nik": SPOUSE_NIK,
        "objector_name": "Siti Aminah",
        "objector_role": "applicant",
        "grounds": ["wrongly_excluded"],
        "statement": "Suami saya bukan perangkat desa; yang menjabat orang lain dengan nama yang sama.",
        "channel": "assisted",
    }


BUILDERS = {
    "household": household,
    "consent": consent,
    "consent_withdrawal": consent_withdrawal,
    "application": application,
    "field_visit": field_visit,
    "evidence": evidence,
    "objection": objection,
}


def fresh(doc_type: str) -> dict[str, Any]:
    return copy.deepcopy(BUILDERS[doc_type]())


# --- Images -------------------------------------------------------------------------------------------------


def inline(data: bytes, content_type: str) -> dict[str, Any]:
    return {"content_type": content_type, "data": base64.b64encode(data).decode("ascii")}


def jpeg_bytes(
    size: tuple[int, int] = (64, 48),
    *,
    exif_time: str | None = None,
    offset: str | None = None,
    gps: tuple[float, float] | None = None,
) -> bytes:
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    exif = Image.Exif()
    if exif_time is not None:
        exif_ifd = exif.get_ifd(0x8769)
        exif_ifd[0x9003] = exif_time  # DateTimeOriginal
        if offset is not None:
            exif_ifd[0x9011] = offset  # OffsetTimeOriginal
    if gps is not None:
        lat, lon = gps
        gps_ifd = exif.get_ifd(0x8825)
        gps_ifd[1] = "S" if lat < 0 else "N"
        gps_ifd[2] = _dms(abs(lat))
        gps_ifd[3] = "W" if lon < 0 else "E"
        gps_ifd[4] = _dms(abs(lon))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, exif=exif)
    return out.getvalue()


def _dms(value: float) -> tuple[float, float, float]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60, 4)
    return (float(degrees), float(minutes), seconds)


def png_bytes(size: tuple[int, int] = (40, 20)) -> bytes:
    out = io.BytesIO()
    Image.new("L", size, 255).save(out, "PNG")
    return out.getvalue()


def webp_bytes(size: tuple[int, int] = (40, 20)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 10, 10)).save(out, "WEBP")
    return out.getvalue()


def bilevel_png(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of any size that stays tiny: rows of zeros deflated as a stream, no pixel buffer."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    deflate = zlib.compressobj(9)
    rows_per_block = max(1, (1 << 20) // len(row))
    block = row * rows_per_block
    parts = []
    for _ in range(height // rows_per_block):
        parts.append(deflate.compress(block))
    parts.append(deflate.compress(row * (height % rows_per_block)))
    parts.append(deflate.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")
