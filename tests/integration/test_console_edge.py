"""The console's edge (console/forms.py): forms and query strings go through the API's schemas before anything
reaches a service or the database. Hostile or out-of-range input answers a 4xx page or a Japanese form error,
never a 500, and stores nothing. SQLite and PostgreSQL."""
from __future__ import annotations

from typing import Any

import pytest

from tests.integration.test_console_access import Browser
from tests.support.harness import ADMIN_PASSWORD, STAFF_PASSWORD

JAPANESE = ("\u3040", "\u30ff")


def japanese(r: Any) -> bool:
    return any(JAPANESE[0] <= c <= JAPANESE[1] for c in r.get_data(as_text=True))


def staff_logins(h: Any, tenant: Any) -> list[str]:
    return [u["login"] for u in h.client.get("/api/v1/staff", headers=tenant.auth()).get_json()]


@pytest.mark.parametrize("change", [
    {"login": "ad\x00min"}, {"login": "a" * 300}, {"institution_code": "13\x0000000001"},
    {"institution_code": "1" * 300}, {"password": "p" * 300},
    {"next": "/console/visits\r\nSet-Cookie: x=1"}, {"next": "//evil.example/console/"},
    {"next": "https://evil.example/console/"}, {"next": "/console/\\evil"},
])
def test_a_hostile_sign_in_form_is_a_form_error_and_signs_no_one_in(h, change) -> None:
    tenant = h.institution("home_visit_care")
    browser = h.app.test_client()
    csrf = Browser._token(browser.get("/console/login"))
    form = {"csrf_token": csrf, "institution_code": tenant.code, "login": "admin", "password": ADMIN_PASSWORD,
            "next": "/console/staff", **change}
    r = browser.post("/console/login", data=form)
    assert r.status_code == 422, (r.status_code, r.get_data(as_text=True)[:300])
    assert 'class="problem"' in r.get_data(as_text=True) and japanese(r)
    assert "Set-Cookie: x=1" not in str(r.headers)
    assert browser.get("/console/staff").status_code == 303  # not signed in


def test_a_password_with_nul_is_only_a_wrong_password(h) -> None:
    tenant = h.institution("home_visit_care")
    browser = h.app.test_client()
    csrf = Browser._token(browser.get("/console/login"))
    r = browser.post("/console/login", data={"csrf_token": csrf, "institution_code": tenant.code, "login": "admin",
                                             "password": ADMIN_PASSWORD + "\x00"})
    assert r.status_code == 401 and "正しくありません" in r.get_data(as_text=True)


def test_next_leads_only_to_a_console_page(h) -> None:
    tenant = h.institution("home_visit_care")
    browser = h.app.test_client()
    csrf = Browser._token(browser.get("/console/login"))
    r = browser.post("/console/login", data={"csrf_token": csrf, "institution_code": tenant.code, "login": "admin",
                                             "password": ADMIN_PASSWORD, "next": "/console/audit?from=2026-12-01"})
    assert r.status_code == 303 and r.headers["Location"] == "/console/audit?from=2026-12-01"


@pytest.mark.parametrize("change", [
    {"role": "root"}, {"login": "a" * 300}, {"login": ""}, {"login": "nu\x00ll"}, {"login": "new line\n"},
    {"display_name": "看護\x00花子"}, {"display_name": "看護\r\n花子"}, {"display_name": "長" * 300},
    {"display_name": ""}, {"password": "short"},
])
def test_a_bad_new_staff_member_is_refused_with_a_japanese_page_and_nothing_is_stored(h, change) -> None:
    tenant = h.institution("home_visit_care")
    admin = Browser(h, tenant, "admin", ADMIN_PASSWORD)
    before = staff_logins(h, tenant)
    form = {"login": "nurse9", "display_name": "看護 花子", "role": "staff", "password": STAFF_PASSWORD, **change}
    r = admin.post("/console/staff", **form)
    assert r.status_code == 422, (r.status_code, r.get_data(as_text=True)[:300])
    assert japanese(r)
    assert staff_logins(h, tenant) == before


def test_an_unknown_role_is_refused_and_the_role_is_kept(h) -> None:
    tenant = h.institution("home_visit_care")
    nurse_id = tenant.create_staff("nurse1")
    admin = Browser(h, tenant, "admin", ADMIN_PASSWORD)
    r = admin.post(f"/console/staff/{nurse_id}/role", role="root")
    assert r.status_code == 422 and "役割" in r.get_data(as_text=True)
    roles = {u["login"]: u["role"] for u in h.client.get("/api/v1/staff", headers=tenant.auth()).get_json()}
    assert roles["nurse1"] == "staff"
    assert admin.post(f"/console/staff/{nurse_id}/password", password="p" * 300).status_code == 422


@pytest.mark.parametrize("label", ["端末\x00", "端末\n2", "長" * 300])
def test_a_bad_device_label_is_refused_and_no_device_is_made(h, label) -> None:
    tenant = h.institution("home_visit_care")
    admin = Browser(h, tenant, "admin", ADMIN_PASSWORD)
    r = admin.post("/console/devices", label=label)
    assert r.status_code == 422 and japanese(r)
    assert h.client.get("/api/v1/devices", headers=tenant.auth()).get_json() == []


@pytest.mark.parametrize("query", [
    "from=9999-12-31", "to=9999-12-31", "from=0001-01-01", "to=0001-01-01", "from=2026-13-40",
    "offset=1e20", "offset=100000000000000000000", "offset=-1", "care_type=1e20",
    "care_type=100000000000000000000", "care_type=4x", "form=root", "outcome=maybe", "staff=" + "x" * 300,
    "patient_reference=" + "p" * 300,
])
def test_out_of_range_visit_filters_answer_422_not_500(h, query) -> None:
    tenant = h.institution("home_visit_care")
    admin = Browser(h, tenant, "admin", ADMIN_PASSWORD)
    r = admin.get(f"/console/visits?{query}")
    assert r.status_code == 422, (r.status_code, r.get_data(as_text=True)[:300])
    assert japanese(r)


@pytest.mark.parametrize("query", [
    "from=9999-12-31", "to=9999-12-31", "from=0001-01-01", "to=0001-01-01", "action=" + "a" * 300,
    "staff=" + "x" * 300, "device=%0a", "patient_reference=" + "p" * 300,
])
@pytest.mark.parametrize("page", ["/console/audit", "/console/audit.csv"])
def test_out_of_range_audit_filters_answer_422_not_500(h, page, query) -> None:
    tenant = h.institution("home_visit_care")
    admin = Browser(h, tenant, "admin", ADMIN_PASSWORD)
    r = admin.get(f"{page}?{query}")
    assert r.status_code == 422, (r.status_code, r.get_data(as_text=True)[:300])


def test_the_widest_accepted_dates_still_answer(h) -> None:
    tenant = h.institution("home_visit_care")
    admin = Browser(h, tenant, "admin", ADMIN_PASSWORD)
    assert admin.get("/console/visits?from=1900-01-01&to=2200-12-31").status_code == 200
    assert admin.get("/console/audit?from=1900-01-01&to=2200-12-31").status_code == 200
    assert admin.get("/console/batch-jobs?offset=1e20").status_code == 422
