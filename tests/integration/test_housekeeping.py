"""The purge of tables that only grow (services/maintenance.py ``purge``, docs/rules.md §7.1): what is past its
keeping time goes, every live row and every row a kept one references stays. SQLite and PostgreSQL, on the injected clock."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from mobile_api.adapters import orm
from mobile_api.services import maintenance
from tests.integration.test_patient_phone import _authenticate, _link, _token
from tests.support.harness import ADMIN_PASSWORD, Harness, Tenant

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


def test_patient_sessions_and_consent_links_go_after_their_keep_and_what_a_consent_needs_stays(h: Harness) -> None:
    """Sessions 7 days after they ended, links 90 days after they expired or were revoked; never a live one,
    nor the link and session a consent was given through (the consent list names the patient from them)."""
    tenant = h.institution()
    consented, abandoned, revoked = (_link(h, tenant) for _ in range(3))
    _, answered = _authenticate(h, _token(consented["url"]), h.card(P), blanket=True)
    assert answered.status_code == 200 and answered.get_json()["consent_id"]
    started = h.client.post(f"/api/v1/patient-links/{_token(abandoned['url'])}/sessions", json={"blanket": True})
    assert started.status_code == 201  # never answered
    assert h.client.post(f"/api/v1/consent-links/{revoked['link']['id']}/revoke", headers=tenant.auth()).status_code == 200
    h.clock.advance(days=8)

    first = maintenance.purge(h.rt)

    assert (first["patient_sessions"], first["consent_links"]) == (1, 0)  # the unanswered session only
    h.clock.advance(days=83)  # day 91: the revoked link's 90 days are over; the others expired on day 30
    tenant.admin_token = _admin_again(h, tenant)
    live = _link(h, tenant)
    assert maintenance.purge(h.rt)["consent_links"] == 1
    assert h.client.get(f"/api/v1/patient-links/{_token(abandoned['url'])}").get_json()["reason"] == "expired"
    h.clock.advance(days=30)  # day 121: the unused link expired 91 days ago; the live one expires now

    assert maintenance.purge(h.rt)["consent_links"] == 1

    assert h.client.get(f"/api/v1/patient-links/{_token(abandoned['url'])}").status_code == 404  # unknown now
    with h.rt.session_factory() as session:
        assert set(session.scalars(select(orm.ConsentLink.id))) == {consented["link"]["id"], live["link"]["id"]}
        assert count(h, orm.PatientSession) == 1 and count(h, orm.Consent) == 1
        purges = session.scalars(select(orm.AuditEvent.detail).where(orm.AuditEvent.action == "maintenance.purge")
                                 .order_by(orm.AuditEvent.at))
        assert [(d["deleted"].get("patient_sessions"), d["deleted"].get("consent_links")) for d in purges] == [
            (1, None), (None, 1), (None, 1)]
    (consent,) = h.client.get("/api/v1/consents", headers=tenant.auth(_admin_again(h, tenant))).get_json()
    assert consent["link_id"] == consented["link"]["id"] and consent["patient"]["name"]


def _admin_again(h: Harness, tenant: Tenant) -> str:
    """The admin signed in again (an access token lasts minutes; these tests move the clock by months)."""
    r = h.client.post("/api/v1/auth/login", json={"institution_code": tenant.code, "login": "admin",
                                                  "password": ADMIN_PASSWORD})
    assert r.status_code == 200, r.get_json()
    return str(r.get_json()["access_token"])
