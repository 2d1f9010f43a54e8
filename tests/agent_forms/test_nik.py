from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent_forms.nik import (
    InvalidNik,
    kk_errors,
    kk_warnings,
    nik_errors,
    nik_warnings,
    parse_nik,
    region_warnings,
    resolve_birth_date,
)

TODAY = date(2025, 9, 14)


# --- Hard checks: one valid and one invalid example per rule ------------------------------------------------

HARD_CASES = [
    # (rule, valid, invalid)
    ("nik.format", "3510161705800001", "351016170580001"),  # 15 digits
    ("nik.format", "3510161705800001", "35101617058000012"),  # 17 digits
    ("nik.format", "3510161705800001", "35101617O5800001"),  # letter O
    ("nik.format", "3510161705800001", "３５10161705800001"),  # full-width digits are not ASCII
    ("nik.format", "3510161705800001", "3510161705800001 "),
    ("nik.month", "3510161712800001", "3510161713800001"),
    ("nik.month", "3510161701800001", "3510161700800001"),
    ("nik.day", "3510163105800001", "3510163205800001"),  # 32: neither man nor woman
    ("nik.day", "3510164105800001", "3510164005800001"),  # 40
    ("nik.day", "3510167105800001", "3510167205800001"),  # 72
    ("nik.day", "3510160105800001", "3510160005800001"),  # 00
    ("nik.date", "3510163004800001", "3510163104800001"),  # 31 April
    ("nik.date", "3510167003800001", "3510167102800001"),  # a woman born 31 February
    ("nik.date", "3510162902000001", "3510162902010001"),  # 29 Feb 2000 yes, 29 Feb 2001/1901 no
    ("nik.date", "3510166902840001", "3510166902850001"),  # 29 Feb, woman
    ("nik.serial", "3510161705800001", "3510161705800000"),
]


@pytest.mark.parametrize(("rule", "valid", "invalid"), HARD_CASES)
def test_hard_rule(rule: str, valid: str, invalid: str) -> None:
    assert nik_errors(valid) == []
    assert rule in [p.code for p in nik_errors(invalid)]


@pytest.mark.parametrize("value", [None, 3510161705800001, b"3510161705800001", ["3510161705800001"]])
def test_not_a_string_is_a_format_error(value: object) -> None:
    assert [p.code for p in nik_errors(value)] == ["nik.format"]


def test_messages_are_indonesian_and_name_the_field() -> None:
    (problem,) = nik_errors("3510161713800001", "members[2].nik")
    assert problem.field == "members[2].nik"
    assert problem.message.startswith("Bulan lahir pada NIK harus 01–12")
    assert nik_errors("12")[0].message == "NIK harus 16 digit angka"


def test_every_broken_rule_is_reported() -> None:
    codes = [p.code for p in nik_errors("3510163213800000")]
    assert codes == ["nik.month", "nik.day", "nik.serial"]


def test_parse_raises_with_problems() -> None:
    with pytest.raises(InvalidNik) as err:
        parse_nik("3510161713800001")
    assert err.value.problems[0].code == "nik.month"


# --- Decoding -----------------------------------------------------------------------------------------------


def test_decode_man_and_woman() -> None:
    man = parse_nik("3510161705800001")
    assert (man.province, man.kabupaten, man.kecamatan) == ("35", "3510", "351016")
    assert man.sex == "male" and man.birth_date(TODAY) == date(1980, 5, 17) and man.serial == "0001"
    assert man.province_name == "Jawa Timur"
    woman = parse_nik("3510164302840002")
    assert woman.sex == "female" and woman.birth_date(TODAY) == date(1984, 2, 3)


@pytest.mark.parametrize(
    ("day", "month", "year2", "today", "expected"),
    [
        (17, 5, 80, TODAY, date(1980, 5, 17)),
        (23, 7, 19, TODAY, date(2019, 7, 23)),
        (14, 9, 25, TODAY, date(2025, 9, 14)),  # born today
        (15, 9, 25, TODAY, date(1925, 9, 15)),  # tomorrow in 2025 is impossible: a 99-year-old
        (1, 1, 30, TODAY, date(1930, 1, 1)),
        (29, 2, 0, TODAY, date(2000, 2, 29)),
        (29, 2, 0, date(1999, 1, 1), None),  # neither 1900 nor 1800 was a leap year
        (30, 2, 10, TODAY, None),
    ],
)
def test_century_resolution(day: int, month: int, year2: int, today: date, expected: date | None) -> None:
    assert resolve_birth_date(day, month, year2, today) == expected


# --- Soft checks --------------------------------------------------------------------------------------------

SOFT_CASES = [
    # (rule, valid, invalid): valid has no warning at all
    ("nik.province", "3510161705800001", "9910161705800001"),
    (
        "nik.province",
        "3171011705800001",
        "5410161705800001",
    ),  # Timor Timur's old code is no longer a province
    ("nik.kabupaten", "3578011705800001", "3500161705800001"),
    ("nik.kecamatan", "3578011705800001", "3578001705800001"),
    ("nik.kecamatan", "3510251705800001", "3510261705800001"),  # Banyuwangi has 25 kecamatan
]


