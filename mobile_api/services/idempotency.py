"""Idempotency-Key handling shared by every use case that creates something from a device.

A key is remembered per institution and scope with a hash of the request. The
same key with the same request answers as the first time; with a different
request it is refused. Across several workers the database's unique
constraint decides which of two concurrent retries wins; the loser answers
with the winner's result.
"""
from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from ..adapters import orm
from ..adapters.repository import UnitOfWork
from ..domain.errors import DomainError, DuplicateRecord, IdempotencyConflict, error_class_for
from .principal import Principal

T = TypeVar("T")


def request_hash(raw: Any) -> str:
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                           default=lambda v: base64.b64encode(v).decode() if isinstance(v, bytes) else str(v))
    return hashlib.sha256(canonical.encode()).hexdigest()


def find(uow: UnitOfWork, actor: Principal, scope: str, key: str, hashed: str) -> orm.IdempotencyRecord | None:
    stored = uow.idempotency.find(actor.institution_id, scope, key)
    if stored is not None and stored.request_hash != hashed:
        raise IdempotencyConflict(field="Idempotency-Key")
    return stored


def record_of(actor: Principal, scope: str, key: str, hashed: str, *, status: int, response: dict[str, Any],
              now: datetime) -> orm.IdempotencyRecord:
    """The outcome to remember under a key (written by the unit of work or the hot path's ledger)."""
    return orm.IdempotencyRecord(institution_id=actor.institution_id, scope=scope, key=key, request_hash=hashed,
                                 status_code=status, response=response, created_at=now)


def refusal_record(actor: Principal, scope: str, key: str, hashed: str, refusal: DomainError, *,
                   now: datetime) -> orm.IdempotencyRecord:
    return record_of(actor, scope, key, hashed, status=refusal.status, now=now,
                     response={"problem": {"slug": refusal.slug, "detail": refusal.detail, "extra": refusal.extra}})


def remember(uow: UnitOfWork, actor: Principal, scope: str, key: str, hashed: str, *, status: int,
             response: dict[str, Any], now: datetime) -> None:
    uow.idempotency.add(record_of(actor, scope, key, hashed, status=status, response=response, now=now))


def remember_refusal(uow: UnitOfWork, actor: Principal, scope: str, key: str, hashed: str, refusal: DomainError,
                     *, now: datetime) -> None:
    uow.idempotency.add(refusal_record(actor, scope, key, hashed, refusal, now=now))


def stored_refusal(record: orm.IdempotencyRecord) -> DomainError:
    """Rebuild a remembered refusal, so a retry is answered with the very same problem."""
    stored = record.response["problem"]
    return error_class_for(stored["slug"])(stored["detail"], **stored.get("extra", {}))


def commit_or_replay(uow: UnitOfWork, result: T, replay: Callable[[], T | None]) -> T:
    """Commit; if a concurrent request with the same key committed first, answer with its result."""
    try:
        uow.commit()
    except DuplicateRecord:  # the unit of work maps the unique violation (and has rolled back)
        uow.rollback()
        replayed = replay()
        if replayed is None:
            raise
        return replayed
    return result
