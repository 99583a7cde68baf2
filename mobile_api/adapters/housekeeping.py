"""Housekeeping statements: the audit log's monthly partitions, its retention, and the purge of rows that
only grow (docs/architecture.md, "Audit partitions and retention"; services/maintenance.py decides when).

On PostgreSQL ``audit_events`` is partitioned by RANGE on ``at`` (migration 0011): one partition per month in
Japan, named ``audit_events_y2026m12``, and ``audit_events_default`` for any row no month partition takes, so an
insert never fails for want of a partition. On SQLite it is a plain table and retention deletes by date.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, or_, text
from sqlalchemy.orm import Session

from ..domain.retention import Month
from . import orm

AUDIT = "audit_events"
DEFAULT_PARTITION = "audit_events_default"
_MONTHLY = re.compile(r"^audit_events_y(\d{4})m(\d{2})$")
# pg_advisory_xact_lock key: two workers never create or drop partitions at once.
_LOCK_KEY = 0x6D61696E74  # "maint"


def partition_name(month: Month) -> str:
    return f"{AUDIT}_{month.label}"


def _literal(at: datetime) -> str:
    """A bound of a partition (DDL takes no parameters); made from integers, never from input."""
    return f"'{at.isoformat(sep=' ')}'"


class Housekeeping:
    """Statements of the maintenance job, in the caller's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    @property
    def partitioned(self) -> bool:
        """True when ``audit_events`` is a partitioned table (PostgreSQL after migration 0011)."""
        if self.session.get_bind().dialect.name != "postgresql":
            return False
        return bool(self.session.scalar(text(
            "SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass(:name)"), {"name": AUDIT}))

    def lock(self) -> None:
        """Serialise maintenance runs (several workers may run the schedule) until this transaction ends."""
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})

    def audit_partitions(self) -> list[Month]:
        """The months that have a partition, oldest first (the DEFAULT partition is not a month); none on SQLite."""
        if self.session.get_bind().dialect.name != "postgresql":
            return []
        names = self.session.scalars(text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(:name)"), {"name": AUDIT})
        return sorted(Month(int(m[1]), int(m[2])) for m in map(_MONTHLY.match, names) if m)

    def lock_audit_log(self) -> None:
        """Hold every insert into the audit log until this transaction ends. Without it an insert that began
        while a partition was being attached could be routed to DEFAULT by the old layout and then refused by
        DEFAULT's new bounds ("violates partition constraint"): seen under the tests' load. The job takes it only
        when it has a month to make (months ahead, so DEFAULT is normally empty and the lock brief)."""
        self.session.execute(text(f"LOCK TABLE {AUDIT} IN ACCESS EXCLUSIVE MODE"))

    def create_audit_partition(self, month: Month) -> None:
        """Add the month's partition, taking over the rows the DEFAULT partition holds for it (PostgreSQL refuses
        a partition whose rows still sit in DEFAULT): made as a table, filled, then attached, under
        ``lock_audit_log``."""
        name, low, high = partition_name(month), _literal(month.start), _literal(month.end)
        self.session.execute(text(f"CREATE TABLE {name} (LIKE {AUDIT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"))
        self.session.execute(text(
            f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} WHERE at >= {low} AND at < {high} RETURNING *) "
            f"INSERT INTO {name} SELECT * FROM moved"))
        self.session.execute(text(f"ALTER TABLE {AUDIT} ATTACH PARTITION {name} FOR VALUES FROM ({low}) TO ({high})"))

    def drop_audit_partition(self, month: Month) -> None:
        self.session.execute(text(f"DROP TABLE {partition_name(month)}"))

    def delete_audit_before(self, cutoff: datetime) -> int:
        """Delete audit rows before ``cutoff``: the whole table on SQLite; on PostgreSQL only the DEFAULT
        partition's (a month partition goes whole, ``drop_audit_partition``)."""
        if self.partitioned:
            return int(self.session.execute(text(f"DELETE FROM {DEFAULT_PARTITION} WHERE at < :cutoff"),
                                            {"cutoff": cutoff}).rowcount)  # type: ignore[attr-defined]
        return self._delete(delete(orm.AuditEvent).where(orm.AuditEvent.at < cutoff))

    # --- tables that only grow ---------------------------------------------------------------------

    def purge_console_sessions(self, *, before: datetime, idle: timedelta) -> int:
        """Sessions ended, expired or idle-expired before ``before`` (a live session never matches)."""
        s = orm.ConsoleSession
        return self._delete(delete(s).where(or_(s.ended_at < before, s.expires_at < before,
                                                s.last_seen_at < before - idle)))

    def purge_sign_in_lockouts(self, *, now: datetime, window_start: datetime) -> int:
        """Counts that no longer lock nor count: not locked now, and either a lock that has ended or a window
        that started before ``window_start``. The next failure would start again at 1 for these anyway
        (``SignInLockouts.count_failure``), so deleting them changes nothing but the table's size."""
        lock = orm.SignInLockout
        not_locked = or_(lock.locked_until.is_(None), lock.locked_until <= now)
        stale = or_(lock.locked_until.is_not(None), lock.window_started_at <= window_start)
        return self._delete(delete(lock).where(and_(not_locked, stale)))

    def purge_used_assertions(self, before: datetime) -> int:
        """Spent device and client assertion ids (replay guards) whose assertions expired before ``before``."""
        return (self._delete(delete(orm.UsedAssertion).where(orm.UsedAssertion.expires_at < before))
                + self._delete(delete(orm.UsedClientAssertion).where(orm.UsedClientAssertion.expires_at < before)))

    def purge_challenges(self, before: datetime) -> int:
        """Challenges that expired before ``before``, spent or not, unless a visit names them (its record)."""
        c, v = orm.Challenge, orm.Visit
        return self._delete(delete(c).where(c.expires_at < before, ~exists().where(v.challenge_id == c.id)))

    def purge_idempotency_records(self, before: datetime) -> int:
        """Remembered outcomes created before ``before``: past the replay horizon."""
        r = orm.IdempotencyRecord
        return self._delete(delete(r).where(r.created_at < before))

    def purge_patient_sessions(self, before: datetime) -> int:
        """Patient-page sessions whose challenge and page session both ended before ``before``, unless they
        registered a consent: that session is the consent's record (the consent list reads the patient's name
        from it, queries/consents.py), kept as long as the consent."""
        s = orm.PatientSession
        return self._delete(delete(s).where(s.consent_id.is_(None), s.expires_at < before,
                                            or_(s.authenticated_until.is_(None), s.authenticated_until < before)))

    def purge_consent_links(self, before: datetime) -> int:
        """Links that expired or were revoked before ``before`` and that no consent (``consents.link_id``) and no
        remaining patient session (``patient_sessions.link_id``) names: a consent given through a link keeps it."""
        link, c, s = orm.ConsentLink, orm.Consent, orm.PatientSession
        return self._delete(delete(link).where(or_(link.expires_at < before, link.revoked_at < before),
                                               ~exists().where(c.link_id == link.id),
                                               ~exists().where(s.link_id == link.id)))

    def _delete(self, statement: object) -> int:
        return int(self.session.execute(statement).rowcount)  # type: ignore[call-overload]


def months_to_drop(existing: Sequence[Month], cutoff: datetime) -> list[Month]:
    """The partitions wholly before ``cutoff``."""
    return [month for month in existing if month.end <= cutoff]
