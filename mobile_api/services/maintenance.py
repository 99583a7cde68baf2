"""The maintenance job (docs/background-jobs.md): the audit log's monthly partitions, its retention, and the
purge of tables that only grow. Run daily by the job worker, at its start, and by ``flask audit …`` /
``flask maintenance purge``. Each step is one transaction, audited when it changes anything.

Times are the injected clock's: the server decides which month it is and what is past its keeping time.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ..adapters.housekeeping import months_to_drop, partition_name
from ..domain.retention import Month, months_to_prepare, retention_cutoff
from ..runtime import Runtime
from . import audit


def prepare_partitions(rt: Runtime) -> list[Month]:
    """Make the audit partitions of the current month and the ``AUDIT_PARTITIONS_AHEAD_MONTHS`` after it that
    are missing (PostgreSQL; nothing on SQLite). Rows of those months already in DEFAULT move into them."""
    now = rt.clock()
    with rt.uow() as uow:
        house = uow.housekeeping
        if not house.partitioned:
            return []
        house.lock()
        existing = set(house.audit_partitions())
        made = [m for m in months_to_prepare(now, rt.housekeeping.audit_partitions_ahead_months)
                if m not in existing]
        if made:
            house.lock_audit_log()
        for month in made:
            house.create_audit_partition(month)
        if made:
            audit.record(uow, at=now, action="audit.partitions", target_type="audit_events",
                         created=[partition_name(m) for m in made])
        uow.commit()
    return made


@dataclass(frozen=True)
class RetentionReport:
    cutoff: datetime
    dropped: list[Month] = field(default_factory=list)
    deleted_rows: int = 0


def apply_retention(rt: Runtime) -> RetentionReport:
    """Remove the audit rows older than ``AUDIT_RETENTION_MONTHS`` (docs/rules.md §7.1): on PostgreSQL drop the
    month partitions wholly before the cutoff (and delete such rows from DEFAULT), on SQLite delete by date.
    The cutoff is a month start at least 36 months back, so the current month is never touched."""
    now = rt.clock()
    months = rt.housekeeping.audit_retention_months
    cutoff = retention_cutoff(now, months)
    with rt.uow() as uow:
        house = uow.housekeeping
        house.lock()
        dropped = months_to_drop(house.audit_partitions(), cutoff) if house.partitioned else []
        for month in dropped:
            house.drop_audit_partition(month)
        deleted = house.delete_audit_before(cutoff)
        if dropped or deleted:
            audit.record(uow, at=now, action="audit.retention", target_type="audit_events",
                         retention_months=months, cutoff=cutoff.isoformat(),
                         dropped=[partition_name(m) for m in dropped], deleted_rows=deleted)
        uow.commit()
    return RetentionReport(cutoff, dropped, deleted)


def purge(rt: Runtime) -> dict[str, int]:
    """Delete what no rule reads any more (docs/rules.md §7.1); returns the rows deleted per table. Live rows
    (a session in use, a lock in force, an assertion, challenge or consent link still valid, a key inside its
    replay horizon) never match, nor a row a kept one references (a consent's link and session)."""
    now, kept = rt.clock(), rt.housekeeping
    with rt.uow() as uow:
        house = uow.housekeeping
        house.lock()
        deleted = {
            "console_sessions": house.purge_console_sessions(before=now - kept.console_sessions_kept,
                                                             idle=kept.console_idle),
            "sign_in_lockouts": house.purge_sign_in_lockouts(now=now,
                                                             window_start=now - rt.rules.sign_in_failure_window),
            "used_assertions": house.purge_used_assertions(now - kept.replay_guards_kept),
            "challenges": house.purge_challenges(now - kept.challenges_kept),
            "idempotency_records": house.purge_idempotency_records(now - kept.idempotency_kept),
            # sessions first: a link goes only once no session uses it
            "patient_sessions": house.purge_patient_sessions(now - kept.patient_sessions_kept),
            "consent_links": house.purge_consent_links(now - kept.consent_links_kept),
        }
        if any(deleted.values()):
            audit.record(uow, at=now, action="maintenance.purge", target_type="housekeeping",
                         deleted={k: v for k, v in deleted.items() if v})
        uow.commit()
    return deleted


def run(rt: Runtime) -> None:
    """The whole job: partitions first (so rows never pile up in DEFAULT), then retention, then the purge."""
    prepare_partitions(rt)
    apply_retention(rt)
    purge(rt)
