"""Per-client request limits on the `limits` library (the one behind Flask-Limiter), docs/health-check-api.md.

``RATE_LIMITS`` gives one limit per OAuth scope (``{"qualification:check": "600/minute"}``); each machine
client has its own counter per scope. The sign-in throttle (services/lockout.py) is one more scope, counted
per source address. ``RATE_LIMIT_STORAGE_URL`` says where the counters live:

- unset (default): this application's database (``DatabaseStorage``, table ``rate_limit_counters``), one
  counter per key for every worker and replica, changed by one atomic upsert, so two workers cannot both let
  the last request through. Nothing more to run.
- ``redis://host:6379/0`` (deploy/compose.yaml): the same, off the database, for busy deployments;
  `limits` updates it atomically (a Lua script). Memcached and MongoDB URLs work too.
- ``memory://``: in this process only, each gunicorn worker counting alone (a client would get N times its
  limit). Only when asked for explicitly, for tests and development.

The window is a moving window where the store supports one (memory, Redis), else a fixed window (the
database). The windows run on the store's own time (Redis expiry, ``time.time()``), not on the injected
clock: a limit is about real request rates, and a frozen test clock must not stop its windows from ending.

If the shared store cannot be reached the request is let through and a warning is logged: the limit
protects capacity, and a Redis outage must not stop qualification checks.
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from typing import Any, cast

from limits import RateLimitItem, parse
from limits.storage import MovingWindowSupport, Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter, RateLimiter
from sqlalchemy import CursorResult, Table, case, delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ..domain.errors import RateLimited
from . import orm

log = logging.getLogger(__name__)
NAMESPACE = "mobile-oqs"


class DatabaseStorage(Storage):
    """A `limits` store in this application's database: fixed-window counters in ``rate_limit_counters``, each
    hit one upsert (``INSERT … ON CONFLICT DO UPDATE … RETURNING``), atomic on SQLite and PostgreSQL alike."""

    STORAGE_SCHEME = None  # built by ``build_storage`` with the app's sessions, never from a URL
    PURGE_EVERY = 1000  # hits between two deletions of ended windows (one row per key otherwise stays)

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        super().__init__()
        self.session_factory = session_factory
        self.hits = 0

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        table = cast(Table, orm.RateLimitCounter.__table__)
        expired = table.c.expires_at <= now
        with self.session_factory() as session:
            make_insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
            insert = make_insert(table).values(key=key, count=amount, expires_at=now + expiry)
            stmt = insert.on_conflict_do_update(index_elements=[table.c.key], set_={
                "count": case((expired, amount), else_=table.c.count + amount),
                "expires_at": case((expired, now + expiry), else_=table.c.expires_at),
            }).returning(table.c.count)
            count = int(session.execute(stmt).scalar_one())
            self.hits += 1
            if self.hits % self.PURGE_EVERY == 0:
                session.execute(delete(orm.RateLimitCounter).where(orm.RateLimitCounter.expires_at <= now))
            session.commit()
            return count

    def _row(self, key: str) -> tuple[int, float] | None:
        counter = orm.RateLimitCounter
        with self.session_factory() as session:
            row = session.execute(select(counter.count, counter.expires_at)
                                  .where(counter.key == key, counter.expires_at > time.time())).first()
            return None if row is None else (int(row[0]), float(row[1]))

    def get(self, key: str) -> int:
        row = self._row(key)
        return 0 if row is None else row[0]

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        return time.time() if row is None else row[1]

    def check(self) -> bool:
        with self.session_factory() as session:
            session.execute(select(1))
            return True

    def reset(self) -> int | None:
        with self.session_factory() as session:
            removed = cast(CursorResult[Any], session.execute(delete(orm.RateLimitCounter))).rowcount
            session.commit()
            return int(removed)

    def clear(self, key: str) -> None:
        with self.session_factory() as session:
            session.execute(delete(orm.RateLimitCounter).where(orm.RateLimitCounter.key == key))
            session.commit()


def build_storage(storage_url: str | None, session_factory: sessionmaker[Session]) -> Storage:
    """``RATE_LIMIT_STORAGE_URL`` as a store: unset = this database, shared by every worker (the default)."""
    if not storage_url:
        return DatabaseStorage(session_factory)
    storage = storage_from_string(storage_url)
    if not isinstance(storage, Storage):  # an async:// URL: the limiter here is synchronous
        raise ValueError(f"RATE_LIMIT_STORAGE_URL names an asynchronous storage: {storage_url}")
    return storage


class RateLimits:
    def __init__(self, limits: Mapping[str, str], storage: Storage) -> None:
        self.items: dict[str, RateLimitItem] = {scope: parse(text) for scope, text in limits.items()}
        self.storage = storage
        self.limiter: RateLimiter = (MovingWindowRateLimiter(self.storage) if isinstance(self.storage, MovingWindowSupport)
                                     else FixedWindowRateLimiter(self.storage))

    def hit(self, scope: str, client_id: str, *, subject: str = "このクライアント") -> None:
        """Count one request of ``client_id`` (a client, or a source address) under ``scope``; over the limit,
        raise ``RateLimited`` (429) with ``retry_after`` = whole seconds until the window lets the next one
        through. ``subject`` names who is limited in the message."""
        item = self.items.get(scope)
        if item is None:
            return
        try:
            if self.limiter.hit(item, NAMESPACE, scope, client_id):
                return
            reset_at = self.limiter.get_window_stats(item, NAMESPACE, scope, client_id).reset_time
        except Exception as exc:  # noqa: BLE001 - the store is down: let the request through (module docstring)
            log.warning("rate limit store unavailable, request let through: %s", type(exc).__name__)
            return
        retry_after = max(1, math.ceil(reset_at - time.time()))
        raise RateLimited(f"{subject}の上限（{describe(item)}）を超えました。{retry_after}秒後に再度お試しください。",
                          limit=str(item), retry_after=retry_after)

    def reset(self) -> None:
        """Forget every counter (tests, or an operator lifting a block)."""
        self.storage.reset()


UNITS_JA = {"second": "秒", "minute": "分", "hour": "時間", "day": "日", "month": "か月", "year": "年"}


def describe(item: RateLimitItem) -> str:
    """``600/minute`` as 「1分あたり600回」."""
    unit = UNITS_JA.get(item.GRANULARITY.name, item.GRANULARITY.name)
    return f"{item.multiples}{unit}あたり{item.amount}回"


def build(limits: Mapping[str, str] | None, storage: Storage) -> RateLimits | None:
    """None when no limit is configured (``RATE_LIMITS`` empty)."""
    if not limits:
        return None
    return RateLimits(limits, storage)
