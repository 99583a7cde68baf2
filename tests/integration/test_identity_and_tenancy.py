"""Logins, refresh rotation, device enrolment and revocation, and tenant isolation."""
from device_agent.device_key import generate_key, make_assertion, public_key_pem
from tests.support.harness import STAFF_PASSWORD

P = "P01-valid-30"


def test_activation_code_is_single_use_and_expires(h):
    tenant = h.institution()
    created = h.client.post("/api/v1/devices", json={"label": "t"}, headers=tenant.auth()).get_json()
    code = created["activation_code"]
    assert len(code) == 12 and code.isdigit()
    assert created["activation_qr_svg"].lstrip().startswith("<?xml") and code in created["activation_uri"]
    enrol = {"activation_code": code, "public_key_pem": public_key_pem(generate_key())}
    assert h.client.post("/api/v1/devices/enrol", json=enrol).status_code == 201
    again = h.client.post("/api/v1/devices/enrol", json=enrol)
    assert again.status_code == 409 and again.get_json()["type"] == "/problems/activation-code-used"
    other_key = {**enrol, "public_key_pem": public_key_pem(generate_key())}
    assert h.client.post("/api/v1/devices/enrol", json=other_key).status_code == 409
    wrong = h.client.post("/api/v1/devices/enrol", json={**enrol, "activation_code": "000000000000"})
    assert wrong.status_code == 401
    late = h.client.post("/api/v1/devices", json={"label": "t2"}, headers=tenant.auth()).get_json()
    h.clock.advance(hours=24)
    r = h.client.post("/api/v1/devices/enrol", json={"activation_code": late["activation_code"],
                                                     "public_key_pem": public_key_pem(generate_key())})
    assert r.status_code == 401


def test_enrolment_needs_a_p256_key(h):
    tenant = h.institution()
    code = h.client.post("/api/v1/devices", json={"label": "t"}, headers=tenant.auth()).get_json()["activation_code"]
    r = h.client.post("/api/v1/devices/enrol", json={"activation_code": code, "public_key_pem": "not a key"})
    assert r.status_code == 422 and r.get_json()["errors"][0]["pointer"] == "/public_key_pem"


def test_verification_needs_staff_on_an_enrolled_device(h):
    tenant = h.institution()
    tenant.create_staff("nurse1")
    plain = h.client.post("/api/v1/auth/login", json={"institution_code": tenant.code, "login": "nurse1",
                                                      "password": STAFF_PASSWORD}).get_json()["access_token"]
    r = h.start(plain)
    assert r.status_code == 403 and r.get_json()["rule"] == "staff-and-device"


def test_device_assertion_cannot_be_replayed(h):
    tenant = h.institution()
    tenant.create_staff("nurse1")
    device = tenant.enrol_device()
    assertion = tenant.assertion(device)
    body = {"institution_code": tenant.code, "login": "nurse1", "password": STAFF_PASSWORD,
            "device_assertion": assertion}
    assert h.client.post("/api/v1/auth/login", json=body).status_code == 200
    assert h.client.post("/api/v1/auth/login", json=body).status_code == 401


def test_assertion_signed_by_another_key_refused(h):
    tenant = h.institution()
    tenant.create_staff("nurse1")
    device = tenant.enrol_device()
    forged = make_assertion(generate_key(), device_id=device.id, audience=h.audience, now=h.clock())
    r = h.client.post("/api/v1/auth/login", json={"institution_code": tenant.code, "login": "nurse1",
                                                  "password": STAFF_PASSWORD, "device_assertion": forged})
    assert r.status_code == 401


def test_revoked_device_refused_on_the_next_request(h):
    tenant = h.institution()
    nurse = tenant.nurse()
    assert h.start(nurse).status_code == 201
    device = tenant.devices[0]
    assert h.client.post(f"/api/v1/devices/{device.id}/revoke", headers=tenant.auth()).status_code == 200
    r = h.start(nurse)  # the same, still unexpired access token
    assert r.status_code == 401 and r.get_json()["rule"] == "device-revoked"
    refused = h.client.post("/api/v1/auth/device-token", json={"assertion": tenant.assertion(device)})
    assert refused.status_code == 401


def test_revoked_staff_refused_on_the_next_request_and_cannot_refresh(h):
    tenant = h.institution()
    user_id = tenant.create_staff("nurse1")
    device = tenant.enrol_device()
    pair = h.client.post("/api/v1/auth/login", json={
        "institution_code": tenant.code, "login": "nurse1", "password": STAFF_PASSWORD,
        "device_assertion": tenant.assertion(device)}).get_json()
    h.client.post(f"/api/v1/staff/{user_id}/revoke", headers=tenant.auth())
    assert h.start(pair["access_token"]).status_code == 401
    assert h.client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code == 401


