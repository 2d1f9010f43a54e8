"""Pydantic's validation errors, told in Bahasa Indonesia, at the path of the field in the document."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from agent_forms.problems import Problem, format_loc

_MAX_MESSAGE = 240  # a value echoed back (a tag, a pattern) must not make the reason a wall of text
_DATE = "Harus tanggal berformat TTTT-BB-HH, mis. 2019-07-23"
_DATETIME = "Harus waktu berformat ISO 8601 dengan zona waktu, mis. 2025-09-14T09:12:03+07:00"
_INT = "Harus bilangan bulat"
_NUMBER = "Harus berupa angka"
_BOOL = "Harus ya atau tidak (true/false)"
_OBJECT = "Harus berupa objek (isian bertingkat)"

_MESSAGES: dict[str, str] = {
    "missing": "Wajib diisi",
    "extra_forbidden": "Kolom ini tidak dikenal pada formulir ini",
    "string_type": "Harus berupa teks",
    "string_too_short": "Minimal {min_length} karakter",
    "string_too_long": "Maksimal {max_length} karakter",
    "string_pattern_mismatch": "Format tidak sesuai (pola {pattern})",
    "literal_error": "Harus salah satu dari: {expected}",
    "enum": "Pilihan tidak dikenal; harus salah satu dari: {expected}",
    "int_type": _INT,
    "int_parsing": _INT,
    "int_from_float": _INT,
    "float_type": _NUMBER,
    "float_parsing": _NUMBER,
    "finite_number": _NUMBER,
    "bool_type": _BOOL,
    "bool_parsing": _BOOL,
    "greater_than": "Harus lebih dari {gt}",
    "greater_than_equal": "Tidak boleh kurang dari {ge}",
    "less_than": "Harus kurang dari {lt}",
    "less_than_equal": "Tidak boleh lebih dari {le}",
    "too_short": "Minimal {min_length} isian",
    "too_long": "Maksimal {max_length} isian",
    "list_type": "Harus berupa daftar",
    "dict_type": _OBJECT,
    "model_type": _OBJECT,
    "model_attributes_type": _OBJECT,
    "date_type": _DATE,
    "date_parsing": _DATE,
    "date_from_datetime_parsing": _DATE,
    "date_from_datetime_inexact": _DATE,
    "datetime_type": _DATETIME,
    "datetime_parsing": _DATETIME,
    "datetime_from_date_parsing": _DATETIME,
    "datetime_object_invalid": _DATETIME,
    "timezone_aware": "Waktu harus mencantumkan zona waktu, mis. +07:00",
    "union_tag_invalid": "Pilihan {tag} tidak dikenal; harus salah satu dari: {expected_tags}",
    "union_tag_not_found": "Kolom {discriminator} wajib diisi",
}


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    if "." in kind:  # our own rules: the message is already ours
        return error["msg"]
    template = _MESSAGES.get(kind)
    if template is None:
        if kind == "value_error":
            return error["msg"].removeprefix("Value error, ")
        return f"Nilai tidak valid ({kind})"
    ctx = error.get("ctx") or {}
    try:
        message = template.format(**ctx)
    except (KeyError, IndexError):
        return template
    return message if len(message) <= _MAX_MESSAGE else f"{message[: _MAX_MESSAGE - 1]}…"


def _plain_loc(loc: tuple[str | int, ...], data: Any) -> list[str | int]:
    """Drop the tags pydantic inserts for discriminated unions (``method.signature.attachment`` →
    ``method.attachment``).

    A tag is a string step that is not a key of the object being walked but one of its values (the
    discriminator's).
    """
    out: list[str | int] = []
    current = data
    for step in loc:
        if isinstance(current, Mapping) and isinstance(step, str) and step not in current:
            if step in {str(v) for v in current.values() if isinstance(v, str | int)} or "@" in step:
                continue
            current = None
        elif isinstance(current, Mapping):
            current = current.get(step)
        elif isinstance(current, list | tuple) and isinstance(step, int) and 0 <= step < len(current):
            current = current[step]
        else:
            current = None
        out.append(step)
    return out


def problems_from(error: ValidationError, data: Any, prefix: str = "") -> list[Problem]:
    problems: list[Problem] = []
    for detail in error.errors(include_url=False):
        field = format_loc(_plain_loc(detail["loc"], data))
        if prefix:
            field = f"{prefix}.{field}" if field else prefix
        code = detail["type"] if "." in detail["type"] else f"schema.{detail['type']}"
        problems.append(Problem(field, code, _message(detail)))
    return problems
