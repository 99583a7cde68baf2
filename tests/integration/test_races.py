"""Concurrent requests against the real server on a real socket (threads, both databases).

Each test fires the same request from many threads released together by a barrier, the way a
device's retries, a double tap or an attacker with a copied secret would, and checks that the
database's conditional updates and unique constraints decide one winner.
"""
from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

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


def _relationship(h) -> tuple[Any, str, dict[str, Any]]:
    """A tenant, a nurse's token and a card-verified home visit that opened a care relationship."""
    tenant = h.institution()
    nurse = tenant.nurse()
    first = h.verify_pin(nurse, h.card(PERSONA), consent={"kinds": ["medication"]})
    assert first.status_code == 201, first.get_json()
    return tenant, nurse, first.get_json()


def _audit(h, tenant, action: str) -> list[dict[str, Any]]:
    r = h.client.get(f"/api/v1/audit-events?action={action}&limit=100", headers=tenant.auth())
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_concurrent_discharges_of_one_relationship_have_one_winner_whose_facts_are_kept(h, live: str) -> None:
    tenant, nurse, first = _relationship(h)
    url = f"{live}/api/v1/care-relationships/{first['care_relationship']['id']}/discharge"
    headers = {"Authorization": f"Bearer {nurse}"}

    answers = _burst(30, lambda i: requests.post(url, json={"reason": f"理由{i}"}, headers=headers, timeout=60))

    assert Counter(r.status_code for r in answers) == {200: 1, 409: 29}, [r.json() for r in answers]
    won = next(r.json() for r in answers if r.status_code == 200)
    for lost in (r for r in answers if r.status_code == 409):  # told when and why it ended: the winner's facts
        problem = lost.json()
        assert problem["type"] == "/problems/care-relationship-ended" and problem["end_reason"] == "discharged"
        assert datetime.fromisoformat(problem["ended_at"]) == datetime.fromisoformat(won["ended_at"])
    [stored] = h.client.get("/api/v1/care-relationships", headers=tenant.auth()).get_json()
    assert (stored["end_note"], stored["ended_at"], stored["active"]) == (won["end_note"], won["ended_at"], False)
    [audited] = _audit(h, tenant, "care.discharge")
    assert audited["detail"]["reason"] == won["end_note"]


def test_concurrent_revocations_of_one_link_are_audited_once(h, live: str) -> None:
    tenant = h.institution()
    link = h.client.post("/api/v1/consent-links", json={"purpose": "general"}, headers=tenant.auth()).get_json()
    url = f"{live}/api/v1/consent-links/{link['link']['id']}/revoke"

    answers = _burst(30, lambda _i: requests.post(url, headers=tenant.auth(), timeout=60))

    assert Counter(r.status_code for r in answers) == {200: 30}, [r.json() for r in answers]
    assert len({r.json()["revoked_at"] for r in answers}) == 1  # every caller sees the first revocation
    assert len(_audit(h, tenant, "consent_link.revoke")) == 1


@contextmanager
def _ticking(clock: Any) -> Iterator[None]:
    """The injected clock moving a millisecond at a time, as a real one does, while requests race."""
    stop = threading.Event()

    def tick() -> None:
        while not stop.is_set():
            clock.advance(milliseconds=1)
            time.sleep(0.0005)

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        yield
    finally:
        stop.set()
        ticker.join()


def _requeries_racing(h, live: str, headers: dict[str, str], visit_id: str,
                      end: Callable[[], requests.Response]) -> tuple[requests.Response, list[requests.Response]]:
    """15 re-queries of the visit and one ``end`` of its relationship (a discharge, a withdrawal) released
    together on a ticking clock: the end's answer (it succeeded) and the re-queries' (each accepted or refused)."""
    requery = f"{live}/api/v1/visits/{visit_id}/requery"

    def call(i: int) -> requests.Response:
        if i == 8:
            return end()
        return requests.post(requery, json={}, headers={**headers, "Idempotency-Key": uuid.uuid4().hex}, timeout=60)

    with _ticking(h.clock):
        answers = _burst(16, call)
    assert answers[8].status_code == 200, answers[8].json()
    requeries = answers[:8] + answers[9:]
    assert {r.status_code for r in requeries} <= {201, 403}, [r.json() for r in requeries]
    return answers[8], requeries


@pytest.mark.parametrize("round_", range(3))
def test_a_requery_racing_a_discharge_is_never_dated_after_it(h, live: str, round_: int) -> None:
    tenant, nurse, first = _relationship(h)
    headers = {"Authorization": f"Bearer {nurse}"}
    discharge = f"{live}/api/v1/care-relationships/{first['care_relationship']['id']}/discharge"

    ended, requeries = _requeries_racing(h, live, headers, first["id"], lambda: requests.post(
        discharge, json={"reason": "入院"}, headers=headers, timeout=60))

    ended_at = datetime.fromisoformat(ended.json()["ended_at"])
    for r in requeries:
        if r.status_code == 201:
            assert datetime.fromisoformat(r.json()["created_at"]) <= ended_at
        else:
            assert r.json()["type"] == "/problems/requery-not-allowed" and r.json()["rule"] == "discharged"


