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
