"""Bad input gets a 4xx application/problem+json, never a 5xx, and creates nothing."""
import base64
import os

import pytest

from tests.support.harness import b64

P = "P01-valid-30"


def assert_problem(r, status):
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True)[:300])
    assert r.mimetype == "application/problem+json"
    body = r.get_json()
    assert body["status"] == status and body["type"].startswith("/problems/") and body["title"]
    return body


@pytest.fixture
def nurse_and_challenge(h):
    tenant = h.institution()
    nurse = tenant.nurse()
    ch = h.start(nurse).get_json()
    return tenant, nurse, ch


@pytest.mark.parametrize("certificate", [
    b64(b"\x30\x82\x01\x00" + os.urandom(200)),  # DER header, garbage inside
    b64(b"hello"),
    b64(os.urandom(5000)),  # too long
])
def test_malformed_certificates(h, nurse_and_challenge, certificate):
    tenant, nurse, ch = nurse_and_challenge
    r = h.submit(nurse, ch["challenge_id"], {"certificate": certificate, "signature": b64(os.urandom(256))})
    assert r.status_code == 422 and r.mimetype == "application/problem+json"
    assert h.client.get("/api/v1/visits", headers=tenant.auth()).get_json() == []


@pytest.mark.parametrize("signature", [b64(b"x"), b64(os.urandom(256)), b64(os.urandom(512))])
def test_malformed_signatures(h, nurse_and_challenge, signature):
    _, nurse, ch = nurse_and_challenge
    card = h.card(P)
    body = assert_problem(h.submit(nurse, ch["challenge_id"], {"certificate": b64(card.certificate_der),
                                                               "signature": signature}), 422)
    assert body["type"] == "/problems/signature-invalid"


def test_not_base64(h, nurse_and_challenge):
    _, nurse, ch = nurse_and_challenge
    body = assert_problem(h.submit(nurse, ch["challenge_id"], {"certificate": "***", "signature": "@@"}), 422)
    pointers = {e["pointer"] for e in body["errors"]}
    assert {"/certificate", "/signature"} <= pointers


def test_an_ec_certificate_is_not_a_jpki_user_auth_certificate(h, nurse_and_challenge):
    from tests.support.certs import ec_certificate_der

    _, nurse, ch = nurse_and_challenge
    r = h.submit(nurse, ch["challenge_id"], {"certificate": b64(ec_certificate_der()),
                                             "signature": b64(os.urandom(64))})
    assert assert_problem(r, 422)["type"] == "/problems/certificate-malformed"


def test_malformed_json(h, nurse_and_challenge):
    _, nurse, ch = nurse_and_challenge
    r = h.client.post(f"/api/v1/verifications/{ch['challenge_id']}/submit", data=b'{"certificate": ',
                      headers={"Authorization": f"Bearer {nurse}", "Idempotency-Key": "k" * 16,
                               "Content-Type": "application/json"})
    assert assert_problem(r, 400)["type"] == "/problems/malformed-json"


def test_json_of_the_wrong_shape(h, nurse_and_challenge):
    _, nurse, ch = nurse_and_challenge
    for payload in ([1, 2], "text", {"certificate": 5}, {"certificate": None}, {"unknown": 1}):
        r = h.client.post(f"/api/v1/verifications/{ch['challenge_id']}/submit", json=payload,
                          headers={"Authorization": f"Bearer {nurse}", "Idempotency-Key": "k" * 16})
        assert 400 <= r.status_code < 500 and r.mimetype == "application/problem+json", payload


def test_oversized_body(h, nurse_and_challenge):
    _, nurse, ch = nurse_and_challenge
    huge = {"certificate": base64.b64encode(os.urandom(100_000)).decode()}
    r = h.client.post(f"/api/v1/verifications/{ch['challenge_id']}/submit", json=huge,
                      headers={"Authorization": f"Bearer {nurse}", "Idempotency-Key": "k" * 16})
    assert_problem(r, 413)


def test_bad_start_values(h):
    nurse = h.institution().nurse()
    for body in ({"care_type": 9, "form": "home_consent", "method": "pin"},
                 {"care_type": 2, "form": "front_desk", "method": "pin"},
                 {"care_type": 2, "form": "home_consent", "method": "face"},
                 {"care_type": 4, "form": "home_consent", "method": "pin"},
                 {}):
        r = h.client.post("/api/v1/verifications", json=body, headers={"Authorization": f"Bearer {nurse}"})
        assert_problem(r, 422)


def test_no_api_field_accepts_a_pin(h, nurse_and_challenge):
    _, nurse, ch = nurse_and_challenge
    card = h.card(P)
    body = {**h.pin_body(card, ch["challenge"]), "pin": "1234"}
    r = h.submit(nurse, ch["challenge_id"], body)
    problem = assert_problem(r, 422)
    assert any(e["pointer"] == "/pin" for e in problem["errors"])


