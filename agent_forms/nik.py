"""NIK and KK numbers: pure parsing and checks (DOMAIN.md, "NIK and KK").

A NIK is ``PP KK CC DDMMYY SSSS``: province, kabupaten and kecamatan of *first registration* (not of the
current address), the birth date with a two-digit year and the day + 40 for women, and a serial from 0001.
There is no check digit.

- Hard checks (:func:`nik_errors`) refuse a document: 16 ASCII digits; month 01–12; day 01–31 or 41–71, valid
  for the month (29 February needs a year that can be a leap year: with two digits, ``YY % 4 == 0``, since
  2000 was one); serial ≠ 0000.
- Soft checks (:func:`nik_warnings`) are only recorded: the region prefix is plausible (a known province, a
  non-zero kabupaten and kecamatan, and, inside the kabupaten of the region file, a kecamatan it lists); the
  sex and birth date decoded from the NIK agree with the declared ones. The NIK never changes when a birth
  date is corrected later, so a disagreement is a warning, never a refusal.

Nothing here reads the clock: the century of a birth date is resolved against a ``today`` argument (validation
uses the document's ``captured_at``).

A KK number is ``PPKKCC DDMMYY SSSS``: region of issue, date of registration, family serial. The facts behind
its structure are secondary sources only, so only its length and digits are a hard check; the rest are
warnings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

from agent_forms import wilayah
from agent_forms.problems import Problem

Sex = Literal["male", "female"]

_SIXTEEN_DIGITS = re.compile(r"[0-9]{16}")

#: Kemendagri province codes (Kepmendagri 2025), the first two digits of a NIK or a KK number.
PROVINCES: dict[str, str] = {
    "11": "Aceh",
    "12": "Sumatera Utara",
    "13": "Sumatera Barat",
    "14": "Riau",
    "15": "Jambi",
    "16": "Sumatera Selatan",
    "17": "Bengkulu",
    "18": "Lampung",
    "19": "Kepulauan Bangka Belitung",
    "21": "Kepulauan Riau",
    "31": "DKI Jakarta",
    "32": "Jawa Barat",
    "33": "Jawa Tengah",
    "34": "DI Yogyakarta",
    "35": "Jawa Timur",
    "36": "Banten",
    "51": "Bali",
    "52": "Nusa Tenggara Barat",
    "53": "Nusa Tenggara Timur",
    "61": "Kalimantan Barat",
    "62": "Kalimantan Tengah",
    "63": "Kalimantan Selatan",
    "64": "Kalimantan Timur",
    "65": "Kalimantan Utara",
    "71": "Sulawesi Utara",
    "72": "Sulawesi Tengah",
    "73": "Sulawesi Selatan",
    "74": "Sulawesi Tenggara",
    "75": "Gorontalo",
    "76": "Sulawesi Barat",
    "81": "Maluku",
    "82": "Maluku Utara",
    "91": "Papua",
    "92": "Papua Barat",
    "93": "Papua Selatan",
    "94": "Papua Tengah",
    "95": "Papua Pegunungan",
    "96": "Papua Barat Daya",
}

_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@dataclass(frozen=True, slots=True)
class NikInfo:
    """What a structurally valid NIK tells (see :func:`parse_nik`)."""

    nik: str
    province: str  # "35"
    kabupaten: str  # "3510"
    kecamatan: str  # "351016"
    sex: Sex
    day: int  # 1–31, the +40 removed
    month: int
    year2: int  # the two-digit year, 0–99
    serial: str

    @property
    def province_name(self) -> str | None:
        return PROVINCES.get(self.province)

    def birth_date(self, today: date) -> date | None:
        """The birth date, its century resolved against ``today`` (see :func:`resolve_birth_date`)."""
        return resolve_birth_date(self.day, self.month, self.year2, today)


class InvalidNik(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


def _day_fits(day: int, month: int, year2: int) -> bool:
    if not 1 <= day <= _MONTH_DAYS[month - 1]:
        return False
    return not (month == 2 and day == 29 and year2 % 4 != 0)


def nik_errors(value: object, field: str = "") -> list[Problem]:
    """Hard checks. Empty when the NIK is structurally valid; otherwise every broken rule, most basic
    first."""
    if not isinstance(value, str) or not _SIXTEEN_DIGITS.fullmatch(value):
        return [Problem(field, "nik.format", "NIK harus 16 digit angka")]
    problems: list[Problem] = []
    raw_day, month, year2 = int(value[6:8]), int(value[8:10]), int(value[10:12])
    if not 1 <= month <= 12:
        problems.append(Problem(field, "nik.month", f"Bulan lahir pada NIK harus 01–12, bukan {value[8:10]}"))
    if not (1 <= raw_day <= 31 or 41 <= raw_day <= 71):
        problems.append(
            Problem(
                field,
                "nik.day",
                f"Tanggal lahir pada NIK harus 01–31 (laki-laki) atau 41–71 (perempuan), bukan {value[6:8]}",
            )
        )
    elif 1 <= month <= 12 and not _day_fits(raw_day % 40, month, year2):
        problems.append(
            Problem(
                field,
                "nik.date",
                f"Tanggal lahir pada NIK ({raw_day % 40:02d}-{month:02d}-{year2:02d}) tidak ada di kalender",
            )
        )
    if value[12:] == "0000":
        problems.append(Problem(field, "nik.serial", "Nomor urut pada NIK (4 digit terakhir) tidak boleh 0000"))
    return problems


def is_valid_nik(value: object) -> bool:
    return not nik_errors(value)


def parse_nik(value: str) -> NikInfo:
    """Decode a NIK; raises :class:`InvalidNik` (with the problems) when a hard check fails."""
    problems = nik_errors(value)
    if problems:
        raise InvalidNik(problems)
    raw_day = int(value[6:8])
    return NikInfo(
        nik=value,
        province=value[0:2],
        kabupaten=value[0:4],
        kecamatan=value[0:6],
        sex="female" if raw_day > 40 else "male",
        day=raw_day % 40,
        month=int(value[8:10]),
        year2=int(value[10:12]),
        serial=value[12:16],
    )


def resolve_birth_date(day: int, month: int, year2: int, today: date) -> date | None:
    """The latest date ``day-month-(century + year2)`` that is a real date not after ``today``.

    ``29-02-00`` is 29 February 2000 (1900 was not a leap year); ``01-01-30`` seen in 2025 is 1930. ``None``
    when no century in the last three gives a real date (e.g. 30 February).
    """
    century = today.year - today.year % 100
    for start in (century, century - 100, century - 200):
        try:
            candidate = date(start + year2, month, day)
        except ValueError:
            continue
        if candidate <= today:
            return candidate
    return None


def region_warnings(nik: NikInfo, field: str = "") -> list[Problem]:
    """Is the region prefix plausible? The kecamatan is that of first registration, possibly far away."""
    if nik.province not in PROVINCES:
        return [Problem(field, "nik.province", f"Kode provinsi {nik.province} pada NIK tidak dikenal")]
    if nik.kabupaten.endswith("00"):
        return [Problem(field, "nik.kabupaten", f"Kode kabupaten/kota {nik.kabupaten} pada NIK tidak mungkin")]
    if nik.kecamatan.endswith("00"):
        return [Problem(field, "nik.kecamatan", f"Kode kecamatan {nik.kecamatan} pada NIK tidak mungkin")]
    if wilayah.find(nik.kabupaten) is not None and wilayah.find(nik.kecamatan) is None:
        return [
            Problem(
                field,
                "nik.kecamatan",
                f"Kode kecamatan {nik.kecamatan} pada NIK tidak ada di daftar wilayah kabupaten {nik.kabupaten}",
            )
        ]
    return []


def nik_warnings(
    nik: NikInfo,
    *,
    declared_sex: str | None = None,
    declared_birth_date: date | None = None,
    field: str = "",
) -> list[Problem]:
    """Soft checks: region prefix, and the decoded sex and birth date against the declared ones.

    The birth date is compared on day, month and the last two digits of the year, so a century guessed wrongly
    for a very old person is not reported as a disagreement.
    """
    problems = region_warnings(nik, field)
    if declared_sex is not None and declared_sex != nik.sex:
        decoded = "perempuan" if nik.sex == "female" else "laki-laki"
        problems.append(
            Problem(
                field,
                "nik.sex_mismatch",
                f"Menurut NIK orang ini {decoded}, berbeda dengan jenis kelamin yang diisi",
            )
        )
    if declared_birth_date is not None:
        d = declared_birth_date
        if (d.day, d.month, d.year % 100) != (nik.day, nik.month, nik.year2):
            problems.append(
                Problem(
                    field,
                    "nik.birth_date_mismatch",
                    f"Tanggal lahir menurut NIK ({nik.day:02d}-{nik.month:02d}-{nik.year2:02d}) "
                    "berbeda dengan "
                    f"tanggal lahir yang diisi ({d:%d-%m-%Y})",
                )
            )
    return problems


# --- KK (Kartu Keluarga) number -----------------------------------------------------------------------------


def kk_errors(value: object, field: str = "") -> list[Problem]:
    """Hard check of a KK number: 16 ASCII digits."""
    if not isinstance(value, str) or not _SIXTEEN_DIGITS.fullmatch(value):
        return [Problem(field, "kk.format", "Nomor KK harus 16 digit angka")]
    return []


def kk_warnings(value: str, field: str = "") -> list[Problem]:
    """Soft checks of a 16-digit KK number: region of issue (6), date of registration (6), serial (4)."""
    if kk_errors(value):
        return []
    problems: list[Problem] = []
    province, kabupaten = value[0:2], value[2:4]
    if province not in PROVINCES or kabupaten == "00" or value[4:6] == "00":
        problems.append(Problem(field, "kk.region", f"Kode wilayah {value[0:6]} pada nomor KK tidak mungkin"))
    day, month, year2 = int(value[6:8]), int(value[8:10]), int(value[10:12])
    if not (1 <= month <= 12 and _day_fits(day, month, year2)):
        problems.append(Problem(field, "kk.date", f"Tanggal pada nomor KK ({value[6:12]}) tidak ada di kalender"))
    if value[12:] == "0000":
        problems.append(Problem(field, "kk.serial", "Nomor urut pada nomor KK tidak boleh 0000"))
    return problems
