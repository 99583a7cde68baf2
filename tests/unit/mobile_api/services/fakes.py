"""In-memory stand-ins for what the services depend on, so that use cases get fast unit tests.

``FakeDatabase`` holds committed rows; each ``FakeUnitOfWork`` made from it behaves like the real
``UnitOfWork`` (mobile_api/adapters/repository.py) in what the services rely on:
- its repositories offer the same methods (``get``, ``owned``, ``one_by``, ``list_by`` with keyword
  filters, ``add`` and the named ones: ``claim``, ``claim_activation``, ``spend``, ``revoke_where``,
  ``recent``, ``search`` ...); ``test_fake_uow.py`` fails when the real ones gain a method the fake lacks;
- a unit sees its own uncommitted changes and the rows other units committed; ``commit`` publishes its
  changes (only the columns it changed), ``rollback`` and leaving the block without a commit discard
  everything since the last commit;
- unique constraints (primary keys, ``unique=True`` columns, ``UniqueConstraint``s, read from the ORM
  metadata) are checked on ``flush`` and ``commit`` and raise the same ``DuplicateRecord`` the real unit
  of work raises, named after the constraint (``integrity.duplicate_named``), after rolling back;
- conditional updates (spend a challenge, an activation code, a refresh token) test the row as last
  committed as well as the unit's own copy, as a database ``UPDATE ... WHERE`` would: a unit holding a
  stale copy loses to one that committed first;
- column defaults (ids, counters) are applied on ``add``; audit events get increasing integer ids;
  JSON columns are stored as JSON would store them.
Not modelled: locks and real concurrency (``Institutions.lock`` is a no-op), foreign keys, deletes.

``FakeOQS`` answers with canned results; ``TestCA`` issues JPKI-like user-auth certificates from an
in-memory CA, so the real chain and signature checks run. ``fake_runtime`` builds a real ``Runtime``
around them with a ``FrozenClock``, the real ``FacilityPolicy``, ``Passwords`` at low cost and a
``TokenService`` with a random 48-byte key.
"""
from __future__ import annotations

import copy
import itertools
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any, Generic, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import JSON, PrimaryKeyConstraint, UniqueConstraint
from sqlalchemy import inspect as sa_inspect

from mobile_api.adapters import integrity, orm
from mobile_api.adapters.ledger import CallerStanding, Verified
from mobile_api.adapters.oqs import ConfirmationRequest
from mobile_api.adapters.passwords import Passwords
from mobile_api.adapters.tokens import TokenService
from mobile_api.bootstrap import rules_from
from mobile_api.clock import FrozenClock
from mobile_api.config import DEFAULTS
from mobile_api.domain.codes import ConsentFlag, EligibilityStatus, InfoKind, Role
from mobile_api.domain.errors import NotFound, QualificationUnavailable
from mobile_api.domain.facility import FacilityKind, FacilityPolicy, InstitutionFacts
from mobile_api.domain.qualification import Qualification, QualificationResult
from mobile_api.runtime import Rules, Runtime
from mobile_api.services.principal import Principal

T = TypeVar("T", bound=orm.Base)
T0 = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)


# --- the unit of work -----------------------------------------------------------------------------

def _columns(model: type[orm.Base]) -> list[str]:
    return [attr.key for attr in sa_inspect(model).column_attrs]


def _primary_key(model: type[orm.Base]) -> str:
    """The single key column; for audit_events ``id`` (its key also holds ``at``, for the partitions)."""
    column, *partition_key = sa_inspect(model).primary_key
    assert [c.key for c in partition_key] in ([], ["at"]), model
    return column.key


@cache
def _unique_keys(model: type[orm.Base]) -> list[tuple[str, tuple[str, ...]]]:
    """(constraint name, columns) for every primary key, unique constraint and unique index of the table."""
    table = model.__table__  # type: ignore[attr-defined]
    found = [(str(c.name), tuple(col.name for col in c.columns)) for c in table.constraints
             if isinstance(c, (PrimaryKeyConstraint, UniqueConstraint))]
    found += [(str(i.name), tuple(col.name for col in i.columns)) for i in table.indexes if i.unique]
    return found


@cache
def _json_columns(model: type[orm.Base]) -> frozenset[str]:
    return frozenset(c.key for c in model.__table__.columns if isinstance(c.type, JSON))  # type: ignore[attr-defined]


class FakeDatabase:
    """Committed rows (column values by primary key, per model), shared by the units of work made from it."""

    def __init__(self) -> None:
        self.tables: dict[type[orm.Base], dict[Any, dict[str, Any]]] = {}
        self.commits = 0
        self._audit_ids = itertools.count(1)

    def uow(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self)

    def ledger(self) -> FakeLedger:
        return FakeLedger(self)

    def table(self, model: type[orm.Base]) -> dict[Any, dict[str, Any]]:
        return self.tables.setdefault(model, {})

    def rows(self, model: type[T], **filters: Any) -> list[T]:
        """Detached copies of the committed rows that match, in insertion order (for assertions)."""
        found = [model(**copy.deepcopy(values)) for values in self.table(model).values()]
        return [row for row in found if all(getattr(row, k) == v for k, v in filters.items())]

    def audit(self, **filters: Any) -> list[orm.AuditEvent]:
        return self.rows(orm.AuditEvent, **filters)

    def next_audit_id(self) -> int:
        return next(self._audit_ids)


