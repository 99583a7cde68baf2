"""Every status and kind column is typed with its domain enum and the database refuses any other value (a CHECK
per column, migration 0012): whoever writes the row, the ORM, a Core statement or plain SQL. SQLite and
PostgreSQL."""
from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from sqlalchemy import Enum, inspect, text
from sqlalchemy.exc import IntegrityError

from mobile_api.adapters import orm
from tests.support.harness import Harness

ENUM_COLUMNS = [(table.name, column.name, column.type) for table in orm.Base.metadata.sorted_tables
                for column in table.columns if isinstance(column.type, Enum)]


def test_every_status_like_column_is_an_enum() -> None:
    """A new ``status``/``state``/``reason``/``purpose``/``source``… column that stays a plain string fails here."""
    status_like = re.compile(r"(status|state|reason|purpose|source|method|kind|role|via|basis|outcome|form)$")
    plain = {(t.name, c.name) for t in orm.Base.metadata.sorted_tables for c in t.columns
             if status_like.search(c.name) and not isinstance(c.type, Enum)}
    # Not states: OQS's eligibility code (a number) and a batch row's answer (JSON). The audit log's ``outcome``
    # stays free: an audit row must never fail to be written (docs/architecture.md, "Audit partitions and retention").
    assert plain == {("visits", "eligibility_status"), ("batch_rows", "outcome"), ("audit_events", "outcome")}


def test_the_migrated_checks_hold_exactly_the_enums_values(app: Any) -> None:
    """The database's CHECK per enum column lists the enum's values: an enum grown in code without a migration
    (or a migration that forgot a column) fails here, before the database refuses a real write."""
    inspector = inspect(app.extensions["mobile_api_engine"])
    for table, column, type_ in ENUM_COLUMNS:
        checks = {c["name"]: c["sqltext"] for c in inspector.get_check_constraints(table)}
        name = f"ck_{table}_{column}"
        assert name in checks, f"{table}.{column} has no CHECK in the database"
        assert set(re.findall(r"'([^']*)'", checks[name])) == set(type_.enums), name


def _insert_client(h: Harness, institution_id: str, auth_method: str) -> None:
    with h.rt.session_factory() as session:
        session.execute(text(
            "INSERT INTO api_clients (id, institution_id, name, auth_method, scopes, created_at) "
            "VALUES (:id, :institution, 'reservations', :method, '[]', :now)"),
            {"id": str(uuid.uuid4()), "institution": institution_id, "method": auth_method, "now": h.clock()})
        session.commit()


@pytest.mark.parametrize(("statement", "value"), [
    ("UPDATE institutions SET facility_kind = :value", "hospital"),
    ("UPDATE users SET role = :value", "superuser"),
])
def test_the_database_refuses_an_unknown_status(h: Harness, statement: str, value: str) -> None:
    h.institution()
    with h.rt.session_factory() as session:
        institution_id = session.execute(text("SELECT id FROM institutions")).scalar_one()
    _insert_client(h, institution_id, "client_secret")  # a value of the enum goes in
    with pytest.raises(IntegrityError, match="(?i)check"):
        _insert_client(h, institution_id, "password")  # an INSERT of an unknown value is refused
    with h.rt.session_factory() as session, pytest.raises(IntegrityError, match="(?i)check"):
        session.execute(text(statement), {"value": value})
        session.commit()
