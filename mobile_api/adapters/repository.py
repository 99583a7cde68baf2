"""Repositories and the unit of work: the services' only door to the database.

Services open ``with runtime.uow() as uow:``, use the repositories and call
``uow.commit()`` explicitly; leaving the block without a commit rolls back.
A duplicate (unique violation) on commit or flush is raised as the domain's
``DuplicateRecord``, named after its constraint (``integrity.py``), so no call
site catches driver exceptions.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, NoReturn, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from . import integrity, orm

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
        """Commit; a unique violation becomes ``DuplicateRecord`` (see ``integrity``), rolled back."""
        try:
            self.session.commit()
        except IntegrityError as exc:
            self._raise_duplicate(exc)

    def rollback(self) -> None:
        self.session.rollback()

    def flush(self) -> None:
        """Flush; a unique violation becomes ``DuplicateRecord`` and the unit's pending work is rolled back."""
        try:
            self.session.flush()
        except IntegrityError as exc:
            self._raise_duplicate(exc)

    def _raise_duplicate(self, exc: IntegrityError) -> NoReturn:
        self.session.rollback()
        duplicate = integrity.duplicate_from(exc)
        if duplicate is None:
            raise exc
        raise duplicate from exc