class FakeUnitOfWork:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db
        self.committed = False  # True once commit() has succeeded
        self._loaded: dict[tuple[type[orm.Base], Any], tuple[orm.Base, dict[str, Any]]] = {}
        self._new: list[orm.Base] = []

    def __enter__(self) -> FakeUnitOfWork:
        self.institutions = FakeInstitutions(self, orm.Institution)
        self.users = FakeUsers(self, orm.User)
        self.devices = FakeDevices(self, orm.Device)
        self.refresh_tokens = FakeRefreshTokens(self, orm.RefreshToken)
        self.used_assertions = FakeRepository(self, orm.UsedAssertion)
        self.challenges = FakeChallenges(self, orm.Challenge)
        self.visits = FakeVisits(self, orm.Visit)
        self.consents = FakeConsents(self, orm.Consent)
        self.fallback_records = FakeFallbackRecords(self, orm.FallbackRecord)
        self.idempotency = FakeIdempotencyRecords(self, orm.IdempotencyRecord)
        self.audit = FakeAuditEvents(self, orm.AuditEvent)
        self.api_clients = FakeApiClients(self, orm.ApiClient)
        self.client_credentials = FakeClientCredentials(self, orm.ApiClientCredential)
        self.used_client_assertions = FakeRepository(self, orm.UsedClientAssertion)
        self.batch_jobs = FakeBatchJobs(self, orm.BatchJob)
        self.batch_rows = FakeBatchRows(self, orm.BatchRow)
        self.care_relationships = FakeCareRelationships(self, orm.CareRelationship)
        self.consent_links = FakeConsentLinks(self, orm.ConsentLink)
        self.patient_sessions = FakePatientSessions(self, orm.PatientSession)
        self.disaster_declarations = FakeDisasterDeclarations(self, orm.DisasterDeclaration)
        self.sign_in_lockouts = FakeSignInLockouts(self, orm.SignInLockout)
        self.console_sessions = FakeConsoleSessions(self, orm.ConsoleSession)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._discard()  # like Session.close(): uncommitted work is gone, loaded objects stay readable

    def commit(self) -> None:
        self._check_unique()
        for obj in self._new:
            self.db.table(type(obj))[self._pk(obj)] = self._stored(obj)
        for (model, pk), (obj, snapshot) in self._loaded.items():
            current = self._stored(obj)
            changed = {k: v for k, v in current.items() if v != snapshot.get(k)}
            if changed:
                self.db.table(model)[pk].update(changed)
        self.committed = True
        self.db.commits += 1
        self._discard()

    def rollback(self) -> None:
        self._discard()

    def flush(self) -> None:
        self._check_unique()

    # -- for the repositories

    def _discard(self) -> None:
        self._loaded.clear()
        self._new.clear()

    @staticmethod
    def _pk(obj: orm.Base) -> Any:
        return getattr(obj, _primary_key(type(obj)))

    @staticmethod
    def _stored(obj: orm.Base) -> dict[str, Any]:
        """The row as the database would keep it (JSON columns round-tripped through JSON)."""
        model = type(obj)
        values = {k: getattr(obj, k) for k in _columns(model)}
        for name in _json_columns(model):
            if values[name] is not None:
                values[name] = json.loads(json.dumps(values[name]))
        return copy.deepcopy(values)

    def _add(self, obj: orm.Base) -> None:
        model = type(obj)
        for column in model.__table__.columns:  # type: ignore[attr-defined]
            if getattr(obj, column.key) is None and column.default is not None:
                default = column.default.arg(None) if column.default.is_callable else column.default.arg
                setattr(obj, column.key, default)
        if model is orm.AuditEvent and obj.id is None:  # type: ignore[attr-defined]
            obj.id = self.db.next_audit_id()  # type: ignore[attr-defined]
        self._new.append(obj)

    def _get(self, model: type[T], pk: Any) -> T | None:
        if (model, pk) in self._loaded:
            return self._loaded[(model, pk)][0]  # type: ignore[return-value]
        for obj in self._new:
            if type(obj) is model and self._pk(obj) == pk:
                return obj  # type: ignore[return-value]
        values = self.db.table(model).get(pk)
        if values is None:
            return None
        obj = model(**copy.deepcopy(values))
        self._loaded[(model, pk)] = (obj, copy.deepcopy(values))
        return obj

    def _all(self, model: type[T]) -> list[T]:
        """Every row this unit can see: committed ones (as its own copies) and its new ones."""
        rows = [self._get(model, pk) for pk in list(self.db.table(model))]
        return [r for r in rows if r is not None] + [o for o in self._new if type(o) is model]  # type: ignore[misc]

    def _committed(self, obj: orm.Base) -> dict[str, Any] | None:
        return self.db.table(type(obj)).get(self._pk(obj))

    def _check_unique(self) -> None:
        touched = {type(o) for o in self._new} | {model for model, _ in self._loaded}
        for model in touched:
            rows = {pk: dict(values) for pk, values in self.db.table(model).items()}
            for (m, pk), (obj, _) in self._loaded.items():
                if m is model:
                    rows[pk] = self._stored(obj)
            new = [self._stored(o) for o in self._new if type(o) is model]
            everything = list(rows.values()) + new
            for name, columns in _unique_keys(model):
                seen: set[tuple[Any, ...]] = set()
                for values in everything:
                    key = tuple(values[c] for c in columns)
                    if None in key:
                        continue  # NULLs never collide in SQL
                    if key in seen:
                        self.rollback()
                        raise integrity.duplicate_named(name)
                    seen.add(key)


