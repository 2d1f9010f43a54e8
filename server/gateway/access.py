"""Who may replicate which database. Checked against the relational store on every request, so removing an
assignment takes effect on the next request, not when the token expires.

**Audit of replication reads.** A pendamping reads only the desa assigned to them, from the device that holds that
desa anyway: their requests are the hot path and write nothing (no query beyond the scope query). Every other role
the gateway admits (today the admin, who may replicate every desa) reads personal data of whole villages, so each of
their read requests on a desa database writes an audit row before anything is relayed: who (username, role), which
database (``detail.db``, ``detail.desa``), what kind of request (``detail.request``: ``_changes``, ``_all_docs``,
``_bulk_get``, ``_revs_diff``, ``document``, ``local_document``, ``design_document``, ``attachment``,
``database``; ``detail.method``) and when (``at``); action ``read``, resource ``sync_database``. No document id is
recorded (an id may be a natural key). A read is a GET or HEAD, or a POST to ``_changes``, ``_all_docs``,
``_bulk_get`` or ``_revs_diff``; writes are validated documents, not reads. If the row cannot be written, the read
is refused (503): no read of personal data goes unrecorded. The kind of request comes from
:func:`sync_request`, which the ``/sync`` endpoint sets around each request.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import and_, bindparam
from sqlalchemy import select as select_columns
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from agent_forms import wilayah
from replication.naming import desa_code_of_db, desa_db_name
from server.audit import service as audit
from server.audit.models import AuditAction
from server.auth.models import Assignment, RefreshToken, Role, User, utcnow
from server.auth.tokens import AccessClaims, KeyRing
from server.core.errors import BadRequest, Forbidden, ServiceUnavailable, Unauthorized
from server.gateway import paths

# The one query of every sync request: the user, whether the desa is assigned to them, and whether the token's
# device still holds a live refresh token. Built once; its parameters are bound per request.
_SCOPE_QUERY = (
    select_columns(
        col(User.username),
        col(User.role),
        col(User.active),
        col(Assignment.id),
        select_columns(col(RefreshToken.id))
        .where(
            col(RefreshToken.user_id) == col(User.id),
            col(RefreshToken.device_id) == bindparam("device_id"),
            col(RefreshToken.revoked_at).is_(None),
            col(RefreshToken.expires_at) > bindparam("now"),
        )
        .exists(),
    )
    .outerjoin(
        Assignment, and_(col(Assignment.user_id) == col(User.id), col(Assignment.region_code) == bindparam("desa"))
    )
    .where(col(User.id) == bindparam("user_id"))
)


class ScopeReader(Protocol):
    """Runs the scope query: ``(username, role, active, assignment id or None, device live)`` or None."""

    async def __call__(self, params: dict[str, Any]) -> Sequence[Any] | None: ...

    async def aclose(self) -> None: ...


class EngineScopeReader:
    """The scope query through SQLAlchemy's async engine: any backend (PostgreSQL in production)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def __call__(self, params: dict[str, Any]) -> Sequence[Any] | None:
        async with self.engine.connect() as connection:
            return (await connection.execute(_SCOPE_QUERY, params)).first()

    async def aclose(self) -> None:
        return None


class SqliteScopeReader:
    """The scope query on SQLite, straight through :mod:`sqlite3`, on one thread of its own.

    Through aiosqlite and SQLAlchemy the query cost about 1 ms of CPU per request (several hand-offs to
    aiosqlite's thread, SQLAlchemy's execution machinery) for a look-up SQLite answers in about 10 µs; here it is
    one hand-off, about 0.05 ms. (Running it on the event loop itself saved a little more per request but nothing
    the sync benchmark could show, so the loop never waits for SQLite.) The SQL is SQLAlchemy's own compilation of
    ``_SCOPE_QUERY`` for this dialect, and parameters go through the columns' own bind processors, so both
    readers ask exactly the same question. Autocommit: every query reads what was committed last (a logout, a
    removed assignment), never an older snapshot.
    """

    def __init__(self, path: str, dialect: Dialect) -> None:
        compiled = _SCOPE_QUERY.compile(dialect=dialect)
        self.path = path
        self._sql = str(compiled)
        self._order = list(compiled.positiontup or ())
        processors: dict[str, Callable[[Any], Any]] = {}
        for name, bind in compiled.binds.items():
            processor = bind.type.bind_processor(dialect)
            if processor is not None:
                processors[name] = processor
        self._processors = processors
        # One connection, used only from this one thread.
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="sync-scope")
        self._connection: sqlite3.Connection | None = None

    def _query(self, params: dict[str, Any]) -> Sequence[Any] | None:
        if self._connection is None:
            self._connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._connection.execute("PRAGMA busy_timeout=10000")
        values = [
            processor(params[name]) if (processor := self._processors.get(name)) else params[name]
            for name in self._order
        ]
        row: Sequence[Any] | None = self._connection.execute(self._sql, values).fetchone()
        return row

    async def __call__(self, params: dict[str, Any]) -> Sequence[Any] | None:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._query, params)

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def aclose(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=False)


def scope_reader(engine: AsyncEngine) -> ScopeReader:
    """The fastest reader of the scope query for this engine: sqlite3 directly for a SQLite file, else the engine."""
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:" and not database.startswith("file:"):
        return SqliteScopeReader(database, engine.dialect)
    return EngineScopeReader(engine)


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    role: Role
    device_id: str | None


@dataclass(frozen=True, slots=True)
class SyncRequest:
    """The method and raw path of the ``/sync`` request being answered: what an audit row says was asked."""

    method: str
    raw_path: bytes


_current_request: ContextVar[SyncRequest | None] = ContextVar("simpul_sync_request", default=None)

