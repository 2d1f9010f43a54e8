"""Comparing people's names as they are written in the field and in the registries: case, punctuation and word
order do not matter (``"Siti Aminah"``, ``"AMINAH, SITI"``), small misspellings are tolerated (rapidfuzz's
token-sort ratio against a threshold, 0–100). Pure."""

from __future__ import annotations

import re

from rapidfuzz import fuzz


def normalise_name(name: str) -> str:
    return " ".join(re.sub(r"[^A-Z ]", " ", name.upper()).split())


def names_match(submitted: str, recorded: str, threshold: float) -> bool:
    a, b = normalise_name(submitted), normalise_name(recorded)
    return bool(a) and fuzz.token_sort_ratio(a, b) >= threshold
