"""``Base.plain``: the hot path's rows made without the constructor's attribute events (docs/performance.md)."""
from datetime import UTC, datetime

import pytest

from mobile_api.adapters import orm
from mobile_api.adapters.ledger import values_of

NOW = datetime(2026, 12, 1, tzinfo=UTC)
VALUES = {"institution_id": "i1", "person_ref": "p1", "opened_by_visit_id": "v1", "card_visit_id": "v1",
          "opened_at": NOW, "last_visit_at": NOW}


def test_a_plain_row_holds_what_the_constructor_would_with_a_fresh_id() -> None:
    made, plain = orm.CareRelationship(**VALUES), orm.CareRelationship.plain(**VALUES)
    assert {k: v for k, v in values_of(plain).items() if k != "id"} == {
        k: v for k, v in values_of(made).items() if k != "id"}
    assert len(plain.id) == 36 and plain.id != made.id
    assert orm.CareRelationship.plain(id="given", **VALUES).id == "given"
    assert plain.ended_at is None  # an unset column reads as None, and is left to the database's default
    assert "ended_at" not in values_of(plain)


def test_a_plain_row_can_still_be_changed_and_refuses_an_unknown_column() -> None:
    plain = orm.CareRelationship.plain(**VALUES)
    plain.last_visit_at = NOW.replace(day=2)
    assert values_of(plain)["last_visit_at"] == NOW.replace(day=2)
    with pytest.raises(TypeError, match="opend_at"):
        orm.CareRelationship.plain(opend_at=NOW)


def test_a_plain_row_is_readable_in_a_fresh_process_before_anything_else_touched_the_orm() -> None:
    """A new gunicorn worker whose first request is a verification: no constructor or query has configured the
    mappers yet, and reading a plain row's column must still work (it answered 500 once)."""
    import subprocess
    import sys

    code = ("from mobile_api.adapters import orm\n"
            "c = orm.Challenge.plain(nonce=b'n', institution_id='i')\n"
            "assert c.client_id is None and c.nonce == b'n' and c.id\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