@pytest.mark.parametrize(("rule", "valid", "invalid"), SOFT_CASES)
def test_region_soft_rule(rule: str, valid: str, invalid: str) -> None:
    assert region_warnings(parse_nik(valid)) == []
    assert [p.code for p in region_warnings(parse_nik(invalid))] == [rule]


def test_first_registration_outside_banyuwangi_is_fine() -> None:
    # born and registered in Surabaya (35.78), now living in Banyuwangi
    assert region_warnings(parse_nik("3578014302840002")) == []


def test_declared_sex_and_birth_date() -> None:
    woman = parse_nik("3510164302840002")
    assert nik_warnings(woman, declared_sex="female", declared_birth_date=date(1984, 2, 3)) == []
    codes = [p.code for p in nik_warnings(woman, declared_sex="male", declared_birth_date=date(1984, 3, 2))]
    assert codes == ["nik.sex_mismatch", "nik.birth_date_mismatch"]
    # a century apart is not a disagreement: the NIK only has two digits of the year
    assert nik_warnings(woman, declared_birth_date=date(1884, 2, 3)) == []


# --- KK number ----------------------------------------------------------------------------------------------


def test_kk_hard_and_soft() -> None:
    assert kk_errors("3510161203150007") == []
    assert [p.code for p in kk_errors("351016120315007")] == ["kk.format"]
    assert [p.code for p in kk_errors("35101612O3150007")] == ["kk.format"]
    assert kk_warnings("3510161203150007") == []
    assert [p.code for p in kk_warnings("9910161203150007")] == ["kk.region"]
    assert [p.code for p in kk_warnings("3510163102150007")] == ["kk.date"]
    assert [p.code for p in kk_warnings("3510161203150000")] == ["kk.serial"]
    assert kk_warnings("35101612") == []  # hard-invalid numbers get no soft checks


# --- Property tests -----------------------------------------------------------------------------------------

digits = st.text(alphabet="0123456789", min_size=1, max_size=1)


@st.composite
def valid_niks(draw: st.DrawFn) -> tuple[str, date, bool]:
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=TODAY))
    female = draw(st.booleans())
    region = draw(st.text(alphabet="0123456789", min_size=6, max_size=6))
    serial = draw(st.integers(min_value=1, max_value=9999))
    day = born.day + (40 if female else 0)
    nik = f"{region}{day:02d}{born.month:02d}{born.year % 100:02d}{serial:04d}"
    return nik, born, female


@given(valid_niks())
def test_every_valid_structure_is_accepted_and_decoded(case: tuple[str, date, bool]) -> None:
    nik, born, female = case
    assert nik_errors(nik) == []
    info = parse_nik(nik)
    assert info.sex == ("female" if female else "male")
    decoded = info.birth_date(TODAY)
    assert decoded is not None and decoded <= TODAY
    assert (decoded.day, decoded.month, decoded.year % 100) == (born.day, born.month, born.year % 100)
    assert (TODAY - decoded) < timedelta(days=366 * 100)
    assert nik_warnings(info, declared_sex=info.sex, declared_birth_date=born) == region_warnings(info)


@given(valid_niks(), st.sampled_from([0, *range(13, 100)]))
def test_any_bad_month_is_refused(case: tuple[str, date, bool], month: int) -> None:
    nik = case[0]
    assert "nik.month" in [p.code for p in nik_errors(f"{nik[:8]}{month:02d}{nik[10:]}")]


@given(valid_niks(), st.sampled_from([0, *range(32, 41), *range(72, 100)]))
def test_any_bad_day_is_refused(case: tuple[str, date, bool], day: int) -> None:
    nik = case[0]
    assert "nik.day" in [p.code for p in nik_errors(f"{nik[:6]}{day:02d}{nik[8:]}")]


@given(valid_niks(), st.integers(min_value=1, max_value=12), st.booleans())
def test_a_day_past_the_end_of_the_month_is_refused(case: tuple[str, date, bool], month: int, female: bool) -> None:
    nik = case[0]
    year2 = int(nik[10:12])
    last = {2: 29 if year2 % 4 == 0 else 28, 4: 30, 6: 30, 9: 30, 11: 30}.get(month, 31)
    if last == 31:
        return  # no day past 31 is a day-in-month error (it is nik.day)
    day = last + 1 + (40 if female else 0)
    assert "nik.date" in [p.code for p in nik_errors(f"{nik[:6]}{day:02d}{month:02d}{nik[10:]}")]


@given(valid_niks())
def test_serial_zero_is_refused(case: tuple[str, date, bool]) -> None:
    assert "nik.serial" in [p.code for p in nik_errors(case[0][:12] + "0000")]


@given(valid_niks(), st.integers(min_value=0, max_value=15), st.characters(exclude_categories=["Nd"]))
def test_a_non_digit_anywhere_is_refused(case: tuple[str, date, bool], position: int, char: str) -> None:
    nik = case[0]
    assert [p.code for p in nik_errors(nik[:position] + char + nik[position + 1 :])] == ["nik.format"]


@given(valid_niks(), st.integers(min_value=0, max_value=15), st.sampled_from(["drop", "add"]))
def test_a_wrong_length_is_refused(case: tuple[str, date, bool], position: int, how: str) -> None:
    nik = case[0]
    mutated = nik[:position] + nik[position + 1 :] if how == "drop" else nik[:position] + "1" + nik[position:]
    assert [p.code for p in nik_errors(mutated)] == ["nik.format"]
