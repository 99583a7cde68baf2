"""A production-sized history in a migrated PostgreSQL database, written set-based (bench/README.md, "Cost as
data grows").

    seed_volume(database_url, caller_institution_id, Volume())   # 1,000 institutions, 1 M visits, 10 M audit rows

Why: every verification and medical view writes audit rows and the visit and audit tables only grow, so the
hot path has to cost the same on a year of history as on an empty database. The rows are made by
``INSERT ... SELECT generate_series(...)`` in the server (no row crosses the wire) with ids derived from the
row number (``md5(kind || n)::uuid``), so every reference is computed, not looked up. Secondary indexes are
dropped before the load and built once after it, foreign-key triggers are off for the load
(``session_replication_role = replica``: the rows are consistent by construction), and the tables are vacuumed
and analysed at the end, as a year-old database would be.

Realism where the hot path looks: the benchmark's own institution (``caller_institution_id``, made by the
benchmark through the app) gets ``caller_share`` of the visits and audit rows, so its lookups by institution
(idempotency keys, open care relationships, visits) search a big institution, not an empty corner; the other
institutions share the rest. Each visit has its challenge (spent), its consent, its idempotency record and
three audit rows in its time; every fifth visit opened a care relationship. The history spans
``history_days`` up to the moment of seeding. Only columns of the current schema are named: a schema that
lacks one fails loudly here rather than benchmarking something else.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import psycopg

# Tables filled here whose secondary indexes are rebuilt after the load (primary and unique keys stay).
BIG_TABLES = ("challenges", "visits", "consents", "idempotency_records", "care_relationships", "audit_events")
STAFF_PER_INSTITUTION = 5


@dataclass(frozen=True)
class Volume:
    institutions: int = 1_000  # including the caller's
    visits: int = 1_000_000
    audit_rows: int = 10_000_000
    caller_share: float = 0.05  # of the visits and audit rows, the benchmark's own institution's
    history_days: int = 365


def psycopg_dsn(database_url: str) -> str:
    """SQLAlchemy's ``postgresql+psycopg://`` URL as libpq takes it."""
    return database_url.replace("postgresql+psycopg://", "postgresql://", 1)


def _institution(n: str, caller_pct: str) -> str:
    """SQL: the institution id of row ``n`` (the caller's for ``caller_pct`` rows in 100)."""
    return (f"CASE WHEN {n} %% 100 < {caller_pct} THEN %(caller)s "
            f"ELSE md5('inst' || ({n} %% %(others)s))::uuid::text END")


def _staff(kind: str, n: str, caller_pct: str) -> str:
    """SQL: a user or device id of row ``n``'s institution (one of its STAFF_PER_INSTITUTION)."""
    key = f"CASE WHEN {n} %% 100 < {caller_pct} THEN 'c' ELSE ({n} %% %(others)s)::text END"
    return f"md5('{kind}' || {key} || '-' || ({n} %% {STAFF_PER_INSTITUTION}))::uuid::text"


def _at(n: str, total: str) -> str:
    """SQL: row ``n`` of ``total`` spread evenly over the history, the newest last."""
    return f"now() - make_interval(secs => (({total} - {n}) * %(history_secs)s::float8 / {total}))"


CALLER_PCT = "%(caller_pct)s"
INST = _institution("n", CALLER_PCT)
USER = _staff("user", "n", CALLER_PCT)
DEVICE = _staff("device", "n", CALLER_PCT)
VISIT_AT = _at("n", "%(visits)s")
ROWS = "generate_series(%(first)s::bigint, %(last)s::bigint)"  # this chunk's row numbers (seed_volume splits the big tables)