def test_refresh_rotates_and_reuse_revokes_the_family(h):
    tenant = h.institution()
    tenant.create_staff("nurse1")
    first = h.client.post("/api/v1/auth/login", json={"institution_code": tenant.code, "login": "nurse1",
                                                      "password": STAFF_PASSWORD}).get_json()
    second = h.client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    new = second.get_json()
    assert new["refresh_token"] != first["refresh_token"]
    stolen = h.client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert stolen.status_code == 401
    # Reuse of a spent token is theft: the whole chain is revoked, the newest token too.
    assert h.client.post("/api/v1/auth/refresh", json={"refresh_token": new["refresh_token"]}).status_code == 401


def test_access_token_lives_at_most_15_minutes(h):
    tenant = h.institution()
    h.clock.advance(minutes=15)
    r = h.client.get("/api/v1/institution", headers=tenant.auth())
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")


def test_wrong_password_refused_and_audited(h):
    tenant = h.institution()
    r = h.client.post("/api/v1/auth/login", json={"institution_code": tenant.code, "login": "admin",
                                                  "password": "wrong-password"})
    assert r.status_code == 401
    events = h.client.get("/api/v1/audit-events?action=auth.login&outcome=refused", headers=tenant.auth()).get_json()
    assert events and events[0]["detail"]["reason"] == "bad-credentials"
    assert "password" not in str(events[0]["detail"]).replace("bad-credentials", "")


def test_staff_cannot_administer(h):
    tenant = h.institution()
    nurse = tenant.nurse()
    for method, path in (("get", "/api/v1/audit-events"), ("post", "/api/v1/devices"), ("get", "/api/v1/staff")):
        r = getattr(h.client, method)(path, json={"label": "x"} if method == "post" else None,
                                      headers={"Authorization": f"Bearer {nurse}"})
        assert r.status_code == 403, path


def test_other_institution_cannot_see_or_touch_visits(h):
    a, b = h.institution(), h.institution()
    nurse_a, nurse_b = a.nurse(), b.nurse("nurse-b")
    visit = h.verify_pin(nurse_a, h.card(P), consent={"blanket": True}).get_json()
    auth_b = {"Authorization": f"Bearer {nurse_b}"}
    assert h.client.get(f"/api/v1/visits/{visit['id']}", headers=auth_b).status_code == 404
    assert h.medical(nurse_b, visit["id"]).status_code == 404
    assert h.client.get("/api/v1/visits", headers=auth_b).get_json() == []
    ch = h.start(nurse_a).get_json()
    stolen = h.submit(nurse_b, ch["challenge_id"], h.pin_body(h.card(P), ch["challenge"]))
    assert stolen.status_code == 404
    assert h.client.post(f"/api/v1/devices/{a.devices[0].id}/revoke", headers=b.auth()).status_code == 404
    events_b = h.client.get("/api/v1/audit-events", headers=b.auth()).get_json()
    assert all(e["target_id"] != visit["id"] for e in events_b)


def test_audit_log_cannot_be_deleted_through_the_api(h):
    tenant = h.institution()
    r = h.client.delete("/api/v1/audit-events", headers=tenant.auth())
    assert r.status_code == 405 and r.mimetype == "application/problem+json"


def test_audit_filters(h):
    tenant = h.institution()
    nurse = tenant.nurse()
    h.verify_pin(nurse, h.card(P))
    h.clock.advance(minutes=1)
    since = h.clock().isoformat()
    h.verify_pin(nurse, h.card(P))
    later = h.client.get("/api/v1/audit-events", query_string={"action": "verification.submit", "since": since},
                         headers=tenant.auth()).get_json()
    assert len(later) == 1
    every = h.client.get("/api/v1/audit-events", headers=tenant.auth()).get_json()
    actions = {e["action"] for e in every}
    assert {"auth.login", "device.create", "device.enrol", "user.create", "verification.start",
            "verification.submit"} <= actions


def test_institution_tells_the_device_which_forms_it_may_use(h):
    judo = h.institution("judo_therapy")
    info = h.client.get("/api/v1/institution", headers=judo.auth()).get_json()
    assert info["allowed_forms"] == ["qualification_only"]
    assert info["facility_kind_label"] == "柔道整復師" and info["visual_password_set"] is False
    judo.set_visual_password()
    assert h.client.get("/api/v1/institution", headers=judo.auth()).get_json()["visual_password_set"] is True
