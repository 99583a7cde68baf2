"""Engine and session factory, and which database errors mean "unavailable, try again".

SQLite gets WAL, foreign keys and a busy timeout; PostgreSQL a connect
timeout, a lock timeout and a ping of pooled connections that sat idle (a
connection that died with the server is replaced on the next checkout, so
service resumes by itself; see ``_ping_when_idle``). The
timeouts are short on purpose: a request that cannot get the database answers
503 with Retry-After (``database_unavailable``) instead of holding the client.
``hide_parameters``: a database error's text (logged with its traceback) never
carries the statement's values, which are patients' and staff's data.
"""
from __future__ import annotations

import math
import time
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool


def make_engine(url: str, *, busy_timeout: float = 5.0, connect_timeout: float = 5.0,
                unpooled: bool = False, ping_after_idle: float = 1.0) -> Engine:
    """``busy_timeout``: seconds a statement waits for another transaction's lock before failing.

    ``ping_after_idle``: a pooled PostgreSQL connection idle longer than this is pinged before use.

    ``unpooled``: a connection per use, outside the request pool, for work that may run while a
    request holds a pooled connection and waits for it (a lazily built gateway), so it can never
    starve the pool.
    """
    pool: dict[str, Any] = {"poolclass": NullPool} if unpooled else {}
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": busy_timeout}, hide_parameters=True, **pool)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # Deleted or overwritten content is zeroed, not left in free pages: destroyed personal data (a
            # settled declaration, docs/rules.md §7) must not be readable in the file afterwards. Cheaper than a
            # VACUUM after each destruction (which rewrites the whole file under an exclusive lock).
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            cursor.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    connect_args: dict[str, Any] = {"connect_timeout": max(2, math.ceil(connect_timeout)),  # libpq's minimum is 2
                                    "options": f"-c lock_timeout={int(busy_timeout * 1000)}"}
    _cache_long_statements()
    engine = create_engine(url, connect_args=connect_args, hide_parameters=True, **pool)
    if not unpooled:
        _ping_when_idle(engine, ping_after_idle)
    return engine


#: The hot path's longest statement, a submission's one write on PostgreSQL (adapters/ledger.py), is ~3.5 KB with
#: ~70 parameters, and longer with more audit rows; these bounds leave room.
CACHED_STATEMENT_LENGTH = 16384
CACHED_STATEMENT_PARAMS = 256


def _cache_long_statements() -> None:
    """Let psycopg cache its conversion of our longer statements (``%(name)s`` → ``$n``).

    psycopg converts a statement on every execution and remembers the conversion (an LRU of 128) only for one
    of at most 4096 bytes and 50 parameters, against the varying multi-row INSERTs ORMs generate. The hot path's
    writes are one statement per shape, built once (docs/performance.md): a handful of shapes, each converted
    anew in ~0.15 ms per submission. The trade: the bounds are psycopg module settings, not a public API (a test
    pins that the write is cached, so an upgrade that moves them fails there)."""
    from psycopg import _queries as psycopg_queries  # only where PostgreSQL is used

    psycopg_queries.MAX_CACHED_STATEMENT_LENGTH = max(psycopg_queries.MAX_CACHED_STATEMENT_LENGTH,
                                                      CACHED_STATEMENT_LENGTH)
    psycopg_queries.MAX_CACHED_STATEMENT_PARAMS = max(psycopg_queries.MAX_CACHED_STATEMENT_PARAMS,
                                                      CACHED_STATEMENT_PARAMS)


def _ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Ping a pooled connection before use only if it sat idle for ``idle_seconds`` (``pool_pre_ping`` pings on
    every checkout: a round trip per checkout, two or more per request).

    A connection used a moment ago is almost surely alive; one that sat idle may have been dropped by a
    database restart, a proxy or a firewall, and is replaced before a request sees it (the pool retries the
    checkout on ``DisconnectionError``). The trade: a connection that dies while the pool is busy (a restart
    under load) fails the statement that uses it. That request answers 503 with Retry-After (never 500:
    ``database_unavailable``), and SQLAlchemy then invalidates the whole pool, so the next requests reconnect
    (docs/performance.md).
    """

    @event.listens_for(engine, "checkin")
    def _note_idle_since(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return  # new (just connected) or used a moment ago
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # noqa: BLE001 - any failure of the ping means the connection is gone
            raise sa_exc.DisconnectionError() from error
        if not alive:
            raise sa_exc.DisconnectionError()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


# PostgreSQL SQLSTATEs of a database that is unreachable, shutting down, overloaded or locked
# (class 08 connection exception, class 53 insufficient resources, 57P0x shutdown / cannot connect now,
# 55P03 lock not available, 57014 statement/lock wait cancelled, 40001/40P01 serialization failure/deadlock).
_PG_UNAVAILABLE_PREFIXES = ("08", "53", "57P")
_PG_UNAVAILABLE_STATES = {"55P03", "57014", "40001", "40P01"}
# SQLite extended result codes of a locked, unopenable or failing database file (not a programming error).
_SQLITE_UNAVAILABLE_PREFIXES = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_FULL",
                                "SQLITE_PROTOCOL")
_SQLITE_UNAVAILABLE_MESSAGES = ("database is locked", "database table is locked", "unable to open database file",
                                "disk i/o error", "database or disk is full")


def database_unavailable(error: BaseException) -> bool:
    """True when ``error`` means the database cannot serve now (down, restarting, locked, full of connections).

    False for what a retry cannot fix: integrity errors, bad SQL, a missing table or column.
    """
    if isinstance(error, sa_exc.TimeoutError):  # no pooled connection freed in time
        return True
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    if error.connection_invalidated:  # SQLAlchemy recognised a disconnect
        return True
    if not isinstance(error, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.InternalError)):
        return False
    orig = error.orig
    sqlstate = getattr(orig, "sqlstate", None)
    if type(orig).__module__.startswith("psycopg"):
        if sqlstate is None:  # no server answer at all: refused, reset, closed
            return True
        return sqlstate.startswith(_PG_UNAVAILABLE_PREFIXES) or sqlstate in _PG_UNAVAILABLE_STATES
    name = getattr(orig, "sqlite_errorname", None)
    if isinstance(name, str) and name.startswith(_SQLITE_UNAVAILABLE_PREFIXES):
        return True
    return str(orig).strip().lower() in _SQLITE_UNAVAILABLE_MESSAGES
