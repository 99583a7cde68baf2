"""Hostile tokens and device assertions get 401 problem+json, never a 500, on both databases.

The access tokens here are forged with the test signing key (as if it had leaked), so what is
tested is the server's own checks of the times, not the signature.
"""
from __future__ import annotations

import json

import jwt
import pytest

from tests.integration.conftest import TEST_CONFIG
from tests.support.harness import STAFF_PASSWORD

HOSTILE = ["NaN", "Infinity", "-Infinity", "1e400", "true", "false", str(10 ** 400)]


def assert_401(r):
    assert r.status_code == 401, (r.status_code, r.get_data(as_text=True)[:300])
    assert r.mimetype == "application/problem+json"
    assert r.get_json()["status"] == 401


def forged_access(h, real_token: str, **times: str) -> str:
    """The real token's claims re-signed with the test key, with ``iat``/``exp`` written as raw JSON."""
    claims = jwt.decode(real_token, options={"verify_signature": False})
    kid = TEST_CONFIG["JWT_ACTIVE_KID"]
    body = {name: json.dumps(value) for name, value in claims.items()}
    body.update(times)
    payload = "{" + ", ".join(f'"{name}": {value}' for name, value in body.items()) + "}"
    return jwt.api_jws.encode(payload.encode(), TEST_CONFIG["JWT_KEYS"][kid], algorithm="HS256",
                              headers={"kid": kid})


def now(h) -> int:
    return int(h.clock().timestamp())


def test_forging_works_with_sane_times(h):
    """The forging helper itself produces accepted tokens, so the refusals below are about the times."""
    tenant = h.institution()
    token = forged_access(h, tenant.admin_token, iat=str(now(h)), exp=str(now(h) + 600))
    assert h.client.get("/api/v1/institution", headers=tenant.auth(token)).status_code == 200


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("claim", ["iat", "exp"])
def test_access_token_with_hostile_time_is_401(h, claim, value):
    tenant = h.institution()
    times = {"iat": str(now(h)), "exp": str(now(h) + 600), claim: value}
    r = h.client.get("/api/v1/institution", headers=tenant.auth(forged_access(h, tenant.admin_token, **times)))
    assert_401(r)


def test_access_token_signed_for_ten_years_is_401(h):
    tenant = h.institution()
    token = forged_access(h, tenant.admin_token, iat=str(now(h)), exp=str(now(h) + 10 * 365 * 86400))
    assert_401(h.client.get("/api/v1/institution", headers=tenant.auth(token)))


def device_assertion(device, *, iat: str, exp: str, audience: str, iss: str | None = None,
                     jti: str | None = None) -> str:
    """Signed by the device's own key; ``jti`` written as raw JSON when given."""
    iss_json = json.dumps(iss if iss is not None else device.id)
    jti = jti if jti is not None else json.dumps(f"{device.id[:8]}-{iat}-{exp}")
    payload = (f'{{"iss": {iss_json}, "sub": {json.dumps(device.id)}, "aud": {json.dumps(audience)}, '
               f'"jti": {jti}, "iat": {iat}, "exp": {exp}}}')
    return jwt.api_jws.encode(payload.encode(), device.key, algorithm="ES256", headers={"kid": device.id})


@pytest.mark.parametrize("value", ["NaN", "Infinity", "1e400", "true"])
@pytest.mark.parametrize("claim", ["iat", "exp"])
def test_device_assertion_with_hostile_time_is_401_for_device_token_and_login(h, claim, value):
    tenant = h.institution()
    tenant.create_staff("nurse1")
    device = tenant.enrol_device()
    times = {"iat": str(now(h)), "exp": str(now(h) + 60), claim: value}
    assertion = device_assertion(device, audience=h.audience, **times)
    assert_401(h.client.post("/api/v1/auth/device-token", json={"assertion": assertion}))
    assert_401(h.client.post("/api/v1/auth/login", json={
        "institution_code": tenant.code, "login": "nurse1", "password": STAFF_PASSWORD,
        "device_assertion": assertion}))
    # The same device with a sane assertion still works: the refusals were about the times.
    sane = h.client.post("/api/v1/auth/device-token", json={"assertion": tenant.assertion(device)})
    assert sane.status_code == 200, sane.get_json()


@pytest.mark.parametrize("issuer", ["\u0000", "d\u0000", "\ud800", "x" * 1000, "not-a-device"])
def test_unsigned_assertion_with_hostile_issuer_is_401(h, issuer):
    """The unverified ``iss`` is looked up by primary key: NUL there used to be a 500 on PostgreSQL."""
    tenant = h.institution()
    device = tenant.enrol_device()
    t = now(h)
    payload = json.dumps({"iss": issuer, "sub": device.id, "aud": h.audience, "jti": "j", "iat": t, "exp": t + 60})
    assertion = jwt.api_jws.encode(payload.encode(), "k" * 40, algorithm="HS256")
    assert_401(h.client.post("/api/v1/auth/device-token", json={"assertion": assertion}))
    assert_401(h.client.post("/api/v1/auth/login", json={
        "institution_code": tenant.code, "login": "admin", "password": "admin-password-1",
        "device_assertion": assertion}))


@pytest.mark.parametrize("jti", [r'"a\u0000b"', r'"\u0000"', r'"\ud800"', r'"ok\udfff"', '""', json.dumps("x" * 65),
                                 "12345", "null", '["a"]'])
def test_device_assertion_with_a_hostile_jti_is_401_for_device_token_and_login(h, jti):
    """The jti is stored to refuse replays: NUL was a 500 on PostgreSQL, a lone surrogate on both databases."""
    tenant = h.institution()
    tenant.create_staff("nurse1")
    device = tenant.enrol_device()
    assertion = device_assertion(device, audience=h.audience, iat=str(now(h)), exp=str(now(h) + 60), jti=jti)
    assert_401(h.client.post("/api/v1/auth/device-token", json={"assertion": assertion}))
    assert_401(h.client.post("/api/v1/auth/login", json={
        "institution_code": tenant.code, "login": "nurse1", "password": STAFF_PASSWORD,
        "device_assertion": assertion}))
    sane = h.client.post("/api/v1/auth/device-token", json={"assertion": tenant.assertion(device)})
    assert sane.status_code == 200, sane.get_json()
