"""The hot path's door to the database: SQLAlchemy Core statements on one connection, no Session.

A verification (start, submit) and a medical-information view run on a ``Ledger`` instead of the ORM's unit
of work: no identity map, no flush, no change tracking, just the statements the use case needs, prebuilt
once, in one transaction that the service commits explicitly (docs/architecture.md, "The write side";
docs/performance.md, "The hot path without the ORM unit of work"). Every guarantee of the unit of work
stays: a challenge is spent by one conditional UPDATE, an Idempotency-Key is decided by the database's
unique constraint (``DuplicateRecord``, as ``integrity.py`` maps it), and audit rows commit or roll back
with what they record.

The rows it reads and writes are the ORM's classes used as plain values (never added to a session): the
services and the representations keep one type per table.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, NoReturn, TypeVar

from sqlalchemy import Connection, Engine, Table, bindparam, insert, select, union_all, update
from sqlalchemy.exc import IntegrityError

from ..domain.facility import FacilityKind, InstitutionFacts
from . import integrity, orm

R = TypeVar("R", bound=orm.Base)



_table = orm.table_of


_CHALLENGES = _table(orm.Challenge)
_VISITS = _table(orm.Visit)
_CONSENTS = _table(orm.Consent)
_RELATIONSHIPS = _table(orm.CareRelationship)
_IDEMPOTENCY = _table(orm.IdempotencyRecord)
_AUDIT = _table(orm.AuditEvent)
_INSTITUTIONS = _table(orm.Institution)
_USERS = _table(orm.User)
_DEVICES = _table(orm.Device)


@dataclass(frozen=True)
class CallerStanding:
    """What authentication needs of the caller's user and device rows (None where the row does not exist)."""

    user_institution_id: str | None = None
    user_role: str | None = None
    user_revoked_at: datetime | None = None
    device_institution_id: str | None = None
    device_revoked_at: datetime | None = None
    device_enrolled_at: datetime | None = None
    user_found: bool = False
    device_found: bool = False
    institution: InstitutionFacts | None = None  # of the user (or, for a device-only caller, of the device)


def _standing_statements() -> tuple[Any, Any, Any]:
    """The three shapes of the caller's standing, built once (they run before every authenticated request:
    building a statement costs more CPU than the database spends answering it)."""
    u, d, i = _USERS, _DEVICES, _INSTITUTIONS
    device_cols = (d.c.institution_id.label("d_inst"), d.c.revoked_at.label("d_rev"),
                   d.c.enrolled_at.label("d_enr"), d.c.id.label("d_id"))
    institution_cols = (i.c.code.label("i_code"), i.c.facility_kind.label("i_kind"))
    device_only = (select(*device_cols, *institution_cols).select_from(d).join(i, i.c.id == d.c.institution_id)
                   .where(d.c.id == bindparam("device_id")))
    user = (select(u.c.institution_id, u.c.role, u.c.revoked_at, *institution_cols).select_from(u)
            .join(i, i.c.id == u.c.institution_id).where(u.c.id == bindparam("user_id")))
    user_and_device = user.add_columns(*device_cols).outerjoin(d, d.c.id == bindparam("device_id"))
    return device_only, user, user_and_device


_DEVICE_STANDING, _USER_STANDING, _USER_AND_DEVICE_STANDING = _standing_statements()


@dataclass(frozen=True)
class Verified:
    """Everything one accepted card verification writes, made before anything is written: the visit, the
    consent it registered (if any), the care relationship it opened or renewed (if any), the idle one it
    ended (if any), the outcome remembered under the Idempotency-Key, and the audit rows naming them."""

    visit: orm.Visit
    consent: orm.Consent | None
    relationship: orm.CareRelationship | None
    relationship_is_new: bool
    ended_idle: orm.CareRelationship | None
    idempotency: orm.IdempotencyRecord
    audit: tuple[dict[str, Any], ...]


def _prefixed(table: Table, prefix: str) -> list[Any]:
    return [c.label(f"{prefix}{c.key}") for c in table.columns]


_CHALLENGE = select(_CHALLENGES).where(_CHALLENGES.c.id == bindparam("id"),
                                       _CHALLENGES.c.institution_id == bindparam("institution_id"))
_CLAIM = (update(_CHALLENGES).where(_CHALLENGES.c.id == bindparam("challenge_id"), _CHALLENGES.c.used_at.is_(None))
          .values(used_at=bindparam("now")))
