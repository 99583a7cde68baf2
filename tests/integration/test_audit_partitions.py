"""The audit log by month (migration 0011, services/maintenance.py): on PostgreSQL each row lands in its month's
partition, partitions are made ahead, DEFAULT takes what no month does and hands it over later, the migration keeps
the rows it moves, and retention drops whole months past AUDIT_RETENTION_MONTHS (deletes by date on SQLite).
SQLite and PostgreSQL, on the injected clock."""
from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, insert, select, text

from mobile_api import create_app
from mobile_api.adapters import migrations, orm
from mobile_api.adapters.db import make_engine
from mobile_api.adapters.migrations import include_name
from mobile_api.services import audit, maintenance
from tests.integration.conftest import TEST_CONFIG

_names = itertools.count()


def at(text_: str) -> datetime:
    return datetime.fromisoformat(text_).astimezone(UTC)


def record(h: Any, when: datetime, action: str = "test.event") -> None:
    with h.rt.uow() as uow:
        audit.record(uow, at=when, action=action)
        uow.commit()


def where_rows_are(h: Any) -> dict[str, str]:
    """action → the table (partition) holding the row, on PostgreSQL."""
    with h.rt.session_factory() as session:
        return dict(session.execute(text("SELECT action, tableoid::regclass::text FROM audit_events")).all())


def actions(h: Any) -> set[str]:
    with h.rt.session_factory() as session:
        return set(session.scalars(select(orm.AuditEvent.action)))


def is_postgres(h: Any) -> bool:
    return bool(h.app.config["DATABASE_URL"].startswith("postgresql"))


def test_rows_land_in_their_month_and_a_row_beyond_the_partitions_still_lands(h: Any) -> None:
    made = h.app.test_cli_runner().invoke(args=["audit", "partitions"])  # T0: 2026-12-01 09:00 in Japan
    assert made.exit_code == 0, made.output
    record(h, at("2026-12-31T23:59:59+09:00"), "december")
    record(h, at("2027-01-01T00:00:00+09:00"), "january")  # 2026-12-31 15:00 UTC: January in Japan
    record(h, at("2027-06-15T12:00:00+09:00"), "june")  # beyond the 3 months made ahead
    assert {"december", "january", "june"} <= actions(h)
    if not is_postgres(h):
        assert "SQLite" in made.output
        return
    assert "2026-12, 2027-01, 2027-02, 2027-03" in made.output
    placed = where_rows_are(h)
    assert (placed["december"], placed["january"], placed["june"]) == (
        "audit_events_y2026m12", "audit_events_y2027m01", "audit_events_default")
    h.clock.set(at("2027-04-01T00:00:00+09:00"))
    assert [f"{m.year}-{m.month}" for m in maintenance.prepare_partitions(h.rt)] == [
        "2027-4", "2027-5", "2027-6", "2027-7"]
    placed = where_rows_are(h)
    assert placed["june"] == "audit_events_y2027m06"  # moved out of DEFAULT when its month was made
    assert placed["audit.partitions"] == "audit_events_y2027m04"  # the job audits itself, in the current month
    assert maintenance.prepare_partitions(h.rt) == []  # twice is once
    engine = h.app.extensions["mobile_api_engine"]
    with engine.connect() as conn:  # the partitions the job made are not schema drift for autogenerate
        assert compare_metadata(MigrationContext.configure(conn, opts={"include_name": include_name}),
                                orm.Base.metadata) == []


def test_audit_rows_written_while_months_are_made_all_land_in_their_month(h: Any) -> None:
    """Requests keep writing audit rows (dated over the months being made) while the job makes month after
    month: no insert fails, and none is left in DEFAULT once its month exists."""
    stop, errors, written = threading.Event(), [], [0]
    months = [at(f"2027-{m:02d}-15T12:00:00+09:00") for m in range(1, 10)]

    def write() -> None:
        i = 0
        while not stop.is_set():
            try:
                record(h, months[i % len(months)], "racing")
                written[0] += 1
            except Exception as exc:  # noqa: BLE001 - any failure of an audit insert is the finding
                errors.append(repr(exc))
            i += 1

    writers = [threading.Thread(target=write) for _ in range(3)]
    for thread in writers:
        thread.start()
    try:
        for month in range(1, 7):  # each run makes one more month (3 ahead)
            h.clock.set(at(f"2027-{month:02d}-01T00:00:00+09:00"))
            maintenance.prepare_partitions(h.rt)
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in writers:
            thread.join()
    assert errors == [] and written[0] > 0
    assert sum(1 for a in actions_counted(h) if a == "racing") == written[0]
    if is_postgres(h):
        assert {table for action, table in where_all_rows_are(h) if action == "racing"} == {
            f"audit_events_y2027m{m:02d}" for m in range(1, 10)}


