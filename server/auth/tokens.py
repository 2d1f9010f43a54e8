"""Access tokens (short-lived JWT) and the signing key ring.

Keys are HMAC-SHA256 secrets named by ``kid``. The active key signs; every key in the ring verifies, so a key can
be rotated by adding a new one, making it active, and removing the old one after the longest access-token life.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from server.core.errors import Unauthorized
from simpul.settings import Environment, Settings

ALGORITHM = "HS256"


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    username: str
    device_id: str | None
    expires_at: int


class KeyRing:
    def __init__(self, keys: dict[str, str], active_kid: str, *, audience: str, issuer: str, ttl_s: int) -> None:
        if active_kid not in keys:
            raise ValueError(f"active kid {active_kid!r} is not in the key ring")
        self._keys = keys
        self.active_kid = active_kid
        self.audience = audience
        self.issuer = issuer
        self.ttl_s = ttl_s

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        keys = {kid: key.get_secret_value() for kid, key in settings.jwt_keys.items()}
        active = settings.jwt_active_kid
        if not keys:
            if settings.environment is not Environment.development:
                raise ValueError("SIMPUL_JWT_KEYS is required outside development")
            keys, active = _development_keys(settings.data_dir)
        return cls(
            keys,
            active or sorted(keys)[-1],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            ttl_s=settings.access_token_ttl_s,
        )

    def issue(self, *, user_id: int, username: str, device_id: str | None, now: float | None = None) -> str:
        issued = int(now if now is not None else time.time())
        claims: dict[str, Any] = {
            "sub": str(user_id),
            "name": username,
            "aud": self.audience,
            "iss": self.issuer,
            "iat": issued,
            "exp": issued + self.ttl_s,
            "typ": "access",
        }
        if device_id:
            claims["device_id"] = device_id
        return jwt.encode(claims, self._keys[self.active_kid], algorithm=ALGORITHM, headers={"kid": self.active_kid})

    def verify(self, token: str) -> AccessClaims:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self._keys.get(kid) if isinstance(kid, str) else None
            if key is None:
                raise Unauthorized("Token ditandatangani dengan kunci yang tidak dikenal; silakan masuk lagi")
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],  # never "none", never what the token asks for
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "aud", "iss"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("Token kedaluwarsa; perbarui token atau masuk lagi") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"Token tidak sah ({exc}); silakan masuk lagi") from exc
        if claims.get("typ") != "access":
            raise Unauthorized("not an access token")
        subject = str(claims["sub"])
        if not (subject.isascii() and subject.isdigit() and len(subject) <= 18):
            raise Unauthorized("invalid token subject")
        user_id = int(subject)
        return AccessClaims(user_id, str(claims.get("name", "")), claims.get("device_id"), int(claims["exp"]))


def _development_keys(data_dir: Path) -> tuple[dict[str, str], str]:
    """A key generated once into the data folder, so tokens survive a restart of the development server."""
    path = data_dir / "jwt_keys.json"
    if path.exists():
        stored = json.loads(path.read_text())
        return stored["keys"], stored["active_kid"]
    data_dir.mkdir(parents=True, exist_ok=True)
    kid = time.strftime("dev-%Y%m%d")
    keys = {kid: secrets.token_urlsafe(48)}
    path.write_text(json.dumps({"keys": keys, "active_kid": kid}))
    path.chmod(0o600)
    return keys, kid