_OPEN_RELATIONSHIP = (
    select(_RELATIONSHIPS)
    .where(_RELATIONSHIPS.c.institution_id == bindparam("institution_id"),
           _RELATIONSHIPS.c.person_ref == bindparam("person_ref"), _RELATIONSHIPS.c.ended_at.is_(None))
    .order_by(_RELATIONSHIPS.c.last_visit_at.desc(), _RELATIONSHIPS.c.opened_at.desc(), _RELATIONSHIPS.c.id.desc())
    .limit(1)
    # Locked until the verification commits (PostgreSQL; SQLite's writer lock is already held by the claim):
    # a withdrawal or discharge ending it either waits for the renewal, or ended it first and then the
    # re-evaluated row no longer matches, so the card visit opens a new relationship (docs/rules.md §3.3).
    .with_for_update())
_VISIT_WITH_CONSENT = (
    select(*_prefixed(_VISITS, "v_"), *_prefixed(_CONSENTS, "c_"), *_prefixed(_RELATIONSHIPS, "r_"))
    .select_from(_VISITS)
    .outerjoin(_CONSENTS, _CONSENTS.c.visit_id == _VISITS.c.id)  # unique: at most one consent per visit
    .outerjoin(_RELATIONSHIPS, _RELATIONSHIPS.c.id == _VISITS.c.care_relationship_id)
    .where(_VISITS.c.id == bindparam("visit_id"), _VISITS.c.institution_id == bindparam("institution_id")))
_INSTITUTION_FACTS = select(_INSTITUTIONS.c.code, _INSTITUTIONS.c.facility_kind).where(
    _INSTITUTIONS.c.id == bindparam("institution_id"))
_HAS_VISUAL_PASSWORD = select(_INSTITUTIONS.c.visual_password_hash.is_not(None)).where(
    _INSTITUTIONS.c.id == bindparam("institution_id"))
_RENEW = (update(_RELATIONSHIPS).where(_RELATIONSHIPS.c.id == bindparam("rel_id"))
          .values(card_visit_id=bindparam("card_visit_id"), last_visit_at=bindparam("last_visit_at")))
_END_IDLE = (update(_RELATIONSHIPS).where(_RELATIONSHIPS.c.id == bindparam("rel_id"))
             .values(ended_at=bindparam("ended_at"), end_reason=bindparam("end_reason")))
_WRITTEN = {table.name: table for table in (_CHALLENGES, _VISITS, _CONSENTS, _RELATIONSHIPS, _IDEMPOTENCY, _AUDIT)}
_SINGLE: dict[str, Any] = {"renew": _RENEW, "end_idle": _END_IDLE,
                           **{name: insert(table) for name, table in _WRITTEN.items()}}


def _written_columns(table: Table) -> list[Any]:
    """Every column but a database-made key (the audit log's serial id)."""
    return [c for c in table.columns if not (c.primary_key and c.autoincrement is True)]


def _write_of(op: str, row: int, prefix: str) -> Any:
    """One write of one row whose values are bind parameters named ``{prefix}{row}_{column}`` (a single-row
    VALUES: SQLAlchemy caches the compiled form of that, not of a multi-row VALUES list)."""
    if op in ("renew", "end_idle"):
        table, values = _RELATIONSHIPS, (
            {"card_visit_id": "card_visit_id", "last_visit_at": "last_visit_at"} if op == "renew"
            else {"ended_at": "ended_at", "end_reason": "end_reason"})
        return (update(table).where(table.c.id == bindparam(f"{prefix}0_rel_id"))
                .values({key: bindparam(f"{prefix}0_{name}", type_=table.c[key].type) for key, name in values.items()}))
    table = _WRITTEN[op]
    return insert(table).values(_bound_row(table, f"{prefix}{row}_"))


def _bound_row(table: Table, prefix: str) -> dict[str, Any]:
    return {c.key: bindparam(f"{prefix}{c.key}", None, type_=c.type, required=False) for c in _written_columns(table)}


def _rows_in_order(table: Table, rows: int, prefix: str) -> Any:
    """Several rows as ``INSERT ... SELECT ... UNION ALL SELECT ...``: written in this order (the audit log's
    serial ids follow it), and cacheable, unlike a multi-row VALUES list of bind parameters."""
    columns = _written_columns(table)
    selects = [select(*(value.label(key) for key, value in _bound_row(table, f"{prefix}{row}_").items()))
               for row in range(rows)]
    return insert(table).from_select([c.key for c in columns], union_all(*selects))