def _matches(obj: Any, filters: dict[str, Any]) -> bool:
    return all(getattr(obj, k) == v for k, v in filters.items())


def _page(rows: list[T], limit: int | None, offset: int) -> list[T]:
    return rows[offset:offset + limit] if limit is not None else rows


class FakeRepository(Generic[T]):
    def __init__(self, uow: FakeUnitOfWork, model: type[T]) -> None:
        self.uow = uow
        self.model = model

    def add(self, obj: T) -> T:
        self.uow._add(obj)
        return obj

    def get(self, id_: Any) -> T | None:
        return self.uow._get(self.model, id_)

    def owned(self, id_: Any, institution_id: str, missing: str) -> T:
        obj = self.get(id_)
        if obj is None or getattr(obj, "institution_id", None) != institution_id:
            raise NotFound(missing)
        return obj

    def one_by(self, **filters: Any) -> T | None:
        return next((o for o in self.uow._all(self.model) if _matches(o, filters)), None)

    def list_by(self, *criteria: Any, order_by: Any = None, limit: int | None = None, offset: int = 0,
                **filters: Any) -> list[T]:
        if criteria or order_by is not None:
            raise NotImplementedError("the fake filters by keyword only: give the repository a named method")
        return _page([o for o in self.uow._all(self.model) if _matches(o, filters)], limit, offset)

    def _where(self, predicate: Callable[[T], bool]) -> list[T]:
        return [o for o in self.uow._all(self.model) if predicate(o)]

    def _holds(self, obj: T, condition: Callable[[Any], bool]) -> bool:
        """An UPDATE ... WHERE: the condition must hold for the unit's copy and the row as last committed."""
        committed = self.uow._committed(obj)
        return condition(obj) and (committed is None or condition(_Row(committed)))


class FakeSignInLockouts(FakeRepository[orm.SignInLockout]):
    """The same rules as the real upsert and conditional updates (nothing runs concurrently here)."""

    def locked_until(self, key: str, now: datetime) -> datetime | None:
        row = self.get(key)
        return row.locked_until if row is not None and row.locked_until is not None and row.locked_until > now \
            else None

    def count_failure(self, key: str, *, now: datetime, window_start: datetime) -> int:
        row = self.get(key)
        if row is None:
            row = self.add(orm.SignInLockout(key=key, failures=1, window_started_at=now, locked_until=None))
        elif row.locked_until is not None and row.locked_until > now:
            pass
        elif row.window_started_at <= window_start or row.locked_until is not None:
            row.failures, row.window_started_at, row.locked_until = 1, now, None
        else:
            row.failures += 1
        return row.failures

    def lock(self, key: str, *, max_failures: int, until: datetime) -> bool:
        row = self.get(key)
        if row is None or row.failures < max_failures or row.locked_until is not None:
            return False
        row.locked_until = until
        return True

    def forget(self, key: str, now: datetime) -> None:
        row = self.get(key)
        if row is not None and (row.locked_until is None or row.locked_until <= now):
            self.uow.db.table(orm.SignInLockout).pop(key, None)
            self.uow._loaded.pop((orm.SignInLockout, key), None)

    def unlock(self, key: str) -> bool:
        row = self.get(key)
        if row is None:
            return False
        self.uow.db.table(orm.SignInLockout).pop(key, None)
        self.uow._loaded.pop((orm.SignInLockout, key), None)
        return True


class _Row:
    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


class FakeInstitutions(FakeRepository[orm.Institution]):
    def facts(self, institution_id: str) -> Any:
        from mobile_api.domain.facility import FacilityKind, InstitutionFacts

        inst = self.get(institution_id)
        return None if inst is None else InstitutionFacts(inst.code, FacilityKind(inst.facility_kind))

    def has_visual_password(self, institution_id: str) -> bool:
        inst = self.get(institution_id)
        return inst is not None and inst.visual_password_hash is not None

    def lock(self, institution_id: str) -> None:
        """Nothing runs concurrently here."""

    def count_visual_password_failure(self, institution_id: str, *, limit: int, now: datetime) -> tuple[int, bool]:
        inst = self.get(institution_id)
        assert inst is not None
        committed = self.uow._committed(inst) or {}
        inst.visual_password_failures = max(inst.visual_password_failures or 0,
                                            committed.get("visual_password_failures") or 0) + 1
        locked = self._holds(inst, lambda r: r.visual_password_locked_at is None) and \
            inst.visual_password_failures >= limit
        if locked:
            inst.visual_password_locked_at = now
        return inst.visual_password_failures, locked

    def reset_visual_password_failures(self, institution_id: str) -> bool:
        inst = self.get(institution_id)
        if inst is None or not self._holds(inst, lambda r: r.visual_password_locked_at is None):
            return False
        inst.visual_password_failures = 0
        return True


class FakeUsers(FakeRepository[orm.User]):
    def of_institution(self, institution_id: str) -> list[orm.User]:
        return sorted(self.list_by(institution_id=institution_id), key=lambda u: u.created_at)

    def count_active(self, institution_id: str, *, role: str) -> int:
        return len(self._where(lambda u: u.institution_id == institution_id and u.role == role
                               and u.revoked_at is None))


