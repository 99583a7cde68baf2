"""One lock-out for every way in (API login, console sign-in, OAuth token endpoint) and the per-source throttle in
front of argon2 (docs/rules.md, "Sign-in lock-out"), on SQLite and PostgreSQL, with the injected clock."""
from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from mobile_api import create_app
from mobile_api.clock import FrozenClock
from tests.integration.conftest import TEST_CONFIG
from tests.integration.test_console_access import Browser
from tests.support.harness import ADMIN_PASSWORD, STAFF_PASSWORD, Tenant

LOCK = {"SIGN_IN_MAX_FAILURES": 3, "SIGN_IN_FAILURE_WINDOW_MINUTES": 10, "SIGN_IN_LOCK_MINUTES": 15}
ATTACKER = {"REMOTE_ADDR": "203.0.113.9"}
OTHER = {"REMOTE_ADDR": "198.51.100.7"}


@pytest.fixture
def app(database_url: str, clock: FrozenClock, tmp_path: Path) -> Iterator[Any]:
    app = create_app({**TEST_CONFIG, **LOCK, "DATABASE_URL": database_url}, clock=clock)
    app.instance_path = str(tmp_path / "instance")
    yield app
    app.extensions["mobile_api"].jobs.stop()
    app.extensions["mobile_api_engine"].dispose()


