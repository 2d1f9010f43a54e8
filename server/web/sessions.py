"""Log-in sessions of the web pages: a server-side session behind an opaque cookie, and per-form CSRF tokens.

**Why server-side.** The pages are used from a browser, not a device: no refresh token belongs there. A random
session id in the cookie (only its SHA-256 is stored) lets a log-out, a disabled account or an administrator end the
session at once, works the same behind several server replicas (the table is shared), and keeps every secret out of
the cookie. The access JWT would have needed either a 15-minute hard log-out in the middle of a review, or a
long-lived bearer token sitting in a cookie.

**Lifetime.** A session ends after :data:`IDLE_TIMEOUT` without a request, and at the latest :data:`MAX_AGE` after the
log-in (a working day). ``last_seen_at`` is written at most once a minute, so reading pages costs no write each.

**The cookie** (:data:`COOKIE`) is ``HttpOnly`` (no script can read it), ``SameSite=Strict`` (no other site can make
the browser send it, which already stops cross-site form posts), ``Path=/web``, and ``Secure`` unless the page was
served over plain HTTP on the loopback interface (development): behind a TLS proxy the host is not loopback, so the
cookie is only ever sent over HTTPS.

**CSRF.** On top of SameSite, each form carries a token: HMAC-SHA256 of the form's action path under a random key
of the session (:func:`form_token`). A token is good for one form of one session only. The log-in form, before any
session exists, uses a double-submit token: a random value in a short-lived cookie (:data:`LOGIN_COOKIE`) that the
form must repeat.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.auth.models import User
from server.auth.passwords import verify_password
from sync.cases.tables import UtcDateTime
from sync.checkpoints import utcnow

COOKIE = "simpul_sesi"
LOGIN_COOKIE = "simpul_masuk"
COOKIE_PATH = "/web"
IDLE_TIMEOUT = timedelta(minutes=30)
MAX_AGE = timedelta(hours=10)
LOGIN_FORM_AGE = timedelta(minutes=30)
_TOUCH_EVERY = timedelta(minutes=1)
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


class WebSession(SQLModel, table=True):
    __tablename__ = "web_sessions"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, index=True, max_length=64)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    csrf_key: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime)


@dataclass(frozen=True, slots=True)
class ActiveSession:
    user: User
    csrf_key: str
    #: Shown in the page header; kept apart from ``user`` so an error page can still show it after a rollback
    #: (which expires the loaded user).
    name: str

    def token(self, action: str) -> str:
        return form_token(self.csrf_key, action)

    def check(self, action: str, presented: str) -> bool:
        return hmac.compare_digest(self.token(action), presented)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def form_token(key: str, action: str) -> str:
    digest = hmac.new(key.encode(), action.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def secure_cookie(scheme: str, host: str | None) -> bool:
    """``Secure`` everywhere except plain HTTP on loopback, where a development browser would drop it."""
    return not (scheme == "http" and (host or "") in LOOPBACK_HOSTS)


def new_login_token() -> str:
    return secrets.token_urlsafe(24)


async def authenticate(session: AsyncSession, username: str, password: str) -> User | None:
    """The active user with this password, or None (same time spent whether or not the user exists)."""
    user = (await session.exec(select(User).where(User.username == username))).first()
    if not verify_password(user.password_hash if user else None, password) or user is None or not user.active:
        return None
    return user


async def start(session: AsyncSession, user: User, now: datetime | None = None) -> str:
    """A new session for ``user``; returns the cookie value (shown once, stored only as a hash)."""
    assert user.id is not None
    moment = now or utcnow()
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            token_hash=_hash(token),
            user_id=user.id,
            csrf_key=secrets.token_urlsafe(32),
            created_at=moment,
            last_seen_at=moment,
            expires_at=moment + MAX_AGE,
        )
    )
    await session.flush()
    return token


async def resume(session: AsyncSession, token: str | None, now: datetime | None = None) -> ActiveSession | None:
    """The live session behind a cookie value, or None (unknown, idle too long, past its age, user disabled)."""
    if not token or len(token) > 200:
        return None
    moment = now or utcnow()
    row = (await session.exec(select(WebSession).where(WebSession.token_hash == _hash(token)))).first()
    if row is None:
        return None
    if row.expires_at <= moment or row.last_seen_at + IDLE_TIMEOUT <= moment:
        await session.delete(row)
        return None
    user = await session.get(User, row.user_id)
    if user is None or not user.active:
        await session.delete(row)
        return None
    if moment - row.last_seen_at >= _TOUCH_EVERY:
        row.last_seen_at = moment
        session.add(row)
    return ActiveSession(user, row.csrf_key, user.full_name or user.username)


async def end(session: AsyncSession, token: str | None) -> None:
    if token:
        await session.exec(delete(WebSession).where(col(WebSession.token_hash) == _hash(token)))


async def purge_expired(session: AsyncSession, now: datetime | None = None) -> None:
    """Drop sessions that can no longer be resumed (called at each log-in: the table stays small)."""
    moment = now or utcnow()
    await session.exec(
        delete(WebSession).where(
            (col(WebSession.expires_at) <= moment) | (col(WebSession.last_seen_at) <= moment - IDLE_TIMEOUT)
        )
    )
