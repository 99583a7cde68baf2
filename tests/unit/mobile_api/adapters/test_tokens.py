from datetime import timedelta

import jwt
import pytest

from device_agent.device_key import generate_key, make_assertion, public_key_pem
from mobile_api.adapters.tokens import TokenService, unverified_issuer
from mobile_api.clock import FrozenClock
from mobile_api.domain.errors import Unauthenticated
from tests.support.harness import T0


def service(clock, keys=None, kid="a"):
    return TokenService(keys=keys or {"a": "s" * 40}, active_kid=kid, issuer="iss", audience="aud",
                        access_ttl=timedelta(minutes=15), clock=clock)


def test_round_trip_carries_staff_and_device():
    clock = FrozenClock(T0)
    tokens = service(clock)
    token, _ = tokens.issue_access(subject="u1", kind="staff", institution_id="i1", role="staff", device_id="d1")
    claims = tokens.decode_access(token)
    assert (claims.subject, claims.device_id, claims.institution_id) == ("u1", "d1", "i1")
    assert jwt.get_unverified_header(token)["kid"] == "a"


def test_expiry_follows_the_injected_clock():
    clock = FrozenClock(T0)
    tokens = service(clock)
    token, _ = tokens.issue_access(subject="u1", kind="staff", institution_id="i1")
    clock.advance(minutes=14, seconds=59)
    tokens.decode_access(token)
    clock.advance(seconds=1)
    with pytest.raises(Unauthenticated):
        tokens.decode_access(token)


def test_a_tokens_signature_is_checked_once_its_times_on_every_request(monkeypatch):
    """The signature check is remembered per token (docs/performance.md): a device's repeated token is not
    re-verified, yet a token differing in one character is, and the expiry still follows the clock."""
    clock = FrozenClock(T0)
    tokens = service(clock)
    token, _ = tokens.issue_access(subject="u1", kind="staff", institution_id="i1")
    decodes = []
    real_decode = jwt.decode
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: decodes.append(1) or real_decode(*a, **k))
    for _ in range(3):
        assert tokens.decode_access(token).subject == "u1"
    assert len(decodes) == 1
    head, body, signature = token.split(".")
    with pytest.raises(Unauthenticated):
        tokens.decode_access(f"{head}.{body}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}")
    clock.advance(minutes=15)
    with pytest.raises(Unauthenticated):
        tokens.decode_access(token)


def test_rotation_old_kid_still_verifies_unknown_kid_refused():
    clock = FrozenClock(T0)
    old = service(clock, {"a": "s" * 40})
    token, _ = old.issue_access(subject="u1", kind="staff", institution_id="i1")
    rotated = service(clock, {"a": "s" * 40, "b": "t" * 40}, kid="b")
    rotated.decode_access(token)
    retired = service(clock, {"b": "t" * 40}, kid="b")
    with pytest.raises(Unauthenticated):
        retired.decode_access(token)


def test_algorithm_is_pinned_none_refused():
    clock = FrozenClock(T0)
    forged = jwt.encode({"iss": "iss", "aud": "aud", "sub": "u1", "iat": int(T0.timestamp()),
                         "exp": int(T0.timestamp()) + 60, "knd": "staff", "ins": "i1"}, None, algorithm="none",
                        headers={"kid": "a"})
    with pytest.raises(Unauthenticated):
        service(clock).decode_access(forged)


def test_missing_required_claim_refused():
    clock = FrozenClock(T0)
    token = jwt.encode({"iss": "iss", "aud": "aud", "iat": int(T0.timestamp()), "exp": int(T0.timestamp()) + 60,
                        "knd": "staff", "ins": "i1"}, "s" * 40, algorithm="HS256", headers={"kid": "a"})
    with pytest.raises(Unauthenticated):
        service(clock).decode_access(token)


def test_device_assertion_checked_against_enrolled_key():
    clock = FrozenClock(T0)
    key, other = generate_key(), generate_key()
    assertion = make_assertion(key, device_id="d1", audience="aud", now=T0)
    tokens = service(clock)
    tokens.decode_device_assertion(assertion, public_key_pem=public_key_pem(key), device_id="d1",
                                   max_age=timedelta(minutes=5))
    with pytest.raises(Unauthenticated):
        tokens.decode_device_assertion(assertion, public_key_pem=public_key_pem(other), device_id="d1",
                                       max_age=timedelta(minutes=5))
    clock.advance(minutes=3)
    with pytest.raises(Unauthenticated):
        tokens.decode_device_assertion(assertion, public_key_pem=public_key_pem(key), device_id="d1",
                                       max_age=timedelta(minutes=5))


