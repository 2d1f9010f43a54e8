"""The PKH rules as versioned data, and the settings that may override the few values DOMAIN.md marks unconfirmed.

A rule set is a JSON file (``sync/verification/rulesets/pkh-2026.1.json`` is bundled with the package); a decision
records the version of the rule set it was made with. Three values are settings as well as data, because the
programme has not fixed them (DOMAIN.md [U]): the highest desil admitted, the elderly age and the maximum number
of components. An override changes the version the decision records (``pkh-2026.1+max_desil=3``), so two decisions
with the same version were always made with the same rules.

Nested in the application's settings as ``rules``: ``SIMPUL_RULES__RULE_SET_PATH``, ``SIMPUL_RULES__MAX_DESIL``,
``SIMPUL_RULES__ELDERLY_AGE``, ``SIMPUL_RULES__MAX_COMPONENTS``.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agent_forms.models import Component
from registries.models import EmploymentKind

#: The rule set shipped with the package, used when no path is configured.
BUNDLED_RULE_SET = "pkh-2026.1.json"


class RuleSetError(ValueError):
    """A rule set file that cannot be used: missing, not JSON, or a field out of its bounds. The message names the
    file and the field, so an operator can fix it without reading code."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ComponentRule(_Frozen):
    """One PKH component: its indicative yearly amount and how many of it one family may count."""

    yearly_amount: int = Field(ge=0, description="Rupiah per year, information only (no payment in the pilot).")
    max_count: int | None = Field(None, ge=1, description="At most this many per family; None: no cap of its own.")


class AgeRange(_Frozen):
    min: int = Field(ge=0, le=120)
    max: int = Field(ge=0, le=120)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self

    def __contains__(self, age: object) -> bool:
        return isinstance(age, int) and self.min <= age <= self.max


class ExclusionRule(_Frozen):
    """An employment kind that excludes a family while the member holds it; ``retired``: a pensioner of that kind
    is excluded too (ASN, TNI, Polri)."""

    retired: bool = False


class AssetThresholds(_Frozen):
    """Ministries' asset data that contradicts a desil low enough for PKH: any of these sends the case to a field
    visit (the DTSEN ranking may be stale or wrong; never a refusal on its own)."""

    min_cars: int = Field(1, ge=1, description="Cars registered to the person (Polri).")
    min_non_subsidised_va: int = Field(
        2200, ge=1, description="A PLN connection of at least this many VA on a non-subsidised tariff."
    )
    min_farm_land_m2: int = Field(5000, ge=1, description="Farm land (ATR/BPN) of at least this area, summed.")
    farm_land_kinds: tuple[str, ...] = Field(("pertanian",), min_length=1, description="ATR/BPN parcel kinds summed.")


class RuleSet(_Frozen):
    """Everything the eligibility rules need, as data. Loaded with :func:`load_rule_set`."""

    version: str = Field(min_length=1, max_length=200)
    description: str = ""
    references: tuple[str, ...] = ()

    max_desil: int = Field(4, ge=1, le=10, description="Highest DTSEN desil admitted (1 is the poorest).")
    elderly_age: int = Field(60, ge=40, le=100, description="Age from which the elderly component applies.")
    max_components: int = Field(4, ge=1, le=30, description="Components counted per family, highest-valued kept.")
    one_component_per_member: bool = Field(
        True, description="A person counts for one component only (the highest-valued one that qualifies)."
    )
    early_childhood_max_age: int = Field(6, ge=0, le=10, description="Children aged 0 to this age (inclusive).")
    school_age: AgeRange = Field(AgeRange(min=6, max=21), description="Age range of the school components.")
    completed_schooling_years: int = Field(
        12, ge=1, le=20, description="Years of schooling after which a child no longer counts (wajib belajar)."
    )
    components: dict[Component, ComponentRule]
    exclusions: dict[EmploymentKind, ExclusionRule]
    asset_contradictions: AssetThresholds = AssetThresholds()

    @model_validator(mode="after")
    def _every_component(self) -> Self:
        missing = [c.value for c in Component if c not in self.components]
        if missing:
            raise ValueError(f"components: no rule for {', '.join(missing)}")
        return self

    def amount(self, component: Component) -> int:
        return self.components[component].yearly_amount

    def excludes(self, kind: EmploymentKind, *, active: bool, retired: bool) -> bool:
        """Does an employment record of ``kind`` exclude the family?"""
        rule = self.exclusions.get(kind)
        if rule is None:
            return False
        return active or (retired and rule.retired)


class RuleSettings(BaseModel):
    """Which rule set the pipeline uses, and overrides of the values the programme has not fixed (DOMAIN.md [U])."""

    rule_set_path: Path | None = Field(None, description="A rule set JSON file; unset: the bundled pkh-2026.1.")
    max_desil: int | None = Field(None, ge=1, le=10, description="Overrides the rule set's highest desil admitted.")
    elderly_age: int | None = Field(None, ge=40, le=100, description="Overrides the rule set's elderly age.")
    max_components: int | None = Field(
        None, ge=1, le=30, description="Overrides the rule set's maximum number of components per family."
    )


#: The overridable fields, in the order their overrides are written into the version.
_OVERRIDABLE = ("max_desil", "elderly_age", "max_components")


def load_rule_set(settings: RuleSettings) -> RuleSet:
    """Read the configured (or bundled) rule set, apply the overrides of ``settings`` and say so in its version.

    An override equal to the file's value changes nothing, not even the version: the rules used are the same.
    Raises :class:`RuleSetError` naming the file and the field when the file cannot be used.
    """
    name, text = _read(settings.rule_set_path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RuleSetError(
            f"rule set {name}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    if not isinstance(data, dict):
        raise RuleSetError(f"rule set {name}: expected a JSON object at the top level")
    base = _validate(name, data)

    changes: dict[str, Any] = {}
    for key in _OVERRIDABLE:
        value = getattr(settings, key)
        if value is not None and value != getattr(base, key):
            changes[key] = value
    if not changes:
        return base
    suffix = "".join(f"+{key}={value}" for key, value in changes.items())
    return _validate(f"{name} with the overrides {suffix[1:]}", {**data, **changes, "version": base.version + suffix})


def _read(path: Path | None) -> tuple[str, str]:
    if path is None:
        resource = resources.files(__package__).joinpath("rulesets", BUNDLED_RULE_SET)
        return f"(bundled) {BUNDLED_RULE_SET}", resource.read_text(encoding="utf-8")
    try:
        return str(path), path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleSetError(f"rule set {path}: cannot be read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise RuleSetError(f"rule set {path}: not UTF-8 text ({exc.reason})") from exc


def _validate(name: str, data: dict[str, Any]) -> RuleSet:
    try:
        return RuleSet.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"field '{'.'.join(str(p) for p in err['loc']) or '(top level)'}': {err['msg']}" for err in exc.errors()
        )
        raise RuleSetError(f"rule set {name}: {problems}") from exc