@functools.cache
def _one_statement(shape: tuple[tuple[str, int], ...]) -> Any:
    """PostgreSQL: the writes of one use case as ONE statement, each row but the last a data-modifying CTE
    (``WITH w0_0 AS (INSERT ...), w1_0 AS (INSERT ...) INSERT INTO audit_events SELECT ...``; the last write's
    rows, the audit rows, in order): one round trip and one
    parse instead of one per table. It succeeds or fails whole, and the foreign keys between its rows hold
    because PostgreSQL checks them at the end of the statement. Built once per shape (which writes, how many
    rows each; a verification has a handful), so SQLAlchemy compiles each shape once."""
    *writes, (last, last_rows) = shape
    ctes = [_write_of(op, row, f"w{n}_").cte(f"w{n}_{row}") for n, (op, rows) in enumerate(writes)
            for row in range(rows)]
    prefix = f"w{len(writes)}_"
    main = (_rows_in_order(_WRITTEN[last], last_rows, prefix) if last_rows > 1 else _write_of(last, 0, prefix))
    return main.add_cte(*ctes)


def values_of(row: orm.Base) -> dict[str, Any]:
    """The column values set on a row made in Python (unset columns keep their database defaults)."""
    state = row.__dict__
    return {key: state[key] for key in _table(type(row)).columns.keys() if key in state}  # noqa: SIM118


def _row(model: type[R], mapping: Any, prefix: str = "") -> R | None:
    """An ORM object as a plain value from a result row (``prefix``: that table's labelled columns), made as
    SQLAlchemy's loading makes one (``Base.plain``): these are values read, not changes to record."""
    if prefix and mapping[f"{prefix}id"] is None:
        return None  # the outer join found nothing
    return model.plain(**{key: mapping[f"{prefix}{key}"] for key in _table(model).columns.keys()})  # noqa: SIM118


