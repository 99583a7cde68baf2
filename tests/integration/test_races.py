"""Concurrent requests against the real server on a real socket (threads, both databases).

Each test fires the same request from many threads released together by a barrier, the way a
device's retries, a double tap or an attacker with a copied secret would, and checks that the
database's conditional updates and unique constraints decide one winner.
"""
from __future__ import annotations

import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import pytest
import requests

from device_agent.device_key import generate_key, public_key_pem
from tests.support.harness import STAFF_PASSWORD
from tests.support.live import serve

PERSONA = "P01-valid-30"


def _burst(n: int, call: Callable[[int], requests.Response]) -> list[requests.Response]:
    barrier = threading.Barrier(n)

    def run(i: int) -> requests.Response:
        barrier.wait(timeout=30)
        return call(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


@pytest.fixture
def live(app):  # type: ignore[no-untyped-def]
    with serve(app) as (base, _wire):
        yield base


def test_parallel_submits_with_one_key_all_get_the_winners_visit(h, live: str) -> None:
    token = h.institution().nurse()
    started = h.start(token)
    assert started.status_code == 201
    challenge = started.get_json()
    body = h.pin_body(h.card(PERSONA), challenge["challenge"], consent={"blanket": True})
    key = uuid.uuid4().hex
    url = f"{live}/api/v1/verifications/{challenge['challenge_id']}/submit"
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}

    answers = _burst(30, lambda _i: requests.post(url, json=body, headers=headers, timeout=60))

    assert Counter(r.status_code for r in answers) == {201: 30}, [r.json() for r in answers if r.status_code != 201]
    assert len({r.json()["id"] for r in answers}) == 1
    listed = h.client.get("/api/v1/visits", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert len(listed) == 1


def test_parallel_refusals_with_one_key_all_get_the_same_refusal(h, live: str) -> None:
    token = h.institution().nurse()
    challenge = h.start(token).get_json()
    body = h.pin_body(h.card(PERSONA), challenge["challenge"])
    body["signature"] = body["signature"][:-8] + "AAAAAAA="  # a signature that does not verify
    url = f"{live}/api/v1/verifications/{challenge['challenge_id']}/submit"
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}

    answers = _burst(20, lambda _i: requests.post(url, json=body, headers=headers, timeout=60))

    assert {(r.status_code, r.json()["type"]) for r in answers} == {(422, "/problems/signature-invalid")}


def test_one_activation_code_enrols_exactly_one_device(h, live: str) -> None:
    tenant = h.institution()
    code = h.client.post("/api/v1/devices", json={"label": "t"}, headers=tenant.auth()).get_json()["activation_code"]
    keys = [generate_key() for _ in range(20)]

    answers = _burst(20, lambda i: requests.post(f"{live}/api/v1/devices/enrol", timeout=60, json={
        "activation_code": code, "public_key_pem": public_key_pem(keys[i])}))

    statuses = Counter(r.status_code for r in answers)
    assert statuses[201] == 1, statuses
    assert set(statuses) <= {201, 401, 409}, statuses
    for r in answers:
        if r.status_code != 201:
            assert r.headers["Content-Type"].startswith("application/problem+json")
    winner = next(i for i, r in enumerate(answers) if r.status_code == 201)
    device_id = answers[winner].json()["device_id"]
    from tests.support.harness import EnrolledDevice

    tenant.create_staff("nurse1")
    assert tenant.login_on_device("nurse1", EnrolledDevice(device_id, keys[winner]))
    loser = EnrolledDevice(device_id, keys[(winner + 1) % 20])
    r = h.client.post("/api/v1/auth/login", json={"institution_code": tenant.code, "login": "nurse1",
                                                  "password": STAFF_PASSWORD,
                                                  "device_assertion": tenant.assertion(loser)})
    assert r.status_code == 401


def test_one_refresh_token_rotates_exactly_once_and_the_fork_revokes_the_family(h, live: str) -> None:
    tenant = h.institution()
    tenant.create_staff("nurse1")
    device = tenant.enrol_device()
    pair: dict[str, Any] = h.client.post("/api/v1/auth/login", json={
        "institution_code": tenant.code, "login": "nurse1", "password": STAFF_PASSWORD,
        "device_assertion": tenant.assertion(device)}).get_json()

    answers = _burst(20, lambda _i: requests.post(f"{live}/api/v1/auth/refresh", timeout=60,
                                                  json={"refresh_token": pair["refresh_token"]}))

    statuses = Counter(r.status_code for r in answers)
    assert statuses == {200: 1, 401: 19}, statuses
    rotated = next(r.json() for r in answers if r.status_code == 200)
    # The others presented a spent token: the whole family, the winner's new token included, is revoked.
    again = h.client.post("/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert again.status_code == 401


def test_one_key_raced_over_two_challenges_gives_one_visit_and_clear_refusals(h, live: str) -> None:
    token = h.institution().nurse()
    card = h.card(PERSONA)
    challenges = [h.start(token).get_json() for _ in range(2)]
    bodies = [h.pin_body(card, c["challenge"]) for c in challenges]
    key = uuid.uuid4().hex
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}

    answers = _burst(16, lambda i: requests.post(
        f"{live}/api/v1/verifications/{challenges[i % 2]['challenge_id']}/submit", json=bodies[i % 2],
        headers=headers, timeout=60))

    assert {r.status_code for r in answers} <= {201, 422}, [r.json() for r in answers]
    assert len({r.json()["id"] for r in answers if r.status_code == 201}) == 1
    assert {r.json()["type"] for r in answers if r.status_code == 422} <= {"/problems/idempotency-key-reused"}
