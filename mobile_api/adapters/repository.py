"""Repositories and the unit of work: the services' only door to the database.

Services open ``with runtime.uow() as uow:``, use the repositories and call
``uow.commit()`` explicitly; leaving the block without a commit rolls back.
A duplicate (unique violation) on commit or flush is raised as the domain's
``DuplicateRecord``, named after its constraint (``integrity.py``), so no call
site catches driver exceptions.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Generic, NoReturn, TypeVar

from sqlalchemy import bindparam, case, delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ..domain.codes import HOLDING_STATUSES, VALID_STATUSES
from ..domain.errors import NotFound
from ..domain.facility import FacilityKind, InstitutionFacts
from . import integrity, orm
from .housekeeping import Housekeeping

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

    def owned(self, id_: Any, institution_id: str, missing: str) -> T:
        """The row if it exists AND belongs to the institution; otherwise ``NotFound`` with ``missing`` (Japanese),
        so another tenant's id reads exactly as a missing one (404) at every call site."""
        obj = self.session.get(self.model, id_)
        if obj is None or getattr(obj, "institution_id", None) != institution_id:
            raise NotFound(missing)
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
        """Spend an activation code atomically: exactly one enrolment can win it.

        The code's hash stays on the enrolled device, so a second use is told apart from a wrong code."""
        result = self.session.execute(
            update(orm.Device)
            .where(orm.Device.id == device_id, orm.Device.activation_code_hash == code_hash,
                   orm.Device.enrolled_at.is_(None), orm.Device.revoked_at.is_(None),
                   orm.Device.activation_expires_at > now)
            .values(public_key_pem=public_key_pem, enrolled_at=now, activation_expires_at=None))
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
    def facts(self, institution_id: str) -> InstitutionFacts | None:
        row = self.session.execute(select(orm.Institution.code, orm.Institution.facility_kind)
                                   .where(orm.Institution.id == institution_id)).first()
        return None if row is None else InstitutionFacts(row.code, FacilityKind(row.facility_kind))

    def has_visual_password(self, institution_id: str) -> bool:
        return self.session.scalar(select(orm.Institution.visual_password_hash.is_not(None))
                                   .where(orm.Institution.id == institution_id)) is True

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


_IDEMPOTENCY_RECORD = select(orm.IdempotencyRecord).where(
    orm.IdempotencyRecord.institution_id == bindparam("institution_id"),
    orm.IdempotencyRecord.scope == bindparam("scope"), orm.IdempotencyRecord.key == bindparam("key")).limit(1)
_OPEN_RELATIONSHIP = (
    select(orm.CareRelationship)
    .where(orm.CareRelationship.institution_id == bindparam("institution_id"),
           orm.CareRelationship.person_ref == bindparam("person_ref"), orm.CareRelationship.ended_at.is_(None))
    .order_by(orm.CareRelationship.last_visit_at.desc(), orm.CareRelationship.opened_at.desc(),
              orm.CareRelationship.id.desc())
    .limit(1))


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
    def earlier_of_patient(self, institution_id: str, patient_reference: str, *,
                           before: datetime, valid_only: bool) -> orm.Visit | None:
        """The patient's latest visit before ``before`` that holds a qualification (statuses 1 and 6 with
        ``valid_only``; 1, 2, 3 and 6 otherwise): what "the institution already holds" means (docs/rules.md §5)."""
        statuses = [int(s) for s in (VALID_STATUSES if valid_only else HOLDING_STATUSES)]
        v = orm.Visit
        return self.session.scalars(
            select(v).where(v.institution_id == institution_id, v.patient_reference == patient_reference,
                            v.created_at < before, v.eligibility_status.in_(statuses))
            .order_by(v.created_at.desc()).limit(1)).first()

    def between(self, institution_id: str, since: datetime, until: datetime) -> Sequence[orm.Visit]:
        """The institution's visits with ``since <= created_at < until``, oldest first."""
        v = orm.Visit
        return self.list_by(v.created_at >= since, v.created_at < until, order_by=v.created_at,
                            institution_id=institution_id)

    def count_by_method(self, institution_id: str, since: datetime, until: datetime) -> dict[str, int]:
        """How many of the institution's visits with ``since <= created_at < until`` each method made (the
        usage rate, docs/rules.md §4, the usage rate): one grouped count, no rows."""
        v = orm.Visit
        rows = self.session.execute(select(v.method, func.count()).where(
            v.institution_id == institution_id, v.created_at >= since, v.created_at < until).group_by(v.method))
        return {str(method.value if hasattr(method, "value") else method): int(n) for method, n in rows}