class CountingPasswords:
    """The app's hasher, counting every verification (argon2 work)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.verified = inner, 0

    def verify(self, hashed: str | None, password: str) -> bool:
        self.verified += 1
        return bool(self.inner.verify(hashed, password))

    def hash(self, password: str) -> str:
        return str(self.inner.hash(password))


def api_login(h: Any, tenant: Tenant, password: str, login: str = "nurse1", environ: dict[str, str] = ATTACKER
              ) -> Any:
    return h.client.post("/api/v1/auth/login", json={"institution_code": tenant.code, "login": login,
                                                     "password": password}, environ_base=environ)


def console_login(h: Any, tenant: Tenant, password: str, login: str = "nurse1",
                  environ: dict[str, str] = ATTACKER) -> Any:
    browser = h.app.test_client()
    page = browser.get("/console/login", environ_base=environ).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    return browser.post("/console/login", data={"csrf_token": csrf, "institution_code": tenant.code,
                                                 "login": login, "password": password}, environ_base=environ)


def secret_client(h: Any, tenant: Tenant) -> tuple[str, str]:
    r = h.client.post("/api/v1/clients", json={"name": "CSV連携", "auth_method": "client_secret",
                                               "scopes": ["qualification:check"]}, headers=tenant.auth())
    assert r.status_code == 201, r.get_json()
    return r.get_json()["client_id"], r.get_json()["client_secret"]


def token(h: Any, client_id: str, secret: str, environ: dict[str, str] = ATTACKER) -> Any:
    return h.client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                                      "client_secret": secret}, environ_base=environ)


def audit_rows(h: Any, tenant: Tenant, action: str) -> list[dict[str, Any]]:
    """The institution's audit rows of ``action``, oldest first (read directly: the admin's token may have
    expired while the clock was moved on)."""
    with h.rt.uow() as uow:
        rows = uow.audit.list_by(action=action, institution_id=tenant_id(h, tenant), order_by="id")
        return [{"target_type": r.target_type, "target_id": r.target_id, "outcome": r.outcome, "detail": r.detail,
                 "institution_id": r.institution_id} for r in rows]


def is_locked(r: Any) -> bool:
    return r.status_code == 401 and r.get_json()["type"] == "/problems/sign-in-locked"


def test_api_guessing_locks_the_account_flooding_does_not_unlock_it_and_it_ends_at_its_instant(h, clock) -> None:
    tenant = h.institution()
    tenant.create_staff("nurse1")
    for _ in range(3):
        assert api_login(h, tenant, "wrong-password-x").status_code == 401
    locked_at = clock()
    assert is_locked(api_login(h, tenant, STAFF_PASSWORD))
    for i in range(60):  # a flood while locked: never counted, never pushes the failures out
        assert is_locked(api_login(h, tenant, STAFF_PASSWORD if i % 2 else "wrong-password-x"))
        clock.advance(seconds=1)
    clock.set(locked_at + timedelta(minutes=15) - timedelta(seconds=1))
    assert is_locked(api_login(h, tenant, STAFF_PASSWORD, environ=OTHER))  # the account, from any address
    clock.set(locked_at + timedelta(minutes=15))  # SIGN_IN_LOCK_MINUTES after the third failure: open
    assert api_login(h, tenant, STAFF_PASSWORD).status_code == 200
    (lock,) = audit_rows(h, tenant, "auth.lock")
    assert lock["target_type"] == "user" and lock["detail"]["failures"] == 3 and lock["detail"]["entry"] == "api"
    refusals = [e for e in audit_rows(h, tenant, "auth.login") if e["outcome"] == "refused"]
    assert sum(e["detail"]["reason"] == "locked" for e in refusals) == 62


def test_failures_outside_the_window_do_not_add_up_and_a_success_starts_the_count_again(h, clock) -> None:
    tenant = h.institution()
    tenant.create_staff("nurse1")
    for _ in range(2):
        assert api_login(h, tenant, "wrong-password-x").status_code == 401
    clock.advance(minutes=10)  # SIGN_IN_FAILURE_WINDOW_MINUTES since the first: a new count
    for _ in range(2):
        assert api_login(h, tenant, "wrong-password-x").status_code == 401
    assert api_login(h, tenant, STAFF_PASSWORD).status_code == 200
    for _ in range(2):
        assert api_login(h, tenant, "wrong-password-x").status_code == 401
    assert api_login(h, tenant, STAFF_PASSWORD).status_code == 200
    assert audit_rows(h, tenant, "auth.lock") == []


def test_an_account_locked_in_the_console_cannot_sign_in_through_the_api_and_the_other_way_round(h) -> None:
    tenant = h.institution()
    nurse_id = tenant.create_staff("nurse1")
    for _ in range(3):
        assert console_login(h, tenant, "wrong-password-x").status_code == 401
    refused = console_login(h, tenant, STAFF_PASSWORD)
    assert refused.status_code == 401 and "ロックされています" in refused.get_data(as_text=True)
    assert is_locked(api_login(h, tenant, STAFF_PASSWORD, environ=OTHER))

    r = h.client.post(f"/api/v1/staff/{nurse_id}/unlock", headers=tenant.auth())
    assert r.status_code == 204
    assert console_login(h, tenant, STAFF_PASSWORD).status_code == 303
    (unlock,) = audit_rows(h, tenant, "auth.unlock")
    assert unlock["target_id"] == nurse_id and unlock["detail"]["lifted"] is True

    for _ in range(3):
        assert api_login(h, tenant, "wrong-password-x").status_code == 401
    refused = console_login(h, tenant, STAFF_PASSWORD, environ=OTHER)
    assert refused.status_code == 401 and "ロックされています" in refused.get_data(as_text=True)
    assert Browser(h, tenant, "admin", ADMIN_PASSWORD)  # another account of the institution is not locked


def test_only_an_admin_of_the_institution_unlocks_and_the_command_line_unlocks_too(h) -> None:
    tenant, other = h.institution(), h.institution()
    nurse_id = tenant.create_staff("nurse1")
    for _ in range(3):
        api_login(h, tenant, "wrong-password-x")
    assert h.client.post(f"/api/v1/staff/{nurse_id}/unlock", headers=other.auth()).status_code == 404
    assert api_login(h, tenant, ADMIN_PASSWORD, login="admin", environ=OTHER).status_code == 200  # not locked
    assert is_locked(api_login(h, tenant, STAFF_PASSWORD))
    result = h.app.test_cli_runner().invoke(args=["staff", "unlock", "--institution-code", tenant.code,
                                                  "--login", "nurse1"])
    assert result.exit_code == 0, result.output
    assert api_login(h, tenant, STAFF_PASSWORD).status_code == 200
    assert audit_rows(h, tenant, "auth.unlock")[0]["detail"]["lifted"] is True


def test_unknown_accounts_count_against_the_source_address_which_then_cannot_sign_in(h) -> None:
    tenant = h.institution()
    tenant.create_staff("nurse1")
    for login in ("ghost1", "ghost2", "ghost3"):
        assert api_login(h, tenant, "wrong-password-x", login=login).status_code == 401
    assert is_locked(api_login(h, tenant, STAFF_PASSWORD))  # a real account, from the locked address
    assert api_login(h, tenant, STAFF_PASSWORD, environ=OTHER).status_code == 200  # elsewhere: fine
    result = h.app.test_cli_runner().invoke(args=["staff", "unlock", "--source", ATTACKER["REMOTE_ADDR"]])
    assert result.exit_code == 0, result.output
    assert api_login(h, tenant, STAFF_PASSWORD).status_code == 200


def test_guessing_a_client_secret_locks_the_client_audited_until_an_admin_unlocks_it(h) -> None:
    tenant = h.institution("health_check")
    client_id, secret = secret_client(h, tenant)
    for _ in range(3):
        assert token(h, client_id, secret + "x").get_json()["error"] == "invalid_client"
    locked = token(h, client_id, secret, environ=OTHER)
    assert locked.status_code in (400, 401) and locked.get_json()["error"] == "invalid_client"
    assert "locked" in locked.get_json()["error_description"]
    for _ in range(20):  # flooding does not unlock it
        assert token(h, client_id, secret).get_json()["error"] == "invalid_client"
    (lock,) = audit_rows(h, tenant, "auth.lock")
    assert lock["target_type"] == "client" and lock["target_id"] == client_id and lock["detail"]["entry"] == "oauth"
    refused = [e for e in audit_rows(h, tenant, "client.token") if e["outcome"] == "refused"]
    assert len(refused) == 24 and {e["detail"]["reason"] for e in refused} == {"invalid_client"}
    assert all(e["target_id"] == client_id for e in refused)

    assert h.client.post(f"/api/v1/clients/{client_id}/unlock", headers=tenant.auth()).status_code == 204
    assert token(h, client_id, secret).status_code == 200


def test_a_locked_client_opens_again_exactly_when_the_lock_ends(h, clock) -> None:
    tenant = h.institution("health_check")
    client_id, secret = secret_client(h, tenant)
    for _ in range(3):
        token(h, client_id, "wrong")
    locked_at = clock()
    clock.set(locked_at + timedelta(minutes=15) - timedelta(microseconds=1))
    assert token(h, client_id, secret).get_json()["error"] == "invalid_client"
    clock.set(locked_at + timedelta(minutes=15))
    assert token(h, client_id, secret).status_code == 200


def test_refused_token_requests_are_audited_even_for_unknown_clients(h) -> None:
    tenant = h.institution("health_check")
    client_id, _ = secret_client(h, tenant)
    scope = h.client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                                       "client_secret": "x", "scope": "qualification:batch"})
    grant = h.client.post("/api/v1/oauth/token", data={"grant_type": "password"})
    unknown = token(h, "6f1c2b9e-3d4a-4f5b-8c7d-9e0f1a2b3c4d", "guess")
    assert {scope.status_code, grant.status_code, unknown.status_code} <= {400, 401}
    with h.rt.uow() as uow:
        reasons = {(row.detail["reason"], row.institution_id)
                   for row in uow.audit.list_by(action="client.token", outcome="refused")}
    assert ("invalid_client", tenant_id(h, tenant)) in reasons  # the known client's institution
    assert ("unsupported_grant_type", None) in reasons and ("invalid_client", None) in reasons


def tenant_id(h: Any, tenant: Tenant) -> str:
    from mobile_api.services import identity

    return identity.institution_id_for_code(h.rt, tenant.code)


@pytest.fixture
def throttled(request: pytest.FixtureRequest, database_url: str, clock: FrozenClock, tmp_path: Path
              ) -> Iterator[Any]:
    """The app with a throttle of 3 sign-in attempts a minute per source (and ``request.param``'s settings)."""
    extra = getattr(request, "param", {})
    app = create_app({**TEST_CONFIG, "SIGN_IN_RATE_LIMIT": "3/minute", "DATABASE_URL": database_url, **extra},
                     clock=clock)
    app.instance_path = str(tmp_path / "throttled")
    yield app
    app.extensions["mobile_api"].jobs.stop()
    app.extensions["mobile_api_engine"].dispose()


def test_the_throttle_answers_429_with_retry_after_before_any_argon2_work_on_every_entry(h, throttled) -> None:
    tenant = h.institution("health_check")
    tenant.create_staff("nurse1")
    client_id, secret = secret_client(h, tenant)
    rt = throttled.extensions["mobile_api"]
    rt.passwords = counting = CountingPasswords(rt.passwords)
    other = type(h)(throttled, h.clock)  # the throttled app, same database
    assert api_login(other, tenant, "wrong-password-x").status_code == 401
    assert console_login(other, tenant, "wrong-password-x").status_code == 401
    assert token(other, client_id, secret + "x").get_json()["error"] == "invalid_client"
    assert counting.verified == 3  # three attempts from one address: three hashes

    for r in (api_login(other, tenant, STAFF_PASSWORD), token(other, client_id, secret)):
        assert r.status_code == 429 and r.mimetype == "application/problem+json"
        assert r.get_json()["type"] == "/problems/rate-limited" and 1 <= int(r.headers["Retry-After"]) <= 60
    page = console_login(other, tenant, STAFF_PASSWORD)
    assert page.status_code == 429 and 1 <= int(page.headers["Retry-After"]) <= 60
    assert counting.verified == 3  # refused before any argon2 work
    assert api_login(other, tenant, STAFF_PASSWORD, environ=OTHER).status_code == 200  # per source address


@pytest.mark.parametrize("throttled", [{"TRUSTED_PROXIES": 1}], indirect=True)
def test_behind_a_trusted_proxy_the_forwarded_address_is_the_source(h, throttled) -> None:
    tenant = h.institution()
    other = type(h)(throttled, h.clock)
    proxy = {"REMOTE_ADDR": "10.0.0.2"}  # every request arrives from the proxy

    def attempt(client_address: str) -> int:
        return int(other.client.post("/api/v1/auth/login", json={
            "institution_code": tenant.code, "login": "admin", "password": "wrong-password-x"},
            environ_base=proxy, headers={"X-Forwarded-For": client_address}).status_code)

    assert [attempt("203.0.113.9") for _ in range(4)] == [401, 401, 401, 429]
    assert attempt("198.51.100.7") == 401  # another client behind the same proxy is not throttled


def test_the_database_store_counts_windows_and_deletes_ended_ones(h) -> None:
    from mobile_api.adapters import orm
    from mobile_api.adapters.ratelimit import DatabaseStorage

    store = DatabaseStorage(h.rt.session_factory)
    store.PURGE_EVERY = 3
    assert [store.incr("a", 60) for _ in range(2)] == [1, 2] and store.get("a") == 2
    assert store.incr("ended", 0) == 1 and store.get("ended") == 0  # a window of 0 s has already ended
    assert store.incr("ended", 60) == 1  # ... so the next hit starts a new one
    with h.rt.uow() as uow:
        assert {row.key for row in uow.session.query(orm.RateLimitCounter)} == {"a", "ended"}
    store.incr("gone", 0)
    store.incr("b", 60)
    store.incr("b", 60)  # the sixth hit deletes what has ended: "gone"
    with h.rt.uow() as uow:
        assert {row.key for row in uow.session.query(orm.RateLimitCounter)} == {"a", "ended", "b"}
