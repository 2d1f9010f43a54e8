"""The rule set as data: the bundled file, the overrides and their version, the errors of a broken file."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from agent_forms.models import Component
from registries.models import EmploymentKind
from sync.verification.ruleset import BUNDLED_RULE_SET, RuleSet, RuleSetError, RuleSettings, load_rule_set


def bundled() -> dict[str, Any]:
    text = resources.files("sync.verification").joinpath("rulesets", BUNDLED_RULE_SET).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def write(tmp_path: Path, data: Any, name: str = "rules.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_the_bundled_rule_set_holds_the_domain_values() -> None:
    rules = load_rule_set(RuleSettings())
    assert rules.version == "pkh-2026.1"
    assert (rules.max_desil, rules.elderly_age, rules.max_components) == (4, 60, 4)
    assert {c: rules.amount(c) for c in Component} == {
        Component.PREGNANT_POSTPARTUM: 3_000_000,
        Component.EARLY_CHILDHOOD: 3_000_000,
        Component.SD: 900_000,
        Component.SMP: 1_500_000,
        Component.SMA: 2_000_000,
        Component.SEVERE_DISABILITY: 2_400_000,
        Component.ELDERLY: 2_400_000,
    }
    assert rules.components[Component.PREGNANT_POSTPARTUM].max_count == 2
    assert rules.components[Component.EARLY_CHILDHOOD].max_count == 2
    assert (rules.school_age.min, rules.school_age.max) == (6, 21)
    assert set(rules.exclusions) == set(EmploymentKind)
    assert {k for k, r in rules.exclusions.items() if r.retired} == {
        EmploymentKind.asn,
        EmploymentKind.tni,
        EmploymentKind.polri,
    }


@pytest.mark.parametrize(
    ("kind", "active", "retired", "excludes"),
    [
        (EmploymentKind.asn, True, False, True),
        (EmploymentKind.asn, False, True, True),
        (EmploymentKind.polri, False, True, True),
        (EmploymentKind.village_official, False, True, False),
        (EmploymentKind.certified_teacher, False, False, False),
        (EmploymentKind.bumn_bumd, True, False, True),
    ],
)
def test_which_employment_excludes(kind: EmploymentKind, active: bool, retired: bool, excludes: bool) -> None:
    assert load_rule_set(RuleSettings()).excludes(kind, active=active, retired=retired) is excludes


def test_the_rule_set_is_frozen() -> None:
    rules = load_rule_set(RuleSettings())
    with pytest.raises(ValueError, match="frozen"):
        rules.max_desil = 9  # type: ignore[misc]


@pytest.mark.parametrize(
    ("overrides", "version"),
    [
        ({"max_desil": 3}, "pkh-2026.1+max_desil=3"),
        ({"elderly_age": 70}, "pkh-2026.1+elderly_age=70"),
        ({"max_components": 3, "max_desil": 2}, "pkh-2026.1+max_desil=2+max_components=3"),
        ({"max_desil": 4, "elderly_age": 60}, "pkh-2026.1"),  # equal to the file: the same rules, the same version
    ],
)
def test_overrides_change_the_version(overrides: dict[str, int], version: str) -> None:
    rules = load_rule_set(RuleSettings(**overrides))
    assert rules.version == version
    for key, value in overrides.items():
        assert getattr(rules, key) == value


def test_settings_nest_in_the_application_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    class AppSettings(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="SIMPUL_", env_nested_delimiter="__")
        rules: RuleSettings = Field(default_factory=RuleSettings)

    monkeypatch.setenv("SIMPUL_RULES__MAX_DESIL", "3")
    monkeypatch.setenv("SIMPUL_RULES__ELDERLY_AGE", "70")
    assert load_rule_set(AppSettings().rules).version == "pkh-2026.1+max_desil=3+elderly_age=70"
    assert isinstance(RuleSettings(), BaseModel)


def test_a_rule_set_file_of_its_own(tmp_path: Path) -> None:
    data = bundled() | {"version": "pkh-2027.1", "max_desil": 3}
    rules = load_rule_set(RuleSettings(rule_set_path=write(tmp_path, data)))
    assert (rules.version, rules.max_desil) == ("pkh-2027.1", 3)


@pytest.mark.parametrize("bad", [0, 11, "empat"])
def test_an_override_out_of_bounds_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="max_desil"):
        RuleSettings.model_validate({"max_desil": bad})


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(RuleSetError, match=r"nope\.json.*cannot be read"):
        load_rule_set(RuleSettings(rule_set_path=missing))


def test_a_file_that_is_not_json_is_named_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, '{\n  "version": "x",\n  oops\n}')
    with pytest.raises(RuleSetError, match=r"rules\.json: not valid JSON \(line 3"):
        load_rule_set(RuleSettings(rule_set_path=path))


def test_a_file_that_is_not_an_object(tmp_path: Path) -> None:
    with pytest.raises(RuleSetError, match="JSON object"):
        load_rule_set(RuleSettings(rule_set_path=write(tmp_path, [1, 2])))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.pop("version"), "'version'"),
        (lambda d: d.update(max_desil=12), "'max_desil'"),
        (lambda d: d["components"]["sd"].update(yearly_amount="banyak"), "'components.sd.yearly_amount'"),
        (lambda d: d["components"].pop("elderly"), "no rule for elderly"),
        (lambda d: d["exclusions"].update(pilot={"retired": True}), "'exclusions.pilot"),
        (lambda d: d.update(school_age={"min": 22, "max": 6}), "'school_age'"),
        (lambda d: d.update(surprise=1), "'surprise'"),
    ],
)
def test_a_broken_field_is_named(tmp_path: Path, change: Any, field: str) -> None:
    data = bundled()
    change(data)
    path = write(tmp_path, data)
    with pytest.raises(RuleSetError) as caught:
        load_rule_set(RuleSettings(rule_set_path=path))
    assert str(path) in str(caught.value)
    assert field in str(caught.value)


def test_an_override_that_breaks_the_file_is_named(tmp_path: Path) -> None:
    data = bundled()
    data["version"] = "v" * 200  # at the limit: the override suffix pushes it over
    with pytest.raises(RuleSetError, match=r"overrides max_desil=3.*'version'"):
        load_rule_set(RuleSettings(rule_set_path=write(tmp_path, data), max_desil=3))


def test_the_bundled_file_is_package_data() -> None:
    """pyproject's package-data ships ``*.json`` of every package, as it ships agent_forms/data."""
    pyproject = Path(__file__).resolve().parents[3] / "pyproject.toml"
    assert '"*" = [' in pyproject.read_text(encoding="utf-8") and '"*.json"' in pyproject.read_text(encoding="utf-8")
    assert RuleSet.model_validate(bundled()).version == "pkh-2026.1"