class FallbackRecords(Repository[orm.FallbackRecord]):
    def confirmed_of_patient(self, institution_id: str, patient_reference: str, *,
                             before: date) -> orm.FallbackRecord | None:
        """The patient's latest record confirmed post hoc with a valid qualification, visited before ``before``."""
        rec = orm.FallbackRecord
        return self.session.scalars(
            select(rec).where(rec.institution_id == institution_id, rec.patient_reference == patient_reference,
                              rec.post_hoc_outcome == "confirmed", rec.visit_on < before)
            .order_by(rec.visit_on.desc(), rec.received_at.desc()).limit(1)).first()

    def count_confirmed(self, institution_id: str, since: datetime, until: datetime) -> int:
        """How many of the institution's records an identifier lookup confirmed online with
        ``since <= confirmed_at < until`` (the usage rate, docs/rules.md §4, the usage rate)."""
        rec = orm.FallbackRecord
        return int(self.session.scalar(select(func.count()).select_from(rec).where(
            rec.institution_id == institution_id, rec.confirmed_at >= since, rec.confirmed_at < until)) or 0)

    def awaiting_post_hoc(self, *, limit: int, institution_id: str | None = None) -> Sequence[orm.FallbackRecord]:
        """Records still waiting for post-hoc confirmation, oldest received first (all institutions by default)."""
        filters: dict[str, Any] = {"status": "pending_post_hoc"}
        if institution_id:
            filters["institution_id"] = institution_id
        return self.list_by(order_by=orm.FallbackRecord.received_at, limit=limit, **filters)

    def move(self, record_id: str, from_statuses: tuple[str, ...], **values: Any) -> bool:
        """Change a record only while it is in one of ``from_statuses`` (an atomic ``UPDATE ... WHERE``): a
        post-hoc run and a settlement racing for the same record cannot both win. The caller reloads it."""
        rec = orm.FallbackRecord
        result = self.session.execute(update(rec).where(rec.id == record_id, rec.status.in_(from_statuses))
                                      .values(**values))
        return result.rowcount == 1  # type: ignore[attr-defined]

    def reload(self, record: orm.FallbackRecord) -> None:
        """Read the row again, after ``move`` changed it in the database."""
        self.session.refresh(record)

    def release_freed_space(self) -> None:
        """After destroying personal data (a settled declaration), make sure no copy is left in the database
        files. SQLite runs with ``secure_delete`` (``db.py``), so the old row's bytes in the main file are zeroed
        as they are freed; but in WAL mode the page images written before are still in the ``-wal`` file until a
        checkpoint copies the new pages over and the log is truncated. A TRUNCATE checkpoint does both, outside
        any transaction; if a reader holds an old snapshot it does what it can now and the next checkpoint
        finishes. PostgreSQL: see docs/rules.md §7 (dead tuples until VACUUM)."""
        engine = self.session.get_bind()
        if engine.dialect.name != "sqlite":
            return
        with engine.connect() as connection:  # type: ignore[union-attr]
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


