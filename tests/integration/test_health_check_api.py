"""Health-check institutions through the API: machine clients (OAuth 2.0 client credentials), single checks
by identifiers, and batch jobs run by the real job runner (Huey consumer threads)."""
from __future__ import annotations

import base64
import codecs
import csv
import io
import time
import uuid
from datetime import UTC
from urllib.parse import quote

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select

from device_agent.device_key import generate_key, public_key_pem
from mobile_api.adapters import orm

TOKEN_URL = "http://localhost/api/v1/oauth/token"
P01 = {"insurer_number": "01130012", "symbol": "44100021", "number": "1287", "branch_number": "00",
       "birth_date": "1984-05-12"}
STATUS_ROWS = {
    1: P01,
    2: {"insurer_number": "06135107", "symbol": "12", "number": "3456", "branch_number": "00", "birth_date": "1991-07-03"},
    3: {"insurer_number": "01270016", "symbol": "27010355", "number": "88", "branch_number": "00",
        "birth_date": "1979-01-22"},
    4: {"insurer_number": "01130012", "symbol": "44100021", "number": "9999", "branch_number": "00",
        "birth_date": "1984-05-12"},
    5: {"insurer_number": "01130012", "symbol": "44100888", "number": "7", "birth_date": "2016-04-10"},
    6: {"insurer_number": "12131017", "number": "1234567", "birth_date": "1962-03-18"},
}


@pytest.fixture
def app(app):  # type: ignore[no-untyped-def]
    yield app
    app.extensions["mobile_api"].jobs.stop()


def assertion(client_id: str, key: ec.EllipticCurvePrivateKey, kid: str, now, *, exp_in: int = 120,
              jti: str | None = None) -> str:
    claims = {"iss": client_id, "sub": client_id, "aud": TOKEN_URL, "iat": int(now.timestamp()),
              "exp": int(now.timestamp()) + exp_in, "jti": jti or uuid.uuid4().hex}
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": kid})


def token_request(h, client_id, key, kid, **kw):  # type: ignore[no-untyped-def]
    return h.client.post("/api/v1/oauth/token", data={
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion(client_id, key, kid, h.clock(), **kw)})


class Integrator:
    def __init__(self, h, kind: str = "health_check") -> None:  # type: ignore[no-untyped-def]
        self.h = h
        self.tenant = h.institution(kind)
        self.key = generate_key()
        r = h.client.post("/api/v1/clients", json={"name": "予約システム", "auth_method": "private_key_jwt",
                                                   "public_key_pem": public_key_pem(self.key)},
                          headers=self.tenant.auth())
        assert r.status_code == 201, r.get_json()
        self.client_id = r.get_json()["client_id"]
        self.kid = r.get_json()["credentials"][0]["key_id"]

    def token(self, scope: str | None = None) -> str:
        r = token_request(self.h, self.client_id, self.key, self.kid)
        assert r.status_code == 200, r.get_json()
        return r.get_json()["access_token"]

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}", "Idempotency-Key": key or uuid.uuid4().hex}


@pytest.fixture
def integrator(h):  # type: ignore[no-untyped-def]
    return Integrator(h)


# --- client authentication ------------------------------------------------------------------------

def test_a_good_assertion_gets_a_short_token_with_the_scopes(h, integrator):
    r = token_request(h, integrator.client_id, integrator.key, integrator.kid)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] <= 900
    assert set(body["scope"].split()) == {"qualification:check", "qualification:batch"}
    assert r.headers["Cache-Control"] == "no-store"


def test_replayed_jti_wrong_key_and_expired_assertion_are_invalid_client(h, integrator):
    jti = uuid.uuid4().hex
    assert token_request(h, integrator.client_id, integrator.key, integrator.kid, jti=jti).status_code == 200
    replay = token_request(h, integrator.client_id, integrator.key, integrator.kid, jti=jti)
    wrong_key = token_request(h, integrator.client_id, generate_key(), integrator.kid)
    expired = token_request(h, integrator.client_id, integrator.key, integrator.kid, exp_in=-120)
    too_long = token_request(h, integrator.client_id, integrator.key, integrator.kid, exp_in=7200)
    for r in (replay, wrong_key, expired, too_long):  # 400 (401 only for HTTP Basic), RFC 6749 §5.2
        assert r.status_code == 400, r.get_json()
        assert r.get_json()["error"] == "invalid_client"


@pytest.mark.parametrize("jti", ["abcdefgh\u0000", "abcdefgh\ud800", "\udfff" * 8, "1234567", "x" * 129])
def test_a_client_assertion_with_a_hostile_jti_is_invalid_client(h, integrator, jti):
    """The jti is stored to refuse replays: NUL or a lone surrogate must be refused before, never a 500."""
    r = token_request(h, integrator.client_id, integrator.key, integrator.kid, jti=jti)
    assert r.status_code == 400 and r.get_json()["error"] == "invalid_client", r.get_data(as_text=True)[:300]
    assert token_request(h, integrator.client_id, integrator.key, integrator.kid).status_code == 200