def test_unknown_routes_and_methods(h):
    assert_problem(h.client.get("/api/v1/nothing-here"), 404)
    assert_problem(h.client.put("/api/v1/auth/login", json={}), 405)


def test_missing_or_garbage_token(h):
    for header in ({}, {"Authorization": "Bearer"}, {"Authorization": "Bearer abc.def.ghi"},
                   {"Authorization": "Basic dXNlcjpwYXNz"}):
        assert_problem(h.client.get("/api/v1/visits", headers=header), 401)


def test_problem_types_are_documented(h):
    r = h.client.get("/problems/consent-window-closed")
    assert r.status_code == 200 and "閲覧期間" in r.get_json()["title"]


MY_NUMBER = "123456789018"  # passes the individual number's check digit (docs/rules.md §7)


def test_no_text_field_of_the_api_stores_an_individual_number(h):
    """Every request field that carries typed text refuses one (422, the field's pointer, Japanese), and the
    fallback record's fields are covered in test_fallback_records.py."""
    tenant = h.institution()
    nurse = tenant.nurse()
    staff = {"Authorization": f"Bearer {nurse}"}
    cases = [
        ("post", "/api/v1/devices", tenant.auth(), {"label": f"端末 {MY_NUMBER}"}, "/label"),
        ("post", "/api/v1/staff", tenant.auth(), {"login": MY_NUMBER, "display_name": "看護 花子",
                                                  "password": "staff-password-9"}, "/login"),
        ("post", "/api/v1/staff", tenant.auth(), {"login": "nurse9", "display_name": f"マイナンバー{MY_NUMBER[:11]}0",
                                                  "password": "staff-password-9"}, "/display_name"),
        ("put", "/api/v1/institution", tenant.auth(), {"name": f"テスト {MY_NUMBER}"}, "/name"),
        ("post", "/api/v1/clients", tenant.auth(), {"name": MY_NUMBER, "auth_method": "client_secret"}, "/name"),
        ("post", "/api/v1/consent-links", staff, {"purpose": "general", "note": MY_NUMBER}, "/note"),
        ("post", "/api/v1/verifications", staff, {"care_type": 2, "form": "home_consent", "method": "pin",
                                                  "patient_reference": MY_NUMBER}, "/patient_reference"),
        ("post", "/api/v1/care-relationships/none/discharge", staff, {"reason": MY_NUMBER}, "/reason"),
        ("post", "/api/v1/visits/none/consent-withdrawal", staff, {"note": MY_NUMBER}, "/note"),
    ]
    before = {path: h.client.get(path, headers=tenant.auth()).get_json()
              for path in ("/api/v1/devices", "/api/v1/staff", "/api/v1/institution", "/api/v1/clients")}
    for method, path, headers, payload, pointer in cases:
        r = getattr(h.client, method)(path, json=payload, headers={**headers, "Idempotency-Key": "k-individual-1"})
        body = assert_problem(r, 422)
        details = {e["pointer"]: e["detail"] for e in body["errors"]}
        assert "マイナンバー" in details.get(pointer, ""), (path, body)
    for path, listing in before.items():
        assert h.client.get(path, headers=tenant.auth()).get_json() == listing, path


def test_a_health_check_client_cannot_send_an_individual_number(h):
    from tests.integration.test_health_check_api import Integrator

    integrator = Integrator(h)
    one = {"reference": "R-1", "insurer_number": "01130012", "number": "1287", "birth_date": "1984-05-12"}
    check = h.client.post("/api/v1/qualification-checks", json={**one, "number": MY_NUMBER},
                          headers=integrator.auth())
    assert "/number" in {e["pointer"] for e in assert_problem(check, 422)["errors"]}
    batch = h.client.post("/api/v1/batch-jobs", json={"examinees": [one, {**one, "reference": MY_NUMBER}]},
                          headers=integrator.auth())
    assert_problem(batch, 422)
    csv_body = f"reference,insurer_number,number,birth_date\r\nR-1,01130012,1287,1984-05-12\r\n" \
               f"R-2,01130012,\"{MY_NUMBER[:4]} {MY_NUMBER[4:8]} {MY_NUMBER[8:]}\",1984-05-12\r\n"
    uploaded = h.client.post("/api/v1/batch-jobs", data=csv_body.encode(), content_type="text/csv",
                             headers=integrator.auth())
    body = assert_problem(uploaded, 422)
    assert [e["pointer"] for e in body["errors"]] == ["/examinees/1/number"] and "マイナンバー" in body["detail"]