STATEMENTS: dict[str, str] = {
    "institutions": """
INSERT INTO institutions (id, code, name, facility_kind, visual_password_failures, created_at)
SELECT md5('inst' || k)::uuid::text, '9' || lpad(k::text, 9, '0'), '規模試験' || k, 'home_visit_care', 0,
       now() - interval '2 years'
FROM generate_series(0, %(others)s - 1) AS k""",
    "users": f"""
INSERT INTO users (id, institution_id, login, display_name, role, password_hash, created_at)
SELECT md5('user' || key || '-' || j)::uuid::text, inst, 'staff' || j, '看護 花子', 'staff', '!seeded',
       now() - interval '2 years'
FROM (SELECT k::text AS key, md5('inst' || k)::uuid::text AS inst FROM generate_series(0, %(others)s - 1) AS k
      UNION ALL SELECT 'c', %(caller)s) AS i, generate_series(0, {STAFF_PER_INSTITUTION - 1}) AS j""",
    "devices": f"""
INSERT INTO devices (id, institution_id, label, public_key_pem, enrolled_at, created_by, created_at)
SELECT md5('device' || key || '-' || j)::uuid::text, inst, '端末' || j, '!seeded', now() - interval '2 years',
       md5('user' || key || '-' || j)::uuid::text, now() - interval '2 years'
FROM (SELECT k::text AS key, md5('inst' || k)::uuid::text AS inst FROM generate_series(0, %(others)s - 1) AS k
      UNION ALL SELECT 'c', %(caller)s) AS i, generate_series(0, {STAFF_PER_INSTITUTION - 1}) AS j""",
    "challenges": f"""
INSERT INTO challenges (id, nonce, institution_id, device_id, user_id, care_type, form, method, created_at,
                        expires_at, used_at)
SELECT md5('chal' || n)::uuid::text, decode(md5('nonce' || n) || md5('nonce2' || n), 'hex'), {INST}, {DEVICE},
       {USER}, 2, 'home_consent', 'pin', at, at + interval '5 minutes', at + interval '20 seconds'
FROM (SELECT n, {VISIT_AT} AS at FROM {ROWS} AS n) AS s""",
    "visits": f"""
INSERT INTO visits (id, institution_id, challenge_id, device_id, user_id, care_type, form, method,
                    certificate_standing, certificate_kind, certificate_not_after, eligibility_status,
                    medical_info_allowed, person_ref, result, created_at, care_relationship_id)
SELECT md5('visit' || n)::uuid::text, {INST}, md5('chal' || n)::uuid::text, {DEVICE}, {USER}, 2,
       'home_consent', 'pin', 'valid', 'card', at + interval '3 years', 1, true,
       md5('person' || (n %% 200000)), '{{"status": 1, "seeded": true}}', at + interval '20 seconds',
       CASE WHEN n %% 5 = 0 THEN md5('rel' || n)::uuid::text END
FROM (SELECT n, {VISIT_AT} AS at FROM {ROWS} AS n) AS s""",
    "consents": f"""
INSERT INTO consents (id, institution_id, visit_id, person_ref, source, blanket, kinds, registered_at, expires_at)
SELECT md5('cons' || n)::uuid::text, {INST}, md5('visit' || n)::uuid::text, md5('person' || (n %% 200000)),
       'card', false, '["medication"]', at, at + interval '1 day'
FROM (SELECT n, {VISIT_AT} AS at FROM {ROWS} AS n) AS s""",
    "idempotency_records": f"""
INSERT INTO idempotency_records (id, institution_id, scope, key, request_hash, status_code, response, created_at)
SELECT md5('idem' || n)::uuid::text, {INST}, 'verification.submit', md5('key' || n), md5('req' || n), 201,
       '{{"seeded": true}}', at
FROM (SELECT n, {VISIT_AT} AS at FROM {ROWS} AS n) AS s""",
    "care_relationships": f"""
INSERT INTO care_relationships (id, institution_id, person_ref, opened_by_visit_id, card_visit_id, opened_at,
                                last_visit_at, ended_at, end_reason)
SELECT md5('rel' || n)::uuid::text, {INST}, md5('person' || (n %% 200000)), md5('visit' || n)::uuid::text,
       md5('visit' || n)::uuid::text, at, at, CASE WHEN n %% 10 = 0 THEN at + interval '30 days' END,
       CASE WHEN n %% 10 = 0 THEN 'discharged' END
FROM (SELECT n, {VISIT_AT} AS at FROM {ROWS} AS n WHERE n %% 5 = 0) AS s""",
    # Three audit rows per visit in its time (start, submit, a view) and the rest as views spread over the
    # history: every n-th row's visit is n / rows_per_visit.
    "audit_events": f"""
INSERT INTO audit_events (at, institution_id, actor_user_id, actor_device_id, action, outcome, target_type,
                          target_id, detail)
SELECT {_at("n", "%(audit_rows)s")}, {INST}, {USER}, {DEVICE},
       (ARRAY['verification.start', 'verification.submit', 'medical_info.view', 'medical_info.view',
              'visit.read'])[1 + n %% 5],
       CASE WHEN n %% 50 = 0 THEN 'refused' ELSE 'ok' END, 'visit',
       md5('visit' || (1 + (n - 1) * %(visits)s::bigint / %(audit_rows)s))::uuid::text, '{{"kind": "medication"}}'
FROM {ROWS} AS n""",
}


# The rows of each table are numbered 1..N over this volume field; the small tables are one statement each.
SERIES = {"challenges": "visits", "visits": "visits", "consents": "visits", "idempotency_records": "visits",
          "care_relationships": "visits", "audit_events": "audit_rows"}


def _params(volume: Volume, caller_institution_id: str) -> dict[str, Any]:
    return {"caller": caller_institution_id, "others": max(volume.institutions - 1, 1),
            "caller_pct": round(volume.caller_share * 100), "visits": volume.visits,
            "audit_rows": volume.audit_rows, "history_secs": volume.history_days * 86400}


