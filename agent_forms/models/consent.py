"""``consent`` and ``consent_withdrawal`` (UU 27/2022): per purpose, who, how, and the notice shown.

Each source the pipeline may consult is its own purpose, agreed or refused on its own (purposes must be
separable). A child (under 18 on the day of capture) consents through a parent or guardian. The method is a
signature image, a thumbprint image (both carried as attachments of the document) or a verbal consent before a
named witness.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent_forms.models.base import (
    AttachmentKind,
    AttachmentName,
    BirthDate,
    Channel,
    Choice,
    ConsentRef,
    HouseholdRef,
    Nik,
    PersonName,
    ShortText,
    Submission,
    age_on,
)
from agent_forms.problems import Problem

#: Age below which a person is a child (UU 35/2014 on child protection) and a parent or guardian consents.
ADULT_AGE = 18


class ConsentSource(Choice):
    """Sumber data yang diperiksa"""

    POPULATION_REGISTRY = "population_registry", "Data kependudukan (Dukcapil)"
    DTSEN = "dtsen", "Data Tunggal Sosial Ekonomi Nasional (DTSEN, BPS)"
    BPJS_KETENAGAKERJAAN = "bpjs_ketenagakerjaan", "BPJS Ketenagakerjaan"
    BPJS_KESEHATAN = "bpjs_kesehatan", "BPJS Kesehatan"
    ATR_BPN = "atr_bpn", "Kementerian ATR/BPN (kepemilikan tanah)"
    POLRI = "polri", "Polri (kendaraan bermotor)"
    STATE_BANKS = "state_banks", "Bank Himbara (rekening)"
    BKN = "bkn", "BKN (status ASN)"
    DAPODIK = "dapodik", "Dapodik/EMIS (data sekolah)"


class ConsentPurpose(BaseModel):
    """Persetujuan untuk satu sumber data"""

    model_config = ConfigDict(extra="forbid", frozen=True, title="Persetujuan per sumber data")

    source: ConsentSource = Field(title="Sumber data")
    granted: bool = Field(title="Disetujui", description="Setuju data diperiksa ke sumber ini (ya/tidak)")


class GuardianRelationship(Choice):
    """Hubungan wali dengan yang diwakili"""

    FATHER = "father", "Ayah"
    MOTHER = "mother", "Ibu"
    LEGAL_GUARDIAN = "legal_guardian", "Wali yang sah"
    OTHER_RELATIVE = "other_relative", "Keluarga lain"


class Guardian(BaseModel):
    """Orang tua/wali"""

    model_config = ConfigDict(extra="forbid", frozen=True, title="Orang tua/wali")

    nik: Nik = Field(title="NIK orang tua/wali")
    name: PersonName = Field(title="Nama orang tua/wali")
    relationship: GuardianRelationship = Field(title="Hubungan")


class SignatureMethod(BaseModel):
    """Tanda tangan"""

    model_config = ConfigDict(extra="forbid", frozen=True, title="Tanda tangan")

    kind: Literal["signature"] = Field(title="Cara persetujuan")
    attachment: AttachmentName = Field(
        title="Lampiran tanda tangan", description="Nama lampiran berisi gambar tanda tangan, mis. ttd.png"
    )


class ThumbprintMethod(BaseModel):
    """Cap jempol"""

    model_config = ConfigDict(extra="forbid", frozen=True, title="Cap jempol")

    kind: Literal["thumbprint"] = Field(title="Cara persetujuan")
    attachment: AttachmentName = Field(
        title="Lampiran cap jempol", description="Nama lampiran berisi gambar cap jempol, mis. jempol.jpg"
    )


class WitnessRole(Choice):
    """Kedudukan saksi"""

    VILLAGE_OFFICIAL = "village_official", "Perangkat desa/kelurahan"
    RT_RW = "rt_rw", "Ketua RT/RW"
    RELATIVE = "relative", "Keluarga"
    NEIGHBOUR = "neighbour", "Tetangga"
    OTHER = "other", "Lainnya"


class Witness(BaseModel):
    """Saksi"""

    model_config = ConfigDict(extra="forbid", frozen=True, title="Saksi")

    name: PersonName = Field(title="Nama saksi")
    nik: Nik | None = Field(default=None, title="NIK saksi", description="Bila ada")
    role: WitnessRole = Field(title="Kedudukan saksi")


class VerbalMethod(BaseModel):
    """Lisan dengan saksi"""

    model_config = ConfigDict(extra="forbid", frozen=True, title="Persetujuan lisan dengan saksi")

    kind: Literal["witnessed_verbal"] = Field(title="Cara persetujuan")
    witness: Witness = Field(title="Saksi", description="Saksi bukan petugas yang mencatat")


ConsentMethod = Annotated[
    SignatureMethod | ThumbprintMethod | VerbalMethod,
    Field(discriminator="kind", title="Cara persetujuan"),
]


def _method_attachments(
    method: SignatureMethod | ThumbprintMethod | VerbalMethod,
) -> dict[str, AttachmentKind]:
    if isinstance(method, SignatureMethod):
        return {method.attachment: AttachmentKind.SIGNATURE}
    if isinstance(method, ThumbprintMethod):
        return {method.attachment: AttachmentKind.THUMBPRINT}
    return {}


class _PersonalConsentBase(Submission):
    subject_nik: Nik = Field(title="NIK yang bersangkutan", description="Orang yang datanya diproses")
    subject_name: PersonName = Field(title="Nama yang bersangkutan")
    subject_birth_date: BirthDate = Field(
        title="Tanggal lahir yang bersangkutan",
        description="Untuk menentukan apakah perlu persetujuan orang tua/wali",
    )
    guardian: Guardian | None = Field(
        default=None,
        title="Orang tua/wali",
        description=f"Wajib bila yang bersangkutan berusia di bawah {ADULT_AGE} tahun",
    )
    method: ConsentMethod

    def _person_rule_errors(self) -> list[Problem]:
        problems = self._birth_date_errors(self.subject_birth_date, "subject_birth_date")
        if not problems and self.guardian is None and age_on(self.subject_birth_date, self.reference_date) < ADULT_AGE:
            problems.append(
                Problem(
                    "guardian",
                    "consent.guardian_required",
                    f"Yang bersangkutan berusia di bawah {ADULT_AGE} tahun: persetujuan harus diberikan orang tua/wali",
                )
            )
        if self.guardian is not None and self.guardian.nik == self.subject_nik:
            problems.append(
                Problem(
                    "guardian.nik",
                    "consent.guardian_is_subject",
                    "NIK wali tidak boleh sama dengan NIK yang diwakili",
                )
            )
        return problems

    def _person_soft_checks(self) -> list[Problem]:
        problems = self._nik_soft(self.subject_nik, "subject_nik", declared_birth_date=self.subject_birth_date)
        if self.guardian is not None:
            problems.extend(self._nik_soft(self.guardian.nik, "guardian.nik"))
        parties = {self.subject_nik, *([self.guardian.nik] if self.guardian else [])}
        if isinstance(self.method, VerbalMethod) and self.method.witness.nik in parties:
            problems.append(
                Problem(
                    "method.witness.nik",
                    "consent.witness_is_party",
                    "Saksi sebaiknya bukan yang bersangkutan atau walinya",
                )
            )
        return problems

    def declared_attachments(self) -> dict[str, AttachmentKind]:
        return _method_attachments(self.method)


class Consent(_PersonalConsentBase):
    """Persetujuan pemrosesan data pribadi (UU 27/2022), per sumber data, setelah pemberitahuan
    dibacakan/ditunjukkan."""

    model_config = ConfigDict(title="Persetujuan pemrosesan data")

    FORM_TYPE: ClassVar[str] = "consent"
    FORM_VERSION: ClassVar[int] = 1

    type: Literal["consent"] = Field(title="Jenis dokumen")
    form_version: Literal[1] = Field(title="Versi formulir")
    household_id: HouseholdRef | None = Field(
        default=None, title="Keluarga", description="Id dokumen keluarga, bila ada"
    )
    purposes: list[ConsentPurpose] = Field(
        min_length=1,
        max_length=len(ConsentSource),
        title="Tujuan yang disetujui",
        description="Satu baris per sumber data yang akan diperiksa; setiap sumber disetujui atau ditolak sendiri",
    )
    notice_version: ShortText = Field(
        title="Versi pemberitahuan",
        description="Versi teks pemberitahuan (dasar hukum, tujuan, jenis data, masa simpan, hak) yang ditunjukkan",
    )
    channel: Channel = Field(default=Channel.ASSISTED, title="Cara pengajuan")

    def rule_errors(self) -> list[Problem]:
        problems = self._person_rule_errors()
        seen: set[ConsentSource] = set()
        for i, purpose in enumerate(self.purposes):
            if purpose.source in seen:
                problems.append(
                    Problem(f"purposes[{i}].source", "list.duplicate", "Setiap sumber data cukup dicatat sekali")
                )
            seen.add(purpose.source)
        return problems

    def soft_checks(self) -> list[Problem]:
        return self._person_soft_checks()

    def granted_sources(self) -> frozenset[ConsentSource]:
        return frozenset(p.source for p in self.purposes if p.granted)


class WithdrawalScope(Choice):
    """Cakupan penarikan"""

    ALL = "all", "Semua pemrosesan"
    SOURCES = "sources", "Sumber data tertentu"


class ConsentWithdrawal(_PersonalConsentBase):
    """Yang bersangkutan menarik persetujuannya; pemrosesan dihentikan paling lambat 3×24 jam."""

    model_config = ConfigDict(title="Penarikan persetujuan")

    FORM_TYPE: ClassVar[str] = "consent_withdrawal"
    FORM_VERSION: ClassVar[int] = 1

    type: Literal["consent_withdrawal"] = Field(title="Jenis dokumen")
    form_version: Literal[1] = Field(title="Versi formulir")
    consent_id: ConsentRef | None = Field(
        default=None, title="Persetujuan yang ditarik", description="Id dokumen persetujuan, bila diketahui"
    )
    scope: WithdrawalScope = Field(default=WithdrawalScope.ALL, title="Cakupan penarikan")
    sources: list[ConsentSource] = Field(
        default_factory=list,
        max_length=len(ConsentSource),
        title="Sumber data",
        description="Diisi bila hanya sumber data tertentu yang ditarik",
    )
    reason: str | None = Field(default=None, max_length=2000, title="Alasan", description="Tidak wajib")
    channel: Channel = Field(default=Channel.ASSISTED, title="Cara pengajuan")

    def rule_errors(self) -> list[Problem]:
        problems = self._person_rule_errors()
        if self.scope is WithdrawalScope.SOURCES and not self.sources:
            problems.append(
                Problem("sources", "withdrawal.sources_required", "Pilih sumber data yang persetujuannya ditarik")
            )
        if self.scope is WithdrawalScope.ALL and self.sources:
            problems.append(
                Problem(
                    "sources",
                    "withdrawal.sources_with_all",
                    "Sumber data tidak diisi bila semua persetujuan ditarik",
                )
            )
        if len(set(self.sources)) != len(self.sources):
            problems.append(Problem("sources", "list.duplicate", "Setiap sumber data cukup dipilih sekali"))
        return problems

    def soft_checks(self) -> list[Problem]:
        return self._person_soft_checks()
