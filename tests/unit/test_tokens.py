from datetime import timedelta

import jwt
import pytest

from device_agent.device_key import generate_key, make_assertion, public_key_pem
from mobile_api.clock import FrozenClock
from mobile_api.domain.errors import Unauthenticated
from mobile_api.adapters.tokens import TokenService
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
