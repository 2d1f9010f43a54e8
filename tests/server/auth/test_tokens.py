import time

import jwt
import pytest

from server.auth.tokens import KeyRing
from server.core.errors import Unauthorized


def ring(keys: dict[str, str], active: str, ttl: int = 900) -> KeyRing:
    return KeyRing(keys, active, audience="simpul", issuer="simpul", ttl_s=ttl)


def test_a_token_round_trips_with_its_kid():
    keys = ring({"k1": "a" * 40}, "k1")
    token = keys.issue(user_id=7, username="u", device_id="d")
    assert jwt.get_unverified_header(token)["kid"] == "k1"
    claims = keys.verify(token)
    assert (claims.user_id, claims.username, claims.device_id) == (7, "u", "d")


def test_rotation_old_tokens_verify_until_their_key_is_removed():
    old = ring({"k1": "a" * 40}, "k1").issue(user_id=1, username="u", device_id=None)
    rotated = ring({"k1": "a" * 40, "k2": "b" * 40}, "k2")
    assert rotated.verify(old).user_id == 1
    assert jwt.get_unverified_header(rotated.issue(user_id=1, username="u", device_id=None))["kid"] == "k2"
    with pytest.raises(Unauthorized):
        ring({"k2": "b" * 40}, "k2").verify(old)


def test_expired_tokens_are_refused():
    keys = ring({"k1": "a" * 40}, "k1", ttl=10)
    token = keys.issue(user_id=1, username="u", device_id=None, now=time.time() - 3600)
    with pytest.raises(Unauthorized, match="kedaluwarsa"):
        keys.verify(token)


def test_the_active_kid_must_exist():
    with pytest.raises(ValueError):
        ring({"k1": "a" * 40}, "k2")
