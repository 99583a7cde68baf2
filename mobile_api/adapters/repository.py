"""Repositories and the unit of work: the services' only door to the database.

Services open ``with runtime.uow() as uow:``, use the repositories and call
``uow.commit()`` explicitly; leaving the block without a commit rolls back.
A duplicate (unique violation) on commit or flush is raised as the domain's
``DuplicateRecord``, named after its constraint (``integrity.py``), so no call
site catches driver exceptions.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Generic, NoReturn, TypeVar

from sqlalchemy import func, select, update
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

    def get_owned(self, id_: Any, institution_id: str) -> T | None:
        """The row if it exists AND belongs to the institution: another tenant's id reads as missing."""
        obj = self.session.get(self.model, id_)
        if obj is None or getattr(obj, "institution_id") != institution_id:
            return None
        return obj

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


class Challenges(Repository[orm.Challenge]):
    def claim(self, challenge_id: str, now: datetime) -> bool:
        """Spend a challenge atomically: True for the one caller that found it unused."""
        result = self.session.execute(update(orm.Challenge)
                                      .where(orm.Challenge.id == challenge_id, orm.Challenge.used_at.is_(None))
                                      .values(used_at=now))
        return result.rowcount == 1  # type: ignore[attr-defined]


class Devices(Repository[orm.Device]):
    def of_institution(self, institution_id: str) -> Sequence[orm.Device]:
        """The institution's devices, oldest first."""
        return self.list_by(institution_id=institution_id, order_by=orm.Device.created_at)

    def reload(self, device: orm.Device) -> None:
        """Read the row again, after a conditional update changed it in the database."""
        self.session.refresh(device)

    def claim_activation(self, device_id: str, code_hash: str, *, public_key_pem: str, now: datetime) -> bool:
        """Spend an activation code atomically: exactly one enrolment can win it."""
        result = self.session.execute(
            update(orm.Device)
            .where(orm.Device.id == device_id, orm.Device.activation_code_hash == code_hash,
                   orm.Device.revoked_at.is_(None), orm.Device.activation_expires_at > now)
            .values(public_key_pem=public_key_pem, enrolled_at=now, activation_code_hash=None,
                    activation_expires_at=None))
        return result.rowcount == 1  # type: ignore[attr-defined]


class RefreshTokens(Repository[orm.RefreshToken]):
    def spend(self, token_id: str, now: datetime) -> bool:
        """Mark a refresh token used atomically: True for the one rotation that wins it."""
        result = self.session.execute(
            update(orm.RefreshToken)
            .where(orm.RefreshToken.id == token_id, orm.RefreshToken.used_at.is_(None),
                   orm.RefreshToken.revoked_at.is_(None))
            .values(used_at=now))
        return result.rowcount == 1  # type: ignore[attr-defined]

    def revoke_where(self, now: datetime, **filters: str) -> None:
        """Revoke every live token of a family, a user or a device."""
        self.session.execute(update(orm.RefreshToken).filter_by(**filters)
                             .where(orm.RefreshToken.revoked_at.is_(None)).values(revoked_at=now))


class Institutions(Repository[orm.Institution]):
    def lock(self, institution_id: str) -> None:
        """Hold the institution's row until commit, so that changes which must see each other
        (admins revoking admins) run one after another. PostgreSQL: ``SELECT ... FOR UPDATE``.
        SQLite ignores FOR UPDATE, so a no-op write takes its single writer lock instead."""
        if self.session.get_bind().dialect.name == "sqlite":
            self.session.execute(update(orm.Institution).where(orm.Institution.id == institution_id)
                                 .values(code=orm.Institution.code))
        else:
            self.session.execute(select(orm.Institution.id).where(orm.Institution.id == institution_id)
                                 .with_for_update())

    def count_visual_password_failure(self, institution_id: str, *, limit: int, now: datetime) -> tuple[int, bool]:
        """Count one wrong visual-mode password (an atomic ``failures = failures + 1``, so concurrent
        failures are all counted) and lock at ``limit``. Returns the count and whether THIS call
        locked it (True for exactly one caller)."""
        inst = orm.Institution
        self.session.execute(update(inst).where(inst.id == institution_id)
                             .values(visual_password_failures=inst.visual_password_failures + 1))
        locked = self.session.execute(
            update(inst).where(inst.id == institution_id, inst.visual_password_locked_at.is_(None),
                               inst.visual_password_failures >= limit)
            .values(visual_password_locked_at=now))
        failures = self.session.scalar(select(inst.visual_password_failures).where(inst.id == institution_id))
        return int(failures or 0), locked.rowcount == 1  # type: ignore[attr-defined]

    def reset_visual_password_failures(self, institution_id: str) -> bool:
        """After a right visual-mode password: count from zero again. False if it is locked
        (a lock set by a concurrent failure is not undone by a success)."""
        inst = orm.Institution
        result = self.session.execute(
            update(inst).where(inst.id == institution_id, inst.visual_password_locked_at.is_(None))
            .values(visual_password_failures=0))
        return result.rowcount == 1  # type: ignore[attr-defined]