# --- hostile times: never a crash, always "invalid" (401) ------------------------------------------------------

def forge_access(payload_json: str, key: str = "s" * 40, kid: str = "a") -> str:
    """Sign a raw JSON payload, so that NaN, Infinity and 1e400 reach the decoder exactly as an attacker sends them."""
    return jwt.api_jws.encode(payload_json.encode(), key, algorithm="HS256", headers={"kid": kid})


def access_payload(*, iat: str, exp: str) -> str:
    return ('{"iss": "iss", "aud": "aud", "sub": "u1", "knd": "staff", "ins": "i1", '
            f'"iat": {iat}, "exp": {exp}}}')


NOW = int(T0.timestamp())
HOSTILE_TIMES = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "true", "false", "1e300", str(10 ** 400),
                 str(-10 ** 400), '"1"', "null"]


@pytest.mark.parametrize("value", HOSTILE_TIMES)
@pytest.mark.parametrize("claim", ["iat", "exp"])
def test_hostile_access_token_times_are_invalid(claim, value):
    times = {"iat": str(NOW), "exp": str(NOW + 600)}
    times[claim] = value
    with pytest.raises(Unauthenticated):
        service(FrozenClock(T0)).decode_access(forge_access(access_payload(**times)))


def device_payload(device_id: str, *, iat: str, exp: str) -> str:
    return (f'{{"iss": "{device_id}", "sub": "{device_id}", "aud": "aud", "jti": "j1", '
            f'"iat": {iat}, "exp": {exp}}}')


@pytest.mark.parametrize("value", HOSTILE_TIMES)
@pytest.mark.parametrize("claim", ["iat", "exp"])
def test_hostile_device_assertion_times_are_invalid(claim, value):
    key = generate_key()
    times = {"iat": str(NOW), "exp": str(NOW + 60)}
    times[claim] = value
    assertion = jwt.api_jws.encode(device_payload("d1", **times).encode(), key, algorithm="ES256")
    with pytest.raises(Unauthenticated):
        service(FrozenClock(T0)).decode_device_assertion(assertion, public_key_pem=public_key_pem(key),
                                                         device_id="d1", max_age=timedelta(minutes=5))


# --- exp capped at the issuance lifetime ------------------------------------------------------------------------

def test_access_token_living_longer_than_the_lifetime_is_refused():
    clock = FrozenClock(T0)
    ten_years = forge_access(access_payload(iat=str(NOW), exp=str(NOW + 10 * 365 * 86400)))
    with pytest.raises(Unauthenticated):
        service(clock).decode_access(ten_years)
    # exp - iat just over the 15-minute lifetime: refused although exp itself is near.
    stretched = forge_access(access_payload(iat=str(NOW - 301), exp=str(NOW + 600)))
    with pytest.raises(Unauthenticated):
        service(clock).decode_access(stretched)
    exactly = forge_access(access_payload(iat=str(NOW - 300), exp=str(NOW + 600)))
    service(clock).decode_access(exactly)


def test_access_token_expiring_further_than_the_lifetime_from_now_is_refused():
    """A backdated-looking pair (short exp - iat) cannot sit in the future to outlive the lifetime either."""
    clock = FrozenClock(T0)
    future = forge_access(access_payload(iat=str(NOW + 3600), exp=str(NOW + 3600 + 900)))
    with pytest.raises(Unauthenticated):
        service(clock).decode_access(future)


def test_issued_tokens_fit_the_cap_whatever_the_subsecond():
    clock = FrozenClock(T0)
    clock.advance(seconds=0.999)
    tokens = service(clock)
    token, _ = tokens.issue_access(subject="u1", kind="staff", institution_id="i1")
    tokens.decode_access(token)


def test_device_assertion_expiring_too_far_ahead_is_refused():
    key = generate_key()
    assertion = jwt.api_jws.encode(device_payload("d1", iat=str(NOW + 50), exp=str(NOW + 50 + 300)).encode(),
                                   key, algorithm="ES256")
    service(FrozenClock(T0)).decode_device_assertion(assertion, public_key_pem=public_key_pem(key),
                                                     device_id="d1", max_age=timedelta(minutes=5))
    far = jwt.api_jws.encode(device_payload("d1", iat=str(NOW), exp=str(NOW + 86400)).encode(),
                             key, algorithm="ES256")
    with pytest.raises(Unauthenticated):
        service(FrozenClock(T0)).decode_device_assertion(far, public_key_pem=public_key_pem(key),
                                                         device_id="d1", max_age=timedelta(minutes=5))


