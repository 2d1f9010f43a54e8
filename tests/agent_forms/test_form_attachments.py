"""Attachments: declared kinds only, real bounded images; hostile files refused with a reason, no raise."""

from __future__ import annotations

import io
import warnings
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from agent_forms import Limits, Verdict, validate_document
from agent_forms.attachments import inspect_image, sniff
from tests.agent_forms.forms_testkit import (
    AGENT,
    DESA_DIGITS,
    LIMITS,
    bilevel_png,
    fresh,
    inline,
    jpeg_bytes,
    png_bytes,
    webp_bytes,
)


def evidence_with(data: bytes, content_type: str = "image/jpeg", **kwargs: Any) -> Verdict:
    doc = fresh("evidence")
    doc["_attachments"]["depan.jpg"] = inline(data, content_type)
    args: dict[str, Any] = {
        "desa_code": DESA_DIGITS,
        "agent_id": AGENT,
        "attachments": None,
        "limits": LIMITS,
    }
    return validate_document(doc, **(args | kwargs))


def refused(verdict: Verdict) -> tuple[str, str]:
    assert not verdict.ok
    (problem,) = verdict.errors
    assert problem.field == "_attachments.depan.jpg"
    return problem.code, verdict.reason


def noisy_jpeg(size: tuple[int, int] = (256, 256)) -> bytes:
    out = io.BytesIO()
    Image.effect_noise(size, 64).convert("RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


# --- Hostile files ------------------------------------------------------------------------------------------


def test_truncated_jpeg() -> None:
    whole = noisy_jpeg()
    code, reason = refused(evidence_with(whole[: len(whole) // 2]))
    assert code == "image.corrupt"
    assert "rusak atau terpotong" in reason


def test_text_named_jpg() -> None:
    code, reason = refused(evidence_with(b"Ini bukan foto, hanya teks biasa.\n"))
    assert code == "image.format"
    assert reason == "_attachments.depan.jpg: Lampiran bukan gambar JPEG, PNG atau WebP (image.format)."


def test_huge_png_20000_square() -> None:
    data = bilevel_png(20_000, 20_000)
    assert len(data) < 100_000  # small on the wire, 400 megapixels when decoded
    code, reason = refused(evidence_with(data, "image/png"))
    assert code == "image.bomb"
    assert "bom dekompresi" in reason


def test_30_mb_photo_is_refused_before_decoding() -> None:
    data = b"\xff\xd8\xff\xe0" + bytes(30 * 1024 * 1024)
    verdict = evidence_with(data)
    assert [p.code for p in verdict.errors] == ["image.too_large", "attachment.document_too_large"]
    assert verdict.reason.startswith("_attachments.depan.jpg: Ukuran gambar 30,0 MB melebihi batas 8,0 MB")
    # the same bytes received out of band (multipart)
    doc = fresh("evidence")
    doc["_attachments"]["depan.jpg"] = {"content_type": "image/jpeg", "follows": True, "length": len(data)}
    verdict = validate_document(
        doc, desa_code=DESA_DIGITS, agent_id=AGENT, attachments={"depan.jpg": data}, limits=LIMITS
    )
    assert [p.code for p in verdict.errors] == ["image.too_large", "attachment.document_too_large"]


def test_decompression_bomb_warning_zone() -> None:
    # 100 megapixels: over Pillow's MAX_IMAGE_PIXELS (warning), under twice it (error); refused, never raised,
    # even when our own pixel limit is set higher than Pillow's
    data = bilevel_png(10_000, 10_000)
    assert refused(evidence_with(data, "image/png"))[0] == "image.bomb"
    lenient = Limits(max_image_pixels=10**9)
    assert refused(evidence_with(data, "image/png", limits=lenient))[0] == "image.bomb"
    assert refused(evidence_with(bilevel_png(20_000, 20_000), "image/png", limits=lenient))[0] == "image.bomb"


def test_over_the_pixel_limit() -> None:
    code, reason = refused(evidence_with(bilevel_png(7_000, 7_000), "image/png"))
    assert code == "image.too_many_pixels"
    assert "7000×7000 piksel melebihi batas 40 megapiksel" in reason


def test_pillow_globals_untouched() -> None:
    before = (Image.MAX_IMAGE_PIXELS, list(warnings.filters))
    evidence_with(bilevel_png(10_000, 10_000), "image/png")
    evidence_with(bilevel_png(20_000, 20_000), "image/png")
    assert (Image.MAX_IMAGE_PIXELS, list(warnings.filters)) == before


def test_png_magic_with_garbage() -> None:
    assert refused(evidence_with(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, "image/png"))[0] == "image.corrupt"


def test_gif_is_not_accepted() -> None:
    out = io.BytesIO()
    Image.new("P", (10, 10)).save(out, "GIF")
    assert refused(evidence_with(out.getvalue(), "image/gif"))[0] == "image.format"


def test_animated_webp() -> None:
    out = io.BytesIO()
    frames = [Image.new("RGB", (16, 16), color) for color in ("red", "blue")]
    frames[0].save(out, "WEBP", save_all=True, append_images=frames[1:], duration=100)
    assert refused(evidence_with(out.getvalue(), "image/webp"))[0] == "image.animated"


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from([b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"RIFF\x00\x00\x00\x00WEBP"]),
    st.binary(max_size=400),
)
def test_random_bytes_never_raise(magic: bytes, tail: bytes) -> None:
    info, problems = inspect_image(magic + tail, LIMITS, "f")
    assert (info is None) == bool(problems)


def test_mangled_real_jpeg_never_raises() -> None:
    whole = noisy_jpeg((64, 64))
    for cut in range(3, len(whole), max(1, len(whole) // 40)):
        inspect_image(whole[:cut], LIMITS)
        inspect_image(whole[:cut] + bytes(20) + whole[cut + 20 :], LIMITS)


# --- Accepted images and their metadata ---------------------------------------------------------------------


def test_formats_accepted() -> None:
    assert sniff(jpeg_bytes()) == "JPEG" and sniff(png_bytes()) == "PNG" and sniff(webp_bytes()) == "WEBP"
    assert evidence_with(png_bytes(), "image/png").ok
    assert evidence_with(webp_bytes(), "image/webp").ok


def test_exif_time_and_gps_are_metadata() -> None:
    data = jpeg_bytes(exif_time="2025:09:14 08:45:10", offset="+07:00", gps=(-8.2146, 114.3688))
    verdict = evidence_with(data)
    assert verdict.ok and verdict.warnings == []
    meta = verdict.metadata["attachments"]["depan.jpg"]
    assert meta["kind"] == "house_front" and meta["format"] == "JPEG" and (meta["width"], meta["height"]) == (64, 48)
    assert meta["exif_captured_at"] == "2025-09-14T08:45:10+07:00"
    assert meta["gps"]["lat"] == pytest.approx(-8.2146, abs=1e-4)
    assert meta["gps"]["lon"] == pytest.approx(114.3688, abs=1e-4)
    assert verdict.metadata["attachments"]["kk.jpg"]["kind"] == "supporting_document"


def test_house_photo_warnings() -> None:
    old = evidence_with(jpeg_bytes(exif_time="2025:08:01 10:00:00"))
    assert old.ok and [p.code for p in old.warnings] == ["photo.old"]
    bare = evidence_with(png_bytes(), "image/png")
    assert bare.ok and [p.code for p in bare.warnings] == ["photo.no_exif_time"]


# --- Declared kinds, stubs, totals --------------------------------------------------------------------------


def check(doc: dict[str, Any], attachments: dict[str, bytes] | None = None, limits: Limits = LIMITS) -> Verdict:
    return validate_document(doc, desa_code=DESA_DIGITS, agent_id=AGENT, attachments=attachments, limits=limits)


def test_content_type_must_match() -> None:
    code, _ = refused(evidence_with(png_bytes(), "image/jpeg"))
    assert code == "attachment.content_type"


def test_undeclared_and_missing() -> None:
    doc = fresh("evidence")
    doc["_attachments"]["lain.jpg"] = inline(jpeg_bytes(), "image/jpeg")
    assert [(p.field, p.code) for p in check(doc).errors] == [("_attachments.lain.jpg", "attachment.undeclared")]
    doc = fresh("evidence")
    del doc["_attachments"]["kk.jpg"]
    assert [(p.field, p.code) for p in check(doc).errors] == [("_attachments.kk.jpg", "attachment.missing")]
    household = fresh("household") | {"_attachments": {"x.jpg": inline(jpeg_bytes(), "image/jpeg")}}
    assert [p.code for p in check(household).errors] == ["attachment.undeclared"]


def test_consent_signature_and_thumbprint() -> None:
    consent = fresh("consent")
    assert check(consent).ok
    consent["method"] = {"kind": "thumbprint", "attachment": "ttd.png"}
    assert check(consent).ok
    consent["method"]["attachment"] = "jempol.jpg"
    codes = sorted(p.code for p in check(consent).errors)
    assert codes == ["attachment.missing", "attachment.undeclared"]


def test_stub_without_bytes_and_bytes_out_of_band() -> None:
    doc = fresh("evidence")
    data = jpeg_bytes(exif_time="2025:09:14 08:45:10")
    doc["_attachments"]["depan.jpg"] = {"content_type": "image/jpeg", "stub": True, "revpos": 1}
    assert [p.code for p in check(doc).errors] == ["attachment.no_data"]
    assert check(doc, {"depan.jpg": data}).ok
    assert [p.code for p in check(doc, {"depan.jpg": data, "extra.jpg": data}).errors] == ["attachment.unlisted"]


def test_bad_base64_and_bad_entries() -> None:
    doc = fresh("evidence")
    doc["_attachments"]["depan.jpg"] = {"content_type": "image/jpeg", "data": "!!!not base64!!!"}
    assert [p.code for p in check(doc).errors] == ["attachment.base64"]
    doc["_attachments"]["depan.jpg"] = "depan"
    assert [p.code for p in check(doc).errors] == ["attachment.format"]
    doc["_attachments"] = ["depan.jpg"]
    assert [p.code for p in check(doc).errors] == ["attachment.format"]


def test_per_document_total_and_count() -> None:
    doc = fresh("evidence")
    sizes = sum(len(entry["data"]) * 3 // 4 for entry in doc["_attachments"].values())
    tight = Limits(max_document_bytes=sizes - 10)
    errors = check(doc, limits=tight).errors
    assert [(p.field, p.code) for p in errors] == [("_attachments", "attachment.document_too_large")]
    assert [p.code for p in check(doc, limits=Limits(max_attachments=1)).errors] == ["attachment.too_many"]
