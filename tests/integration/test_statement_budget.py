"""The hot path's SQL (docs/performance.md): what was removed stays removed.

- Authentication reads the caller's user and device in one statement on every request (revocation stays
  immediate), not two entity loads.
- A verification inserts the visit with its certificate's expiry instead of updating the row just inserted.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

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
    assert not [s for s in seen if s.startswith("UPDATE visits") and "certificate_not_after" in s]
    assert any(s.startswith("INSERT INTO visits") and "certificate_not_after" in s for s in seen)