class Users(Repository[orm.User]):
    def of_institution(self, institution_id: str) -> Sequence[orm.User]:
        """The institution's staff accounts, oldest first."""
        return self.list_by(institution_id=institution_id, order_by=orm.User.created_at)

    def count_active(self, institution_id: str, *, role: str) -> int:
        """Unrevoked accounts of the institution with this role."""
        return int(self.session.scalar(
            select(func.count()).select_from(orm.User)
            .where(orm.User.institution_id == institution_id, orm.User.role == role,
                   orm.User.revoked_at.is_(None))) or 0)


class Visits(Repository[orm.Visit]):
    def recent(self, institution_id: str, *, limit: int, offset: int,
               patient_reference: str | None = None) -> Sequence[orm.Visit]:
        """A page of the institution's visits, newest first, optionally for one patient reference."""
        filters: dict[str, Any] = {"institution_id": institution_id}
        if patient_reference:
            filters["patient_reference"] = patient_reference
        return self.list_by(order_by=orm.Visit.created_at.desc(), limit=limit, offset=offset, **filters)


class FallbackRecords(Repository[orm.FallbackRecord]):
    def recent(self, institution_id: str, *, limit: int, offset: int,
               status: str | None = None) -> Sequence[orm.FallbackRecord]:
        """A page of the institution's fallback records, newest received first, optionally in one status."""
        filters: dict[str, Any] = {"institution_id": institution_id}
        if status:
            filters["status"] = status
        return self.list_by(order_by=orm.FallbackRecord.received_at.desc(), limit=limit, offset=offset,
                            **filters)


class AuditEvents(Repository[orm.AuditEvent]):
    def search(self, institution_id: str, *, action: str | None = None, outcome: str | None = None,
               actor_user_id: str | None = None, actor_device_id: str | None = None,
               since: datetime | None = None, until: datetime | None = None, limit: int,
               offset: int) -> Sequence[orm.AuditEvent]:
        """A page of the institution's audit events, newest first; ``since`` inclusive, ``until`` exclusive;
        an empty filter value does not filter."""
        criteria: list[Any] = []
        if since is not None:
            criteria.append(orm.AuditEvent.at >= since)
        if until is not None:
            criteria.append(orm.AuditEvent.at < until)
        filters: dict[str, Any] = {"institution_id": institution_id}
        for name, value in (("action", action), ("outcome", outcome), ("actor_user_id", actor_user_id),
                            ("actor_device_id", actor_device_id)):
            if value:
                filters[name] = value
        return self.list_by(*criteria, order_by=orm.AuditEvent.id.desc(), limit=limit, offset=offset, **filters)


class UnitOfWork:
    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory

    def __enter__(self) -> "UnitOfWork":
        self.session = self._session_factory()
        s = self.session
        self.institutions = Institutions(s, orm.Institution)
        self.users = Users(s, orm.User)
        self.devices = Devices(s, orm.Device)
        self.refresh_tokens = RefreshTokens(s, orm.RefreshToken)
        self.used_assertions = Repository(s, orm.UsedAssertion)
        self.challenges = Challenges(s, orm.Challenge)
        self.visits = Visits(s, orm.Visit)
        self.consents = Repository(s, orm.Consent)
        self.fallback_records = FallbackRecords(s, orm.FallbackRecord)
        self.idempotency = Repository(s, orm.IdempotencyRecord)
        self.audit = AuditEvents(s, orm.AuditEvent)
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