class AuditEvents(Repository[orm.AuditEvent]):
    """Audit rows are appended, never read back by the action that wrote them: ``append`` keeps them and the
    unit of work writes them all in one Core INSERT (executemany) when it flushes or commits, outside the
    ORM's unit of work, which spent more CPU on them than on the visit they audit (docs/performance.md)."""

    def __init__(self, session: Session, model: type[orm.AuditEvent]) -> None:
        super().__init__(session, model)
        self.pending: list[dict[str, Any]] = []

    def append(self, values: dict[str, Any]) -> None:
        self.pending.append(values)

    def _write_pending(self) -> None:
        if self.pending:
            rows, self.pending = self.pending, []
            self.session.execute(insert(orm.table_of(orm.AuditEvent)), rows)

    def search(self, institution_id: str, *, action: str | None = None, outcome: str | None = None,
               actor_user_id: str | None = None, actor_device_id: str | None = None,
               since: datetime | None = None, until: datetime | None = None,
               patient_reference: str | None = None, limit: int, offset: int) -> Sequence[orm.AuditEvent]:
        """A page of the institution's audit events, newest first; ``since`` inclusive, ``until`` exclusive;
        an empty filter value does not filter. ``patient_reference`` keeps the events whose target is one of
        the patient's visits or fallback records (by that reference) or a consent of the person those visits
        identified (a consent given on the patient's phone included)."""
        self._write_pending()  # the unit reads its own writes, as an autoflush would
        criteria: list[Any] = []
        if patient_reference:
            a, v, fb, c = orm.AuditEvent, orm.Visit, orm.FallbackRecord, orm.Consent
            visits_of = select(v.id).where(v.institution_id == institution_id,
                                           v.patient_reference == patient_reference)
            records_of = select(fb.id).where(fb.institution_id == institution_id,
                                             fb.patient_reference == patient_reference)
            persons = select(v.person_ref).where(v.institution_id == institution_id,
                                                 v.patient_reference == patient_reference,
                                                 v.person_ref.is_not(None))
            consents_of = select(c.id).where(c.institution_id == institution_id, c.person_ref.in_(persons))
            criteria.append(or_((a.target_type == "visit") & a.target_id.in_(visits_of),
                                (a.target_type == "fallback_record") & a.target_id.in_(records_of),
                                (a.target_type == "consent") & a.target_id.in_(consents_of)))
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

    def details_of(self, institution_id: str, action: str, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """The details of the institution's successful ``action`` events with ``since <= at < until`` (the usage
        rate counts identifier and card checks of machine clients from them, docs/rules.md §4, the usage rate)."""
        a = orm.AuditEvent
        return [dict(d or {}) for d in self.session.scalars(select(a.detail).where(
            a.institution_id == institution_id, a.action == action, a.outcome == "ok", a.at >= since,
            a.at < until))]


class DisasterDeclarations(Repository[orm.DisasterDeclaration]):
    def touching(self, first: date, last: date) -> Sequence[orm.DisasterDeclaration]:
        """Declarations whose days overlap ``first`` .. ``last`` (days in Japan, inclusive), oldest first."""
        d = orm.DisasterDeclaration
        return self.list_by(d.starts_on <= last, d.ends_on >= first, order_by=d.starts_on)

    def recent(self, *, limit: int, offset: int) -> Sequence[orm.DisasterDeclaration]:
        """A page of declarations, the latest start first."""
        d = orm.DisasterDeclaration
        return self.list_by(order_by=d.starts_on.desc(), limit=limit, offset=offset)


class ApiClients(Repository[orm.ApiClient]):
    def of_institution(self, institution_id: str) -> Sequence[orm.ApiClient]:
        """The institution's machine clients, oldest first."""
        return self.list_by(institution_id=institution_id, order_by=orm.ApiClient.created_at)


class ClientCredentials(Repository[orm.ApiClientCredential]):
    def active_of(self, client_id: str) -> Sequence[orm.ApiClientCredential]:
        """A client's unrevoked keys or secrets, oldest first (at most two)."""
        return self.list_by(orm.ApiClientCredential.revoked_at.is_(None), client_id=client_id,
                            order_by=orm.ApiClientCredential.created_at)


class BatchJobs(Repository[orm.BatchJob]):
    def take_lease(self, job_id: str, owner: str, *, now: datetime, until: datetime) -> bool:
        """Hold a queued or running job whose lease is free or expired: True for the one worker that wins it.
        (PostgreSQL: the row lock makes a concurrent renewal and a take run one after the other.)"""
        job = orm.BatchJob
        result = self.session.execute(
            update(job).where(job.id == job_id, job.state.in_(("queued", "running")),
                              or_(job.lease_until.is_(None), job.lease_until <= now))
            .values(lease_owner=owner, lease_until=until, state="running",
                    started_at=func.coalesce(job.started_at, now)))
        return result.rowcount == 1  # type: ignore[attr-defined]

    def advance(self, job_id: str, owner: str, *, done: int, failed: int, until: datetime) -> bool:
        """Count a chunk of rows and renew the lease, only while ``owner`` still holds a running job.
        Runs first in the chunk's transaction, so a worker that lost its lease writes nothing."""
        job = orm.BatchJob
        result = self.session.execute(
            update(job).where(job.id == job_id, job.lease_owner == owner, job.state == "running")
            .values(done=job.done + done, failed=job.failed + failed, lease_until=until))
        return result.rowcount == 1  # type: ignore[attr-defined]

    def finish(self, job_id: str, owner: str, *, now: datetime, results_expire_at: datetime) -> bool:
        job = orm.BatchJob
        result = self.session.execute(
            update(job).where(job.id == job_id, job.lease_owner == owner, job.state == "running")
            .values(state="done", finished_at=now, results_expire_at=results_expire_at, lease_owner=None,
                    lease_until=None))
        return result.rowcount == 1  # type: ignore[attr-defined]

    def cancel(self, job_id: str, *, now: datetime, results_expire_at: datetime) -> bool:
        """Cancel a job that has not finished: the worker sees it at its next chunk and stops."""
        job = orm.BatchJob
        result = self.session.execute(
            update(job).where(job.id == job_id, job.state.in_(("queued", "running")))
            .values(state="cancelled", finished_at=now, results_expire_at=results_expire_at))
        return result.rowcount == 1  # type: ignore[attr-defined]

    def orphaned(self, now: datetime) -> Sequence[str]:
        """Ids of unfinished jobs no live worker holds: queued ones, and running ones whose lease ran out."""
        job = orm.BatchJob
        return self.session.scalars(
            select(job.id).where(job.state.in_(("queued", "running")),
                                 or_(job.lease_until.is_(None), job.lease_until <= now))
            .order_by(job.created_at)).all()

    def expired(self, now: datetime) -> Sequence[orm.BatchJob]:
        """Finished jobs whose results are past their keeping time and not purged yet."""
        job = orm.BatchJob
        return self.list_by(job.results_expire_at <= now, job.purged_at.is_(None), order_by=job.results_expire_at)

    def of_institution(self, institution_id: str, *, limit: int, offset: int) -> Sequence[orm.BatchJob]:
        """A page of the institution's jobs, newest first."""
        j = orm.BatchJob
        return self.session.scalars(select(j).where(j.institution_id == institution_id)
                                    .order_by(j.created_at.desc(), j.id.desc()).limit(limit).offset(offset)).all()

    def rows_answered(self, institution_id: str, since: datetime, until: datetime) -> int:
        """Rows OQS answered (done minus row errors) in the institution's jobs created with
        ``since <= created_at < until`` (the usage rate, docs/rules.md §4, the usage rate); kept after the rows are purged."""
        j = orm.BatchJob
        return int(self.session.scalar(select(func.coalesce(func.sum(j.done - j.failed), 0)).where(
            j.institution_id == institution_id, j.created_at >= since, j.created_at < until)) or 0)

    def mark_purged(self, job_id: str, now: datetime) -> None:
        self.session.execute(update(orm.BatchJob).where(orm.BatchJob.id == job_id).values(purged_at=now))


class BatchRows(Repository[orm.BatchRow]):
    def add_all(self, job_id: str, rows: Sequence[dict[str, Any]]) -> None:
        """Insert a job's rows in one statement (``position``, ``reference``, ``request``), all pending."""
        if rows:
            self.session.execute(insert(orm.BatchRow),
                                 [{**row, "job_id": job_id, "status": "pending"} for row in rows])

    def pending(self, job_id: str, limit: int) -> Sequence[orm.BatchRow]:
        """The next pending rows of a job, in the order sent."""
        row = orm.BatchRow
        return self.session.scalars(select(row).where(row.job_id == job_id, row.status == "pending")
                                    .order_by(row.position).limit(limit)).all()

    def record_outcomes(self, outcomes: Sequence[dict[str, Any]], owner: str) -> int:
        """Write outcomes (``id``, ``status``, ``outcome``) of pending rows only; returns how many rows
        changed, so a caller can tell a row that was already written (never written twice)."""
        row = orm.BatchRow
        if not outcomes:
            return 0
        table = orm.table_of(row)
        stmt = (update(table).where(table.c.id == bindparam("b_id"), table.c.status == "pending")
                .values(status=bindparam("b_status"), outcome=bindparam("b_outcome"), processed_by=owner))
        result = self.session.connection().execute(
            stmt, [{"b_id": o["id"], "b_status": o["status"], "b_outcome": o["outcome"]} for o in outcomes])
        return int(result.rowcount)

    def page(self, job_id: str, *, limit: int, offset: int) -> Sequence[orm.BatchRow]:
        row = orm.BatchRow
        return self.session.scalars(select(row).where(row.job_id == job_id).order_by(row.position)
                                    .limit(limit).offset(offset)).all()

    def delete_of(self, job_id: str) -> int:
        """Delete a job's rows (retention): how many went."""
        result = self.session.execute(delete(orm.BatchRow).where(orm.BatchRow.job_id == job_id))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


class Consents(Repository[orm.Consent]):
    def withdraw_all(self, institution_id: str, person_ref: str, *, now: datetime, via: str) -> int:
        """Withdraw every consent of the patient at the institution not withdrawn yet, at once
        (one ``UPDATE``): how many were withdrawn."""
        c = orm.Consent
        result = self.session.execute(
            update(c).where(c.institution_id == institution_id, c.person_ref == person_ref,
                            c.withdrawn_at.is_(None))
            .values(withdrawn_at=now, withdrawn_via=via).execution_options(synchronize_session="fetch"))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def of_person(self, institution_id: str, person_ref: str) -> Sequence[orm.Consent]:
        """The patient's consents at the institution, newest first."""
        return self.list_by(institution_id=institution_id, person_ref=person_ref,
                            order_by=orm.Consent.registered_at.desc())


class IdempotencyRecords(Repository[orm.IdempotencyRecord]):
    def find(self, institution_id: str, scope: str, key: str) -> orm.IdempotencyRecord | None:
        """The outcome remembered under a key (a prebuilt statement: every submission asks)."""
        return self.session.scalars(_IDEMPOTENCY_RECORD, {"institution_id": institution_id, "scope": scope,
                                                          "key": key}).first()


class CareRelationships(Repository[orm.CareRelationship]):
    def latest_for(self, institution_id: str, person_ref: str) -> orm.CareRelationship | None:
        """The patient's relationship with the institution seen last (ended or not): an open one first (there is
        at most one, and it began after any that ended), then the most recent visit."""
        r = orm.CareRelationship
        return self.session.scalars(select(r).where(r.institution_id == institution_id, r.person_ref == person_ref)
                                    .order_by(r.ended_at.is_(None).desc(), r.last_visit_at.desc(),
                                              r.opened_at.desc(), r.id.desc())
                                    .limit(1)).first()

    def open_for(self, institution_id: str, person_ref: str) -> orm.CareRelationship | None:
        """The patient's relationship not ended by discharge or withdrawal (it may have gone idle).

        Read without flushing the unit's pending rows first: a verification asks this between adding its
        visit and linking the visit to the relationship, and a flush here would write the visit twice
        (INSERT, then UPDATE of ``care_relationship_id``). Relationships are only made after this read."""
        with self.session.no_autoflush:
            return self.session.scalars(_OPEN_RELATIONSHIP, {"institution_id": institution_id,
                                                             "person_ref": person_ref}).first()

    def discharge(self, relationship_id: str, *, now: datetime, note: str, ended_by: str | None) -> bool:
        """End an open relationship atomically: True for the one discharge that wins it.

        Refused (False) once ended, or when a visit was recorded after ``now`` (a re-query that committed after
        this caller read the clock): a discharge is never dated before a visit of the relationship."""
        r = orm.CareRelationship
        result = self.session.execute(
            update(r).where(r.id == relationship_id, r.ended_at.is_(None), r.last_visit_at <= now)
            .values(ended_at=now, end_reason="discharged", end_note=note, ended_by=ended_by)
            .execution_options(synchronize_session=False))
        return result.rowcount == 1  # type: ignore[attr-defined]

    def record_visit(self, relationship_id: str, now: datetime) -> bool:
        """Date a visit on the relationship if it is still open: True unless a discharge or withdrawal ended it
        first. The row stays locked until the caller commits, so a discharge waits for it (docs/rules.md §3.2).

        ``last_visit_at`` never moves back (a visit that read the clock earlier may commit later): a discharge
        compares its own time with the latest visit's."""
        r = orm.CareRelationship
        at = bindparam("at", now, type_=r.last_visit_at.type)
        result = self.session.execute(
            update(r).where(r.id == relationship_id, r.ended_at.is_(None))
            .values(last_visit_at=case((r.last_visit_at < at, at), else_=r.last_visit_at))
            .execution_options(synchronize_session=False))
        return result.rowcount == 1  # type: ignore[attr-defined]

    def reload(self, rel: orm.CareRelationship) -> None:
        """Read the row again, after a conditional update changed it in the database."""
        self.session.refresh(rel)

    def end_open(self, institution_id: str, person_ref: str, *, now: datetime, reason: str,
                 note: str | None = None, ended_by: str | None = None) -> list[datetime]:
        """End the patient's relationships not ended yet (e.g. on withdrawal): when each ended.

        Each ends at ``now``, or at its latest visit if that is later: a re-query holding the row
        (``record_visit``) is waited for, and the end is never dated before the visit it let in. The rows stay
        locked until the caller commits, so a re-query that has not dated its visit yet is refused
        (docs/rules.md §3.3)."""
        r = orm.CareRelationship
        at = bindparam("at", now, type_=r.ended_at.type)
        result = self.session.execute(
            update(r).where(r.institution_id == institution_id, r.person_ref == person_ref, r.ended_at.is_(None))
            .values(ended_at=case((r.last_visit_at > at, r.last_visit_at), else_=at), end_reason=reason,
                    end_note=note, ended_by=ended_by)
            .returning(r.ended_at).execution_options(synchronize_session="fetch"))
        return [ended for ended in result.scalars() if ended is not None]  # every row returned was just ended


class ConsentLinks(Repository[orm.ConsentLink]):
    def by_token_hash(self, token_hash: str) -> orm.ConsentLink | None:
        return self.one_by(token_hash=token_hash)

    def revoke(self, link_id: str, *, now: datetime, revoked_by: str | None) -> bool:
        """Revoke a link atomically: True for the one caller that found it live."""
        c = orm.ConsentLink
        result = self.session.execute(
            update(c).where(c.id == link_id, c.revoked_at.is_(None))
            .values(revoked_at=now, revoked_by=revoked_by).execution_options(synchronize_session=False))
        return result.rowcount == 1  # type: ignore[attr-defined]

    def reload(self, link: orm.ConsentLink) -> None:
        """Read the row again, after a conditional update changed it in the database."""
        self.session.refresh(link)

    def of_institution(self, institution_id: str, *, limit: int, offset: int) -> Sequence[orm.ConsentLink]:
        """A page of the institution's links, newest first."""
        return self.list_by(institution_id=institution_id, order_by=orm.ConsentLink.created_at.desc(),
                            limit=limit, offset=offset)


class PatientSessions(Repository[orm.PatientSession]):
    def by_token_hash(self, token_hash: str) -> orm.PatientSession | None:
        return self.one_by(token_hash=token_hash)

    def claim(self, session_id: str, now: datetime) -> bool:
        """Spend a pending session's challenge atomically: True for the one answer that wins it."""
        s = orm.PatientSession
        result = self.session.execute(update(s).where(s.id == session_id, s.status == "pending")
                                      .values(status="answering", answered_at=now))
        return result.rowcount == 1  # type: ignore[attr-defined]


class SignInLockouts(Repository[orm.SignInLockout]):
    """Failed sign-ins per account, client or source (services/lockout.py). Each change is one statement, so
    failures arriving together from many workers are all counted and exactly one of them sets the lock."""

    def locked_until(self, key: str, now: datetime) -> datetime | None:
        """When the lock on ``key`` ends, or None if it is not locked at ``now`` (a lock ends at its instant)."""
        lock = orm.SignInLockout
        return self.session.scalar(select(lock.locked_until).where(lock.key == key, lock.locked_until > now))

    def count_failure(self, key: str, *, now: datetime, window_start: datetime) -> int:
        """Count one failure (one upsert). A count older than ``window_start``, or one that already locked and
        whose lock has ended, starts again at 1; while locked nothing is counted. Returns the count."""
        lock = orm.SignInLockout
        table = orm.table_of(lock)
        dialect = self.session.get_bind().dialect.name
        make_insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        locked = table.c.locked_until > now
        restart = or_(table.c.window_started_at <= window_start, table.c.locked_until.is_not(None))
        upsert = make_insert(table).values(key=key, failures=1, window_started_at=now, locked_until=None)
        stmt = upsert.on_conflict_do_update(index_elements=[table.c.key], set_={
            "failures": case((locked, table.c.failures), (restart, 1), else_=table.c.failures + 1),
            "window_started_at": case((locked, table.c.window_started_at), (restart, now),
                                      else_=table.c.window_started_at),
            "locked_until": case((locked, table.c.locked_until), else_=None),
        }).returning(table.c.failures)
        return int(self.session.execute(stmt).scalar_one())

    def lock(self, key: str, *, max_failures: int, until: datetime) -> bool:
        """Lock ``key`` until ``until`` if it has ``max_failures``; True for the one call that locked it."""
        lock = orm.SignInLockout
        result = self.session.execute(update(lock).where(lock.key == key, lock.failures >= max_failures,
                                                         lock.locked_until.is_(None)).values(locked_until=until))
        return result.rowcount == 1  # type: ignore[attr-defined]

    def forget(self, key: str, now: datetime) -> None:
        """After a successful sign-in: the count starts again (a lock set meanwhile by a concurrent failure stays)."""
        lock = orm.SignInLockout
        self.session.execute(delete(lock).where(lock.key == key, or_(lock.locked_until.is_(None),
                                                                     lock.locked_until <= now)))

    def unlock(self, key: str) -> bool:
        """An administrator lifts the lock and the count; True if there was a lock or a count to lift."""
        lock = orm.SignInLockout
        return self.session.execute(delete(lock).where(lock.key == key)).rowcount == 1  # type: ignore[attr-defined]


class ConsoleSessions(Repository[orm.ConsoleSession]):
    def by_token_hash(self, token_hash: str) -> orm.ConsoleSession | None:
        return self.one_by(token_hash=token_hash)

    def end_where(self, now: datetime, reason: str, **filters: str) -> None:
        """End every live session of a user, a device, or one session (by ``id``), at once."""
        s = orm.ConsoleSession
        self.session.execute(update(s).filter_by(**filters).where(s.ended_at.is_(None))
                             .values(ended_at=now, end_reason=reason))


class UnitOfWork:
    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory

    def __enter__(self) -> UnitOfWork:
        self.session = self._session_factory()
        s = self.session
        self.institutions = Institutions(s, orm.Institution)
        self.users = Users(s, orm.User)
        self.devices = Devices(s, orm.Device)
        self.refresh_tokens = RefreshTokens(s, orm.RefreshToken)
        self.used_assertions = Repository(s, orm.UsedAssertion)
        self.challenges = Challenges(s, orm.Challenge)
        self.visits = Visits(s, orm.Visit)
        self.consents = Consents(s, orm.Consent)
        self.fallback_records = FallbackRecords(s, orm.FallbackRecord)
        self.idempotency = IdempotencyRecords(s, orm.IdempotencyRecord)
        self.audit = AuditEvents(s, orm.AuditEvent)
        self.api_clients = ApiClients(s, orm.ApiClient)
        self.client_credentials = ClientCredentials(s, orm.ApiClientCredential)
        self.used_client_assertions = Repository(s, orm.UsedClientAssertion)
        self.batch_jobs = BatchJobs(s, orm.BatchJob)
        self.batch_rows = BatchRows(s, orm.BatchRow)
        self.care_relationships = CareRelationships(s, orm.CareRelationship)
        self.consent_links = ConsentLinks(s, orm.ConsentLink)
        self.patient_sessions = PatientSessions(s, orm.PatientSession)
        self.disaster_declarations = DisasterDeclarations(s, orm.DisasterDeclaration)
        self.sign_in_lockouts = SignInLockouts(s, orm.SignInLockout)
        self.console_sessions = ConsoleSessions(s, orm.ConsoleSession)
        self.housekeeping = Housekeeping(s)  # the maintenance job's statements (services/maintenance.py)
        return self

    def __exit__(self, *exc: Any) -> None:
        # close() discards anything uncommitted without expiring what was loaded,
        # so results can still be read after the block.
        self.audit.pending.clear()
        self.session.close()

    def commit(self) -> None:
        """Commit; a unique violation becomes ``DuplicateRecord`` (see ``integrity``), rolled back."""
        try:
            self.session.flush()
            self.audit._write_pending()
            self.session.commit()
        except IntegrityError as exc:
            self._raise_duplicate(exc)

    def rollback(self) -> None:
        self.audit.pending.clear()
        self.session.rollback()

    def flush(self) -> None:
        """Flush; a unique violation becomes ``DuplicateRecord`` and the unit's pending work is rolled back."""
        try:
            self.session.flush()
            self.audit._write_pending()
        except IntegrityError as exc:
            self._raise_duplicate(exc)

    def _raise_duplicate(self, exc: IntegrityError) -> NoReturn:
        self.audit.pending.clear()
        self.session.rollback()
        duplicate = integrity.duplicate_from(exc)
        if duplicate is None:
            raise exc
        raise duplicate from exc
