"""Which failures are a dependency's outage (held, attempts not used up) and which may be the change's own (counted,
then parked): :func:`sync.worker.unavailable_dependency`, on the errors the handlers really raise."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import exc as sa_exc

from registries.errors import InvalidQuery
from replication.errors import CouchConflict, CouchNotFound, CouchUnavailable
from sync.worker import COUCHDB, STORE, HandlerTimeout, unavailable_dependency


class FakePsycopgError(Exception):
    """Stands for psycopg's OperationalError: its module and its ``sqlstate`` are what is looked at."""

    __module__ = "psycopg"

    def __init__(self, message: str, sqlstate: str | None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def sqlite_error(message: str) -> sa_exc.OperationalError:
    return sa_exc.OperationalError("INSERT INTO t VALUES (?)", ("x",), sqlite3.OperationalError(message))


def pg_error(sqlstate: str | None, *, invalidated: bool = False) -> sa_exc.DBAPIError:
    return sa_exc.OperationalError(
        "SELECT 1", None, FakePsycopgError("server closed", sqlstate), connection_invalidated=invalidated
    )


def wrapped(cause: BaseException) -> Exception:
    try:
        raise RuntimeError("the case could not be evaluated") from cause
    except RuntimeError as exc:
        return exc


@pytest.mark.parametrize(
    ("error", "dependency"),
    [
        (CouchUnavailable("get doc: ConnectError"), COUCHDB),
        (wrapped(CouchUnavailable("get doc: ReadTimeout")), COUCHDB),
        (sqlite_error("database is locked"), STORE),
        (sqlite_error("attempt to write a readonly database"), STORE),
        (sqlite_error("unable to open database file"), STORE),
        (sqlite_error("database or disk is full"), STORE),
        (sqlite3.OperationalError("database is locked"), STORE),
        (sa_exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached"), STORE),
        (pg_error(None), STORE),  # connection refused: no SQLSTATE
        (pg_error("08006"), STORE),  # connection failure
        (pg_error("57P01"), STORE),  # admin shutdown
        (pg_error("53100"), STORE),  # disk full
        (pg_error("25006"), STORE),  # read-only transaction: a standby
        (pg_error("40P01", invalidated=True), STORE),
        (wrapped(sqlite_error("attempt to write a readonly database")), STORE),
        # The change's own, or not known to be anyone else's: counted, then parked.
        (pg_error("57014"), None),  # a statement timeout: its own query may be at fault
        (pg_error("40P01"), None),  # a deadlock: retried, and counted
        (sqlite_error("no such table: t"), None),
        (sa_exc.IntegrityError("INSERT", None, sqlite3.IntegrityError("UNIQUE constraint failed: t.x")), None),
        (CouchConflict("put result: 409", status=409), None),
        (CouchNotFound("get doc: 404", status=404), None),
        (InvalidQuery("dukcapil", "malformed NIK"), None),
        (HandlerTimeout("verification took longer than 300s"), None),
        (ValueError("cannot digest"), None),
        (wrapped(ValueError("cannot digest")), None),
    ],
)
def test_the_kind_of_a_failure(error: BaseException, dependency: str | None) -> None:
    assert unavailable_dependency(error) == dependency