#: Database endpoints a POST reads from (the others write, or commit).
_READ_ENDPOINTS = frozenset({"_changes", "_all_docs", "_bulk_get", "_revs_diff"})


@contextmanager
def sync_request(method: str, raw_path: bytes) -> Iterator[None]:
    """Marks the ``/sync`` request the current task answers (one per request; a context variable, so concurrent
    requests never see each other's)."""
    token = _current_request.set(SyncRequest(method, raw_path))
    try:
        yield
    finally:
        _current_request.reset(token)


def _target(request: SyncRequest) -> paths.SyncPath | None:
    try:
        return paths.parse(request.raw_path.split(b"?", 1)[0])
    except BadRequest:
        return None


def read_kind(request: SyncRequest) -> str | None:
    """What ``request`` reads (``_changes``, ``document``, ...), or None when it is not a read."""
    target = _target(request)
    if target is None:
        return None
    match target.target:
        case paths.Target.database:
            kind = "database"
        case paths.Target.db_endpoint:
            kind = target.endpoint
        case paths.Target.document:
            kind = "local_document" if target.is_local else "design_document" if target.is_design else "document"
        case paths.Target.attachment:
            kind = "attachment"
        case _:
            return None
    if request.method in ("GET", "HEAD"):
        return kind
    if request.method == "POST" and kind in _READ_ENDPOINTS:
        return kind
    return None


def writes_documents(request: SyncRequest) -> bool:
    """Whether ``request`` writes documents of the database (not a replicator's `_local` checkpoint)."""
    target = _target(request) if request.method in ("POST", "PUT", "DELETE") else None
    if target is None:
        return False
    match target.target:
        case paths.Target.document:
            return not target.is_local
        case paths.Target.attachment:
            return True
        case paths.Target.db_endpoint:
            return target.endpoint == "_bulk_docs"
        case _:
            return False


class SyncAccess:
    def __init__(self, keys: KeyRing, sessions: async_sessionmaker[AsyncSession], scope: ScopeReader) -> None:
        self.keys = keys
        self.sessions = sessions
        self.scope = scope

    def claims(self, authorization: str | None) -> AccessClaims:
        if not authorization:
            raise Unauthorized("Belum masuk: header Authorization: Bearer <token> tidak ada")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Header Authorization harus berbentuk: Bearer <token>")
        return self.keys.verify(token.strip())

    async def principal(self, authorization: str | None) -> Principal:
        principal, _ = await self._lookup(self.claims(authorization), "")
        return principal

    async def database(self, authorization: str | None, db: str) -> tuple[Principal, str]:
        """The principal and the dotted desa code of ``db``, or Forbidden (never "not found": a replicator would
        then try to create the database)."""
        claims = self.claims(authorization)
        desa_code = desa_code_of_db(db) or ""
        principal, assigned = await self._lookup(claims, desa_code)
        if not desa_code:
            raise Forbidden(f"{db} bukan basis data desa di wilayah ini")
        if principal.role is Role.pendamping:
            if not assigned:
                raise Forbidden(f"{db}: desa ini tidak ditugaskan kepada {principal.username}")
            return principal, desa_code  # the hot path: nothing more to ask or write
        if principal.role is not Role.admin:
            raise Forbidden(f"role {principal.role.value} does not replicate desa databases")
        request = _current_request.get()
        if request is not None and writes_documents(request):
            # DESIGN.md: submissions come from the pendamping's devices; an admin reads, and writes users,
            # assignments and rule sets. Checkpoints (`_local`) are the replicator's own and stay allowed.
            raise Forbidden(f"role {principal.role.value} reads desa databases; only a pendamping's device writes")
        await self._audit_read(principal, db, desa_code)
        return principal, desa_code

    async def _audit_read(self, principal: Principal, db: str, desa_code: str) -> None:
        """One audit row per read request, committed before the read is relayed."""
        request = _current_request.get()
        kind = read_kind(request) if request is not None else "unknown"
        if kind is None:
            return
        row = audit.entry(
            principal,
            AuditAction.read,
            "sync_database",
            detail={
                "db": db,
                "desa": desa_code,
                "request": kind,
                "method": request.method if request is not None else None,
                "device_id": principal.device_id,
            },
        )
        try:
            async with self.sessions() as session:
                session.add(row)
                await session.commit()
        except SQLAlchemyError as exc:
            raise ServiceUnavailable("the audit trail cannot be written; try again") from exc

    async def _lookup(self, claims: AccessClaims, desa_code: str) -> tuple[Principal, bool]:
        """One query per request, never cached: a logout or a revoked device stops syncing at once, not when its
        access token expires."""
        row = await self.scope(
            {"user_id": claims.user_id, "desa": desa_code, "device_id": claims.device_id or "", "now": utcnow()}
        )
        if row is None or not row[2]:
            raise Unauthorized("Akun tidak ada lagi atau dinonaktifkan; hubungi admin")
        if not row[4]:
            raise Unauthorized("Perangkat ini sudah keluar atau dicabut aksesnya; silakan masuk lagi")
        # Role(...) takes both the enum (through SQLAlchemy) and its stored name (sqlite3: names equal values).
        return Principal(claims.user_id, row[0], Role(row[1]), claims.device_id), row[3] is not None

    async def databases(self, authorization: str | None) -> list[str]:
        """The desa databases this user replicates: a pendamping's assigned desa, every desa for an admin."""
        principal = await self.principal(authorization)
        if principal.role is Role.admin:
            return sorted(desa_db_name(desa.code) for desa in wilayah.desa_list())
        if principal.role is not Role.pendamping:
            return []
        async with self.sessions() as session:
            codes = (
                await session.exec(select(Assignment.region_code).where(Assignment.user_id == principal.user_id))
            ).all()
        return sorted(desa_db_name(code) for code in codes if desa_code_of_db(desa_db_name(code)))
