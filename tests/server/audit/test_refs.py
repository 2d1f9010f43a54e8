"""People's references in the audit trail: keyed, stable, never the NIK; the key is required in production."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from server.audit.refs import DEVELOPMENT_KEY_FILE, PersonRefs
from simpul.settings import Environment, Settings

NIK = "3510164107850002"
KEY = "k" * 48


def production(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": Environment.production,
        "couchdb_url": "http://a:b@couch:5984",
        "database_url": "postgresql://x@db/simpul",
        "jwt_keys": {"k1": "j" * 48},
        "jwt_active_kid": "k1",
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


def test_a_reference_is_a_keyed_hash_never_the_nik() -> None:
    refs = PersonRefs(KEY.encode())
    ref = refs.of(NIK)
    assert ref == refs.of(NIK) and len(ref) == 64 and NIK not in ref
    assert ref != refs.of("3510164107850003")
    # Keyed: without the key, hashing a guessed NIK does not find the row …
    assert ref != hashlib.sha256(NIK.encode()).hexdigest()
    # … and another key gives another reference.
    assert ref != PersonRefs(("x" * 48).encode()).of(NIK)


def test_the_configured_key_is_used(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, audit_key=SecretStr(KEY))
    assert PersonRefs.from_settings(settings).of(NIK) == PersonRefs(KEY.encode()).of(NIK)
    assert not (tmp_path / DEVELOPMENT_KEY_FILE).exists()
    with pytest.raises(ValueError, match="32"):
        PersonRefs(b"short")


def test_development_generates_a_key_once_into_the_data_folder(tmp_path: Path) -> None:
    first = PersonRefs.from_settings(Settings(data_dir=tmp_path / "a")).of(NIK)
    path = tmp_path / "a" / DEVELOPMENT_KEY_FILE
    assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert list((tmp_path / "a").iterdir()) == [path]  # no draft left behind
    assert PersonRefs.from_settings(Settings(data_dir=tmp_path / "a")).of(NIK) == first  # the same, stable
    assert PersonRefs.from_settings(Settings(data_dir=tmp_path / "b")).of(NIK) != first  # another install


def test_production_refuses_to_start_without_a_strong_audit_key() -> None:
    with pytest.raises(ValueError, match="SIMPUL_AUDIT_KEY"):
        production()
    with pytest.raises(ValueError, match="SIMPUL_AUDIT_KEY is shorter than 32"):
        production(audit_key=SecretStr("short"))
    settings = production(audit_key=SecretStr(KEY))
    assert PersonRefs.from_settings(settings).of(NIK) == PersonRefs(KEY.encode()).of(NIK)
