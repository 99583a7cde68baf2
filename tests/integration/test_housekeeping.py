"""The purge of tables that only grow (services/maintenance.py ``purge``, docs/rules.md §7.1): what is past its
keeping time goes, every live row stays. SQLite and PostgreSQL, on the injected clock."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from mobile_api.adapters import orm
from mobile_api.services import maintenance
from tests.support.harness import Harness

P = "P01-valid-30"


def count(h: Harness, model: Any, *criteria: Any) -> int:
    with h.rt.session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*criteria)) or 0)


def test_spent_challenges_assertions_and_old_idempotency_keys_go_and_what_a_visit_or_a_retry_needs_stays(
        h: Harness) -> None:
    tenant = h.institution()
    nurse = tenant.nurse()
    made = h.verify_pin(nurse, h.card(P), consent={"blanket": True})
    assert made.status_code == 201, made.get_json()
    visit_id = made.get_json()["id"]
    abandoned = h.start(nurse).get_json()["challenge_id"]  # started, never submitted
    h.clock.advance(days=44)
    nurse = tenant.login_on_device("nurse1", tenant.devices[0])  # a fresh device assertion: live
    live = h.start(nurse).get_json()["challenge_id"]

    deleted = maintenance.purge(h.rt)

    assert deleted["challenges"] == 1 and deleted["used_assertions"] >= 1
    with h.rt.session_factory() as session:
        assert session.get(orm.Challenge, abandoned) is None
        assert session.get(orm.Challenge, live) is not None
        visit = session.get(orm.Visit, visit_id)
        assert visit is not None and session.get(orm.Challenge, visit.challenge_id) is not None  # its record
    assert count(h, orm.UsedAssertion, orm.UsedAssertion.expires_at > h.clock()) == 1  # the live login's
    assert count(h, orm.UsedAssertion, orm.UsedAssertion.expires_at <= h.clock()) == 0
    assert count(h, orm.IdempotencyRecord) == 1  # 44 days: a late retry of a fallback record is still answered

    h.clock.advance(days=2)
    assert maintenance.purge(h.rt)["idempotency_records"] == 1
    assert count(h, orm.IdempotencyRecord) == 0 and count(h, orm.Visit) == 1
    with h.rt.session_factory() as session:
        purges = session.scalars(select(orm.AuditEvent.detail).where(orm.AuditEvent.action == "maintenance.purge")
                                 .order_by(orm.AuditEvent.id))
        assert [d["deleted"].get("idempotency_records") for d in purges] == [None, 1]


def test_ended_console_sessions_and_stale_lock_out_counts_go_and_live_ones_stay(h: Harness) -> None:
    h.institution()  # its admin signed in through the API: no console session besides the rows below
    now = h.clock()
    with h.rt.session_factory() as session:
        admin = session.scalars(select(orm.User).where(orm.User.login == "admin")).first()
        assert admin is not None

        def console(name: str, *, created: timedelta, ended: timedelta | None = None,
                    seen: timedelta = timedelta(0)) -> orm.ConsoleSession:
            return orm.ConsoleSession(id=name, token_hash=name.ljust(64, "0"), institution_id=admin.institution_id,
                                      user_id=admin.id, created_at=now - created, last_seen_at=now - seen,
                                      expires_at=now - created + timedelta(hours=8),
                                      ended_at=None if ended is None else now - ended,
                                      end_reason=None if ended is None else "logout")

        session.add_all([
            console("live", created=timedelta(hours=1)),
            console("ended-6-days-ago", created=timedelta(days=6, hours=1), ended=timedelta(days=6)),
            console("ended-8-days-ago", created=timedelta(days=8, hours=1), ended=timedelta(days=8)),
            console("expired-8-days-ago", created=timedelta(days=8, hours=8), seen=timedelta(days=8, hours=1)),
            orm.SignInLockout(key="user:locked", failures=10, window_started_at=now - timedelta(minutes=20),
                              locked_until=now + timedelta(minutes=5)),
            orm.SignInLockout(key="user:counting", failures=3, window_started_at=now - timedelta(minutes=14),
                              locked_until=None),
            orm.SignInLockout(key="user:window-over", failures=3, window_started_at=now - timedelta(minutes=15),
                              locked_until=None),
            orm.SignInLockout(key="source:lock-ended", failures=10, window_started_at=now - timedelta(minutes=31),
                              locked_until=now - timedelta(minutes=1)),
        ])
        session.commit()

    deleted = maintenance.purge(h.rt)

    assert (deleted["console_sessions"], deleted["sign_in_lockouts"]) == (2, 2)
    with h.rt.session_factory() as session:
        assert set(session.scalars(select(orm.ConsoleSession.id))) == {"live", "ended-6-days-ago"}
        assert set(session.scalars(select(orm.SignInLockout.key))) == {"user:locked", "user:counting"}


def test_the_daily_job_and_the_commands_run_the_same_maintenance(h: Harness) -> None:
    nurse = h.institution().nurse()
    abandoned = h.start(nurse).get_json()["challenge_id"]
    h.clock.advance(days=2)
    assert "maintenance.run" in h.rt.jobs.names
    h.rt.jobs.run_now("maintenance.run")  # what the worker's schedule runs (daily, 03:30 in Japan)
    with h.rt.session_factory() as session:
        assert session.get(orm.Challenge, abandoned) is None
    cli = h.app.test_cli_runner()
    purged = cli.invoke(args=["maintenance", "purge"])
    assert purged.exit_code == 0 and "challenges 0 件" in purged.output, purged.output
    kept = cli.invoke(args=["audit", "retention"])
    assert kept.exit_code == 0 and "2020-12-01" in kept.output and "行 0 件" in kept.output, kept.output
