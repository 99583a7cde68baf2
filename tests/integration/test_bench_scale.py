"""bench/_scale.py on PostgreSQL, at a tiny volume: the history it writes is what bench/README.md says (the
counts, the caller's share, references that resolve) and the schema is left as migrated (every index back).
The full volume is the benchmark's business (`make bench-scale`), not the tests'."""
from __future__ import annotations

from typing import Any

import psycopg
import pytest

from bench import _scale as scale
from tests.support import database

pytestmark = pytest.mark.postgres

CALLER = "00000000-0000-4000-8000-000000000001"
TINY = scale.Volume(institutions=4, visits=200, audit_rows=2_000, caller_share=0.25, history_days=30)


@pytest.fixture
def seeded(pg_cluster: Any, pg_template: str) -> tuple[str, dict[str, float], list[tuple[str, str]]]:
    url = database.pg_copy(pg_cluster, pg_template)
    with psycopg.connect(scale.psycopg_dsn(url), autocommit=True) as conn:
        conn.execute("INSERT INTO institutions (id, code, name, facility_kind, visual_password_failures, created_at)"
                     " VALUES (%s, '1300000001', '呼び出し元', 'home_visit_care', 0, now())", [CALLER])
        indexes = scale._secondary_indexes(conn)
    return url, scale.seed_volume(url, CALLER, TINY), indexes


def one(url: str, sql: str, *params: str) -> Any:
    with psycopg.connect(scale.psycopg_dsn(url)) as conn:
        row = conn.execute(sql, params).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return row[0]


def test_the_volume_is_written_with_the_callers_share(seeded: Any) -> None:
    url, timings, _ = seeded
    counts = scale.row_counts(url)
    assert counts["institutions"] == 4 and counts["users"] == 4 * scale.STAFF_PER_INSTITUTION
    assert counts["visits"] == counts["challenges"] == counts["consents"] == counts["idempotency_records"] == 200
    assert counts["audit_events"] == 2_000 and counts["care_relationships"] == 40
    assert one(url, "SELECT count(*) FROM visits WHERE institution_id = %s", CALLER) == 50  # 25 in 100
    assert one(url, "SELECT count(*) FROM audit_events WHERE institution_id = %s", CALLER) == 500
    assert timings["total"] > 0 and set(scale.STATEMENTS) < set(timings)


def test_every_reference_resolves_and_the_history_ends_now(seeded: Any) -> None:
    url, _, _ = seeded
    orphans = ("SELECT count(*) FROM visits v LEFT JOIN challenges c ON c.id = v.challenge_id "
               "LEFT JOIN users u ON u.id = v.user_id AND u.institution_id = v.institution_id "
               "LEFT JOIN devices d ON d.id = v.device_id AND d.institution_id = v.institution_id "
               "WHERE c.id IS NULL OR u.id IS NULL OR d.id IS NULL OR v.institution_id <> c.institution_id")
    assert one(url, orphans) == 0
    assert one(url, "SELECT count(*) FROM consents c LEFT JOIN visits v ON v.id = c.visit_id "
                    "WHERE v.id IS NULL") == 0
    assert one(url, "SELECT count(*) FROM audit_events a LEFT JOIN visits v ON v.id = a.target_id "
                    "WHERE v.id IS NULL") == 0
    newest = one(url, "SELECT extract(epoch FROM now() - max(at)) FROM audit_events")
    oldest = one(url, "SELECT extract(epoch FROM now() - min(at)) / 86400 FROM audit_events")
    assert newest < 60 and 29 < oldest <= 30


def test_the_indexes_dropped_for_the_load_are_built_again(seeded: Any) -> None:
    url, _, before = seeded
    with psycopg.connect(scale.psycopg_dsn(url)) as conn:
        assert sorted(scale._secondary_indexes(conn)) == sorted(before)
    assert any("audit_events" in definition for _, definition in before)


def test_every_month_of_the_history_has_its_audit_partition_and_default_stays_empty(seeded: Any) -> None:
    url, _, _ = seeded
    assert one(url, "SELECT count(*) FROM audit_events_default") == 0
    assert one(url, "SELECT count(DISTINCT tableoid) FROM audit_events") >= 2  # 30 days span two months