def test_a_secret_client_authenticates_and_a_wrong_secret_is_refused(h):
    tenant = h.institution("health_check")
    r = h.client.post("/api/v1/clients", json={"name": "CSV連携", "auth_method": "client_secret",
                                               "scopes": ["qualification:check"]}, headers=tenant.auth())
    assert r.status_code == 201, r.get_json()
    client_id, secret = r.get_json()["client_id"], r.get_json()["client_secret"]
    good = h.client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                                      "client_secret": secret})
    assert good.status_code == 200, good.get_json()
    assert good.get_json()["scope"] == "qualification:check"
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    assert h.client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"},
                         headers={"Authorization": f"Basic {basic}"}).status_code == 200
    wrong = h.client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                                       "client_secret": secret + "x"})
    assert wrong.status_code == 400 and wrong.get_json()["error"] == "invalid_client"
    wrong_basic = base64.b64encode(f"{client_id}:{secret}x".encode()).decode()
    r = h.client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"},
                      headers={"Authorization": f"Basic {wrong_basic}"})
    assert r.status_code == 401 and r.get_json()["error"] == "invalid_client"
    scope = h.client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                                       "client_secret": secret, "scope": "qualification:batch"})
    assert scope.status_code == 400 and scope.get_json()["error"] == "invalid_scope"


def test_a_secret_clients_id_in_a_client_assertion_is_invalid_client_not_a_500(h):
    tenant = h.institution("health_check")
    r = h.client.post("/api/v1/clients", json={"name": "CSV連携", "auth_method": "client_secret"},
                      headers=tenant.auth())
    client_id = r.get_json()["client_id"]
    forged = token_request(h, client_id, generate_key(), "any-key-id")  # the client has no key to check it with
    assert forged.status_code == 400 and forged.get_json()["error"] == "invalid_client"


