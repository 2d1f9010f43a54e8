"""Building blocks shared by every form: labelled choices, checked identifiers, the submission base class.

Decisions written down here:

- **CouchDB fields are not part of a form.** A document is validated as its body without ``_id``, ``_rev``,
  ``_revisions``, ``_attachments``, ``_deleted`` (see :mod:`agent_forms.validate`, which strips them and
  checks them apart). The served JSON Schema allows exactly those keys through ``patternProperties``, so a
  device can validate the whole document it is about to save.
- **Rules across fields** (one head per household, a guardian for a child, …) are a method,
  :meth:`Submission.rule_errors`, returning problems with their exact paths. A plain ``model_validate`` still
  enforces them (the first one, raised at the model's level); :mod:`agent_forms.validate` asks pydantic to
  defer them (validation context ``{"defer_rules": True}``) and reports each at its field.
- **Soft checks** (:meth:`Submission.soft_checks`) never refuse; they are recorded with the document.
- Dates of the document's own moment (birth dates not in the future, the century of a NIK birth year) are
  judged against ``captured_at``, never the server's clock, so the same document always gets the same verdict.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError
from pydantic_core import core_schema as cs

from agent_forms import nik as nik_rules
from agent_forms import wilayah
from agent_forms.problems import Problem


class Choice(StrEnum):
    """A closed set of codes, each with a label in Bahasa Indonesia that the device app shows.

    Members are declared as ``CODE = "code", "Label"``; the JSON Schema is ``{"type": "string", "oneOf":
    [{"const": "code", "title": "Label"}, ...]}`` so a form renderer has the labels without a separate
    dictionary.
    """

    label: str

    def __new__(cls, value: str, label: str) -> Self:
        obj = str.__new__(cls, value)
        obj._value_ = value
        obj.label = label
        return obj

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: cs.CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {
            "type": "string",
            "title": (cls.__doc__ or cls.__name__).strip().splitlines()[0],
            "oneOf": [{"const": member.value, "title": member.label} for member in cls],
        }


def fail(code: str, message: str) -> PydanticCustomError:
    """A validation error with our rule code as its type and a message in Bahasa Indonesia."""
    return PydanticCustomError(code, message)


# --- Identifiers --------------------------------------------------------------------------------------------

#: The key after ``<type>:`` in a document id: a uuid or a natural key. Letters, digits and ``._:@+=-``;
#: no spaces, no slashes (ids travel in URL paths), at most 200 characters.
ID_KEY_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._:@+=-]{0,199}"
_ID_KEY = re.compile(ID_KEY_PATTERN)


def id_key_ok(key: str) -> bool:
    return _ID_KEY.fullmatch(key) is not None


def _nik(value: Any) -> str:
    problems = nik_rules.nik_errors(value)
    if problems:
        raise fail(problems[0].code, problems[0].message)
    assert isinstance(value, str)
    return value


def _kk(value: Any) -> str:
    problems = nik_rules.kk_errors(value)
    if problems:
        raise fail(problems[0].code, problems[0].message)
    assert isinstance(value, str)
    return value


_DESA_PATTERN = r"^([0-9]{10}|[0-9]{2}\.[0-9]{2}\.[0-9]{2}\.[0-9]{4})$"


def _desa(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(_DESA_PATTERN, value):
        raise fail("desa.format", "Kode desa harus 10 digit angka atau berformat 35.10.16.1014")
    region = wilayah.find(value)
    if region is None or region.level != "desa":
        raise fail("desa.unknown", f"Kode desa {value} tidak ada di daftar wilayah")
    return region.code


Nik = Annotated[
    str,
    PlainValidator(_nik),
    WithJsonSchema({"type": "string", "pattern": "^[0-9]{16}$", "minLength": 16, "maxLength": 16}),
]
KkNumber = Annotated[
    str,
    PlainValidator(_kk),
    WithJsonSchema({"type": "string", "pattern": "^[0-9]{16}$", "minLength": 16, "maxLength": 16}),
]
#: A desa or kelurahan of the region file, 10 digits or dotted; normalised to the dotted form.
DesaCode = Annotated[str, PlainValidator(_desa), WithJsonSchema({"type": "string", "pattern": _DESA_PATTERN})]


def _ref_validator(doc_type: str) -> PlainValidator:
    def check(value: Any) -> str:
        prefix = f"{doc_type}:"
        if not isinstance(value, str) or not value.startswith(prefix) or not id_key_ok(value[len(prefix) :]):
            raise fail("ref.format", f"Harus berupa id dokumen {doc_type}, berbentuk '{doc_type}:<id>'")
        return value

    return PlainValidator(check)


def _ref_schema(doc_type: str) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "pattern": f"^{doc_type}:{ID_KEY_PATTERN}$"})


HouseholdRef = Annotated[str, _ref_validator("household"), _ref_schema("household")]
ConsentRef = Annotated[str, _ref_validator("consent"), _ref_schema("consent")]
ApplicationRef = Annotated[str, _ref_validator("application"), _ref_schema("application")]
FieldVisitRef = Annotated[str, _ref_validator("field_visit"), _ref_schema("field_visit")]
TaskRef = Annotated[str, _ref_validator("task"), _ref_schema("task")]
ResultRef = Annotated[str, _ref_validator("result"), _ref_schema("result")]
EvidenceRef = Annotated[str, _ref_validator("evidence"), _ref_schema("evidence")]

ATTACHMENT_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
AttachmentName = Annotated[str, Field(pattern=ATTACHMENT_NAME_PATTERN)]


#: Control characters (NUL, escape, ...), format characters (zero-width spaces, text-direction overrides, the BOM)
#: and line or paragraph separators: nothing a person types on purpose, and they make a text show or read otherwise
#: than it is stored. Line breaks and tabs are allowed.
_INVISIBLE = frozenset({"Cc", "Cf", "Zl", "Zp"})


def has_invisible_characters(value: str) -> bool:
    return any(unicodedata.category(c) in _INVISIBLE and c not in "\n\r\t" for c in value)


def _not_blank(value: str) -> str:
    if not value.strip():
        raise fail("text.blank", "Tidak boleh kosong atau hanya berisi spasi")
    if has_invisible_characters(value):
        raise fail(
            "text.invisible", "Tidak boleh berisi karakter tak terlihat (kontrol, lebar nol, pengatur arah teks)"
        )
    return value


PersonName = Annotated[
    str, Field(min_length=1, max_length=100, json_schema_extra={"pattern": r"\S"}), AfterValidator(_not_blank)
]
ShortText = Annotated[
    str, Field(min_length=1, max_length=200, json_schema_extra={"pattern": r"\S"}), AfterValidator(_not_blank)
]
LongText = Annotated[
    str,
    Field(min_length=1, max_length=4000, json_schema_extra={"pattern": r"\S"}),
    AfterValidator(_not_blank),
]


# --- Shared choices and small models ------------------------------------------------------------------------


class Sex(Choice):
    """Jenis kelamin"""

    MALE = "male", "Laki-laki"
    FEMALE = "female", "Perempuan"


class Channel(Choice):
    """Cara pengajuan"""

    ASSISTED = "assisted", "Dibantu pendamping"
    SELF_SERVICE = "self_service", "Mandiri (portal, login IKD)"


class AttachmentKind(Choice):
    """Jenis lampiran"""

    HOUSE_FRONT = "house_front", "Foto rumah tampak depan"
    HOUSE_INSIDE = "house_inside", "Foto bagian dalam rumah"
    SUPPORTING_DOCUMENT = "supporting_document", "Foto dokumen pendukung"
    SIGNATURE = "signature", "Gambar tanda tangan"
    THUMBPRINT = "thumbprint", "Gambar cap jempol"


#: Rough bounding box of Indonesia, for a soft check of GPS positions.
INDONESIA_LAT = (-11.5, 6.5)
INDONESIA_LON = (94.5, 141.5)


class GeoPoint(BaseModel):
    """Posisi GPS"""

    model_config = ConfigDict(extra="forbid", frozen=True, title="Posisi GPS")

    lat: float = Field(ge=-90, le=90, title="Lintang", description="Derajat desimal; selatan negatif, mis. -8.2192")
    lon: float = Field(ge=-180, le=180, title="Bujur", description="Derajat desimal, mis. 114.3691")
    accuracy_m: float | None = Field(
        default=None,
        ge=0,
        le=100_000,
        title="Akurasi (meter)",
        description="Perkiraan akurasi dari perangkat",
    )

    def soft_checks(self, field: str) -> list[Problem]:
        if INDONESIA_LAT[0] <= self.lat <= INDONESIA_LAT[1] and INDONESIA_LON[0] <= self.lon <= INDONESIA_LON[1]:
            return []
        return [Problem(field, "gps.outside", "Posisi GPS berada di luar wilayah Indonesia")]


# --- The submission base ------------------------------------------------------------------------------------


def _couchdb_fields_schema(schema: dict[str, Any], cls: type[Any]) -> None:
    """Let the served schema accept the CouchDB fields a device document carries, and pin the id prefix."""
    form_type = getattr(cls, "FORM_TYPE", None)
    if not form_type:
        return
    schema["patternProperties"] = {
        "^_id$": {"type": "string", "pattern": f"^{form_type}:{ID_KEY_PATTERN}$", "title": "Id dokumen"},
        "^_(rev|revisions|attachments|conflicts|deleted_conflicts|revs_info|local_seq)$": {},
    }


class Submission(BaseModel):
    """What every document written by a device carries. Subclasses set ``type`` and ``form_version``."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_couchdb_fields_schema)

    FORM_TYPE: ClassVar[str] = ""
    FORM_VERSION: ClassVar[int] = 0

    desa: DesaCode = Field(
        title="Desa/kelurahan",
        description="Kode Kemendagri desa/kelurahan tempat data dicatat, mis. 35.10.16.1014",
    )
    agent_id: str = Field(
        min_length=1, max_length=64, title="Petugas", description="Nama pengguna yang mencatat (pendamping)"
    )
    device_id: str = Field(min_length=1, max_length=128, title="Perangkat", description="Id perangkat yang mencatat")
    captured_at: AwareDatetime = Field(
        title="Waktu pencatatan",
        description="Waktu data disimpan di perangkat, dengan zona waktu, mis. 2025-09-14T09:12:03+07:00",
    )
    supersedes: str | None = Field(
        default=None,
        title="Menggantikan",
        description="Id dokumen yang dikoreksi oleh dokumen ini. Dokumen yang sudah terkirim tidak diubah: "
        "koreksi dibuat sebagai dokumen baru yang menggantikannya.",
    )

    @field_validator("supersedes")
    @classmethod
    def _supersedes_same_type(cls, value: str | None) -> str | None:
        if value is None:
            return None
        doc_type, _, key = value.partition(":")
        if doc_type != cls.FORM_TYPE or not id_key_ok(key):
            raise fail("supersedes.type", f"Harus berupa id dokumen {cls.FORM_TYPE} yang dikoreksi")
        return value

    @model_validator(mode="after")
    def _rules(self, info: ValidationInfo) -> Self:
        if isinstance(info.context, dict) and info.context.get("defer_rules"):
            return self
        problems = self.rule_errors()
        if problems:
            first = problems[0]
            raise fail(first.code, f"{first.field}: {first.message}" if first.field else first.message)
        return self

    @property
    def reference_date(self) -> date:
        """The day of capture, in the device's own time zone: what birth dates are judged against."""
        return self.captured_at.date()

    def rule_errors(self) -> list[Problem]:
        """Rules across fields, each problem at its exact path. Empty when the document is consistent."""
        return []

    def soft_checks(self) -> list[Problem]:
        """Warnings recorded with the document, never a refusal."""
        return []

    def declared_attachments(self) -> dict[str, AttachmentKind]:
        """The attachments this document says it carries, by name, with their kind."""
        return {}

    # -- helpers for subclasses ------------------------------------------------------------------------------

    def _birth_date_errors(self, value: date, field: str) -> list[Problem]:
        if value > self.reference_date:
            return [Problem(field, "date.future", "Tanggal lahir tidak boleh setelah tanggal pencatatan")]
        return []

    def _nik_soft(
        self,
        value: str,
        field: str,
        *,
        declared_sex: str | None = None,
        declared_birth_date: date | None = None,
    ) -> list[Problem]:
        info = nik_rules.parse_nik(value)
        return nik_rules.nik_warnings(
            info, declared_sex=declared_sex, declared_birth_date=declared_birth_date, field=field
        )


def age_on(birth: date, day: date) -> int:
    """Age in whole years on ``day``."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


#: Oldest plausible birth date: a date before this is a typing error.
MIN_BIRTH_DATE = date(1900, 1, 1)
BirthDate = Annotated[date, Field(ge=MIN_BIRTH_DATE)]