class PendingAudit:
    """Audit rows appended by a use case (``services/audit.record``), written in one INSERT at commit."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def append(self, values: dict[str, Any]) -> None:
        self.rows.append(values)


class Ledger:
    """One transaction on one pooled connection, taken at the first statement and given back on exit.

    Leaving the block without ``commit()`` rolls back. A unique violation on a write raises the domain's
    ``DuplicateRecord`` (named after its constraint) and rolls back, as the unit of work's commit does.
    """

    def __init__(self, engine: Engine, read_engine: Engine | None = None) -> None:
        """``read_engine``: the same pool in AUTOCOMMIT, for ``caller`` (one statement, no transaction)."""
        self._engine = engine
        self._read_engine = read_engine or engine
        self._one_round_trip = engine.dialect.name == "postgresql"
        self._conn: Connection | None = None
        self._writes: list[tuple[str, list[dict[str, Any]]]] = []
        self.audit = PendingAudit()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.rollback()  # whatever was not committed

    def _connection(self) -> Connection:
        if self._conn is None:
            self._conn = self._engine.connect()
        return self._conn

    def _execute(self, statement: Any, params: Any = None) -> Any:
        try:
            return self._connection().execute(statement, params)
        except IntegrityError as exc:
            self._raise_duplicate(exc)

    def _raise_duplicate(self, exc: IntegrityError) -> NoReturn:
        self.rollback()
        duplicate = integrity.duplicate_from(exc)
        if duplicate is None:
            raise exc
        raise duplicate from exc

    # -- the transaction

    def commit(self) -> None:
        """Send the writes (the audit rows last), then commit."""
        self._write()
        if self._conn is not None:
            try:
                self._conn.commit()
            except IntegrityError as exc:
                self._raise_duplicate(exc)

    def rollback(self) -> None:
        """Roll back and hand the connection back to the pool at once: what follows a rollback (a refusal
        audited in its own transaction, a replay read by the unit of work) takes a connection of its own,
        and many concurrent retries each holding two would exhaust the pool."""
        self.audit.rows.clear()
        self._writes.clear()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- reads

    def caller(self, user_id: str | None, device_id: str | None) -> CallerStanding:
        """The caller's user, device and institution in ONE statement (a user LEFT JOIN device by primary
        keys), only the columns authentication checks, read on every request so that a revocation takes effect
        at once. Outside a transaction: one statement is atomic on its own, so the BEGIN and ROLLBACK around it
        would be two round trips for nothing."""
        if user_id is None and device_id is None:
            return CallerStanding()
        statement = (_DEVICE_STANDING if user_id is None else
                     _USER_STANDING if device_id is None else _USER_AND_DEVICE_STANDING)
        with self._read_engine.connect() as conn:
            row = conn.execute(statement, {"user_id": user_id, "device_id": device_id}).first()
        if row is None:
            return CallerStanding()
        if user_id is None:
            return CallerStanding(
                device_institution_id=row.d_inst, device_revoked_at=row.d_rev, device_enrolled_at=row.d_enr,
                device_found=True, institution=InstitutionFacts(row.i_code, FacilityKind(row.i_kind)))
        standing = CallerStanding(user_institution_id=row.institution_id, user_role=row.role,
                                  user_revoked_at=row.revoked_at, user_found=True,
                                  institution=InstitutionFacts(row.i_code, FacilityKind(row.i_kind)))
        if device_id is not None and row.d_id is not None:
            standing = replace(standing, device_institution_id=row.d_inst, device_revoked_at=row.d_rev,
                               device_enrolled_at=row.d_enr, device_found=True)
        return standing

    def challenge(self, challenge_id: str, institution_id: str) -> orm.Challenge | None:
        """The institution's challenge (another tenant's id reads as missing)."""
        found = self._execute(_CHALLENGE, {"id": challenge_id, "institution_id": institution_id}).first()
        return None if found is None else _row(orm.Challenge, found._mapping)

    def open_relationship(self, institution_id: str, person_ref: str) -> orm.CareRelationship | None:
        """The patient's relationship not ended by discharge or withdrawal (it may have gone idle), locked until
        the commit that renews it."""
        found = self._execute(_OPEN_RELATIONSHIP, {"institution_id": institution_id, "person_ref": person_ref}
                              ).first()
        return None if found is None else _row(orm.CareRelationship, found._mapping)

    def visit_with_consent_and_relationship(self, visit_id: str, institution_id: str
                                            ) -> tuple[orm.Visit, orm.Consent | None, orm.CareRelationship | None
                                                       ] | None:
        """The institution's visit, its consent and its care relationship in ONE statement."""
        found = self._execute(_VISIT_WITH_CONSENT, {"visit_id": visit_id, "institution_id": institution_id}
                              ).first()
        if found is None:
            return None
        mapping = found._mapping
        visit = _row(orm.Visit, mapping, "v_")
        assert visit is not None
        return visit, _row(orm.Consent, mapping, "c_"), _row(orm.CareRelationship, mapping, "r_")

    def institution_facts(self, institution_id: str) -> InstitutionFacts:
        """The institution's code and kind (for a caller whose authentication did not carry them)."""
        code, kind = self._execute(_INSTITUTION_FACTS, {"institution_id": institution_id}).one()
        return InstitutionFacts(code, FacilityKind(kind))

    def has_visual_password(self, institution_id: str) -> bool:
        return self._execute(_HAS_VISUAL_PASSWORD, {"institution_id": institution_id}).scalar() is True

    # -- writes

    def claim(self, challenge_id: str, now: Any) -> bool:
        """Spend a challenge atomically: True for the one caller that found it unused."""
        return int(self._execute(_CLAIM, {"challenge_id": challenge_id, "now": now}).rowcount) == 1

    def add_challenge(self, challenge: orm.Challenge) -> None:
        self._writes.append(("challenges", [values_of(challenge)]))

    def remember(self, record: orm.IdempotencyRecord) -> None:
        self._writes.append(("idempotency_records", [values_of(record)]))

    def write_verified(self, verified: Verified) -> None:
        """An accepted verification, in foreign-key order: the outcome under its key (a concurrent retry's
        duplicate stops everything), the visit, the relationship (an idle one ended, then one opened or
        renewed), the consent, then the audit rows; all sent with the commit."""
        self.remember(verified.idempotency)
        self._writes.append(("visits", [values_of(verified.visit)]))
        rel = verified.relationship
        if verified.ended_idle is not None:
            self._writes.append(("end_idle", [{"rel_id": verified.ended_idle.id,
                                               "ended_at": verified.ended_idle.ended_at,
                                               "end_reason": verified.ended_idle.end_reason}]))
        if rel is not None and verified.relationship_is_new:
            self._writes.append(("care_relationships", [values_of(rel)]))
        elif rel is not None:
            self._writes.append(("renew", [{"rel_id": rel.id, "card_visit_id": rel.card_visit_id,
                                            "last_visit_at": rel.last_visit_at}]))
        if verified.consent is not None:
            self._writes.append(("consents", [values_of(verified.consent)]))
        self.audit.rows.extend(verified.audit)

    def _write(self) -> None:
        """Send what the use case wrote: on PostgreSQL as ONE statement (each write a data-modifying CTE, see
        ``_one_statement``), elsewhere one statement per table (executemany for several rows)."""
        writes, self._writes = self._writes, []
        if self.audit.rows:
            writes.append(("audit_events", self.audit.rows))
            self.audit.rows = []
        if not writes:
            return
        if self._one_round_trip and len(writes) > 1:
            shape = tuple((op, len(rows)) for op, rows in writes)
            self._execute(_one_statement(shape), {f"w{n}_{i}_{key}": value for n, (_op, rows) in enumerate(writes)
                                                  for i, row in enumerate(rows) for key, value in row.items()})
            return
        for op, rows in writes:
            self._execute(_SINGLE[op], rows if len(rows) > 1 else rows[0])
