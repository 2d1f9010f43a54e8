"""``field_visit`` (kunjungan verifikasi lapangan) and ``evidence`` (foto bukti)."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from agent_forms.models.base import (
    ApplicationRef,
    AttachmentKind,
    AttachmentName,
    Choice,
    FieldVisitRef,
    GeoPoint,
    HouseholdRef,
    Nik,
    Submission,
    TaskRef,
)
from agent_forms.models.housing import HousingIndicators
from agent_forms.problems import Problem

#: Clock drift tolerated between the start of a visit and the moment its form is saved on the same device.
_CLOCK_TOLERANCE = timedelta(minutes=5)


class Recommendation(Choice):
    """Rekomendasi pendamping"""

    ELIGIBLE = "eligible", "Layak"
    NOT_ELIGIBLE = "not_eligible", "Tidak layak"
    NEEDS_REVIEW = "needs_review", "Perlu diputuskan supervisor"
    REVISIT = "revisit", "Perlu kunjungan ulang"


class FieldVisit(Submission):
    """Hasil kunjungan verifikasi ke rumah keluarga, menjawab satu tugas verifikasi lapangan."""

    model_config = ConfigDict(title="Kunjungan verifikasi lapangan")

    FORM_TYPE: ClassVar[str] = "field_visit"
    FORM_VERSION: ClassVar[int] = 1

    type: Literal["field_visit"] = Field(title="Jenis dokumen")
    form_version: Literal[1] = Field(title="Versi formulir")
    task_id: TaskRef = Field(title="Tugas", description="Id tugas verifikasi lapangan yang dijawab")
    household_id: HouseholdRef | None = Field(default=None, title="Keluarga", description="Id dokumen keluarga")
    visited_at: AwareDatetime = Field(title="Waktu kunjungan", description="Dengan zona waktu")
    location: GeoPoint = Field(title="Lokasi kunjungan (GPS)")
    address_found: bool = Field(title="Alamat ditemukan", description="Keluarga ditemukan di alamat yang tercatat")
    respondent_nik: Nik | None = Field(
        default=None, title="NIK narasumber", description="Anggota keluarga yang ditemui"
    )
    checklist: HousingIndicators | None = Field(
        default=None, title="Kondisi rumah yang diamati", description="Wajib bila alamat ditemukan"
    )
    findings: str = Field(
        default="", max_length=4000, title="Temuan", description="Catatan pendamping tentang keadaan keluarga"
    )
    recommendation: Recommendation = Field(title="Rekomendasi")

    def rule_errors(self) -> list[Problem]:
        problems: list[Problem] = []
        if self.address_found and self.checklist is None:
            problems.append(
                Problem(
                    "checklist",
                    "field_visit.checklist_required",
                    "Kondisi rumah wajib diisi bila alamat ditemukan",
                )
            )
        if self.checklist is not None:
            problems.extend(self.checklist.rule_errors("checklist"))
        if self.visited_at > self.captured_at + _CLOCK_TOLERANCE:
            problems.append(
                Problem(
                    "visited_at",
                    "field_visit.visited_after_capture",
                    "Waktu kunjungan tidak boleh setelah waktu pencatatan",
                )
            )
        if self.recommendation is not Recommendation.ELIGIBLE and not self.findings.strip():
            problems.append(
                Problem(
                    "findings",
                    "field_visit.findings_required",
                    "Temuan wajib diisi bila rekomendasi bukan 'layak'",
                )
            )
        return problems

    def soft_checks(self) -> list[Problem]:
        problems = self.location.soft_checks("location")
        if self.respondent_nik is not None:
            problems.extend(self._nik_soft(self.respondent_nik, "respondent_nik"))
        if self.captured_at - self.visited_at > timedelta(days=2):
            problems.append(
                Problem(
                    "visited_at",
                    "field_visit.late_capture",
                    "Kunjungan dicatat lebih dari 2 hari setelah dilakukan",
                )
            )
        return problems


class DocumentType(Choice):
    """Jenis dokumen pendukung"""

    KTP = "ktp", "KTP-el"
    KK = "kk", "Kartu Keluarga"
    BIRTH_CERTIFICATE = "birth_certificate", "Akta kelahiran"
    SCHOOL_CARD = "school_card", "Kartu pelajar/rapor/surat keterangan sekolah"
    PREGNANCY_BOOK = "pregnancy_book", "Buku KIA"
    DISABILITY_CERTIFICATE = "disability_certificate", "Surat keterangan disabilitas"
    SKTM = "sktm", "Surat keterangan tidak mampu"
    ELECTRICITY_BILL = "electricity_bill", "Rekening/token listrik"
    OTHER = "other", "Lainnya"


PHOTO_KINDS = (AttachmentKind.HOUSE_FRONT, AttachmentKind.HOUSE_INSIDE, AttachmentKind.SUPPORTING_DOCUMENT)
_KINDS = {kind.value: kind for kind in PHOTO_KINDS}


class Photo(BaseModel):
    """Foto"""

    model_config = ConfigDict(extra="forbid", frozen=True, title="Foto")

    attachment: AttachmentName = Field(
        title="Lampiran",
        description="Nama lampiran dokumen ini yang berisi foto (JPEG, PNG atau WebP), mis. depan-1.jpg",
    )
    kind: Literal["house_front", "house_inside", "supporting_document"] = Field(
        title="Jenis foto",
        json_schema_extra={"oneOf": [{"const": k.value, "title": k.label} for k in PHOTO_KINDS]},
    )
    document_type: DocumentType | None = Field(
        default=None, title="Jenis dokumen", description="Wajib untuk foto dokumen pendukung"
    )
    caption: str | None = Field(default=None, max_length=500, title="Keterangan")


class Evidence(Submission):
    """Foto rumah (tampak depan, bagian dalam) dan dokumen pendukung, untuk satu kunjungan lapangan atau satu
    pengajuan."""

    model_config = ConfigDict(title="Bukti foto")

    FORM_TYPE: ClassVar[str] = "evidence"
    FORM_VERSION: ClassVar[int] = 1

    type: Literal["evidence"] = Field(title="Jenis dokumen")
    form_version: Literal[1] = Field(title="Versi formulir")
    field_visit_id: FieldVisitRef | None = Field(
        default=None,
        title="Kunjungan lapangan",
        description="Isi salah satu: kunjungan lapangan atau pengajuan",
    )
    application_id: ApplicationRef | None = Field(
        default=None, title="Pengajuan", description="Isi salah satu: kunjungan lapangan atau pengajuan"
    )
    photos: list[Photo] = Field(min_length=1, max_length=20, title="Foto")

    def rule_errors(self) -> list[Problem]:
        problems: list[Problem] = []
        if (self.field_visit_id is None) == (self.application_id is None):
            problems.append(
                Problem(
                    "field_visit_id",
                    "evidence.subject",
                    "Isi tepat satu: id kunjungan lapangan atau id pengajuan",
                )
            )
        seen: set[str] = set()
        for i, photo in enumerate(self.photos):
            if photo.attachment in seen:
                problems.append(
                    Problem(f"photos[{i}].attachment", "list.duplicate", "Lampiran yang sama disebut dua kali")
                )
            seen.add(photo.attachment)
            is_document = photo.kind == AttachmentKind.SUPPORTING_DOCUMENT
            if is_document and photo.document_type is None:
                problems.append(
                    Problem(
                        f"photos[{i}].document_type",
                        "evidence.document_type_required",
                        "Jenis dokumen wajib diisi untuk foto dokumen pendukung",
                    )
                )
            if not is_document and photo.document_type is not None:
                problems.append(
                    Problem(
                        f"photos[{i}].document_type",
                        "evidence.document_type_not_document",
                        "Jenis dokumen hanya diisi untuk foto dokumen pendukung",
                    )
                )
        return problems

    def declared_attachments(self) -> dict[str, AttachmentKind]:
        return {photo.attachment: _KINDS[photo.kind] for photo in self.photos}
