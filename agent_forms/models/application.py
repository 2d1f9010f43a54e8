"""``application`` (pengajuan PKH) and ``objection`` (keberatan atas keputusan otomatis)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent_forms.models.base import (
    ApplicationRef,
    Channel,
    Choice,
    ConsentRef,
    EvidenceRef,
    HouseholdRef,
    LongText,
    Nik,
    PersonName,
    ResultRef,
    Submission,
)
from agent_forms.problems import Problem


class Component(Choice):
    """Komponen PKH"""

    PREGNANT_POSTPARTUM = "pregnant_postpartum", "Ibu hamil/nifas"
    EARLY_CHILDHOOD = "early_childhood", "Anak usia dini (0–6 tahun)"
    SD = "sd", "Anak sekolah SD/sederajat"
    SMP = "smp", "Anak sekolah SMP/sederajat"
    SMA = "sma", "Anak sekolah SMA/sederajat"
    SEVERE_DISABILITY = "severe_disability", "Penyandang disabilitas berat"
    ELDERLY = "elderly", "Lanjut usia"


class ClaimedComponent(BaseModel):
    """Komponen yang diajukan"""

    model_config = ConfigDict(extra="forbid", frozen=True, title="Komponen yang diajukan")

    component: Component = Field(title="Komponen")
    member_nik: Nik = Field(title="NIK anggota", description="Anggota keluarga yang memenuhi komponen ini")


class Bank(Choice):
    """Bank penyalur"""

    BRI = "bri", "BRI"
    BNI = "bni", "BNI"
    MANDIRI = "mandiri", "Bank Mandiri"
    BTN = "btn", "BTN"
    BSI = "bsi", "BSI"


class BankAccount(BaseModel):
    """Rekening bank"""

    model_config = ConfigDict(extra="forbid", frozen=True, title="Rekening bank")

    bank: Bank = Field(title="Bank")
    account_number: str = Field(pattern=r"^[0-9]{6,20}$", title="Nomor rekening", description="Angka saja, tanpa spasi")
    holder_name: PersonName = Field(title="Nama pemilik rekening")


class Application(Submission):
    """Pengajuan Program Keluarga Harapan untuk satu keluarga, dengan komponen yang diajukan dan rujukan
    persetujuan."""

    model_config = ConfigDict(title="Pengajuan PKH")

    FORM_TYPE: ClassVar[str] = "application"
    FORM_VERSION: ClassVar[int] = 1

    type: Literal["application"] = Field(title="Jenis dokumen")
    form_version: Literal[1] = Field(title="Versi formulir")
    household_id: HouseholdRef = Field(title="Keluarga", description="Id dokumen keluarga yang mengajukan")
    applicant_nik: Nik = Field(title="NIK pemohon", description="Biasanya pengurus keluarga (ibu)")
    channel: Channel = Field(title="Cara pengajuan")
    components: list[ClaimedComponent] = Field(
        min_length=1,
        max_length=30,
        title="Komponen yang diajukan",
        description="Satu baris per anggota per komponen",
    )
    consent_id: ConsentRef = Field(
        title="Persetujuan",
        description="Id dokumen persetujuan pemohon; boleh tersinkron sesudah pengajuan ini",
    )
    bank_account: BankAccount | None = Field(default=None, title="Rekening bank", description="Bila sudah ada")

    def rule_errors(self) -> list[Problem]:
        problems: list[Problem] = []
        seen: set[tuple[Component, str]] = set()
        for i, claim in enumerate(self.components):
            key = (claim.component, claim.member_nik)
            if key in seen:
                problems.append(
                    Problem(
                        f"components[{i}]",
                        "list.duplicate",
                        "Komponen yang sama untuk anggota yang sama diajukan dua kali",
                    )
                )
            seen.add(key)
        return problems

    def soft_checks(self) -> list[Problem]:
        problems = self._nik_soft(self.applicant_nik, "applicant_nik")
        for i, claim in enumerate(self.components):
            if claim.member_nik != self.applicant_nik:
                problems.extend(self._nik_soft(claim.member_nik, f"components[{i}].member_nik"))
        return problems


class ObjectionGround(Choice):
    """Alasan keberatan"""

    DATA_INCORRECT = "data_incorrect", "Data yang dipakai tidak benar"
    CIRCUMSTANCES_CHANGED = "circumstances_changed", "Keadaan keluarga sudah berubah"
    WRONGLY_EXCLUDED = "wrongly_excluded", "Dianggap ASN/TNI/Polri/perangkat desa padahal bukan"
    COMPONENT_MISSED = "component_missed", "Komponen keluarga tidak terhitung"
    IDENTITY_MISMATCH = "identity_mismatch", "Identitas dinyatakan tidak sesuai"
    OTHER = "other", "Lainnya"


class ObjectorRole(Choice):
    """Yang mengajukan keberatan"""

    APPLICANT = "applicant", "Pemohon"
    HOUSEHOLD_MEMBER = "household_member", "Anggota keluarga"
    GUARDIAN = "guardian", "Orang tua/wali"
    REPRESENTATIVE = "representative", "Kuasa"


class Objection(Submission):
    """Keberatan warga atas keputusan yang dibuat secara otomatis; supervisor memutuskan (UU 27/2022)."""

    model_config = ConfigDict(title="Keberatan atas keputusan")

    FORM_TYPE: ClassVar[str] = "objection"
    FORM_VERSION: ClassVar[int] = 1

    type: Literal["objection"] = Field(title="Jenis dokumen")
    form_version: Literal[1] = Field(title="Versi formulir")
    application_id: ApplicationRef = Field(title="Pengajuan", description="Id dokumen pengajuan yang diputuskan")
    result_id: ResultRef | None = Field(
        default=None, title="Keputusan", description="Id dokumen hasil yang diberatkan, bila diketahui"
    )
    objector_nik: Nik = Field(title="NIK yang mengajukan keberatan")
    objector_name: PersonName = Field(title="Nama yang mengajukan keberatan")
    objector_role: ObjectorRole = Field(title="Kedudukan")
    grounds: list[ObjectionGround] = Field(
        min_length=1,
        max_length=len(ObjectionGround),
        title="Alasan keberatan",
        description="Pilih satu atau lebih",
    )
    statement: LongText = Field(
        title="Uraian keberatan",
        description="Dengan kata-kata warga sendiri: apa yang tidak benar dan mengapa",
    )
    evidence_ids: list[EvidenceRef] = Field(
        default_factory=list,
        max_length=20,
        title="Bukti pendukung",
        description="Id dokumen bukti foto, bila ada",
    )
    channel: Channel = Field(title="Cara pengajuan")

    def rule_errors(self) -> list[Problem]:
        problems: list[Problem] = []
        if len(set(self.grounds)) != len(self.grounds):
            problems.append(Problem("grounds", "list.duplicate", "Setiap alasan cukup dipilih sekali"))
        if self.result_id is not None and self.result_id != f"result:{self.application_id}":
            problems.append(
                Problem(
                    "result_id",
                    "objection.result_mismatch",
                    f"Keputusan harus milik pengajuan yang sama: result:{self.application_id}",
                )
            )
        return problems

    def soft_checks(self) -> list[Problem]:
        return self._nik_soft(self.objector_nik, "objector_nik")