@pytest.mark.parametrize("field,value", [
    ("client_id", "6f1c2b9e-3d4a-4f5b-8c7d-9e0f1a2b3c4d\x00"), ("client_id", "\ud800"), ("client_id", "x" * 70_000),
    ("client_secret", "\x00"), ("client_secret", "\udfff" * 3), ("client_assertion", "\x00." * 10),
    ("client_assertion", "a" * 60_000), ("scope", "qualification:check\x00"), ("grant_type", "\ud83d"),
])
def test_hostile_token_requests_are_refused_with_a_4xx(h, integrator, field, value):
    data = {"grant_type": "client_credentials", "client_id": integrator.client_id, "client_secret": "guess",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", field: value}
    body = "&".join(f"{k}={quote(v, errors='surrogatepass')}" for k, v in data.items())
    r = h.client.post("/api/v1/oauth/token", data=body, content_type="application/x-www-form-urlencoded")
    assert 400 <= r.status_code < 500, (r.status_code, r.get_data(as_text=True)[:300])


def test_two_keys_rotate_without_downtime_and_revocation_is_immediate(h, integrator):
    new_key = generate_key()
    r = h.client.post(f"/api/v1/clients/{integrator.client_id}/credentials",
                      json={"public_key_pem": public_key_pem(new_key)}, headers=integrator.tenant.auth())
    assert r.status_code == 201, r.get_json()
    new_kid = r.get_json()["key_id"]
    third = h.client.post(f"/api/v1/clients/{integrator.client_id}/credentials",
                          json={"public_key_pem": public_key_pem(generate_key())}, headers=integrator.tenant.auth())
    assert third.status_code == 409
    assert token_request(h, integrator.client_id, integrator.key, integrator.kid).status_code == 200
    assert token_request(h, integrator.client_id, new_key, new_kid).status_code == 200
    assert h.client.delete(f"/api/v1/clients/{integrator.client_id}/credentials/{integrator.kid}",
                           headers=integrator.tenant.auth()).status_code == 204
    assert token_request(h, integrator.client_id, integrator.key, integrator.kid).get_json()["error"] == \
        "invalid_client"
    token = token_request(h, integrator.client_id, new_key, new_kid).get_json()["access_token"]
    check = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
    assert h.client.post("/api/v1/qualification-checks", json=P01, headers=check).status_code == 200
    assert h.client.delete(f"/api/v1/clients/{integrator.client_id}", headers=integrator.tenant.auth()
                           ).status_code == 204
    again = h.client.post("/api/v1/qualification-checks", json=P01,
                          headers={**check, "Idempotency-Key": uuid.uuid4().hex})
    assert again.status_code == 401 and again.get_json()["rule"] == "client-revoked"


# --- scopes ---------------------------------------------------------------------------------------

def test_a_client_token_is_refused_by_every_non_check_endpoint(h, app, integrator):
    token = integrator.token()
    refused = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule.startswith(
                ("/api/v1/qualification-checks", "/api/v1/batch-jobs", "/api/v1/oauth", "/api/v1/auth/",
                 "/api/v1/devices/enrol", "/api/v1/patient", "/api/v1/problems", "/api/v1/_")):
            continue
        path = rule.rule
        for name in rule.arguments:
            path = path.replace(f"<{name}>", "x").replace(f"<info_kind:{name}>", "medication")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            r = h.client.open(path, method=method, json={}, headers={"Authorization": f"Bearer {token}"})
            if r.status_code == 401:
                continue  # endpoints of other flows with their own credentials
            assert r.status_code == 403, (method, path, r.status_code, r.get_json())
            refused.append(f"{method} {path}")
    for must in ("GET /api/v1/visits", "POST /api/v1/verifications", "GET /api/v1/staff", "GET /api/v1/devices",
                 "GET /api/v1/audit-events", "POST /api/v1/fallback-records", "GET /api/v1/clients"):
        assert must in refused


def test_staff_tokens_cannot_use_the_client_endpoints(h, integrator):
    r = h.client.post("/api/v1/qualification-checks", json=P01,
                      headers={**integrator.tenant.auth(), "Idempotency-Key": uuid.uuid4().hex})
    assert r.status_code == 403 and r.get_json()["rule"] == "client-only"


# --- single checks ----------------------------------------------------------------------------------

@pytest.mark.parametrize("status", sorted(STATUS_ROWS))
def test_a_single_check_answers_every_status(h, integrator, status):
    r = h.client.post("/api/v1/qualification-checks", json={"reference": f"R-{status}", **STATUS_ROWS[status]},
                      headers=integrator.auth())
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["eligibility_status"] == status and body["reference"] == f"R-{status}"
    assert body["valid"] is (status in (1, 6))
    assert (body["qualification"] is not None) is (status not in (4, 5))
    assert "person_ref" not in str(body) and "consent" not in str(body)
    if status == 5:
        assert body["candidates"] == 2
    assert r.headers["Cache-Control"] == "no-store"


def test_full_width_symbol_and_missing_branch_number_match(h, integrator):
    fullwidth = {"insurer_number": "０６１３５１０７", "symbol": "ﾐﾅﾄ123", "number": "45", "birth_date": "1982-02-02"}
    no_branch = {"insurer_number": "131177", "symbol": "世田谷", "number": "567890", "birth_date": "1966-06-06"}
    twin = {**STATUS_ROWS[5], "branch_number": "4"}
    for row, name in ((fullwidth, "石川 美穂"), (no_branch, "前田 茂"), (twin, "岡田 葵")):
        r = h.client.post("/api/v1/qualification-checks", json=row, headers=integrator.auth())
        assert r.status_code == 200, r.get_json()
        assert r.get_json()["eligibility_status"] == 1 and r.get_json()["qualification"]["name"] == name


def test_a_wrong_check_digit_names_the_likely_digit_and_the_retry_gets_the_same_answer(h, integrator):
    headers = integrator.auth("check-digit-0001")
    r = h.client.post("/api/v1/qualification-checks", json={**P01, "insurer_number": "01130013"}, headers=headers)
    assert r.status_code == 422 and r.mimetype == "application/problem+json"
    body = r.get_json()
    assert body["type"].endswith("/insurer-number-invalid") and 8 in body["likely_wrong_positions"]
    assert "「2」" in body["detail"]
    again = h.client.post("/api/v1/qualification-checks", json={**P01, "insurer_number": "01130013"},
                          headers={**integrator.auth(), "Idempotency-Key": "check-digit-0001"})
    assert again.status_code == 422 and again.get_json()["detail"] == body["detail"]


def test_a_check_is_refused_for_a_facility_that_may_not_use_form_3(h):
    clinic = Integrator(h, "home_visit_care")
    r = h.client.post("/api/v1/qualification-checks", json=P01, headers=clinic.auth())
    assert r.status_code == 403 and r.get_json()["type"].endswith("/form-not-allowed")


def test_a_judo_practice_may_not_look_up_by_identifiers_single_or_batch_and_is_pointed_to_the_card(h):
    """OUR RULE (docs/rules.md §1.1): form ③ is the card plus PIN or visual check (seed 001); lookups by
    被保険者番号等 alone are for health-check institutions. The refusal is 403, in Japanese, and audited."""
    practice = Integrator(h, "judo_therapy")
    single = h.client.post("/api/v1/qualification-checks", json=P01, headers=practice.auth())
    assert single.status_code == 403, single.get_json()
    problem = single.get_json()
    assert problem["type"] == "/problems/identifier-lookup-not-allowed"
    assert "マイナンバーカード" in problem["detail"] and "暗証番号" in problem["detail"] and "目視" in problem["detail"]
    assert "qualification" not in problem and "佐藤" not in single.get_data(as_text=True)
    batch = h.client.post("/api/v1/batch-jobs", json={"examinees": [{"reference": "R1", **P01}]},
                          headers=practice.auth())
    assert batch.status_code == 403 and batch.get_json()["type"] == "/problems/identifier-lookup-not-allowed"
    events = h.client.get("/api/v1/audit-events", query_string={"outcome": "refused"},
                          headers=practice.tenant.auth()).get_json()
    assert {e["action"] for e in events if e["detail"].get("reason") == "identifier-lookup-not-allowed"} == {
        "qualification.check", "batch.create"}
    card = h.card("P01-valid-30")  # the same practice confirms with the card and PIN
    answered = card_check(h, practice, card_challenge(h, practice), card)
    assert answered.status_code == 200 and answered.get_json()["qualification"]["name"] == "佐藤 健一"


def test_a_health_check_institution_looks_up_by_identifiers_and_a_setting_can_name_more_kinds(h, integrator):
    r = h.client.post("/api/v1/qualification-checks", json=P01, headers=integrator.auth())
    assert r.status_code == 200 and r.get_json()["eligibility_status"] == 1
    from mobile_api.domain.facility import FacilityPolicy

    h.rt.policy = FacilityPolicy({}, ["health_check", "judo_therapy"])  # IDENTIFIER_LOOKUP_FACILITY_KINDS
    practice = Integrator(h, "judo_therapy")
    allowed = h.client.post("/api/v1/qualification-checks", json=P01, headers=practice.auth())
    assert allowed.status_code == 200 and allowed.get_json()["eligibility_status"] == 1


def test_a_lookup_of_a_person_whose_data_the_insurer_withholds_is_not_valid(h, integrator):
    """DV protection (seed 001): 資格情報なし, status 4, valid false, no data, with the fallback guidance."""
    withheld = {"insurer_number": "01130012", "symbol": "44100777", "number": "9", "branch_number": "00",
                "birth_date": "1988-12-12"}  # sandbox persona P20-data-withheld
    r = h.client.post("/api/v1/qualification-checks", json=withheld, headers=integrator.auth())
    assert r.status_code == 200, r.get_json()
    outcome = r.get_json()
    assert outcome["data_withheld"] is True and outcome["valid"] is False and outcome["eligibility_status"] == 4
    assert outcome["qualification"] is None and any("資格情報なし" in m for m in outcome["messages"])


def test_a_name_with_a_black_circle_is_flagged_in_a_lookup(h, integrator):
    unencodable = {"insurer_number": "01130012", "symbol": "44100034", "number": "504", "branch_number": "00",
                   "birth_date": "1986-12-02"}  # sandbox persona P32-unencodable-name
    r = h.client.post("/api/v1/qualification-checks", json=unencodable, headers=integrator.auth())
    assert r.status_code == 200 and r.get_json()["name_has_unencodable"] is True
    plain = h.client.post("/api/v1/qualification-checks", json=P01, headers=integrator.auth())
    assert plain.get_json()["name_has_unencodable"] is False


# --- single checks with the institution's own card reader ----------------------------------------------

def card_challenge(h, integrator, token=None):  # type: ignore[no-untyped-def]
    r = h.client.post("/api/v1/qualification-checks/challenges",
                      headers={"Authorization": f"Bearer {token or integrator.token()}"})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def card_check(h, integrator, challenge, card, *, signature=None, key=None):  # type: ignore[no-untyped-def]
    signed = signature if signature is not None else h.sign(card, challenge["challenge"])
    body = {"reference": "R-card", "card": {"challenge_id": challenge["challenge_id"],
                                            "certificate": base64.b64encode(card.certificate_der).decode(),
                                            "signature": base64.b64encode(signed).decode()}}
    return h.client.post("/api/v1/qualification-checks", json=body, headers=integrator.auth(key))


def test_a_card_answer_from_the_institutions_reader_is_checked_once_and_audited(h, integrator):
    card = h.card("P01-valid-30")
    challenge = card_challenge(h, integrator)
    assert base64.b64decode(challenge["challenge"]) and challenge["expires_at"]
    r = card_check(h, integrator, challenge, card, key="card-check-0001")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["eligibility_status"] == 1 and body["valid"] is True and body["reference"] == "R-card"
    assert body["qualification"]["name"] and "consent" not in str(body) and "person_ref" not in str(body)
    assert r.headers["Cache-Control"] == "no-store"
    retry = card_check(h, integrator, challenge, card, signature=h.sign(card, challenge["challenge"]),
                       key="card-check-0001")
    assert retry.status_code == 200 and retry.get_json() == body  # same key: the same answer
    reused = card_check(h, integrator, challenge, card)
    assert reused.status_code == 409 and reused.get_json()["type"].endswith("/challenge-used")
    events = h.client.get("/api/v1/audit-events?action=qualification.check",
                          headers=integrator.tenant.auth()).get_json()
    items = events["items"] if isinstance(events, dict) else events
    assert any(e["detail"].get("client_id") == integrator.client_id and e["detail"].get("method") == "card"
               for e in items), items


def test_a_wrong_signature_is_422_and_spends_the_challenge(h, integrator):
    card = h.card("P01-valid-30")
    challenge = card_challenge(h, integrator)
    r = card_check(h, integrator, challenge, card, signature=h.sign(card, base64.b64encode(b"other").decode()))
    assert r.status_code == 422 and r.get_json()["type"].endswith("/signature-invalid")
    again = card_check(h, integrator, challenge, card)
    assert again.status_code == 409


def test_another_clients_or_a_devices_challenge_is_404(h, integrator):
    card = h.card("P01-valid-30")
    other = Integrator.__new__(Integrator)
    other.h, other.tenant, other.key = h, integrator.tenant, generate_key()
    r = h.client.post("/api/v1/clients", json={"name": "別の予約システム", "auth_method": "private_key_jwt",
                                               "public_key_pem": public_key_pem(other.key)},
                      headers=integrator.tenant.auth())
    assert r.status_code == 201, r.get_json()
    other.client_id, other.kid = r.get_json()["client_id"], r.get_json()["credentials"][0]["key_id"]
    challenge = card_challenge(h, other)
    r = card_check(h, integrator, challenge, card)
    assert r.status_code == 404
    assert card_check(h, other, challenge, card).status_code == 200  # not spent by the other client's try


def test_staff_tokens_cannot_use_the_card_check(h, integrator):
    r = h.client.post("/api/v1/qualification-checks/challenges", headers=integrator.tenant.auth())
    assert r.status_code == 403 and r.get_json()["rule"] == "client-only"


def test_a_card_answer_and_identifiers_together_are_422(h, integrator):
    card = h.card("P01-valid-30")
    challenge = card_challenge(h, integrator)
    body = {**P01, "card": {"challenge_id": challenge["challenge_id"],
                            "certificate": base64.b64encode(card.certificate_der).decode(),
                            "signature": base64.b64encode(h.sign(card, challenge["challenge"])).decode()}}
    r = h.client.post("/api/v1/qualification-checks", json=body, headers=integrator.auth())
    assert r.status_code == 422


# --- batch jobs ---------------------------------------------------------------------------------------

def wait_done(h, headers, location, timeout=120.0):  # type: ignore[no-untyped-def]
    """Until the job is done: returns as soon as it is, so the bound is for a loaded machine, not a speed aim."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = h.client.get(location, headers=headers).get_json()
        if job["state"] in ("done", "cancelled"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job not done in {timeout}s: {job}")


def rows(n: int) -> list[dict[str, str]]:
    out = []
    for i in range(n):
        base = STATUS_ROWS[(i % 6) + 1]
        row = {"reference": f"R{i:05d}", **{k: str(v) for k, v in base.items()}}
        if i % 97 == 0:
            row["insurer_number"] = "01130013"  # check-digit row error
        if i % 101 == 0:
            row.pop("birth_date")  # missing date of birth: row error
        out.append(row)
    return out


def test_a_10000_row_batch_completes_and_its_csv_equals_its_json(h, integrator):
    headers = integrator.auth()
    r = h.client.post("/api/v1/batch-jobs", json={"examinees": rows(10_000)}, headers=headers)
    assert r.status_code == 202, r.get_json()
    location = r.headers["Location"]
    job = wait_done(h, headers, location)
    assert job["state"] == "done" and job["done"] == job["total"] == 10_000
    assert job["failed"] == len({i for i in range(10_000) if i % 97 == 0 or i % 101 == 0})
    results = []
    for offset in range(0, 10_000, 5_000):
        page = h.client.get(f"{location}/results", query_string={"limit": 5000, "offset": offset}, headers=headers)
        assert page.status_code == 200
        results.extend(page.get_json()["results"])
    assert [r["reference"] for r in results] == [f"R{i:05d}" for i in range(10_000)]
    assert results[97]["error"]["type"] == "insurer-number-invalid"
    assert results[101]["error"]["field"] == "birth_date"
    assert results[1]["eligibility_status"] == 2
    got = h.client.get(f"{location}/results.csv", query_string={"columns": "codes"}, headers=headers)
    assert got.status_code == 200 and got.mimetype == "text/csv" and got.data.startswith(codecs.BOM_UTF8)
    assert got.headers["Cache-Control"] == "no-store"
    from mobile_api.api.batch_jobs.routes import csv_row

    table = list(csv.reader(io.StringIO(got.data.decode("utf-8-sig"))))
    assert table[1:] == [csv_row(outcome) for outcome in results]
    assert table[1 + 97][table[0].index("error_type")] == "insurer-number-invalid"


def test_results_open_in_excel_with_japanese_headers_labels_and_leading_zeros_kept(h, integrator):
    from openpyxl import load_workbook

    headers = integrator.auth()
    examinees = [{"reference": "=HYPERLINK(\"http://x\")", **P01},
                 {"reference": "R-2", **STATUS_ROWS[2]}]
    r = h.client.post("/api/v1/batch-jobs", json={"examinees": examinees}, headers=headers)
    location = r.headers["Location"]
    wait_done(h, headers, location)

    got = h.client.get(f"{location}/results.csv", headers=headers)
    table = list(csv.reader(io.StringIO(got.data.decode("utf-8-sig"))))
    first = dict(zip(table[0], table[1], strict=True))
    assert first["受診者番号"].endswith('HYPERLINK("http://x")')
    assert (first["資格の状態"], first["資格有効性コード"], first["資格の有無"]) == ("有効", "1", "あり")
    assert (first["一部負担金割合"], first["一部負担金割合コード"], first["本人・家族"]) == ("3割", "030", "本人")
    assert first["性別"] in ("男", "女") and first["性別コード"] in ("1", "2")
    assert dict(zip(table[0], table[2], strict=True))["資格の状態"] == "無効（資格喪失）"

    xlsx = h.client.get(f"{location}/results.xlsx", headers=headers)
    assert xlsx.status_code == 200 and xlsx.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(xlsx.data), read_only=True).worksheets[0]
    rows_read = [[cell for cell in row] for row in sheet.iter_rows(values_only=False)]
    heading = [c.value for c in rows_read[0]]
    cells = dict(zip(heading, rows_read[1], strict=True))
    assert cells["保険者番号"].value == "01130012" and cells["枝番"].value == "00"
    assert cells["保険者番号"].data_type == "s" and cells["受診者番号"].data_type == "s"  # text, never a formula
    assert cells["受診者番号"].value == examinees[0]["reference"]
    codes = h.client.get(f"{location}/results.xlsx", query_string={"columns": "codes"}, headers=headers)
    assert [c.value for c in next(load_workbook(io.BytesIO(codes.data)).worksheets[0].iter_rows())][:3] == [
        "reference", "outcome", "eligibility_status"]


def test_the_same_job_created_twice_is_one_job(h, integrator):
    headers = integrator.auth("batch-key-0001")
    body = {"examinees": rows(20)}
    first = h.client.post("/api/v1/batch-jobs", json=body, headers=headers)
    second = h.client.post("/api/v1/batch-jobs", json=body, headers={**integrator.auth(), "Idempotency-Key":
                                                                      "batch-key-0001"})
    assert first.status_code == second.status_code == 202
    assert first.get_json()["id"] == second.get_json()["id"]
    other = h.client.post("/api/v1/batch-jobs", json={"examinees": rows(3)}, headers={
        **integrator.auth(), "Idempotency-Key": "batch-key-0001"})
    assert other.status_code == 422


@pytest.mark.parametrize("encoding", ["cp932", "utf-8-sig", "utf-8"])
def test_csv_uploads_in_shift_jis_and_utf8_with_or_without_bom(h, integrator, encoding):
    text = ("受診者番号,保険者番号,記号,番号,枝番,生年月日\r\n"
            "健診-001,01130012,44100021,1287,00,1984/05/12\r\n"
            "健診-002,０６１３５１０７,ﾐﾅﾄ123,45,,19820202\r\n"
            "健診-003,131177,世田谷,567890,,1966-06-06\r\n")
    headers = integrator.auth()
    r = h.client.post("/api/v1/batch-jobs", data=text.encode(encoding), headers={**headers,
                                                                                 "Content-Type": "text/csv"})
    assert r.status_code == 202, r.get_json()
    job = wait_done(h, headers, r.headers["Location"])
    results = h.client.get(f"{r.headers['Location']}/results", headers=headers).get_json()["results"]
    assert job["failed"] == 0
    assert [(x["reference"], x["qualification"]["name"]) for x in results] == [
        ("健診-001", "佐藤 健一"), ("健診-002", "石川 美穂"), ("健診-003", "前田 茂")]


def test_a_csv_saved_by_excel_in_cp932_with_its_date_styles_has_no_row_errors(h, integrator):
    """Excel writes 1984/5/12 (no zero padding); Japanese forms write the era (docs/health-check-api.md)."""
    text = ("受診者番号,保険者番号,記号,番号,枝番,生年月日,\r\n"  # a trailing empty header cell, as Excel leaves one
            "健診-001,01130012,44100021,1287,00,1984/5/12,\r\n"
            "健診-002,06135107,ﾐﾅﾄ123,45,,S57.2.2,\r\n"
            "健診-003,131177,世田谷,567890,,昭和41年6月6日,\r\n")
    headers = integrator.auth()
    r = h.client.post("/api/v1/batch-jobs", data=text.encode("cp932"), headers={**headers, "Content-Type": "text/csv"})
    assert r.status_code == 202, r.get_json()
    job = wait_done(h, headers, r.headers["Location"])
    results = h.client.get(f"{r.headers['Location']}/results", headers=headers).get_json()["results"]
    assert job["failed"] == 0, [x["error"] for x in results]
    assert [x["qualification"]["name"] for x in results] == ["佐藤 健一", "石川 美穂", "前田 茂"]


def test_a_misspelt_header_is_refused_at_upload_with_the_expected_names(h, integrator):
    text = "受診者番号,保険者No,記号,番号,生年月日\r\n健診-001,01130012,44100021,1287,1984/5/12\r\n"
    headers = integrator.auth()
    r = h.client.post("/api/v1/batch-jobs", data=text.encode("utf-8"), headers={**headers, "Content-Type": "text/csv"})
    assert r.status_code == 422
    problem = r.get_json()
    assert "保険者No" in problem["detail"] and "「保険者番号」の誤りではありませんか" in problem["detail"]
    assert problem["closest"] == "保険者番号" and "受診者番号" in problem["expected_headers"]


def test_an_insurer_number_that_lost_its_leading_zero_says_so(h, integrator):
    text = "受診者番号,保険者番号,記号,番号,枝番,生年月日\r\n健診-001,1130012,44100021,1287,0,1984/5/12\r\n"
    headers = integrator.auth()
    r = h.client.post("/api/v1/batch-jobs", data=text.encode("utf-8"), headers={**headers, "Content-Type": "text/csv"})
    assert r.status_code == 202, r.get_json()
    wait_done(h, headers, r.headers["Location"])
    [row] = h.client.get(f"{r.headers['Location']}/results", headers=headers).get_json()["results"]
    assert row["error"]["field"] == "insurer_number"
    assert "先頭の0が消えた可能性があります（01130012）" in row["error"]["detail"]


def test_a_body_in_another_media_type_is_415(h, integrator):
    r = h.client.post("/api/v1/batch-jobs", data=b"reference\r\nR-1\r\n",
                      headers={**integrator.auth(), "Content-Type": "text/plain"})
    assert r.status_code == 415 and r.get_json()["type"] == "/problems/unsupported-media-type"


@pytest.mark.parametrize("raw", [
    codecs.BOM_UTF8 + "受診者番号\r\n健診-001\r\n".encode() + b"\xff\xfe\r\n",  # says UTF-8, is not
    codecs.BOM_UTF8 + "受診者番号\r\n".encode() + "健診-001\r\n".encode("cp932"),
    "受診者番号\r\n健診\x00-001\r\n".encode(),  # NUL: PostgreSQL text cannot hold it
    "受診者番号\r\n健診\x00-001\r\n".encode("cp932"),
])
def test_a_csv_that_cannot_be_read_as_text_is_422_in_japanese(h, integrator, raw):
    headers = integrator.auth()
    for upload in ({"data": raw, "headers": {**headers, "Content-Type": "text/csv"}},
                   {"data": {"file": (io.BytesIO(raw), "examinees.csv")}, "headers": headers,
                    "content_type": "multipart/form-data"}):
        r = h.client.post("/api/v1/batch-jobs", **upload)
        assert r.status_code == 422 and r.mimetype == "application/problem+json", r.get_data(as_text=True)[:300]
        assert r.get_json()["errors"][0]["pointer"] == "/file" and "CSV" in r.get_json()["detail"]
    with h.rt.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(orm.BatchJob)) == 0


def test_a_nul_in_an_uploads_file_name_or_field_is_refused_at_the_edge(h, integrator):
    text = "受診者番号\r\n健診-001\r\n".encode()
    for data in ({"file": (io.BytesIO(text), "a\x00.csv")}, {"file": (io.BytesIO(text), "a.csv"), "note": "x\x00"}):
        r = h.client.post("/api/v1/batch-jobs", data=data, headers=integrator.auth(), content_type="multipart/form-data")
        assert r.status_code == 422, r.get_data(as_text=True)[:300]
        assert {e["pointer"] for e in r.get_json()["errors"]} <= {"/files/file", "/form/note"}


def test_another_institutions_job_is_404(h, integrator):
    r = h.client.post("/api/v1/batch-jobs", json={"examinees": rows(2)}, headers=integrator.auth())
    location = r.headers["Location"]
    stranger = Integrator(h)
    for path in (location, f"{location}/results", f"{location}/results.csv"):
        assert h.client.get(path, headers=stranger.auth()).status_code == 404
    assert h.client.post(f"{location}/cancel", headers=stranger.auth()).status_code == 404


def test_results_are_deleted_after_the_keeping_time_and_the_deletion_is_audited(h, integrator, clock):
    headers = integrator.auth()
    r = h.client.post("/api/v1/batch-jobs", json={"examinees": rows(5)}, headers=headers)
    location = r.headers["Location"]
    wait_done(h, headers, location)
    rt = h.rt
    clock.advance(days=7, seconds=1)
    rt.jobs.run_now("batch.purge")
    headers = integrator.auth()
    gone = h.client.get(f"{location}/results", headers=headers)
    assert gone.status_code == 409 and gone.get_json()["type"] == "/problems/results-expired"
    with rt.uow() as uow:  # the admin's 15-minute token is long gone after 7 days
        job_id = location.rsplit("/", 1)[1]
        events = [e for e in uow.audit.search(uow.batch_jobs.get(job_id).institution_id, action="batch.purge",
                                              limit=10, offset=0)]
    assert [e.detail["rows_deleted"] for e in events] == [5]


# --- rate limits ------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def redis_url():  # type: ignore[no-untyped-def]
    from tests.support.redisserver import RedisServer, require_redis

    server = RedisServer()
    try:
        server.start()
    except (FileNotFoundError, RuntimeError) as exc:
        if require_redis():
            raise
        pytest.skip(f"no Redis for the shared rate-limit store: {exc}")
    yield server.url
    server.stop()


@pytest.fixture(params=["database", "redis"])
def two_workers(request, database_url, clock, tmp_path):  # type: ignore[no-untyped-def]
    """Two app instances (as two gunicorn workers would be) sharing one store for their limits: the database
    (the default, RATE_LIMIT_STORAGE_URL unset) or one Redis."""
    from mobile_api import create_app
    from tests.integration.conftest import TEST_CONFIG

    store = {"RATE_LIMIT_STORAGE_URL": request.getfixturevalue("redis_url")} if request.param == "redis" else {}
    config = {**TEST_CONFIG, "DATABASE_URL": database_url, **store, "RATE_LIMITS": {"qualification:check": "3/minute"}}
    workers = []
    for name in ("a", "b"):
        worker = create_app(config, clock=clock)
        worker.instance_path = str(tmp_path / f"worker-{name}")
        workers.append(worker)
    yield workers
    for worker in workers:
        worker.extensions["mobile_api"].jobs.stop()
        worker.extensions["mobile_api_engine"].dispose()


def test_two_workers_share_one_limit_and_the_excess_gets_429_with_retry_after(h, integrator, two_workers):
    a, b = (worker.test_client() for worker in two_workers)
    answers = [(a if i % 2 == 0 else b).post("/api/v1/qualification-checks", json=P01, headers=integrator.auth())
               for i in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]  # 2 + 2 would pass if each counted alone
    refused = answers[3]
    assert refused.mimetype == "application/problem+json" and refused.get_json()["type"].endswith("/rate-limited")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "1分あたり3回" in refused.get_json()["detail"]
    other = Integrator(h)  # limits are per client
    assert a.post("/api/v1/qualification-checks", json=P01, headers=other.auth()).status_code == 200


# --- a worker process killed halfway ----------------------------------------------------------------

def _worker(database_url: str):  # type: ignore[no-untyped-def]
    """``flask jobs worker`` as production runs it: its own process, real clock, a 1-second lease."""
    import json
    import os
    import subprocess
    import sys

    from tests.integration.conftest import TEST_CONFIG

    env = {**os.environ, "DATABASE_URL": database_url, "MOBILE_API_JWT_KEYS": json.dumps(TEST_CONFIG["JWT_KEYS"]),
           "MOBILE_API_JWT_ACTIVE_KID": TEST_CONFIG["JWT_ACTIVE_KID"], "MOBILE_API_BATCH_LEASE_SECONDS": "1",
           "MOBILE_API_BATCH_CHUNK_SIZE": "10", "MOBILE_API_JOBS_POLL_MAX_SECONDS": "0.2",
           "MOBILE_API_JOBS_EMBEDDED_WORKERS": "0"}
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "mobile_api", "jobs", "worker", "--workers", "1"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _poll(predicate, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"{what} not within {timeout}s")


def test_a_job_whose_worker_process_is_killed_halfway_completes_with_every_row_exactly_once(
        h, integrator, database_url, clock, tmp_path):
    import signal
    from datetime import datetime

    from mobile_api import create_app
    from tests.integration.conftest import TEST_CONFIG

    producer = create_app({**TEST_CONFIG, "DATABASE_URL": database_url, "JOBS_EMBEDDED_WORKERS": 0,
                           "RATE_LIMITS": {}}, clock=clock)  # the API process: enqueues, runs nothing
    producer.instance_path = str(tmp_path / "producer")
    rt = producer.extensions["mobile_api"]
    total = 1200
    first = second = None
    try:
        r = producer.test_client().post("/api/v1/batch-jobs", json={"examinees": rows(total)},
                                        headers=integrator.auth())
        assert r.status_code == 202, r.get_json()
        job_id = r.get_json()["id"]

        def job():  # type: ignore[no-untyped-def]
            with rt.uow() as uow:
                return uow.batch_jobs.get(job_id)

        first = _worker(database_url)
        _poll(lambda: job().done >= 200, 60, "the first worker's progress")
        first.send_signal(signal.SIGKILL)  # no clean-up, no lease release: as if the machine died
        first.wait(10)
        halfway = job()
        assert halfway.state == "running" and 0 < halfway.done < total, (halfway.state, halfway.done)
        # Its lease runs out (1 s on the worker's real clock); then the job is an orphan a new worker resumes.
        with rt.uow() as uow:
            _poll(lambda: job_id in uow.batch_jobs.orphaned(datetime.now(UTC)), 60, "the lease to run out")
        second = _worker(database_url)
        finished = _poll(lambda: (j := job()).state == "done" and j, 120, "the job to finish")
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(10)
        producer.extensions["mobile_api"].jobs.stop()
        producer.extensions["mobile_api_engine"].dispose()
    with rt.uow() as uow:
        stored = uow.batch_rows.page(job_id, limit=total + 1, offset=0)
        assert [row.reference for row in stored] == [f"R{i:05d}" for i in range(total)]
        assert all(row.status in ("done", "error") and row.outcome["reference"] == row.reference for row in stored)
        by_worker: dict[str, int] = {}
        for row in stored:
            by_worker[row.processed_by] = by_worker.get(row.processed_by, 0) + 1
    assert finished.done == total == sum(by_worker.values())  # counted once each: nothing redone, nothing lost
    assert len(by_worker) >= 2 and min(by_worker.values()) >= 10  # the killed worker's rows and the new one's
    assert finished.failed == sum(1 for row in stored if row.status == "error")
