"""Every field rule of every form, each with a valid and an invalid example, through the gateway's entry."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from agent_forms import Verdict, validate_document
from agent_forms.models import Household
from tests.agent_forms.forms_testkit import AGENT, DESA_DIGITS, LIMITS, fresh, make_nik

DELETE = object()
Patch = dict[str, Any]


def apply(doc: dict[str, Any], patch: Patch) -> dict[str, Any]:
    """``{"members.1.sex": "male", "location": DELETE}`` → the document changed accordingly."""
    for dotted, value in patch.items():
        *parents, last = dotted.split(".")
        target: Any = doc
        for step in parents:
            target = target[int(step)] if isinstance(target, list) else target[step]
        key: Any = int(last) if isinstance(target, list) else last
        if value is DELETE:
            del target[key]
        else:
            target[key] = value
    return doc


def run(doc_type: str, patch: Patch) -> Verdict:
    doc = apply(fresh(doc_type), patch)
    return validate_document(doc, desa_code=DESA_DIGITS, agent_id=AGENT, attachments=None, limits=LIMITS)


def codes_at(problems: list[Any], field: str) -> list[str]:
    return [p.code for p in problems if p.field == field]


HEAD_F = make_nik(date(1980, 5, 17), female=True)
TWO_HEADS = {"members.1.relationship": "head"}

# (doc_type, rule code, field path, valid patch, invalid patch)
ERROR_CASES: list[tuple[str, str, str, Patch, Patch]] = [
    # -- every submission
    ("household", "desa.format", "desa", {"desa": "3510161014"}, {"desa": "35-10-16-1014"}),
    ("household", "desa.unknown", "desa", {"desa": "35.10.16.1014"}, {"desa": "35.10.16.1099"}),
    ("household", "desa.format", "desa", {}, {"desa": "35.10.16"}),  # a kecamatan is not a desa
    ("household", "schema.missing", "agent_id", {}, {"agent_id": DELETE}),
    ("household", "schema.missing", "device_id", {}, {"device_id": DELETE}),
    ("household", "schema.string_too_short", "device_id", {"device_id": "d"}, {"device_id": ""}),
    (
        "household",
        "schema.timezone_aware",
        "captured_at",
        {"captured_at": "2025-09-14T02:12:03Z"},
        {"captured_at": "2025-09-14T09:12:03"},
    ),
    (
        "household",
        "schema.datetime_from_date_parsing",
        "captured_at",
        {},
        {"captured_at": "14/09/2025 09:12"},
    ),
    (
        "household",
        "supersedes.type",
        "supersedes",
        {"supersedes": "household:0a1b"},
        {"supersedes": "consent:0a1b"},
    ),
    ("household", "supersedes.type", "supersedes", {}, {"supersedes": "household:"}),
    ("household", "schema.extra_forbidden", "catatan", {}, {"catatan": "x"}),
    ("household", "form.version_unknown", "form_version", {"form_version": 1}, {"form_version": True}),
    ("household", "form.version_unknown", "form_version", {}, {"form_version": "1"}),
    # -- household
    ("household", "kk.format", "kk_number", {}, {"kk_number": "351016120315007"}),
    (
        "household",
        "schema.string_pattern_mismatch",
        "address.rt",
        {"address.rt": "012"},
        {"address.rt": "12"},
    ),
    (
        "household",
        "text.blank",
        "address.street",
        {"address.street": "Dusun Krajan"},
        {"address.street": "   "},
    ),
    ("household", "schema.less_than_equal", "location.lat", {"location.lat": -8.3}, {"location.lat": 95}),
    ("household", "schema.too_short", "members", {}, {"members": []}),
    ("household", "nik.month", "members[0].nik", {}, {"members.0.nik": "3510161713800001"}),
    ("household", "nik.format", "members[2].nik", {}, {"members.2.nik": 3510166307190003}),
    ("household", "text.blank", "members[1].name", {"members.1.name": "Siti"}, {"members.1.name": " "}),
    ("household", "text.invisible", "members[1].name", {"members.1.name": "Siti"}, {"members.1.name": "Siti\x00"}),
    ("household", "text.invisible", "members[1].name", {"members.1.name": "Siti"}, {"members.1.name": "\u200b"}),
    (
        "household",
        "schema.string_too_long",
        "members[1].name",
        {"members.1.name": "A" * 100},
        {"members.1.name": "A" * 101},
    ),
    (
        "household",
        "schema.date_from_datetime_parsing",
        "members[0].birth_date",
        {},
        {"members.0.birth_date": "17-05-1980"},
    ),
    (
        "household",
        "date.future",
        "members[2].birth_date",
        {"members.2.birth_date": "2025-09-14"},
        {"members.2.birth_date": "2025-09-15"},
    ),
    (
        "household",
        "schema.greater_than_equal",
        "members[0].birth_date",
        {"members.0.birth_date": "1900-01-01"},
        {"members.0.birth_date": "1899-12-31"},
    ),
    ("household", "schema.enum", "members[0].sex", {}, {"members.0.sex": "L"}),
    ("household", "schema.enum", "members[0].relationship", {}, {"members.0.relationship": "kepala"}),
    ("household", "household.head", "members", {}, TWO_HEADS),
    ("household", "household.head", "members", {}, {"members.0.relationship": "other_relative"}),
    (
        "household",
        "household.duplicate_nik",
        "members[3].nik",
        {},
        {"members.3.nik": make_nik(date(1980, 5, 17))},
    ),
    (
        "household",
        "schema.enum",
        "members[3].disability",
        {"members.3.disability": "mild"},
        {"members.3.disability": "berat"},
    ),
    (
        "household",
        "member.maternal_status_sex",
        "members[0].maternal_status",
        {"members.1.maternal_status": "postpartum"},
        {"members.0.maternal_status": "pregnant"},
    ),
    (
        "household",
        "member.school_level_status",
        "members[2].school_level",
        {"members.2.school_level": "none", "members.2.school_status": "never"},
        {"members.2.school_level": "none"},
    ),
    (
        "household",
        "schema.string_pattern_mismatch",
        "members[3].nisn",
        {"members.3.nisn": DELETE},
        {"members.3.nisn": "12345"},
    ),
    (
        "household",
        "schema.enum",
        "members[0].occupation",
        {"members.0.occupation": "fisher"},
        {"members.0.occupation": "petani"},
    ),
    (
        "household",
        "schema.literal_error",
        "housing.electricity_va",
        {"housing.electricity_va": 1300},
        {"housing.electricity_va": 1000},
    ),
    (
        "household",
        "housing.electricity_va_required",
        "housing.electricity_va",
        {"housing.lighting": "non_pln", "housing.electricity_va": DELETE},
        {"housing.electricity_va": DELETE},
    ),
    (
        "household",
        "housing.electricity_va_without_pln",
        "housing.electricity_va",
        {"housing.lighting": "pln_unmetered"},
        {"housing.lighting": "none"},
    ),
    (
        "household",
        "housing.toilet_disposal_without_toilet",
        "housing.toilet_disposal",
        {"housing.toilet": "none", "housing.toilet_disposal": DELETE},
        {"housing.toilet": "none"},
    ),
    (
        "household",
        "list.duplicate",
        "housing.assets",
        {"housing.assets": []},
        {"housing.assets": ["car", "car"]},
    ),
    ("household", "schema.enum", "housing.assets[0]", {}, {"housing.assets": ["yacht"]}),
    (
        "household",
        "schema.greater_than",
        "housing.floor_area_m2",
        {"housing.floor_area_m2": DELETE},
        {"housing.floor_area_m2": 0},
    ),
    ("household", "schema.enum", "housing.roof", {"housing.roof": "thatch"}, {"housing.roof": "daun"}),
    (
        "household",
        "schema.greater_than_equal",
        "housing.livestock.cattle",
        {"housing.livestock.cattle": 3},
        {"housing.livestock.cattle": -1},
    ),
    # -- consent
    ("consent", "schema.too_short", "purposes", {}, {"purposes": []}),
    ("consent", "list.duplicate", "purposes[1].source", {}, {"purposes.1.source": "population_registry"}),
    ("consent", "schema.enum", "purposes[0].source", {}, {"purposes.0.source": "facebook"}),
    ("consent", "schema.missing", "purposes[0].granted", {}, {"purposes.0.granted": DELETE}),
    (
        "consent",
        "consent.guardian_required",
        "guardian",
        {"subject_birth_date": "2007-09-14", "subject_nik": make_nik(date(2007, 9, 14), female=True)},
        {"subject_birth_date": "2007-09-15", "subject_nik": make_nik(date(2007, 9, 15), female=True)},
    ),
    (
        "consent",
        "consent.guardian_is_subject",
        "guardian.nik",
        {"guardian": {"nik": make_nik(date(1980, 5, 17)), "name": "Slamet", "relationship": "father"}},
        {
            "guardian": {
                "nik": make_nik(date(1984, 2, 3), female=True, serial="0002"),
                "name": "Siti",
                "relationship": "mother",
            }
        },
    ),
    ("consent", "schema.union_tag_invalid", "method", {}, {"method": {"kind": "selfie"}}),
    ("consent", "schema.union_tag_not_found", "method", {}, {"method": {"attachment": "ttd.png"}}),
    (
        "consent",
        "schema.missing",
        "method.witness",
        {
            "method": {
                "kind": "witnessed_verbal",
                "witness": {"name": "Bu Kades", "role": "village_official"},
            },
            "_attachments": DELETE,
        },
        {"method": {"kind": "witnessed_verbal"}, "_attachments": DELETE},
    ),
    (
        "consent",
        "schema.string_pattern_mismatch",
        "method.attachment",
        {},
        {"method.attachment": "../ttd.png"},
    ),
    ("consent", "schema.missing", "notice_version", {}, {"notice_version": DELETE}),
    ("consent", "ref.format", "household_id", {"household_id": DELETE}, {"household_id": "keluarga:1"}),
    # -- consent withdrawal
    (
        "consent_withdrawal",
        "withdrawal.sources_required",
        "sources",
        {"scope": "all", "sources": []},
        {"sources": []},
    ),
    (
        "consent_withdrawal",
        "withdrawal.sources_with_all",
        "sources",
        {"scope": "all", "sources": DELETE},
        {"scope": "all"},
    ),
    ("consent_withdrawal", "list.duplicate", "sources", {}, {"sources": ["dtsen", "dtsen"]}),
    (
        "consent_withdrawal",
        "ref.format",
        "consent_id",
        {"consent_id": DELETE},
        {"consent_id": "application:9b2c"},
    ),
    # -- application
    ("application", "schema.too_short", "components", {}, {"components": []}),
    (
        "application",
        "list.duplicate",
        "components[1]",
        {},
        {
            "components.1.component": "pregnant_postpartum",
            "components.1.member_nik": make_nik(date(1984, 2, 3), female=True, serial="0002"),
        },
    ),
    (
        "application",
        "schema.enum",
        "components[0].component",
        {"components.0.component": "elderly"},
        {"components.0.component": "bansos"},
    ),
    (
        "application",
        "nik.serial",
        "components[0].member_nik",
        {},
        {"components.0.member_nik": "3510164302840000"},
    ),
    ("application", "schema.missing", "consent_id", {}, {"consent_id": DELETE}),
    ("application", "ref.format", "consent_id", {}, {"consent_id": "household:9b2c"}),
    ("application", "ref.format", "household_id", {}, {"household_id": "household:a b"}),
    ("application", "schema.enum", "channel", {"channel": "self_service"}, {"channel": "online"}),
    (
        "application",
        "schema.string_pattern_mismatch",
        "bank_account.account_number",
        {"bank_account": DELETE},
        {"bank_account.account_number": "0123-0100"},
    ),
    # -- field visit
    (
        "field_visit",
        "field_visit.checklist_required",
        "checklist",
        {"address_found": False, "checklist": DELETE, "recommendation": "not_eligible"},
        {"checklist": DELETE},
    ),
    (
        "field_visit",
        "field_visit.visited_after_capture",
        "visited_at",
        {"visited_at": "2025-09-14T09:15:00+07:00"},
        {"visited_at": "2025-09-14T09:30:00+07:00"},
    ),
    (
        "field_visit",
        "field_visit.findings_required",
        "findings",
        {"recommendation": "needs_review"},
        {"recommendation": "needs_review", "findings": ""},
    ),
    (
        "field_visit",
        "housing.electricity_va_required",
        "checklist.electricity_va",
        {},
        {"checklist.electricity_va": DELETE},
    ),
    ("field_visit", "ref.format", "task_id", {}, {"task_id": "tugas:1"}),
    ("field_visit", "schema.missing", "location", {}, {"location": DELETE}),
    (
        "field_visit",
        "schema.bool_parsing",
        "address_found",
        {"address_found": "true"},
        {"address_found": "mungkin"},
    ),
    # -- evidence
    (
        "evidence",
        "evidence.subject",
        "field_visit_id",
        {},
        {"application_id": "application:9b2c6c1e-1f0a-4a52-9b53-6f1d8e2f7a10"},
    ),
    (
        "evidence",
        "evidence.subject",
        "field_visit_id",
        {"field_visit_id": DELETE, "application_id": "application:9b2c"},
        {"field_visit_id": DELETE},
    ),
    (
        "evidence",
        "evidence.document_type_required",
        "photos[1].document_type",
        {},
        {"photos.1.document_type": DELETE},
    ),
    (
        "evidence",
        "evidence.document_type_not_document",
        "photos[0].document_type",
        {},
        {"photos.0.document_type": "ktp"},
    ),
    ("evidence", "list.duplicate", "photos[1].attachment", {}, {"photos.1.attachment": "depan.jpg"}),
    (
        "evidence",
        "schema.literal_error",
        "photos[0].kind",
        {"photos.0.kind": "house_inside"},
        {"photos.0.kind": "selfie"},
    ),
    ("evidence", "schema.too_short", "photos", {}, {"photos": []}),
    # -- objection
    ("objection", "schema.too_short", "grounds", {}, {"grounds": []}),
    (
        "objection",
        "list.duplicate",
        "grounds",
        {"grounds": ["data_incorrect", "other"]},
        {"grounds": ["other", "other"]},
    ),
    (
        "objection",
        "objection.result_mismatch",
        "result_id",
        {"result_id": DELETE},
        {"result_id": "result:application:0000"},
    ),
    ("objection", "text.blank", "statement", {}, {"statement": "\n\t "}),
    ("objection", "text.invisible", "statement", {"statement": "Baris satu\nbaris dua"}, {"statement": "Ya\x1b[2J"}),
    ("objection", "text.invisible", "objector_name", {}, {"objector_name": "Siti\u202eAminah"}),
    ("objection", "schema.enum", "objector_role", {}, {"objector_role": "tetangga"}),
]


@pytest.mark.parametrize(
    ("doc_type", "code", "field", "valid", "invalid"),
    ERROR_CASES,
    ids=[f"{c[0]}:{c[1]}@{c[2]}" for c in ERROR_CASES],
)
def test_field_rule(doc_type: str, code: str, field: str, valid: Patch, invalid: Patch) -> None:
    good = run(doc_type, valid)
    assert good.ok, good.errors
    bad = run(doc_type, invalid)
    assert not bad.ok
    assert code in codes_at(bad.errors, field), bad.errors
    problem = next(p for p in bad.errors if p.code == code)
    assert field in bad.reason or bad.errors[0] is not problem
    assert problem.message and problem.message[0].isupper()


# (doc_type, rule code, field path, valid patch, invalid patch): warnings, never refusals
WARNING_CASES: list[tuple[str, str, str, Patch, Patch]] = [
    ("household", "nik.sex_mismatch", "members[0].nik", {}, {"members.0.nik": HEAD_F}),
    ("household", "nik.birth_date_mismatch", "members[0].nik", {}, {"members.0.birth_date": "1980-05-18"}),
    (
        "household",
        "nik.province",
        "members[0].nik",
        {"members.0.nik": "3578011705800001"},
        {"members.0.nik": "9910161705800001"},
    ),
    ("household", "kk.date", "kk_number", {}, {"kk_number": "3510163102150007"}),
    ("household", "kk.outside_kabupaten", "kk_number", {}, {"kk_number": "3578011203150007"}),
    ("household", "gps.outside", "location", {"location.lat": 5.5}, {"location.lat": 40.0}),
    (
        "household",
        "member.maternal_age",
        "members[1].maternal_status",
        {},
        {"members.1.birth_date": "1960-02-03", "members.1.nik": make_nik(date(1960, 2, 3), female=True)},
    ),
    (
        "consent",
        "nik.province",
        "guardian.nik",
        {"guardian": {"nik": make_nik(date(1980, 5, 17)), "name": "Slamet", "relationship": "father"}},
        {"guardian": {"nik": "0010161705800001", "name": "Slamet", "relationship": "father"}},
    ),
    (
        "consent_withdrawal",
        "consent.witness_is_party",
        "method.witness.nik",
        {"method.witness.nik": make_nik(date(1970, 1, 1))},
        {"method.witness.nik": make_nik(date(1984, 2, 3), female=True, serial="0002")},
    ),
    (
        "field_visit",
        "field_visit.late_capture",
        "visited_at",
        {"visited_at": "2025-09-12T10:00:00+07:00"},
        {"visited_at": "2025-09-11T10:00:00+07:00"},
    ),
    ("application", "nik.kecamatan", "applicant_nik", {}, {"applicant_nik": "3510994302840002"}),
    ("objection", "nik.birth_date_mismatch", "objector_nik", {}, {}),  # no declared date: never a mismatch
]


@pytest.mark.parametrize(
    ("doc_type", "code", "field", "valid", "invalid"),
    WARNING_CASES,
    ids=[f"{c[0]}:{c[1]}@{c[2]}" for c in WARNING_CASES],
)
def test_soft_rule(doc_type: str, code: str, field: str, valid: Patch, invalid: Patch) -> None:
    good = run(doc_type, valid)
    assert good.ok and code not in codes_at(good.warnings, field), good.warnings
    bad = run(doc_type, invalid)
    assert bad.ok, bad.errors  # a warning never refuses
    if invalid:
        assert code in codes_at(bad.warnings, field), bad.warnings


def test_every_valid_example_is_clean() -> None:
    for doc_type in (
        "household",
        "consent",
        "consent_withdrawal",
        "application",
        "field_visit",
        "evidence",
        "objection",
    ):
        verdict = run(doc_type, {})
        assert verdict.ok and verdict.warnings == [], (doc_type, verdict.errors, verdict.warnings)


def body_of(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if not k.startswith("_")}


def test_plain_model_validate_still_enforces_rules_across_fields() -> None:
    with pytest.raises(ValidationError) as err:
        Household.model_validate(body_of(apply(fresh("household"), TWO_HEADS)))
    assert err.value.errors()[0]["type"] == "household.head"
    household = Household.model_validate(body_of(fresh("household")))
    assert household.members[0].sex.label == "Laki-laki"
    assert household.desa == "35.10.16.1014"