class FakeDevices(FakeRepository[orm.Device]):
    def of_institution(self, institution_id: str) -> list[orm.Device]:
        return sorted(self.list_by(institution_id=institution_id), key=lambda d: d.created_at)

    def reload(self, device: orm.Device) -> None:
        """The fake's conditional updates change the unit's own copy, so there is nothing to read again."""

    def claim_activation(self, device_id: str, code_hash: str, *, public_key_pem: str, now: datetime) -> bool:
        device = self.get(device_id)
        if device is None or not self._holds(device, lambda d: d.activation_code_hash == code_hash
                                             and d.enrolled_at is None
                                             and d.revoked_at is None and d.activation_expires_at is not None
                                             and d.activation_expires_at > now):
            return False
        device.public_key_pem, device.enrolled_at = public_key_pem, now
        device.activation_expires_at = None
        return True


class FakeRefreshTokens(FakeRepository[orm.RefreshToken]):
    def spend(self, token_id: str, now: datetime) -> bool:
        token = self.get(token_id)
        if token is None or not self._holds(token, lambda t: t.used_at is None and t.revoked_at is None):
            return False
        token.used_at = now
        return True

    def revoke_where(self, now: datetime, **filters: str) -> None:
        for token in self.list_by(**filters):
            if token.revoked_at is None:
                token.revoked_at = now


class FakeApiClients(FakeRepository[orm.ApiClient]):
    def of_institution(self, institution_id: str) -> list[orm.ApiClient]:
        return sorted(self._where(lambda c: c.institution_id == institution_id), key=lambda c: c.created_at)


class FakeClientCredentials(FakeRepository[orm.ApiClientCredential]):
    def active_of(self, client_id: str) -> list[orm.ApiClientCredential]:
        return sorted(self._where(lambda c: c.client_id == client_id and c.revoked_at is None),
                      key=lambda c: c.created_at)


class FakeBatchJobs(FakeRepository[orm.BatchJob]):
    def take_lease(self, job_id: str, owner: str, *, now: datetime, until: datetime) -> bool:
        job = self.get(job_id)
        if job is None or not self._holds(job, lambda j: j.state in ("queued", "running")
                                          and (j.lease_until is None or j.lease_until <= now)):
            return False
        job.lease_owner, job.lease_until, job.state = owner, until, "running"
        job.started_at = job.started_at or now
        return True

    def advance(self, job_id: str, owner: str, *, done: int, failed: int, until: datetime) -> bool:
        job = self.get(job_id)
        if job is None or not self._holds(job, lambda j: j.lease_owner == owner and j.state == "running"):
            return False
        job.done, job.failed, job.lease_until = job.done + done, job.failed + failed, until
        return True

    def finish(self, job_id: str, owner: str, *, now: datetime, results_expire_at: datetime) -> bool:
        job = self.get(job_id)
        if job is None or not self._holds(job, lambda j: j.lease_owner == owner and j.state == "running"):
            return False
        job.state, job.finished_at, job.results_expire_at = "done", now, results_expire_at
        job.lease_owner = job.lease_until = None
        return True

    def cancel(self, job_id: str, *, now: datetime, results_expire_at: datetime) -> bool:
        job = self.get(job_id)
        if job is None or not self._holds(job, lambda j: j.state in ("queued", "running")):
            return False
        job.state, job.finished_at, job.results_expire_at = "cancelled", now, results_expire_at
        return True

    def orphaned(self, now: datetime) -> list[str]:
        return [j.id for j in sorted(self._where(lambda j: j.state in ("queued", "running") and (
            j.lease_until is None or j.lease_until <= now)), key=lambda j: j.created_at)]

    def expired(self, now: datetime) -> list[orm.BatchJob]:
        return sorted(self._where(lambda j: j.results_expire_at is not None and j.results_expire_at <= now
                                  and j.purged_at is None), key=lambda j: j.results_expire_at)

    def of_institution(self, institution_id: str, *, limit: int, offset: int) -> list[orm.BatchJob]:
        return _page(sorted(self._where(lambda j: j.institution_id == institution_id),
                            key=lambda j: (j.created_at, j.id), reverse=True), limit, offset)

    def rows_answered(self, institution_id: str, since: datetime, until: datetime) -> int:
        return sum(j.done - j.failed for j in self._where(lambda j: j.institution_id == institution_id
                                                           and since <= j.created_at < until))

    def mark_purged(self, job_id: str, now: datetime) -> None:
        job = self.get(job_id)
        if job is not None:
            job.purged_at = now


