"""The console's API-client and consent-link pages do what the API does, through the same services and
schemas (SQLite and PostgreSQL): no command line needed for either."""
from __future__ import annotations

import re

from device_agent.device_key import generate_key, public_key_pem
from tests.integration.test_console_access import Browser, audit_rows
from tests.integration.test_health_check_api import assertion
from tests.support.harness import ADMIN_PASSWORD, STAFF_PASSWORD


def _token(h, client_id, key, kid):  # type: ignore[no-untyped-def]
    return h.client.post("/api/v1/oauth/token", data={
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion(client_id, key, kid, h.clock())})


def test_an_admin_creates_rotates_and_revokes_an_api_client_in_the_console(h) -> None:
    tenant = h.institution("health_check")
    admin = Browser(h, tenant, "admin", ADMIN_PASSWORD)
    first, second = generate_key(), generate_key()

    made = admin.post("/console/clients", name="予約システム", auth_method="private_key_jwt",
                      public_key_pem=public_key_pem(first))
    assert made.status_code == 200, made.get_data(as_text=True)
    page = made.get_data(as_text=True)
    client_id = re.search(r'id="client-id">([^<]+)<', page).group(1)
    kid1 = re.search(r'id="key-id">([^<]+)<', page).group(1)
    assert _token(h, client_id, first, kid1).status_code == 200

    added = admin.post(f"/console/clients/{client_id}/credentials", public_key_pem=public_key_pem(second))
    assert added.status_code == 303
    listing = admin.get("/console/clients").get_data(as_text=True)
    kids = re.findall(r"<code>([0-9a-zA-Z_-]{8,})</code>（公開鍵", listing)
    assert kid1 in kids and len(kids) == 2
    kid2 = next(k for k in kids if k != kid1)
    assert _token(h, client_id, second, kid2).status_code == 200  # both keys work during the rotation

    assert admin.post(f"/console/clients/{client_id}/credentials/{kid1}/revoke").status_code == 303
    assert _token(h, client_id, first, kid1).status_code in (400, 401)
    assert _token(h, client_id, second, kid2).status_code == 200

    unconfirmed = admin.post(f"/console/clients/{client_id}/revoke")
    assert unconfirmed.status_code == 422 and "確認のチェック" in unconfirmed.get_data(as_text=True)
    assert admin.post(f"/console/clients/{client_id}/revoke", confirm="yes").status_code == 303
    assert _token(h, client_id, second, kid2).status_code in (400, 401)
    for action in ("client.create", "client.credential.add", "client.credential.revoke", "client.revoke"):
        assert len(audit_rows(h, tenant, action)) == 1, action


def test_a_secret_client_is_shown_its_secret_once_and_bad_input_is_a_form_error(h) -> None:
    tenant = h.institution("health_check")
    admin = Browser(h, tenant, "admin", ADMIN_PASSWORD)
    made = admin.post("/console/clients", name="健診システム", auth_method="client_secret")
    page = made.get_data(as_text=True)
    secret = re.search(r'id="client-secret">([^<]+)<', page).group(1)
    client_id = re.search(r'id="client-id">([^<]+)<', page).group(1)
    assert len(secret) >= 32 and secret not in admin.get("/console/clients").get_data(as_text=True)
    token = h.client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                                        "client_secret": secret})
    assert token.status_code == 200

    for bad in ({"name": "", "auth_method": "client_secret"}, {"name": "x" * 101, "auth_method": "client_secret"},
                {"name": "root", "auth_method": "root"}, {"name": "鍵なし", "auth_method": "private_key_jwt"}):
        refused = admin.post("/console/clients", **bad)
        assert refused.status_code == 422, bad
    tenant.create_staff("nurse9")
    assert Browser(h, tenant, "nurse9", STAFF_PASSWORD).get("/console/clients").status_code == 403


def test_a_consent_link_is_made_with_its_qr_listed_and_revoked_in_the_console(h) -> None:
    tenant = h.institution("home_visit_care")
    admin = Browser(h, tenant, "admin", ADMIN_PASSWORD)
    made = admin.post("/console/consent-links", purpose="general", care_type="3", note="12/5 オンライン診療")
    assert made.status_code == 200, made.get_data(as_text=True)
    page = made.get_data(as_text=True)
    url = re.search(r'id="link-url">([^<]+)<', page).group(1)
    assert "<svg" in page and "/p/" in url
    path = "/p/" + url.rsplit("/p/", 1)[1]
    assert h.client.get(path).status_code == 200  # the patient's page opens

    listing = admin.get("/console/consent-links").get_data(as_text=True)
    assert "12/5 オンライン診療" in listing and "有効" in listing and url not in listing  # the URL is shown once
    link_id = h.client.get("/api/v1/consent-links", headers=tenant.auth()).get_json()[0]["id"]
    assert admin.post(f"/console/consent-links/{link_id}/revoke").status_code == 303
    assert "取り消し済み" in admin.get("/console/consent-links").get_data(as_text=True)
    assert h.client.get(path).status_code == 410
    assert len(audit_rows(h, tenant, "consent_link.revoke")) == 1

    for bad in ({"purpose": "appointment", "care_type": "3"}, {"purpose": "x", "care_type": "3"},
                {"purpose": "general", "care_type": "1e20"}, {"purpose": "general", "care_type": "3",
                                                              "planned_date": "9999-99-99"}):
        assert admin.post("/console/consent-links", **bad).status_code == 422, bad