def actions_counted(h: Any) -> list[str]:
    with h.rt.session_factory() as session:
        return list(session.scalars(select(orm.AuditEvent.action)))


def where_all_rows_are(h: Any) -> list[tuple[str, str]]:
    with h.rt.session_factory() as session:
        return [(a, t) for a, t in session.execute(
            text("SELECT action, tableoid::regclass::text FROM audit_events")).all()]


def test_retention_drops_whole_months_past_the_setting_and_never_the_current_data(h: Any) -> None:
    h.clock.set(at("2020-11-15T12:00:00+09:00"))
    maintenance.prepare_partitions(h.rt)  # 2020-11 .. 2021-02 on PostgreSQL
    record(h, at("2019-05-01T12:00:00+09:00"), "ancient")  # no month partition: DEFAULT
    record(h, at("2020-11-30T23:59:59+09:00"), "last-day-past")
    record(h, at("2020-12-01T00:00:00+09:00"), "first-day-kept")
    h.clock.set(at("2026-12-04T12:00:00+09:00"))
    maintenance.prepare_partitions(h.rt)
    record(h, h.clock(), "today")

    report = maintenance.apply_retention(h.rt)  # 72 months: everything before 2020-12-01 in Japan goes

    assert report.cutoff == at("2020-12-01T00:00:00+09:00")
    assert actions(h) >= {"first-day-kept", "today", "audit.retention"}
    assert not actions(h) & {"ancient", "last-day-past"}
    with h.rt.session_factory() as session:
        detail = session.scalars(select(orm.AuditEvent.detail).where(orm.AuditEvent.action == "audit.retention")).one()
        if is_postgres(h):
            assert [f"{m.year}-{m.month}" for m in report.dropped] == ["2020-11"]
            assert session.scalar(text("SELECT to_regclass('audit_events_y2020m11')")) is None
            assert session.scalar(text("SELECT to_regclass('audit_events_y2020m12')")) is not None
            assert (detail["dropped"], detail["deleted_rows"]) == (["audit_events_y2020m11"], 1)
        else:
            assert (report.dropped, detail["deleted_rows"]) == ([], 2)
    assert detail["retention_months"] == 72 and detail["cutoff"].startswith("2020-12-01T00:00:00+09:00")
    again = maintenance.apply_retention(h.rt)
    assert (again.dropped, again.deleted_rows) == ([], 0)  # nothing left to remove: nothing audited either