class FakeBatchRows(FakeRepository[orm.BatchRow]):
    def add_all(self, job_id: str, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self.add(orm.BatchRow(id=len(self.uow._all(orm.BatchRow)) + 1, job_id=job_id, status="pending", **row))

    def pending(self, job_id: str, limit: int) -> list[orm.BatchRow]:
        return sorted(self._where(lambda r: r.job_id == job_id and r.status == "pending"),
                      key=lambda r: r.position)[:limit]

    def record_outcomes(self, outcomes: list[dict[str, Any]], owner: str) -> int:
        written = 0
        for item in outcomes:
            row = self.get(item["id"])
            if row is not None and row.status == "pending":
                row.status, row.outcome, row.processed_by = item["status"], item["outcome"], owner
                written += 1
        return written

    def page(self, job_id: str, *, limit: int, offset: int) -> list[orm.BatchRow]:
        rows = sorted(self._where(lambda r: r.job_id == job_id), key=lambda r: r.position)
        return rows[offset:offset + limit]

    def delete_of(self, job_id: str) -> int:
        raise NotImplementedError("the fake keeps rows; retention is tested on the real databases")


class FakeChallenges(FakeRepository[orm.Challenge]):
    def claim(self, challenge_id: str, now: datetime) -> bool:
        challenge = self.get(challenge_id)
        if challenge is None or not self._holds(challenge, lambda c: c.used_at is None):
            return False
        challenge.used_at = now
        return True


class FakeVisits(FakeRepository[orm.Visit]):
    def earlier_of_patient(self, institution_id: str, patient_reference: str, *,
                           before: datetime, valid_only: bool) -> orm.Visit | None:
        statuses = (1, 6) if valid_only else (1, 2, 3, 6)
        found = self._where(lambda v: v.institution_id == institution_id and v.patient_reference == patient_reference
                            and v.created_at < before and v.eligibility_status in statuses)
        return max(found, key=lambda v: v.created_at, default=None)

    def between(self, institution_id: str, since: datetime, until: datetime) -> list[orm.Visit]:
        return sorted(self._where(lambda v: v.institution_id == institution_id and since <= v.created_at < until),
                      key=lambda v: v.created_at)

    def count_by_method(self, institution_id: str, since: datetime, until: datetime) -> dict[str, int]:
        counts: dict[str, int] = {}
        for v in self.between(institution_id, since, until):
            counts[str(v.method)] = counts.get(str(v.method), 0) + 1
        return counts


class FakeFallbackRecords(FakeRepository[orm.FallbackRecord]):
    def confirmed_of_patient(self, institution_id: str, patient_reference: str, *,
                             before: date) -> orm.FallbackRecord | None:
        found = self._where(lambda r: r.institution_id == institution_id and r.patient_reference == patient_reference
                            and r.post_hoc_outcome == "confirmed" and r.visit_on is not None and r.visit_on < before)
        return max(found, key=lambda r: (r.visit_on, r.received_at), default=None)

    def count_confirmed(self, institution_id: str, since: datetime, until: datetime) -> int:
        return len(self._where(lambda r: r.institution_id == institution_id and r.confirmed_at is not None
                               and since <= r.confirmed_at < until))

    def awaiting_post_hoc(self, *, limit: int, institution_id: str | None = None) -> list[orm.FallbackRecord]:
        found = self._where(lambda r: r.status == "pending_post_hoc"
                            and (institution_id is None or r.institution_id == institution_id))
        return sorted(found, key=lambda r: r.received_at)[:limit]

    def move(self, record_id: str, from_statuses: tuple[str, ...], **values: Any) -> bool:
        record = self.get(record_id)
        if record is None or not self._holds(record, lambda r: r.status in from_statuses):
            return False
        for name, value in values.items():
            setattr(record, name, value)
        return True

    def reload(self, record: orm.FallbackRecord) -> None:
        """The fake's conditional updates change the unit's own copy, so there is nothing to read again."""

    def release_freed_space(self) -> None:
        """Nothing is kept in memory once a value is replaced."""


class FakeConsents(FakeRepository[orm.Consent]):
    def withdraw_all(self, institution_id: str, person_ref: str, *, now: datetime, via: str) -> int:
        count = 0
        for consent in self._where(lambda c: c.institution_id == institution_id and c.person_ref == person_ref):
            if self._holds(consent, lambda c: c.withdrawn_at is None):
                consent.withdrawn_at, consent.withdrawn_via = now, via
                count += 1
        return count

    def of_person(self, institution_id: str, person_ref: str) -> list[orm.Consent]:
        return sorted(self.list_by(institution_id=institution_id, person_ref=person_ref),
                      key=lambda c: c.registered_at, reverse=True)


class FakeCareRelationships(FakeRepository[orm.CareRelationship]):
    def latest_for(self, institution_id: str, person_ref: str) -> orm.CareRelationship | None:
        rows = self.list_by(institution_id=institution_id, person_ref=person_ref)
        return max(rows, key=lambda r: (r.ended_at is None, r.last_visit_at, r.opened_at, r.id), default=None)

    def open_for(self, institution_id: str, person_ref: str) -> orm.CareRelationship | None:
        rows = [r for r in self.list_by(institution_id=institution_id, person_ref=person_ref) if r.ended_at is None]
        return max(rows, key=lambda r: (r.last_visit_at, r.opened_at, r.id), default=None)

    def discharge(self, relationship_id: str, *, now: datetime, note: str, ended_by: str | None) -> bool:
        rel = self.get(relationship_id)
        if rel is None or not self._holds(rel, lambda r: r.ended_at is None and r.last_visit_at <= now):
            return False
        rel.ended_at, rel.end_reason, rel.end_note, rel.ended_by = now, "discharged", note, ended_by
        return True

    def record_visit(self, relationship_id: str, now: datetime) -> bool:
        rel = self.get(relationship_id)
        if rel is None or not self._holds(rel, lambda r: r.ended_at is None):
            return False
        rel.last_visit_at = max(rel.last_visit_at, now)
        return True

    def reload(self, rel: orm.CareRelationship) -> None:
        """The fake's conditional updates change the unit's own copy, so there is nothing to read again."""

    def end_open(self, institution_id: str, person_ref: str, *, now: datetime, reason: str,
                 note: str | None = None, ended_by: str | None = None) -> list[datetime]:
        ended = []
        for rel in self.list_by(institution_id=institution_id, person_ref=person_ref):
            if self._holds(rel, lambda r: r.ended_at is None):
                rel.ended_at = max(now, rel.last_visit_at)
                rel.end_reason, rel.end_note, rel.ended_by = reason, note, ended_by
                ended.append(rel.ended_at)
        return ended


class FakeConsentLinks(FakeRepository[orm.ConsentLink]):
    def by_token_hash(self, token_hash: str) -> orm.ConsentLink | None:
        return self.one_by(token_hash=token_hash)

    def revoke(self, link_id: str, *, now: datetime, revoked_by: str | None) -> bool:
        link = self.get(link_id)
        if link is None or not self._holds(link, lambda c: c.revoked_at is None):
            return False
        link.revoked_at, link.revoked_by = now, revoked_by
        return True

    def reload(self, link: orm.ConsentLink) -> None:
        """The fake's conditional updates change the unit's own copy, so there is nothing to read again."""

    def of_institution(self, institution_id: str, *, limit: int, offset: int) -> list[orm.ConsentLink]:
        return _page(sorted(self.list_by(institution_id=institution_id), key=lambda r: r.created_at,
                            reverse=True), limit, offset)


class FakePatientSessions(FakeRepository[orm.PatientSession]):
    def by_token_hash(self, token_hash: str) -> orm.PatientSession | None:
        return self.one_by(token_hash=token_hash)

    def claim(self, session_id: str, now: datetime) -> bool:
        session = self.get(session_id)
        if session is None or not self._holds(session, lambda s: s.status == "pending"):
            return False
        session.status, session.answered_at = "answering", now
        return True


class FakeConsoleSessions(FakeRepository[orm.ConsoleSession]):
    def by_token_hash(self, token_hash: str) -> orm.ConsoleSession | None:
        return self.one_by(token_hash=token_hash)

    def end_where(self, now: datetime, reason: str, **filters: str) -> None:
        for session in self.list_by(**filters):
            if session.ended_at is None:
                session.ended_at, session.end_reason = now, reason


class FakeIdempotencyRecords(FakeRepository[orm.IdempotencyRecord]):
    def find(self, institution_id: str, scope: str, key: str) -> orm.IdempotencyRecord | None:
        return self.one_by(institution_id=institution_id, scope=scope, key=key)


class FakeAuditEvents(FakeRepository[orm.AuditEvent]):
    def append(self, values: dict[str, Any]) -> None:
        self.add(orm.AuditEvent(**values))

    def search(self, institution_id: str, *, action: str | None = None, outcome: str | None = None,
               actor_user_id: str | None = None, actor_device_id: str | None = None,
               since: datetime | None = None, until: datetime | None = None,
               patient_reference: str | None = None, limit: int, offset: int) -> list[orm.AuditEvent]:
        filters: dict[str, Any] = {"institution_id": institution_id}
        targets: set[tuple[str, str]] | None = None
        if patient_reference:
            visits = [v for v in self.uow._all(orm.Visit)
                      if v.institution_id == institution_id and v.patient_reference == patient_reference]
            persons = {v.person_ref for v in visits if v.person_ref is not None}
            targets = ({("visit", v.id) for v in visits}
                       | {("fallback_record", r.id) for r in self.uow._all(orm.FallbackRecord)
                          if r.institution_id == institution_id and r.patient_reference == patient_reference}
                       | {("consent", c.id) for c in self.uow._all(orm.Consent)
                          if c.institution_id == institution_id and c.person_ref in persons})
        for name, value in (("action", action), ("outcome", outcome), ("actor_user_id", actor_user_id),
                            ("actor_device_id", actor_device_id)):
            if value:
                filters[name] = value
        rows = [e for e in self.list_by(**filters)
                if (since is None or e.at >= since) and (until is None or e.at < until)
                and (targets is None or (e.target_type, e.target_id) in targets)]
        return _page(sorted(rows, key=lambda e: e.id, reverse=True), limit, offset)

    def details_of(self, institution_id: str, action: str, since: datetime, until: datetime) -> list[dict[str, Any]]:
        return [dict(e.detail or {}) for e in self.list_by(institution_id=institution_id, action=action, outcome="ok")
                if since <= e.at < until]


class FakeDisasterDeclarations(FakeRepository[orm.DisasterDeclaration]):
    def touching(self, first: date, last: date) -> list[orm.DisasterDeclaration]:
        return sorted(self._where(lambda d: d.starts_on <= last and d.ends_on >= first), key=lambda d: d.starts_on)

    def recent(self, *, limit: int, offset: int) -> list[orm.DisasterDeclaration]:
        return _page(sorted(self._where(lambda d: True), key=lambda d: d.starts_on, reverse=True), limit, offset)


# --- the hot path's ledger --------------------------------------------------------------------------

def _detached(row: T | None) -> T | None:
    """A copy of the row as a plain value, as the real ledger reads one: changing it changes nothing stored."""
    return None if row is None else type(row)(**{k: getattr(row, k) for k in _columns(type(row))})


class FakeLedger:
    """The hot path's ledger (mobile_api/adapters/ledger.py) over the same in-memory rows: a fake unit of work
    underneath, so it sees what other units committed, checks the same unique constraints and commits the
    same way. What it reads is detached, as the real one's rows are: an update it does not write is lost."""

    def __init__(self, db: FakeDatabase) -> None:
        self._uow = FakeUnitOfWork(db).__enter__()
        self.audit = self._uow.audit

    def __enter__(self) -> FakeLedger:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._uow.__exit__(*exc)

    def commit(self) -> None:
        self._uow.commit()

    def rollback(self) -> None:
        self._uow.rollback()

    def challenge(self, challenge_id: str, institution_id: str) -> orm.Challenge | None:
        found = self._uow.challenges.get(challenge_id)
        return _detached(found) if found is not None and found.institution_id == institution_id else None

    def open_relationship(self, institution_id: str, person_ref: str) -> orm.CareRelationship | None:
        return _detached(self._uow.care_relationships.open_for(institution_id, person_ref))

    def visit_with_consent_and_relationship(self, visit_id: str, institution_id: str) -> Any:
        uow = self._uow
        visit = uow.visits.get(visit_id)
        if visit is None or visit.institution_id != institution_id:
            return None
        rel = uow.care_relationships.get(visit.care_relationship_id) if visit.care_relationship_id else None
        return tuple(_detached(row) for row in (visit, uow.consents.one_by(visit_id=visit.id), rel))

    def caller(self, user_id: str | None, device_id: str | None) -> CallerStanding:
        uow = self._uow
        user = uow.users.get(user_id) if user_id is not None else None
        if user_id is not None and user is None:
            return CallerStanding()
        device = uow.devices.get(device_id) if device_id is not None else None
        standing = CallerStanding()
        if user is not None:
            standing = replace(standing, user_institution_id=user.institution_id, user_role=user.role,
                               user_revoked_at=user.revoked_at, user_found=True)
        if device is not None:
            standing = replace(standing, device_institution_id=device.institution_id,
                               device_revoked_at=device.revoked_at, device_enrolled_at=device.enrolled_at,
                               device_found=True)
        owner = user.institution_id if user is not None else device.institution_id if device is not None else None
        if owner is not None:
            standing = replace(standing, institution=uow.institutions.facts(owner))
        return standing

    def institution_facts(self, institution_id: str) -> InstitutionFacts:
        facts = self._uow.institutions.facts(institution_id)
        assert facts is not None
        return facts

    def has_visual_password(self, institution_id: str) -> bool:
        return self._uow.institutions.has_visual_password(institution_id)

    def claim(self, challenge_id: str, now: Any) -> bool:
        return self._uow.challenges.claim(challenge_id, now)

    def add_challenge(self, challenge: orm.Challenge) -> None:
        self._uow.challenges.add(challenge)

    def remember(self, record: orm.IdempotencyRecord) -> None:
        self._uow.idempotency.add(record)

    def write_verified(self, verified: Verified) -> None:
        uow = self._uow
        uow.idempotency.add(verified.idempotency)
        uow.visits.add(verified.visit)
        if verified.ended_idle is not None:
            ended = uow.care_relationships.get(verified.ended_idle.id)
            assert ended is not None
            ended.ended_at, ended.end_reason = verified.ended_idle.ended_at, verified.ended_idle.end_reason
        rel = verified.relationship
        if rel is not None and verified.relationship_is_new:
            uow.care_relationships.add(rel)
        elif rel is not None:
            stored = uow.care_relationships.get(rel.id)
            assert stored is not None
            stored.card_visit_id, stored.last_visit_at = rel.card_visit_id, rel.last_visit_at
        if verified.consent is not None:
            uow.consents.add(verified.consent)
        for values in verified.audit:
            uow.audit.append(values)


# --- JPKI certificates from an in-memory CA --------------------------------------------------------

@cache
def _rsa_key(label: str) -> rsa.RSAPrivateKey:
    """One 2048-bit key per label for the whole test session (generating them is the slow part)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass(frozen=True)
class Card:
    key: rsa.RSAPrivateKey
    certificate_der: bytes

    def sign(self, message: bytes) -> bytes:
        """What a My Number card returns for the user-auth PIN: PKCS#1 v1.5 over SHA-256."""
        return self.key.sign(message, padding.PKCS1v15(), hashes.SHA256())


@dataclass(frozen=True)
class TestCA:
    __test__ = False  # not a pytest test class
    name: str = "JPKI unit-test user-auth CA"

    @property
    def key(self) -> rsa.RSAPrivateKey:
        return _rsa_key(f"ca:{self.name}")

    @property
    def subject(self) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                          x509.NameAttribute(NameOID.COMMON_NAME, self.name)])

    @property
    def certificate(self) -> x509.Certificate:
        return _ca_certificate(self)

    def issue(self, *, not_before: datetime = T0 - timedelta(days=365),
              not_after: datetime = T0 + timedelta(days=4 * 365), holder: str = "card") -> Card:
        key = _rsa_key(f"card:{holder}")
        cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP")]))
                .issuer_name(self.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(not_before).not_valid_after(not_after).sign(self.key, hashes.SHA256()))
        return Card(key, cert.public_bytes(serialization.Encoding.DER))


