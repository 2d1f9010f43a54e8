"""Keyed references to people in the audit trail.

The trail must say whose data was exported or restricted (a person may have no case, so a case id cannot say it),
yet hold no NIK: a trail readable by operators is not a register of people. So a row names a person by
``HMAC-SHA256(key, NIK)`` in hex: the same NIK always gives the same reference under one key, so an admin asking
"who read this person's data" gives the NIK and it is hashed the same way at query time; the reference cannot be
turned back into the NIK without the key, and a guess of a NIK cannot be checked against the trail without it
either (which a plain SHA-256 of a 16-digit number, with its small and structured space, would allow).

The key is ``SIMPUL_AUDIT_KEY`` (at least 32 characters; production refuses to start without it, like the JWT
keys). In development, when it is unset, a key is generated once into the data folder (``audit_key``), so the
references stay the same across restarts. Changing the key makes earlier references unmatchable: keep it like
the other secrets, and rotate it only with the trail archived.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from functools import lru_cache
from pathlib import Path

from simpul.settings import Environment, Settings

DEVELOPMENT_KEY_FILE = "audit_key"


class PersonRefs:
    """Turns a NIK into its reference in the audit trail."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the audit key must be at least 32 bytes")
        self._key = key

    @classmethod
    def from_settings(cls, settings: Settings) -> PersonRefs:
        if settings.audit_key is not None:
            return cls(settings.audit_key.get_secret_value().encode("utf-8"))
        if settings.environment is not Environment.development:
            raise ValueError("SIMPUL_AUDIT_KEY is required outside development")
        return cls(_development_key(settings.data_dir.resolve()))

    def of(self, nik: str) -> str:
        return hmac.new(self._key, nik.encode("utf-8"), hashlib.sha256).hexdigest()


@lru_cache(maxsize=8)
def _development_key(data_dir: Path) -> bytes:
    """Generated once into the data folder. Several server processes may share the folder (tests do): the key is
    written to a file of its own and linked into place, so every process reads the one that won, never half of
    one."""
    path = data_dir / DEVELOPMENT_KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        draft = data_dir / f".{DEVELOPMENT_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        draft.write_text(secrets.token_urlsafe(48))
        draft.chmod(0o600)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip().encode("utf-8")