def test_the_console_forms_refuse_an_individual_number(h):
    from tests.integration.test_console_access import Browser

    tenant = h.institution()
    admin = Browser(h, tenant, "admin", "admin-password-1")
    for path, form in (("/console/settings/name", {"name": f"施設 {MY_NUMBER}"}),
                       ("/console/staff", {"login": "nurse7", "display_name": f"個人番号 {MY_NUMBER[:11]}3",
                                           "role": "staff", "password": "staff-password-7"}),
                       ("/console/devices", {"label": MY_NUMBER})):
        r = admin.post(path, **form)
        assert r.status_code == 422 and "マイナンバー" in r.get_data(as_text=True), path
    assert MY_NUMBER not in admin.get("/console/devices").get_data(as_text=True)
    assert "nurse7" not in admin.get("/console/staff").get_data(as_text=True)
    assert MY_NUMBER not in admin.get("/console/settings").get_data(as_text=True)


def test_no_one_line_field_of_the_api_takes_a_control_character(h):
    """A line break, a tab or an escape in a name, a label, a login, a reference or a note is refused (422, the
    field's pointer, Japanese), by the API's own fields (api/fields.py ``outside_text``), and nothing is stored."""
    tenant = h.institution()
    nurse = tenant.nurse()
    staff = {"Authorization": f"Bearer {nurse}"}
    cases = [
        ("post", "/api/v1/devices", tenant.auth(), {"label": "端末\n1"}, "/label"),
        ("post", "/api/v1/staff", tenant.auth(), {"login": "nurse9\n", "display_name": "看護 花子",
                                                  "password": "staff-password-9"}, "/login"),
        ("post", "/api/v1/staff", tenant.auth(), {"login": "nurse9", "display_name": "看護\t花子",
                                                  "password": "staff-password-9"}, "/display_name"),
        ("put", "/api/v1/institution", tenant.auth(), {"name": "テスト施設\n"}, "/name"),
        ("post", "/api/v1/clients", tenant.auth(), {"name": "予約\x1b[31m", "auth_method": "client_secret"}, "/name"),
        ("post", "/api/v1/consent-links", staff, {"purpose": "general", "note": "メモ\r\n"}, "/note"),
        ("post", "/api/v1/verifications", staff, {"care_type": 2, "form": "home_consent", "method": "pin",
                                                  "patient_reference": "P-1\x7f"}, "/patient_reference"),
        ("post", "/api/v1/care-relationships/none/discharge", staff, {"reason": "入院\x07"}, "/reason"),
        ("post", "/api/v1/visits/none/consent-withdrawal", staff, {"note": "口頭\n"}, "/note"),
        ("post", "/api/v1/auth/login", {}, {"institution_code": tenant.code, "login": "admin\x1b",
                                            "password": "x"}, "/login"),
    ]
    before = {path: h.client.get(path, headers=tenant.auth()).get_json()
              for path in ("/api/v1/devices", "/api/v1/staff", "/api/v1/institution", "/api/v1/clients")}
    for method, path, headers, payload, pointer in cases:
        r = getattr(h.client, method)(path, json=payload, headers={**headers, "Idempotency-Key": "k-control-1"})
        details = {e["pointer"]: e["detail"] for e in assert_problem(r, 422)["errors"]}
        assert "制御文字" in details.get(pointer, ""), (path, details)
    for path, listing in before.items():
        assert h.client.get(path, headers=tenant.auth()).get_json() == listing, path


@pytest.mark.parametrize("path,param", [("/api/v1/visits", "patient_reference"), ("/api/v1/audit-events", "user_id"),
                                        ("/api/v1/audit-events", "device_id")])
def test_a_filter_with_a_control_character_is_refused_not_searched(h, path, param):
    tenant = h.institution()
    r = h.client.get(path, query_string={param: "P-1\n"}, headers=tenant.auth())
    details = {e["pointer"]: e["detail"] for e in assert_problem(r, 422)["errors"]}
    assert "制御文字" in details.get(f"/query/{param}", ""), details


def test_the_audit_filter_takes_only_an_action_the_log_records(h):
    """An integrator's typo is a 422 naming the parameter, not an empty list; the spec offers the same list."""
    from mobile_api.domain.audit_actions import AUDIT_ACTIONS

    tenant = h.institution()
    typo = h.client.get("/api/v1/audit-events", query_string={"action": "auth.logn"}, headers=tenant.auth())
    details = {e["pointer"]: e["detail"] for e in assert_problem(typo, 422)["errors"]}
    assert "auth.logn" in details.get("/query/action", ""), details
    known = h.client.get("/api/v1/audit-events", query_string={"action": "auth.login"}, headers=tenant.auth())
    assert known.status_code == 200 and [e["action"] for e in known.get_json()] == ["auth.login"]
    spec = h.client.get("/api/openapi.json").get_json()
    (param,) = [p for p in spec["paths"]["/api/v1/audit-events"]["get"]["parameters"] if p["name"] == "action"]
    assert [a for a in param["schema"]["enum"] if a is not None] == list(AUDIT_ACTIONS)