def test_a_retention_shorter_than_three_years_stops_the_app(database_url: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="AUDIT_RETENTION_MONTHS"):
        create_app({**TEST_CONFIG, "DATABASE_URL": database_url, "AUDIT_RETENTION_MONTHS": 35})


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_at_0010(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A new database migrated only up to 0010, the revision before the audit log was partitioned."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'at0010.sqlite3'}"
    else:
        url = request.getfixturevalue("pg_cluster").create_database(f"at0010_{next(_names)}")
    engine = make_engine(url)
    migrations.upgrade(engine, "0010")
    yield engine
    engine.dispose()


def test_the_migration_keeps_every_row_and_puts_each_in_its_month(database_at_0010: Engine) -> None:
    engine = database_at_0010
    times = [at("2026-10-31T23:59:00+09:00"), at("2026-11-01T00:00:00+09:00"), at("2026-12-04T09:00:00+09:00")]
    with engine.begin() as conn:
        # An institution and its admin: 0012 rebuilds both tables on SQLite while the user row references one.
        conn.execute(text("INSERT INTO institutions (id, code, name, facility_kind, visual_password_failures, "
                          "created_at) VALUES ('i1', '1312345678', 'テスト', 'home_visit_care', 0, :now)"),
                     {"now": times[0]})
        conn.execute(text("INSERT INTO users (id, institution_id, login, display_name, role, password_hash, "
                          "created_at) VALUES ('u1', 'i1', 'admin', '管理 太郎', 'admin', 'x', :now)"), {"now": times[0]})
        conn.execute(insert(orm.AuditEvent), [
            {"at": t, "action": f"row{i}", "outcome": "ok", "detail": {"i": i}, "institution_id": "i1"}
            for i, t in enumerate(times)])
        before = conn.execute(text("SELECT id, action FROM audit_events ORDER BY id")).all()

    migrations.upgrade(engine)

    with engine.begin() as conn:
        after = conn.execute(select(orm.AuditEvent.id, orm.AuditEvent.action, orm.AuditEvent.at,
                                    orm.AuditEvent.detail).order_by(orm.AuditEvent.id)).all()
        assert [(r.id, r.action) for r in after] == [tuple(r) for r in before]
        assert [r.at for r in after] == times and [r.detail for r in after] == [{"i": 0}, {"i": 1}, {"i": 2}]
        assert conn.execute(text("SELECT u.login, i.facility_kind FROM users u JOIN institutions i "
                                 "ON i.id = u.institution_id")).all() == [("admin", "home_visit_care")]
        conn.execute(insert(orm.AuditEvent), {"at": times[2], "action": "new", "outcome": "ok",
                                                        "detail": {}})
        new_id = conn.scalar(select(orm.AuditEvent.id).where(orm.AuditEvent.action == "new"))
        assert new_id > max(r.id for r in after)  # the id sequence went on where it was
        if engine.dialect.name == "postgresql":
            placed: dict[str, str] = dict(conn.execute(text(
                "SELECT action, tableoid::regclass::text FROM audit_events")).all())
            assert placed == {"row0": "audit_events_y2026m10", "row1": "audit_events_y2026m11",
                              "row2": "audit_events_y2026m12", "new": "audit_events_y2026m12"}
            assert conn.scalar(text("SELECT relkind FROM pg_class WHERE relname = 'audit_events'")) == "p"
    migrations.downgrade(engine, "0010")  # and back: one plain table with the same rows
    with engine.begin() as conn:
        assert conn.scalar(text("SELECT count(*) FROM audit_events")) == 4
        if engine.dialect.name == "postgresql":
            assert conn.scalar(text("SELECT relkind FROM pg_class WHERE relname = 'audit_events'")) == "r"
            assert conn.scalar(text("SELECT to_regclass('audit_events_default')")) is None


def test_audit_ids_go_past_two_to_the_31(h: Any) -> None:
    """~196 M confirmations a month (seed) pass 2^31 audit ids inside the 72 months kept: past it, the hot path's
    audit rows (a verification) and the unit of work's still insert, and the API shows their ids (migration 0013:
    BIGINT column and sequence on PostgreSQL; SQLite's INTEGER rowid is 64-bit)."""
    tenant = h.institution()
    nurse = tenant.nurse()
    beyond = 2**31 + 5
    with h.rt.session_factory() as session:
        if is_postgres(h):
            session.execute(text("SELECT setval(pg_get_serial_sequence('audit_events', 'id'), :id)"), {"id": beyond})
            assert session.scalar(text("SELECT data_type FROM information_schema.columns "
                                       "WHERE table_name = 'audit_events' AND column_name = 'id'")) == "bigint"
            assert session.scalar(text("SELECT data_type FROM pg_sequences WHERE sequencename = "
                                       "split_part(pg_get_serial_sequence('audit_events', 'id'), '.', 2)")) == "bigint"
        else:  # the rowid goes on from the largest id
            session.execute(insert(orm.AuditEvent), {"id": beyond, "at": h.clock(), "action": "test.beyond",
                                                     "outcome": "ok", "detail": {}})
        session.commit()
    assert h.verify_pin(nurse, h.card("P01-valid-30")).status_code == 201  # the ledger's audit row
    record(h, h.clock(), "test.after")  # the unit of work's
    events = h.client.get("/api/v1/audit-events", query_string={"limit": 100}, headers=tenant.auth()).get_json()
    submitted = {e["action"]: e["id"] for e in events}["verification.submit"]
    with h.rt.session_factory() as session:
        after = session.scalar(select(orm.AuditEvent.id).where(orm.AuditEvent.action == "test.after"))
    assert beyond < submitted < after