# --- the unverified issuer is only a lookup key when it looks like a device id ---------------------------------

@pytest.mark.parametrize("issuer", ["\u0000", "abc\u0000", "\ud800", "x" * 5000, "", "not-a-uuid",
                                    "12345678-1234-1234-1234-1234567890ab\n", " 12345678-1234-1234-1234-1234567890ab",
                                    "12345678-1234-1234-1234-1234567890AB", "123", "[]"])
def test_unverified_issuer_only_returns_device_id_shaped_strings(issuer):
    import json
    payload = json.dumps({"iss": issuer, "sub": "x"}).encode()
    assertion = jwt.api_jws.encode(payload, "k" * 40, algorithm="HS256")
    assert unverified_issuer(assertion) is None


def test_unverified_issuer_returns_a_device_id():
    device_id = "12345678-1234-4234-9234-1234567890ab"
    key = generate_key()
    assert unverified_issuer(make_assertion(key, device_id=device_id, audience="aud", now=T0)) == device_id
    non_string = jwt.api_jws.encode(b'{"iss": 12345}', "k" * 40, algorithm="HS256")
    assert unverified_issuer(non_string) is None


# --- weak signing keys are refused at start ---------------------------------------------------------------------

STRONG = "t4rjuRQ8d9_aMwjMPR2KzvCaFNXmVKfMhVrqV1iov0SjdyBkdDSkT_ic_bKRIfEK"  # test key (token_urlsafe(48))


def app_with(keys, **extra):
    from mobile_api import create_app

    return create_app({"JWT_KEYS": keys, "DATABASE_URL": "sqlite:///:memory:", **extra})


def documented_placeholders() -> set[str]:
    """Every quoted value given to JWT_KEYS in deploy/, README.md and docs/: none may ever sign a token."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[4]
    files = [root / "README.md", *sorted((root / "deploy").glob("*")), *sorted((root / "docs").rglob("*.md"))]
    found: set[str] = set()
    for path in files:
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if "JWT_KEYS" in line:
                found.update(re.findall(r'"[^"]+":\s*"([^"]*)"', line))
    return found


def test_documented_placeholders_are_found():
    assert documented_placeholders(), "the scan of deploy/README/docs found no JWT_KEYS example"


@pytest.mark.parametrize("key", sorted(documented_placeholders()))
def test_documented_placeholder_keys_refuse_to_start(key):
    from mobile_api.keys import WeakSigningKey

    with pytest.raises(WeakSigningKey):
        app_with({"k1": key})


@pytest.mark.parametrize("key", [
    "x",  # one byte
    "x" * 48,  # long but one distinct character
    "ab" * 32,  # a repeated pair
    "0123456789abcdef" * 4,  # a repeated block with every hex digit
    STRONG[:42],  # base64 text too short to carry 32 random bytes
    "0f" * 20 + "1e2d3c4b5a6978",  # hex text too short to carry 32 random bytes
    "replace-with-at-least-48-random-bytes-base64",  # the old env-example placeholder
    "change-me",
    "secret",
    "REPLACE-ME-" + STRONG,  # a placeholder marker around real randomness is still a placeholder
    "",
])
def test_weak_keys_refuse_to_start(key):
    from mobile_api.keys import WeakSigningKey

    with pytest.raises(WeakSigningKey) as caught:
        app_with({"prod": key})
    message = str(caught.value)
    assert "prod" in message and "token_urlsafe" in message
    if len(key) > 8:
        assert key not in message, "the error must not print the key"


def test_every_configured_key_is_checked_not_only_the_active_one():
    from mobile_api.keys import WeakSigningKey

    with pytest.raises(WeakSigningKey):
        app_with({"new": STRONG, "old": "x" * 48}, JWT_ACTIVE_KID="new")


@pytest.mark.parametrize("keys", [["a", "b"], "not-a-map", {"k": 12345}, {"k": None}])
def test_malformed_key_settings_refuse_to_start(keys):
    from mobile_api.keys import WeakSigningKey

    with pytest.raises(WeakSigningKey):
        app_with(keys)


@pytest.mark.parametrize("key", [STRONG, __import__("secrets").token_urlsafe(48), __import__("secrets").token_hex(32),
                                 __import__("secrets").token_urlsafe(32)])
def test_random_keys_start(key):
    app = app_with({"k1": key})
    app.extensions["mobile_api_engine"].dispose()