def _withdrawal(h, tenant, live: str, door: str, visit_id: str, staff: dict[str, str]) -> Callable[[], requests.Response]:
    """The withdrawal as sent from its door: by staff at the patient's request, or from the patient's own page (a
    link, and a session the patient authenticated with the PIN to manage their consents)."""
    if door == "staff":
        url = f"{live}/api/v1/visits/{visit_id}/consent-withdrawal"
        return lambda: requests.post(url, json={"note": "電話で申し出"}, headers=staff, timeout=60)
    from tests.integration.test_patient_phone import _authenticate, _link, _token

    session, managed = _authenticate(h, _token(_link(h, tenant)["url"]), h.card(PERSONA), purpose="manage")
    assert managed.status_code == 200, managed.get_json()
    page = f"{live}{urlparse(session['status_url']).path}/withdrawal"
    return lambda: requests.post(page, timeout=60)


@pytest.mark.parametrize("door", ["staff", "patient_phone"])
@pytest.mark.parametrize("round_", range(3))
def test_a_withdrawal_racing_requeries_leaves_no_window_open(h, live: str, round_: int, door: str) -> None:
    """docs/rules.md §3.3: a re-query opens a window without the card, so it must lose to a withdrawal: either
    it is refused, or its consent is withdrawn with the rest; never a window left open after the withdrawal."""
    tenant, nurse, first = _relationship(h)
    headers = {"Authorization": f"Bearer {nurse}"}
    withdraw = _withdrawal(h, tenant, live, door, first["id"], headers)

    withdrawn, requeries = _requeries_racing(h, live, headers, first["id"], withdraw)

    withdrawn_at = datetime.fromisoformat(withdrawn.json()["withdrawn_at"])
    accepted = [r.json() for r in requeries if r.status_code == 201]
    assert withdrawn.json()["consents_withdrawn"] == 1 + len(accepted)  # the card visit's and every re-query's
    for r in requeries:
        if r.status_code == 403:
            assert r.json()["type"] == "/problems/requery-not-allowed" and r.json()["rule"] == "withdrawn"
    for visit in accepted:
        assert datetime.fromisoformat(visit["created_at"]) <= withdrawn_at  # never dated after the withdrawal
        shown = h.client.get(f"/api/v1/visits/{visit['id']}", headers=headers).get_json()
        assert shown["medical_info_window"]["state"] == "withdrawn", shown["medical_info_window"]
        assert h.medical(nurse, visit["id"]).get_json()["type"] == "/problems/consent-withdrawn"
    listed = h.client.get("/api/v1/consents?limit=100", headers=headers).get_json()
    assert len(listed) == 1 + len(accepted)
    assert {c["window"]["state"] for c in listed} == {"withdrawn"}


@pytest.mark.parametrize("round_", range(3))
def test_a_card_visit_racing_a_withdrawal_never_renews_the_ended_relationship(h, live: str, round_: int) -> None:
    """docs/rules.md §3.3: a card visit of a patient in continuing care renews the relationship. Racing a
    withdrawal, it either came first (its consent is withdrawn with the rest) or comes after (it opens a new
    relationship with the patient's new consent); it never writes onto the ended one, leaving its window open
    under a relationship the withdrawal ended."""
    tenant, nurse, first = _relationship(h)
    headers = {"Authorization": f"Bearer {nurse}"}
    withdraw = _withdrawal(h, tenant, live, "staff", first["id"], headers)
    submits = []
    for _ in range(7):
        challenge = h.start(nurse).get_json()
        body = h.pin_body(h.card(PERSONA), challenge["challenge"], consent={"kinds": ["medication"]})
        submits.append((f"{live}/api/v1/verifications/{challenge['challenge_id']}/submit", body))

    def call(i: int) -> requests.Response:
        if i == 4:
            return withdraw()
        url, body = submits[i if i < 4 else i - 1]
        return requests.post(url, json=body, headers={**headers, "Idempotency-Key": uuid.uuid4().hex}, timeout=60)

    with _ticking(h.clock):
        answers = _burst(8, call)

    assert answers[4].status_code == 200, answers[4].json()
    visits = [r.json() for i, r in enumerate(answers) if i != 4]
    assert all(r.status_code == 201 for i, r in enumerate(answers) if i != 4), visits
    ended = first["care_relationship"]["id"]
    for visit in visits:
        shown = h.client.get(f"/api/v1/visits/{visit['id']}", headers=headers).get_json()
        window = shown["medical_info_window"]["state"]
        if visit["care_relationship"]["id"] == ended:  # came first: withdrawn with the rest
            assert window == "withdrawn", (visit["created_at"], answers[4].json(), shown["medical_info_window"])
        else:  # came after: the patient's new consent, under a new relationship
            assert window == "open", shown["medical_info_window"]
    listed = h.client.get("/api/v1/care-relationships?limit=100", headers=headers).get_json()
    old = next(rel for rel in listed if rel["id"] == ended)
    assert old["end_reason"] == "withdrawn" and old["last_visit_at"] <= old["ended_at"], old
