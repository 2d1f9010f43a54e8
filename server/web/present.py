"""How the pages say things: labels in Bahasa Indonesia, dates in WIB, forms' values by their labels.

The form models already carry Indonesian titles and choice labels (they are what the device shows), so a checklist
is rendered from the model itself and a new field appears on the page without a template change.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pydantic import BaseModel

from agent_forms import wilayah
from agent_forms.models import HousingIndicators
from agent_forms.models.base import Choice

#: Banyuwangi keeps Western Indonesian Time all year (no daylight saving): a fixed offset needs no tz database.
WIB = dt.timezone(dt.timedelta(hours=7), "WIB")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des")

STATUS_LABELS = {
    "needs_review": "Menunggu keputusan supervisor",
    "needs_field_verification": "Perlu verifikasi lapangan",
    "waiting": "Menunggu data",
    "eligible": "Layak",
    "not_eligible": "Tidak layak",
    "stopped": "Dihentikan",
    "superseded": "Digantikan koreksi",
    "removed": "Dihapus",
}
OUTCOME_LABELS = {
    "passed": "Lolos",
    "failed": "Tidak lolos",
    "unresolved": "Perlu dipastikan",
    "review": "Perlu diputuskan",
    "skipped": "Dilewati",
    "info": "Catatan",
}
KIND_LABELS = {"evidence": "Bukti lapangan", "objection": "Keberatan", "review": "Perlu keputusan"}
EVIDENCE_DECISION_LABELS = {"approved": "Disetujui", "rejected": "Ditolak"}
CASE_DECISION_LABELS = {"eligible": "Layak", "not_eligible": "Tidak layak"}


def status_label(status: str | None) -> str:
    return STATUS_LABELS.get(status or "", status or "—")


def when(moment: dt.datetime | str | None) -> str:
    """``14 Sep 2025 09.12 WIB``."""
    if isinstance(moment, str):
        try:
            parsed: dt.datetime | None = dt.datetime.fromisoformat(moment.replace("Z", "+00:00"))
        except ValueError:
            return moment
        moment = parsed
    if moment is None:
        return "—"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    local = moment.astimezone(WIB)
    return f"{local.day} {_MONTHS[local.month - 1]} {local.year} {local:%H.%M} WIB"


def day(value: dt.date | None) -> str:
    if value is None:
        return "—"
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"


def rupiah(amount: int | None) -> str:
    return "—" if amount is None else "Rp" + f"{amount:,}".replace(",", ".")


def masked_nik(nik: str | None) -> str:
    """Region and serial only: enough to tell members apart on screen, without the full identity number."""
    if not nik or len(nik) != 16:
        return "—"
    return f"{nik[:6]}******{nik[12:]}"


def display(value: Any) -> str:
    """One form value as a person reads it."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "Ya" if value else "Tidak"
    if isinstance(value, Choice):
        return value.label
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, float):
        return f"{value:g}".replace(".", ",")
    if isinstance(value, dt.datetime):
        return when(value)
    if isinstance(value, dt.date):
        return day(value)
    if isinstance(value, BaseModel):
        parts = [f"{title}: {display(v)}" for title, v in _fields(value) if v not in (None, 0, False, [], "")]
        return "; ".join(parts) or "—"
    if isinstance(value, list | tuple):
        return ", ".join(display(v) for v in value) or "—"
    return str(value)


def _fields(model: BaseModel) -> Iterable[tuple[str, Any]]:
    for name, info in type(model).model_fields.items():
        yield info.title or name, getattr(model, name)


@dataclass(frozen=True, slots=True)
class ChecklistRow:
    title: str
    declared: str
    observed: str

    @property
    def differs(self) -> bool:
        return self.declared != self.observed and "—" not in (self.declared, self.observed)


def checklist(declared: HousingIndicators | None, observed: HousingIndicators | None) -> list[ChecklistRow]:
    """The house as declared at registration beside the house as the pendamping found it."""
    rows = []
    for name, info in HousingIndicators.model_fields.items():
        rows.append(
            ChecklistRow(
                info.title or name,
                display(getattr(declared, name)) if declared is not None else "—",
                display(getattr(observed, name)) if observed is not None else "—",
            )
        )
    return rows


def region_label(code: str) -> str:
    region = wilayah.find(code)
    return f"{region.name} ({code})" if region else code


def desa_choices(regions: Iterable[str], whole_region: bool) -> list[tuple[str, str]]:
    """(code, name) of the desa a reviewer may filter by, sorted by name."""
    codes = tuple(regions)
    found = [
        (d.code, d.name)
        for d in wilayah.desa_list()
        if whole_region or any(d.code.startswith(region + ".") or d.code == region for region in codes)
    ]
    return sorted(found, key=lambda pair: (pair[1], pair[0]))


def datum_value(value: Any) -> str:
    """A rule datum's value (plain JSON) for the trace table."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "ya" if value else "tidak"
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {datum_value(v)}" for k, v in value.items()) or "—"
    if isinstance(value, list):
        return ", ".join(datum_value(v) for v in value) or "—"
    return str(value)


def anchor(doc_id: str) -> str:
    """A fragment for an id (``evidence:4f0c…`` → ``evidence-4f0c…``): only characters a fragment and an HTML id
    both take as they are, so that a redirect's ``#bukti-…`` finds its element whatever the id holds."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", doc_id)