def chunks(total: int, parts: int) -> list[tuple[int, int]]:
    """1..total in ``parts`` contiguous (first, last) ranges, the last one possibly shorter."""
    size = max(-(-total // max(parts, 1)), 1)
    return [(first, min(first + size - 1, total)) for first in range(1, total + 1, size)]


def tasks(volume: Volume, parallel: int) -> list[tuple[str, int, int]]:
    """(table, first row, last row): the small tables whole, each big one in ``parallel`` chunks."""
    return [(table, first, last) for table in STATEMENTS
            for first, last in (chunks(getattr(volume, SERIES[table]), parallel) if table in SERIES else [(0, 0)])]


def _secondary_indexes(conn: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of the big tables' indexes that back no constraint."""
    rows = conn.execute(
        """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
           FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
           WHERE t.relname = ANY(%s) AND t.relnamespace = 'public'::regnamespace
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
             AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)""",
        [list(BIG_TABLES)]).fetchall()
    return [(name, definition) for name, definition in rows]


def _connect(database_url: str) -> psycopg.Connection[Any]:
    conn = psycopg.connect(psycopg_dsn(database_url), autocommit=True)
    conn.execute("SET session_replication_role = replica")  # no FK triggers: consistent by construction
    conn.execute("SET synchronous_commit = off")  # the load's own commits; the benchmark's stay durable
    conn.execute("SET maintenance_work_mem = '256MB'")
    return conn


def _load(database_url: str, params: dict[str, Any], todo: list[tuple[str, int, int]], parallel: int
          ) -> dict[str, float]:
    """Run the statements, ``parallel`` connections at a time (the big tables' chunks side by side: two backends
    use both cores, and on a shared machine get two shares of it); seconds per table, summed over its chunks."""
    spent = {table: 0.0 for table in STATEMENTS}

    def run(task: tuple[str, int, int]) -> tuple[str, float]:
        table, first, last = task
        started = time.perf_counter()
        with _connect(database_url) as conn:
            conn.execute(STATEMENTS[table], {**params, "first": first, "last": last})  # type: ignore[arg-type]
        return table, time.perf_counter() - started

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        for table, seconds in pool.map(run, todo):
            spent[table] += seconds
    return spent


def audit_months(database_url: str, history_days: int) -> list[str]:
    """On a partitioned audit log (migration 0011), give every month of the history its partition before the
    load, as the maintenance job would have made them month by month: a year of rows in the DEFAULT partition is
    no production layout. Done by the app's own ``Housekeeping`` (under its lock); returns the partitions made.
    Nothing to do on an older schema whose audit log is a plain table (``--before`` a commit without 0011)."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    try:
        from mobile_api.adapters.housekeeping import Housekeeping, partition_name
        from mobile_api.domain.retention import Month
    except ImportError:
        return []
    engine = create_engine(database_url)
    try:
        with Session(engine) as session, session.begin():
            house = Housekeeping(session)
            if not house.partitioned:
                return []
            now = datetime.now(UTC)
            first, have = Month.of(now - timedelta(days=history_days + 1)), set(house.audit_partitions())
            months = [m for m in (first.plus(i) for i in range(history_days // 28 + 2))
                      if m.start <= now and m not in have]
            house.lock()
            house.lock_audit_log()
            for month in months:
                house.create_audit_partition(month)
            return [partition_name(m) for m in months]
    finally:
        engine.dispose()


def seed_volume(database_url: str, caller_institution_id: str, volume: Volume, parallel: int = 2
                ) -> dict[str, float]:
    """Write the history; the seconds each step took (``load`` and ``total`` wall time included)."""
    started = time.perf_counter()
    audit_months(database_url, volume.history_days)
    with _connect(database_url) as conn:
        indexes = _secondary_indexes(conn)
        for name, _ in indexes:
            conn.execute(f"DROP INDEX {name}")  # type: ignore[arg-type]  # a name pg_index gave
    timings = _load(database_url, _params(volume, caller_institution_id), tasks(volume, parallel), parallel)
    timings["load"] = time.perf_counter() - started
    step = time.perf_counter()
    def build(definition: str) -> None:
        with _connect(database_url) as conn:
            conn.execute(definition)  # type: ignore[arg-type]  # pg_get_indexdef's own text

    with ThreadPoolExecutor(max_workers=parallel) as pool:  # the indexes side by side, one per connection
        list(pool.map(build, [definition for _, definition in indexes]))
    timings["indexes"] = time.perf_counter() - step
    step = time.perf_counter()
    with _connect(database_url) as conn:
        # As a year-old database is: vacuumed (hint bits set, visibility map built) and analysed. Without it the
        # autovacuum workers would do this during the first measured runs, in the postmaster's CPU tree.
        conn.execute("VACUUM (ANALYZE)")
        conn.execute("CHECKPOINT")  # the load's dirty pages written before the clock runs
    timings["vacuum_checkpoint"] = time.perf_counter() - step
    timings["total"] = time.perf_counter() - started
    return timings


def row_counts(database_url: str) -> dict[str, int]:
    """Exact row counts of the seeded tables (a check that the seed did what it says)."""
    with psycopg.connect(psycopg_dsn(database_url)) as conn:
        return {table: int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]
                for table in ("institutions", "users", "devices", *BIG_TABLES)}
