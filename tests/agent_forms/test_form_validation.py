"""The gateway's checks around the forms: ids, scope, server-owned types, immutability, versions."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, ClassVar, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import Field

from agent_forms import (
    FORMS,
    InvalidSubmission,
    Verdict,
    is_new_revision_of_existing,
    load_submission,
    validate_document,
)
from agent_forms.models import Household
from agent_forms.models.registry import make_adapter
from tests.agent_forms.forms_testkit import AGENT, BUILDERS, DESA, DESA_DIGITS, LIMITS, fresh


def check(doc: Any, **kwargs: Any) -> Verdict:
    args: dict[str, Any] = {
        "desa_code": DESA_DIGITS,
        "agent_id": AGENT,
        "attachments": None,
        "limits": LIMITS,
    }
    return validate_document(doc, **(args | kwargs))


def only_code(verdict: Verdict) -> str:
    assert not verdict.ok
    return verdict.errors[0].code


def test_valid_document_with_couchdb_fields() -> None:
    doc = fresh("household") | {
        "_rev": "2-7051cbe5c8faecd085a3fa619e6e6337",
        "_revisions": {
            "start": 2,
            "ids": ["7051cbe5c8faecd085a3fa619e6e6337", "967a00dff5e02add41819138abb3284d"],
        },
    }
    verdict = check(doc)
    assert verdict.ok and verdict.reason == "" and verdict.errors == []
    assert verdict.metadata["form"] == {"type": "household", "version": 1}


def test_desa_code_dotted_or_digits() -> None:
    assert check(fresh("household"), desa_code=DESA).ok
    assert check(fresh("household") | {"desa": DESA_DIGITS}).ok


@pytest.mark.parametrize(
    ("doc_id", "code"),
    [
        ("_design/simpul", "id.design"),
        ("_design/x/y", "id.design"),
        ("_local/checkpoint", "id.reserved"),
        ("_x", "id.reserved"),
    ],
)
def test_reserved_ids(doc_id: str, code: str) -> None:
    assert only_code(check({"_id": doc_id, "views": {}})) == code


@pytest.mark.parametrize("owned", ["result", "task", "review", "sync_issue"])
def test_server_owned_types(owned: str) -> None:
    by_type = fresh("household") | {"type": owned}
    by_id = fresh("household") | {"_id": f"{owned}:household:9b2c"}
    for doc in (by_type, by_id):
        verdict = check(doc)
        assert only_code(verdict) == "type.server_owned"
        assert owned in verdict.reason and "hanya ditulis oleh server" in verdict.reason


def test_deletion_is_refused() -> None:
    tombstone = {"_id": "household:9b2c", "_rev": "3-abc", "_deleted": True}
    verdict = check(tombstone)
    assert only_code(verdict) == "submission.delete"
    assert "supersedes" in verdict.reason


def test_immutability() -> None:
    doc = fresh("household") | {"_rev": "1-aaa"}
    assert check(doc, existing_rev=None).ok  # new document
    assert check(doc, existing_rev="1-aaa").ok  # the same revision re-sent: harmless
    assert only_code(check(doc | {"_rev": "2-bbb"}, existing_rev="1-aaa")) == "submission.immutable"
    assert only_code(check(doc, existing_rev="1-aaa", new_edits=True)) == "submission.immutable"


def test_is_new_revision_of_existing() -> None:
    assert not is_new_revision_of_existing({"_id": "a", "_rev": "2-x"}, None)
    assert not is_new_revision_of_existing({"_id": "a", "_rev": "2-x"}, "2-x")
    assert is_new_revision_of_existing({"_id": "a", "_rev": "3-y"}, "2-x")
    assert is_new_revision_of_existing({"_id": "a", "_rev": "2-z"}, "2-x")  # a conflicting branch
    assert is_new_revision_of_existing({"_id": "a"}, "2-x")
    assert is_new_revision_of_existing({"_id": "a", "_rev": "2-x"}, "2-x", new_edits=True)
    assert not is_new_revision_of_existing({"_id": "a"}, None, new_edits=True)


@pytest.mark.parametrize(
    ("doc_id", "ok"),
    [
        ("household:9b2c6c1e-1f0a-4a52-9b53-6f1d8e2f7a10", True),
        ("household:3510161203150007", True),  # a natural key
        ("household:", False),
        ("household", False),
        ("consent:9b2c", False),
        ("household:a/b", False),
        ("household:a b", False),
        ("Household:9b2c", False),
        ("household:" + "a" * 201, False),
    ],
)
def test_id_prefix(doc_id: str, ok: bool) -> None:
    verdict = check(fresh("household") | {"_id": doc_id})
    assert verdict.ok is ok
    if not ok:
        assert only_code(verdict) == "id.prefix"


def test_missing_or_odd_input() -> None:
    assert only_code(check({"type": "household"})) == "id.missing"
    assert only_code(check({"_id": 12})) == "id.missing"
    assert only_code(check(["not", "a", "doc"])) == "doc.format"
    assert only_code(check({"_id": "survey:1", "type": "survey"})) == "form.type_unknown"
    assert only_code(check({"_id": "household:1"})) == "form.type_unknown"


def test_scope_desa_and_agent() -> None:
    kemiren = fresh("household") | {"desa": "35.10.15.2004"}
    verdict = check(kemiren)
    assert only_code(verdict) == "desa.mismatch"
    assert verdict.reason.startswith("desa: Desa dokumen (35.10.15.2004) bukan desa basis data ini")
    assert only_code(check(fresh("household"), agent_id="pendamping.lain")) == "agent.mismatch"


def test_supersedes_itself() -> None:
    doc = fresh("household")
    assert only_code(check(doc | {"supersedes": doc["_id"]})) == "supersedes.self"
    assert check(doc | {"supersedes": "household:older-one"}).ok


def test_unknown_underscore_field() -> None:
    verdict = check(fresh("household") | {"_hack": 1})
    assert [p.code for p in verdict.errors] == ["couchdb.reserved"]


def test_reason_names_field_and_rule_and_counts_the_rest() -> None:
    doc = fresh("household")
    doc["members"][2]["nik"] = "3510166313190003"
    verdict = check(doc)
    assert verdict.reason == ("members[2].nik: Bulan lahir pada NIK harus 01–12, bukan 13 (nik.month).")
    doc["kk_number"] = "12"
    verdict = check(doc)
    assert verdict.reason.endswith("Ada 1 masalah lain.")
    assert json.loads(json.dumps(verdict.as_dict()))["errors"][1]["code"] in {"kk.format", "nik.month"}


def test_many_errors_all_reported() -> None:
    doc = fresh("household") | {"desa": "35.10.15.2004", "agent_id": "orang.lain", "bogus": 1}
    codes = {p.code for p in check(doc).errors}
    assert {"desa.mismatch", "agent.mismatch", "schema.extra_forbidden"} <= codes


def test_arrival_order_does_not_matter() -> None:
    # the consent and the household it names are not known to the validator at all
    assert check(fresh("application")).ok


def test_captured_a_little_in_the_future_is_only_a_warning() -> None:
    verdict = check(fresh("household"), now=datetime.fromisoformat("2025-09-13T12:00:00+07:00"))
    assert verdict.ok and [p.code for p in verdict.warnings] == ["captured_at.future"]
    assert check(fresh("household"), now=datetime.fromisoformat("2025-09-14T09:00:00+07:00")).warnings == []


@pytest.mark.parametrize("form", ["consent", "consent_withdrawal", "household", "application"])
def test_a_document_dated_days_ahead_is_refused(form: str) -> None:
    """Capture times decide what is in force (a withdrawal or a later consent, the latest correction): a document
    dated ahead would outrank everything after it."""
    hour_ahead = check(fresh(form), now=datetime.fromisoformat("2025-09-14T08:00:00+07:00"))
    assert hour_ahead.ok and [p.code for p in hour_ahead.warnings] == ["captured_at.future"]
    days_ahead = check(fresh(form), now=datetime.fromisoformat("2025-09-12T09:00:00+07:00"))
    assert [p.code for p in days_ahead.errors] == ["captured_at.future"]
    assert "masa depan" in days_ahead.errors[0].message


def test_load_submission() -> None:
    household = load_submission(fresh("household"))
    assert isinstance(household, Household) and len(household.members) == 4
    doc = fresh("household")
    doc["members"][0]["relationship"] = "child"
    with pytest.raises(InvalidSubmission) as err:
        load_submission(doc)
    assert err.value.problems[0].code == "household.head"
    with pytest.raises(InvalidSubmission) as err:
        load_submission({"type": "household", "form_version": 9})
    assert err.value.problems[0].code == "form.unknown"


# --- Versions -----------------------------------------------------------------------------------------------


class HouseholdV2(Household):
    """Keluarga (v2): adds the phone number of the family."""

    FORM_VERSION: ClassVar[int] = 2

    form_version: Literal[2] = Field(title="Versi formulir")  # type: ignore[assignment]
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9]{8,15}$", title="Nomor telepon")


def test_old_versions_stay_valid_when_a_new_one_appears(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(FORMS, ("household", 2), HouseholdV2)
    v1 = fresh("household")
    v2 = fresh("household") | {"form_version": 2, "phone": "+6281234567890"}
    assert check(v1).ok
    assert check(v2).ok
    assert [p.code for p in check(v1 | {"phone": "+6281234567890"}).errors] == ["schema.extra_forbidden"]
    assert only_code(check(v1 | {"form_version": 3})) == "form.version_unknown"

    adapter = make_adapter(FORMS)
    body = {k: v for k, v in v2.items() if not k.startswith("_")}
    assert isinstance(adapter.validate_python(body), HouseholdV2)
    body1 = {k: v for k, v in v1.items() if not k.startswith("_")}
    assert type(adapter.validate_python(body1)) is Household


# --- Robustness ---------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(sorted(BUILDERS)),
    st.sampled_from(
        [
            "_id",
            "type",
            "form_version",
            "desa",
            "agent_id",
            "captured_at",
            "supersedes",
            "_attachments",
            "_deleted",
            "members",
            "method",
            "purposes",
            "photos",
            "components",
            "zzz",
        ]
    ),
    json_values,
)
def test_any_value_anywhere_gives_a_verdict_never_an_exception(doc_type: str, key: str, value: Any) -> None:
    doc = fresh(doc_type)
    doc[key] = value
    verdict = check(doc)
    assert verdict.ok or verdict.reason
    assert all(len(p.message) < 400 for p in verdict.errors)
    json.dumps(verdict.as_dict())
