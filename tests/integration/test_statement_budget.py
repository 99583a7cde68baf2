"""The hot path's SQL (docs/performance.md): what was removed stays removed.

- Authentication reads the caller's user, device and institution in one statement on every request
  (revocation stays immediate), not separate entity loads.
- A verification runs on the hot path's ledger (adapters/ledger.py: Core statements, no ORM unit of work),
  writes each row once (no UPDATE of the visit it just inserted) and reads nothing back. A first submission
  does not look its Idempotency-Key up: the database's unique constraint decides it when the outcome is
  written (the key is read only for a missing or spent challenge, i.e. a retry).
- Its writes go with the commit: on PostgreSQL as ONE statement per request (data-modifying CTEs), so a
  verification is 7 statements (start: the caller, the challenge with its audit row; submit: the caller, the
  challenge, the conditional UPDATE that spends it, the open care relationship, then the idempotency record,
  the visit, the relationship, the consent and the audit rows in one statement). On SQLite each table is its
  own statement: 3 to start, 9 to submit, 12 in all.
- A medical-information view is 3 statements: the caller, the visit with its consent and relationship, the
  audit row.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, text

from tests.support.harness import Harness

P = "P01-valid-30"


@contextmanager
def statements(h: Harness) -> Iterator[list[str]]:
    engine = h.app.extensions["mobile_api_engine"]
    seen: list[str] = []

    def record(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)



def test_authentication_reads_user_and_device_in_one_statement(h: Harness) -> None:
    nurse = h.institution().nurse()
    visit = h.verify_pin(nurse, h.card(P), consent={"kinds": ["medication"]}).get_json()
    with statements(h) as seen:
        assert h.medical(nurse, visit["id"]).status_code == 200
    caller_reads = [s for s in seen if " FROM users" in s or " FROM devices" in s]
    assert len(caller_reads) == 1, caller_reads
    assert "JOIN devices" in caller_reads[0] and "password_hash" not in caller_reads[0]


def test_a_verification_does_not_update_the_visit_it_just_inserted_for_the_certificate_expiry(h: Harness) -> None:
    nurse = h.institution().nurse()
    with statements(h) as seen:
        r = h.verify_pin(nurse, h.card(P))
    assert r.status_code == 201, r.get_json()
    assert not [s for s in seen if "UPDATE visits" in s]
    assert any("INSERT INTO visits" in s and "certificate_not_after" in s for s in seen)


def _without_warm_up(seen: list[str]) -> list[str]:
    return [s for s in seen if "sandbox_ca" not in s]  # the sandbox's CA is read once per process


def test_a_verification_is_7_statements_on_postgresql_and_12_on_sqlite_each_row_written_once(h: Harness) -> None:
    postgresql = h.app.extensions["mobile_api_engine"].dialect.name == "postgresql"
    nurse = h.institution().nurse()
    assert h.verify_pin(nurse, h.card(P)).status_code == 201  # warm-up: the sandbox CA, the statement caches
    with statements(h) as seen:
        r = h.verify_pin(nurse, h.card("P08-elderly-20"), consent={"kinds": ["medication"]})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()  # answered from the rows just written: the consent, its window, the new relationship
    assert body["medical_info_window"]["state"] == "open" and body["consent"]["kinds"] == ["medication"]
    assert body["care_relationship"]["active"] is True and body["care_relationship"]["opened_by_visit_id"] == body["id"]
    seen = _without_warm_up(seen)
    assert len(seen) == (7 if postgresql else 12), "\n".join(seen)
    assert not [s for s in seen if " FROM idempotency_records" in s]  # decided by the unique constraint
    assert not [s for s in seen if "UPDATE visits" in s]  # the relationship id went into the INSERT
    assert not [s for s in seen if " FROM consents" in s or " FROM institutions " in s]  # nothing read back
    assert len([s for s in seen if "INSERT INTO audit_events" in s]) == 2  # one per request
    assert len([s for s in seen if s.startswith("SELECT users.")]) == 2  # authentication, once per request
    writes = [s for s in seen if "INSERT INTO" in s]
    if postgresql:  # each request's rows in one statement, in foreign-key order
        assert len(writes) == 2, writes
        order = [table for table in ("idempotency_records", "visits", "care_relationships", "consents",
                                     "audit_events") if f"INSERT INTO {table} " in writes[1]]
        assert order == ["idempotency_records", "visits", "care_relationships", "consents", "audit_events"]
        assert sorted(order, key=writes[1].index) == order
    else:
        assert len(writes) == 7, writes


def test_a_medical_view_is_three_statements(h: Harness) -> None:
    nurse = h.institution().nurse()
    visit = h.verify_pin(nurse, h.card(P), consent={"kinds": ["medication"]}).get_json()
    with statements(h) as seen:
        assert h.medical(nurse, visit["id"]).status_code == 200
    assert [s.split(" ")[0] + " " + s.split(" FROM ")[-1].split(" ")[0] if s.startswith("SELECT") else
            " ".join(s.split(" ")[:3]) for s in seen] == [
        "SELECT users", "SELECT visits", "INSERT INTO audit_events"], seen


def test_the_audit_rows_of_a_submission_keep_their_order_in_the_one_statement_write(h: Harness) -> None:
    nurse = h.institution().nurse()
    visit = h.verify_pin(nurse, h.card(P), consent={"kinds": ["medication"]}).get_json()
    engine = h.app.extensions["mobile_api_engine"]
    with engine.connect() as conn:
        actions = [row.action for row in conn.execute(text(
            "SELECT action FROM audit_events WHERE action IN ('verification.submit', 'consent.register', "
            "'care.open') ORDER BY id"))]
    assert actions == ["verification.submit", "consent.register", "care.open"], visit["id"]


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # psycopg is the PostgreSQL driver
def test_psycopg_converts_each_statement_of_a_verification_once_not_per_request(
        h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """The one-statement write (~70 parameters) is past psycopg's default caching bounds; adapters/db.py widens
    them, so a repeated verification converts none of its statements again (docs/performance.md)."""
    from psycopg import _queries

    nurse = h.institution().nurse()
    assert h.verify_pin(nurse, h.card(P), consent={"kinds": ["medication"]}).status_code == 201  # warm-up
    converted: list[bytes] = []
    uncached = _queries._query2pg_nocache
    monkeypatch.setattr(_queries, "_query2pg_nocache", lambda query, *a: converted.append(query) or uncached(
        query, *a))
    with statements(h) as seen:
        assert h.verify_pin(nurse, h.card(P), consent={"kinds": ["medication"]}).status_code == 201
    assert any(len(s) > 3000 and s.startswith("WITH") for s in seen)  # the long write ran, yet was not converted
    assert converted == []
