"""``household`` (keluarga): the family as written on its KK, its members and its house."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent_forms import nik as nik_rules
from agent_forms import wilayah
from agent_forms.models.base import (
    BirthDate,
    Choice,
    GeoPoint,
    KkNumber,
    Nik,
    PersonName,
    Sex,
    ShortText,
    Submission,
    age_on,
)
from agent_forms.models.housing import HousingIndicators
from agent_forms.problems import Problem


class Relationship(Choice):
    """Hubungan dengan kepala keluarga"""

    HEAD = "head", "Kepala keluarga"
    SPOUSE = "spouse", "Istri/suami"
    CHILD = "child", "Anak (kandung/tiri/angkat)"
    CHILD_IN_LAW = "child_in_law", "Menantu"
    GRANDCHILD = "grandchild", "Cucu"
    PARENT = "parent", "Orang tua/mertua"
    OTHER_RELATIVE = "other_relative", "Famili lain"
    HOUSEHOLD_HELP = "household_help", "Pembantu rumah tangga"
    OTHER = "other", "Lainnya"


class MaritalStatus(Choice):
    """Status perkawinan"""

    SINGLE = "single", "Belum kawin"
    MARRIED = "married", "Kawin"
    DIVORCED = "divorced", "Cerai hidup"
    WIDOWED = "widowed", "Cerai mati"


class Disability(Choice):
    """Disabilitas"""

    NONE = "none", "Tidak ada"
    MILD = "mild", "Ringan/sedang (masih dapat beraktivitas sendiri)"
    SEVERE = "severe", "Berat (memerlukan bantuan orang lain sepanjang waktu)"


class MaternalStatus(Choice):
    """Kehamilan dan nifas"""

    NONE = "none", "Tidak hamil/nifas"
    PREGNANT = "pregnant", "Sedang hamil"
    POSTPARTUM = "postpartum", "Nifas (sampai 42 hari setelah melahirkan)"


class SchoolLevel(Choice):
    """Jenjang pendidikan"""

    NONE = "none", "Tidak/belum pernah sekolah"
    PAUD = "paud", "PAUD/TK/RA"
    SD = "sd", "SD/MI/Paket A/SDLB"
    SMP = "smp", "SMP/MTs/Paket B/SMPLB"
    SMA = "sma", "SMA/SMK/MA/Paket C/SMALB"
    HIGHER = "higher", "Perguruan tinggi"


class SchoolStatus(Choice):
    """Status sekolah"""

    NEVER = "never", "Tidak/belum pernah sekolah"
    ENROLLED = "enrolled", "Masih sekolah"
    FINISHED = "finished", "Tamat"
    DROPPED_OUT = "dropped_out", "Tidak bersekolah lagi (putus sekolah)"


class Occupation(Choice):
    """Kategori pekerjaan utama"""

    NOT_WORKING = "not_working", "Tidak/belum bekerja"
    STUDENT = "student", "Pelajar/mahasiswa"
    HOMEMAKER = "homemaker", "Mengurus rumah tangga"
    FARMER = "farmer", "Petani/pekebun"
    FARM_LABOURER = "farm_labourer", "Buruh tani"
    FISHER = "fisher", "Nelayan"
    LABOURER = "labourer", "Buruh harian lepas/buruh bangunan"
    TRADER = "trader", "Pedagang"
    SMALL_BUSINESS = "small_business", "Usaha sendiri (UMKM)"
    DRIVER = "driver", "Sopir/ojek"
    PRIVATE_EMPLOYEE = "private_employee", "Karyawan swasta"
    CIVIL_SERVANT = "civil_servant", "ASN (PNS/PPPK)"
    MILITARY_POLICE = "military_police", "TNI/Polri"
    STATE_ENTERPRISE = "state_enterprise", "Karyawan BUMN/BUMD"
    VILLAGE_OFFICIAL = "village_official", "Perangkat desa"
    TEACHER = "teacher", "Guru/dosen"
    HEALTH_WORKER = "health_worker", "Tenaga kesehatan"
    BUSINESS_OWNER = "business_owner", "Pemilik/pengelola perusahaan"
    RETIRED = "retired", "Pensiunan"
    OTHER = "other", "Lainnya"


class Address(BaseModel):
    """Alamat"""

    model_config = ConfigDict(extra="forbid", frozen=True, title="Alamat")

    street: ShortText = Field(title="Alamat", description="Jalan/gang dan nomor rumah, atau patokan")
    dusun: str | None = Field(default=None, max_length=100, title="Dusun/lingkungan")
    rt: str = Field(pattern=r"^[0-9]{3}$", title="RT", description="Tiga digit, mis. 002")
    rw: str = Field(pattern=r"^[0-9]{3}$", title="RW", description="Tiga digit, mis. 005")
    postal_code: str | None = Field(default=None, pattern=r"^[0-9]{5}$", title="Kode pos")


class Member(BaseModel):
    """Anggota keluarga"""

    model_config = ConfigDict(extra="forbid", frozen=True, title="Anggota keluarga")

    nik: Nik = Field(title="NIK", description="16 digit, sesuai KTP atau KK")
    name: PersonName = Field(title="Nama lengkap", description="Sesuai KTP atau KK")
    birth_date: BirthDate = Field(title="Tanggal lahir")
    sex: Sex = Field(title="Jenis kelamin")
    relationship: Relationship = Field(title="Hubungan dengan kepala keluarga")
    marital_status: MaritalStatus | None = Field(default=None, title="Status perkawinan")
    disability: Disability = Field(
        default=Disability.NONE,
        title="Disabilitas",
        description="Berat: tidak dapat beraktivitas sehari-hari tanpa bantuan orang lain",
    )
    maternal_status: MaternalStatus = Field(
        default=MaternalStatus.NONE,
        title="Hamil/nifas",
        description="Hanya untuk perempuan",
    )
    school_level: SchoolLevel = Field(
        default=SchoolLevel.NONE,
        title="Jenjang pendidikan",
        description="Jenjang yang sedang diikuti, atau yang terakhir diikuti bila tidak bersekolah lagi",
    )
    school_status: SchoolStatus = Field(default=SchoolStatus.NEVER, title="Status sekolah")
    nisn: str | None = Field(
        default=None,
        pattern=r"^[0-9]{10}$",
        title="NISN",
        description="Nomor Induk Siswa Nasional (Dapodik), bila ada",
    )
    occupation: Occupation = Field(title="Pekerjaan utama")

    def rule_errors(self, field: str, reference: Household) -> list[Problem]:
        problems = reference._birth_date_errors(self.birth_date, f"{field}.birth_date")
        if self.sex is Sex.MALE and self.maternal_status is not MaternalStatus.NONE:
            problems.append(
                Problem(
                    f"{field}.maternal_status",
                    "member.maternal_status_sex",
                    "Status hamil/nifas hanya dapat diisi untuk perempuan",
                )
            )
        never = self.school_status is SchoolStatus.NEVER
        if never != (self.school_level is SchoolLevel.NONE):
            problems.append(
                Problem(
                    f"{field}.school_level",
                    "member.school_level_status",
                    "Jenjang pendidikan 'tidak/belum pernah sekolah' harus sejalan dengan status sekolah",
                )
            )
        return problems

    def soft_checks(self, field: str, reference: Household) -> list[Problem]:
        problems = reference._nik_soft(
            self.nik, f"{field}.nik", declared_sex=self.sex, declared_birth_date=self.birth_date
        )
        age = age_on(self.birth_date, reference.reference_date)
        if self.maternal_status is not MaternalStatus.NONE and not 10 <= age <= 55:
            problems.append(
                Problem(
                    f"{field}.maternal_status",
                    "member.maternal_age",
                    f"Status hamil/nifas pada usia {age} tahun tidak lazim; mohon periksa kembali",
                )
            )
        if self.school_status is SchoolStatus.ENROLLED and age < 3:
            problems.append(
                Problem(
                    f"{field}.school_status",
                    "member.school_age",
                    "Anak di bawah 3 tahun tercatat masih sekolah",
                )
            )
        return problems


class Household(Submission):
    """Satu keluarga sesuai Kartu Keluarga (KK): anggota, alamat, dan kondisi rumah (indikator DTSEN)."""

    model_config = ConfigDict(title="Keluarga")

    FORM_TYPE: ClassVar[str] = "household"
    FORM_VERSION: ClassVar[int] = 1

    type: Literal["household"] = Field(title="Jenis dokumen")
    form_version: Literal[1] = Field(title="Versi formulir")
    kk_number: KkNumber = Field(title="Nomor KK", description="16 digit, tertera di Kartu Keluarga")
    address: Address = Field(title="Alamat")
    location: GeoPoint | None = Field(default=None, title="Lokasi rumah (GPS)")
    members: list[Member] = Field(min_length=1, max_length=30, title="Anggota keluarga")
    housing: HousingIndicators = Field(title="Kondisi rumah")

    def rule_errors(self) -> list[Problem]:
        problems: list[Problem] = []
        heads = [m for m in self.members if m.relationship is Relationship.HEAD]
        if len(heads) != 1:
            problems.append(
                Problem(
                    "members",
                    "household.head",
                    f"Harus ada tepat satu kepala keluarga, bukan {len(heads)}",
                )
            )
        seen: dict[str, int] = {}
        for i, member in enumerate(self.members):
            problems.extend(member.rule_errors(f"members[{i}]", self))
            if member.nik in seen:
                problems.append(
                    Problem(
                        f"members[{i}].nik",
                        "household.duplicate_nik",
                        f"NIK ini sudah dipakai anggota ke-{seen[member.nik] + 1}",
                    )
                )
            seen.setdefault(member.nik, i)
        problems.extend(self.housing.rule_errors("housing"))
        return problems

    def soft_checks(self) -> list[Problem]:
        problems = nik_rules.kk_warnings(self.kk_number, field="kk_number")
        kabupaten = wilayah.find(self.desa)
        kab_digits = kabupaten.digits[:4] if kabupaten else ""
        if not problems and kab_digits and not self.kk_number.startswith(kab_digits):
            problems.append(
                Problem(
                    "kk_number",
                    "kk.outside_kabupaten",
                    "Nomor KK diterbitkan di luar kabupaten ini; "
                    "bila keluarga sudah pindah, KK baru mungkin belum terbit",
                )
            )
        if self.location is not None:
            problems.extend(self.location.soft_checks("location"))
        for i, member in enumerate(self.members):
            problems.extend(member.soft_checks(f"members[{i}]", self))
        return problems
