"""Repositories and the unit of work: the services' only door to the database.

Services open ``with runtime.uow() as uow:``, use the repositories and call
``uow.commit()`` explicitly; leaving the block without a commit rolls back.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from . import orm

T = TypeVar("T", bound=orm.Base)


class Repository(Generic[T]):
    def __init__(self, session: Session, model: type[T]) -> None:
        self.session = session
        self.model = model

    def add(self, obj: T) -> T:
        self.session.add(obj)
        return obj

    def get(self, id_: Any) -> T | None:
        return self.session.get(self.model, id_)

    def get_for_update(self, id_: Any) -> T | None:
        return self.session.get(self.model, id_, with_for_update=True)

    def one_by(self, **filters: Any) -> T | None:
        return self.session.scalars(select(self.model).filter_by(**filters).limit(1)).first()

    def list_by(self, *criteria: Any, order_by: Any = None, limit: int | None = None,
                offset: int = 0, **filters: Any) -> Sequence[T]:
        stmt = select(self.model).filter_by(**filters).where(*criteria)
        if order_by is not None:
            stmt = stmt.order_by(order_by)
        if limit is not None:
            stmt = stmt.limit(limit).offset(offset)
        return self.session.scalars(stmt).all()


class UnitOfWork:
    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory

    def __enter__(self) -> "UnitOfWork":
        self.session = self._session_factory()
        s = self.session
        self.institutions = Repository(s, orm.Institution)
        self.users = Repository(s, orm.User)
        self.devices = Repository(s, orm.Device)
        self.refresh_tokens = Repository(s, orm.RefreshToken)
        self.used_assertions = Repository(s, orm.UsedAssertion)
        self.challenges = Repository(s, orm.Challenge)
        self.visits = Repository(s, orm.Visit)
        self.consents = Repository(s, orm.Consent)
        self.fallback_records = Repository(s, orm.FallbackRecord)
        self.idempotency = Repository(s, orm.IdempotencyRecord)
        self.audit = Repository(s, orm.AuditEvent)
        return self

    def __exit__(self, *exc: Any) -> None:
        # close() discards anything uncommitted without expiring what was loaded,
        # so results can still be read after the block.
        self.session.close()

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()

    def flush(self) -> None:
        self.session.flush()