@cache
def _ca_certificate(ca: TestCA) -> x509.Certificate:
    return (x509.CertificateBuilder().subject_name(ca.subject).issuer_name(ca.subject)
            .public_key(ca.key.public_key()).serial_number(1)
            .not_valid_before(T0 - timedelta(days=3650)).not_valid_after(T0 + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(ca.key, hashes.SHA256()))


# --- OQS -----------------------------------------------------------------------------------------

def qualification() -> Qualification:
    return Qualification(
        insurance_card_kind="被保険者証", insurer_number="06139993", insurer_name="テスト健康保険組合", symbol="1",
        number="2", branch_number="00", relationship="insured", head_of_household_name=None, name="試験 花子",
        name_kana="シケン ハナコ", sex="2", birth_date=date(1950, 4, 1), address="東京都千代田区1-1",
        postcode="1000001", acquired_on=date(2020, 4, 1), lost_on=None, loss_reason=None,
        issued_on=date(2020, 4, 1), valid_from=date(2020, 4, 1), valid_until=None, copayment_ratio="030",
        preschool=False)


def valid_result(person_ref: str = "person-1") -> QualificationResult:
    return QualificationResult(status=EligibilityStatus.VALID, qualification=qualification(),
                               person_ref=person_ref, consent_flag=ConsentFlag.CONSENTED)


@dataclass
class FakeOQS:
    """Canned answers; ``unavailable=True`` makes every call raise ``QualificationUnavailable``."""

    anchors: list[x509.Certificate]
    result: QualificationResult = field(default_factory=valid_result)
    records: dict[InfoKind, list[dict[str, Any]]] = field(default_factory=lambda: {
        InfoKind.MEDICATION: [{"drug": "テストプリル錠", "dispensed_on": "2026-11-20"}]})
    unavailable: bool = False
    confirmations: list[ConfirmationRequest] = field(default_factory=list)
    requeries: list[Any] = field(default_factory=list)

    def confirm(self, request: ConfirmationRequest) -> QualificationResult:
        if self.unavailable:
            raise QualificationUnavailable()
        self.confirmations.append(request)
        return self.result

    def requery(self, request: Any) -> QualificationResult:
        if self.unavailable:
            raise QualificationUnavailable()
        self.requeries.append(request)
        return self.result

    def lookup(self, query: Any) -> QualificationResult:
        if self.unavailable:
            raise QualificationUnavailable()
        return self.result

    def medical_information(self, *, institution_code: str, person_ref: str, kind: InfoKind,
                            at: datetime) -> list[dict[str, Any]]:
        if self.unavailable:
            raise QualificationUnavailable()
        return copy.deepcopy(self.records.get(kind, []))

    def trust_anchors(self) -> list[x509.Certificate]:
        return list(self.anchors)


# --- a runtime and a tenant ----------------------------------------------------------------------

def default_rules(**changes: Any) -> Rules:
    return replace(rules_from(DEFAULTS), **changes)


def fake_runtime(db: FakeDatabase | None = None, *, clock: FrozenClock | None = None, oqs: Any = None,
                 rules: Rules | None = None, ca: TestCA | None = None) -> Runtime:
    db = db or FakeDatabase()
    clock = clock or FrozenClock(T0)
    return Runtime(
        uow=db.uow,  # type: ignore[arg-type]
        ledger=db.ledger,  # type: ignore[arg-type]
        clock=clock,
        oqs=oqs or FakeOQS(anchors=[(ca or TestCA()).certificate]),
        tokens=TokenService(keys={"unit": secrets.token_urlsafe(48)}, active_kid="unit",
                            issuer=DEFAULTS["JWT_ISSUER"], audience=DEFAULTS["JWT_AUDIENCE"],
                            access_ttl=timedelta(seconds=DEFAULTS["ACCESS_TOKEN_TTL_SECONDS"]), clock=clock),
        passwords=_passwords(),
        policy=FacilityPolicy(),
        rules=rules or default_rules(),
    )


@cache
def _passwords() -> Passwords:
    return Passwords(time_cost=1, memory_cost_kib=1024)


STAFF_PASSWORD = "staff-password-1"
VISUAL_PASSWORD = "mokushi-2026"


@dataclass(frozen=True)
class Tenant:
    institution_id: str
    code: str
    admin: Principal  # admin on no device
    nurse: Principal  # staff member on the tablet
    other_nurse: Principal  # another staff member on the same tablet
    device_id: str
    nurse_login: str = "nurse"


_codes = itertools.count(1)


def seed_tenant(rt: Runtime, *, facility_kind: FacilityKind = FacilityKind.HOME_VISIT_CARE,
                visual_password: str | None = None) -> Tenant:
    """An institution with an admin, two nurses and one enrolled tablet, written straight into the fake."""
    now = rt.clock()
    code = f"{9000000000 + next(_codes)}"
    with rt.uow() as uow:
        inst = uow.institutions.add(orm.Institution(
            code=code, name="テスト訪問看護ステーション", facility_kind=facility_kind.value, created_at=now,
            visual_password_hash=rt.passwords.hash(visual_password) if visual_password else None))
        users = [uow.users.add(orm.User(institution_id=inst.id, login=login, display_name=login, role=role.value,
                                        password_hash=rt.passwords.hash(STAFF_PASSWORD), created_at=now))
                 for login, role in (("admin", Role.ADMIN), ("nurse", Role.STAFF), ("nurse2", Role.STAFF))]
        device = uow.devices.add(orm.Device(institution_id=inst.id, label="tablet", public_key_pem="(unit test)",
                                            enrolled_at=now, created_by=users[0].id, created_at=now))
        uow.commit()
    admin, nurse, nurse2 = users
    return Tenant(
        institution_id=inst.id, code=code, device_id=device.id,
        admin=Principal(institution_id=inst.id, user_id=admin.id, role=Role.ADMIN, device_id=None),
        nurse=Principal(institution_id=inst.id, user_id=nurse.id, role=Role.STAFF, device_id=device.id),
        other_nurse=Principal(institution_id=inst.id, user_id=nurse2.id, role=Role.STAFF, device_id=device.id))
