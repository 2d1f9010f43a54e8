"""Construction of NIK and KK numbers for the generator (DOMAIN.md, "NIK and KK").

Validation of what devices send lives in ``agent_forms``; this module only *builds* well-formed numbers, plus
``nik_is_well_formed`` so the generator's invariants can be stated without importing another part.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict


def date_part(birth_date: dt.date, *, female: bool) -> str:
    """DDMMYY with 40 added to the day for women."""
    day = birth_date.day + (40 if female else 0)
    return f"{day:02d}{birth_date.month:02d}{birth_date.year % 100:02d}"


def kk_date_part(issued: dt.date) -> str:
    return f"{issued.day:02d}{issued.month:02d}{issued.year % 100:02d}"


class SerialAllocator:
    """Serials unique per (6-digit region, 6-digit date part), from 0001 up to 9999.

    Deterministic: the n-th request for a key gets serial n.
    """

    def __init__(self) -> None:
        self._next: defaultdict[str, int] = defaultdict(lambda: 1)

    def take(self, region6: str, date6: str) -> str:
        key = region6 + date6
        serial = self._next[key]
        if serial > 9999:
            raise OverflowError(f"no serial left for region {region6} and date {date6}")
        self._next[key] = serial + 1
        return f"{serial:04d}"


def make_nik(serials: SerialAllocator, region6: str, birth_date: dt.date, *, female: bool) -> str:
    date6 = date_part(birth_date, female=female)
    return region6 + date6 + serials.take(region6, date6)


def make_kk(serials: SerialAllocator, region6: str, issued: dt.date) -> str:
    date6 = kk_date_part(issued)
    return region6 + date6 + serials.take(region6, date6)


def nik_is_well_formed(nik: str) -> bool:
    """The hard checks of DOMAIN.md: 16 ASCII digits, month 01-12, day valid for the month after removing +40
    (two-digit year, so 29 February is accepted), serial not 0000."""
    if len(nik) != 16 or not (nik.isascii() and nik.isdigit()):
        return False
    day, month = int(nik[6:8]), int(nik[8:10])
    if day > 40:
        day -= 40
    if not 1 <= month <= 12:
        return False
    if not 1 <= day <= calendar.monthrange(2000, month)[1]:
        return False
    return nik[12:16] != "0000"


def nik_birth_date(nik: str, century_hint: dt.date) -> tuple[dt.date, bool]:
    """Decode (birth date, female) from a well-formed NIK, in the last century up to ``century_hint``."""
    day, month, yy = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    female = day > 40
    if female:
        day -= 40
    year = (century_hint.year // 100) * 100 + yy
    if year > century_hint.year:
        year -= 100
    return dt.date(year, month, day), female
