"""Console sessions are kept on the server (services/console_auth.py): logout, an admin's password reset, a role
change and revocation end them at once, for every copy of the cookie; the idle and absolute limits hold to the
second on the injected clock. SQLite and PostgreSQL."""
from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.integration.test_console_access import Browser
from tests.support.harness import ADMIN_PASSWORD, STAFF_PASSWORD, Tenant
from tests.support.scrub import scrub

COOKIE = "mobile_oqs_console"


def cookie_of(browser: Browser) -> str:
    return browser.client.get_cookie(COOKIE, path="/console").value


def thief(h: Any, browser: Browser) -> Any:
    """Another browser holding a copy of ``browser``'s cookie, taken now."""
    client = h.app.test_client()
    client.set_cookie(COOKIE, cookie_of(browser), path="/console")
    return client


def is_in(client: Any) -> bool:
    r = client.get("/console/staff")
    assert r.status_code in (200, 303), r.status_code
    return r.status_code == 200


def signed_in_pair(h: Any) -> tuple[Tenant, Browser, Browser, str]:
    """An institution, its admin's browser, a second admin's browser and that admin's user id."""
    tenant = h.institution("home_visit_care")
    other_id = tenant.create_staff("second", role="admin")
    return tenant, Browser(h, tenant, "admin", ADMIN_PASSWORD), Browser(h, tenant, "second", STAFF_PASSWORD), other_id


def test_the_cookie_names_no_user_and_a_copy_taken_before_logout_is_refused_after(h) -> None:
    tenant, admin, _, _ = signed_in_pair(h)
    payload = cookie_of(admin).split(".")[0].lstrip(".")
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode(errors="replace")
    # only an opaque id (and the CSRF token); the random values themselves may spell "uid" (1 run in 3000)
    assert "uid" not in scrub(decoded) and tenant.code not in decoded
    copy = thief(h, admin)
    assert is_in(copy)
    assert admin.post("/console/logout").status_code == 303
    assert not is_in(admin)
    r = copy.get("/console/staff")
    assert r.status_code == 303 and "/console/login" in r.headers["Location"]
    assert "ログアウトしました" in copy.get("/console/login").get_data(as_text=True)


@pytest.mark.parametrize("change", ["password", "role", "disable"])
def test_an_admins_reset_role_change_or_revocation_ends_every_session_of_that_user_at_once(h, change) -> None:
    _, admin, second, second_id = signed_in_pair(h)
    copy = thief(h, second)
    form = {"password": {"password": "new-password-2026"}, "role": {"role": "staff"}, "disable": {}}[change]
    assert admin.post(f"/console/staff/{second_id}/{change}", **form).status_code == 303
    assert not is_in(second) and not is_in(copy)
    assert is_in(admin)  # the admin's own session is another user's: it goes on


def test_a_revocation_through_the_api_ends_the_console_sessions_too(h) -> None:
    tenant, admin, second, second_id = signed_in_pair(h)
    r = h.client.post(f"/api/v1/staff/{second_id}/revoke", headers=tenant.auth())
    assert r.status_code in (200, 204), r.get_json()
    assert not is_in(second) and is_in(admin)


def test_a_session_ends_when_idle_for_the_limit_to_the_second(h) -> None:
    h.app.config["CONSOLE_IDLE_MINUTES"] = 1
    _, admin, _, _ = signed_in_pair(h)
    h.clock.advance(seconds=59)
    assert is_in(admin)  # each page seen restarts the idle limit
    h.clock.advance(seconds=59)
    assert is_in(admin)
    h.clock.advance(seconds=60)
    r = admin.get("/console/staff")
    assert r.status_code == 303
    assert "しばらく操作がなかったため" in admin.get("/console/login").get_data(as_text=True)
    h.clock.advance(seconds=-60)  # a session once ended stays ended
    assert not is_in(admin)


def test_a_session_ends_at_the_absolute_limit_to_the_second_however_active(h) -> None:
    h.app.config["CONSOLE_SESSION_MINUTES"] = 1
    _, admin, _, _ = signed_in_pair(h)
    for _ in range(5):
        h.clock.advance(seconds=11)
        assert is_in(admin)
    h.clock.advance(seconds=4)  # 59 s after sign-in
    assert is_in(admin)
    h.clock.advance(seconds=1)  # 60 s: over, though it was used a second ago
    assert not is_in(admin)
    assert "有効期限が切れました" in admin.get("/console/login").get_data(as_text=True)


def test_signing_in_gives_a_new_session_id_and_the_old_one_is_not_it(h) -> None:
    tenant, admin, _, _ = signed_in_pair(h)
    before = cookie_of(admin)
    r = admin.client.post("/console/login", data={"csrf_token": admin.csrf, "institution_code": tenant.code,
                                                  "login": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 303 and cookie_of(admin) != before
    assert is_in(admin)
