"""Smoke test of `make prod-local`: the production topology from plain processes, one verification through it.

PostgreSQL (durable settings), the one-shot migration, the OQS sandbox as its own HTTP process, gunicorn with
two workers and the jobs worker; then over real HTTP: readiness, a staff login on an enrolled device, a card
verification with consent (OQS over HTTP), a medical-information view in the window, metrics summed over the
workers, and JSON logs carrying the request id.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
import requests

from bench import _seed as seed
from scripts.prod_local import ProdLocal
from tests.support.pgcluster import pg_available, require_postgres

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def stack():  # type: ignore[no-untyped-def]
    if not pg_available():
        if require_postgres():
            pytest.fail("PostgreSQL binaries not available but REQUIRE_POSTGRES is set")
        pytest.skip("PostgreSQL binaries not available")
    with ProdLocal(workers=2) as running:
        yield running


def until(condition: Callable[[], Any], seconds: float, what: str) -> Any:
    """Wait for something the stack does by itself, as long as a loaded CI machine may need, and no longer."""
    deadline = time.monotonic() + seconds
    while not (value := condition()):
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s"
        time.sleep(0.05)
    return value


def test_a_verification_through_prod_local(stack: ProdLocal) -> None:
    # No bound on the whole: each request has its own timeout (30 s, as bench/_seed.py's), generous for a loaded
    # machine and still no hang.
    ready = requests.get(stack.url + "/readyz", timeout=30)
    assert ready.status_code == 200 and ready.json()["database"] == "ok"
    if shutil.which("redis-server"):  # the rate-limit counters are shared by the workers, as in compose
        assert stack.env()["MOBILE_API_RATE_LIMIT_STORAGE_URL"] == stack.redis.url
    tenant, (nurse,), card = seed.seed(stack.url, stack.database_url)
    http = requests.Session()
    r = seed.verify(http, stack.url, nurse.token, card)
    assert r.status_code == 201, r.text
    visit = r.json()
    assert visit["eligibility_status"] == 1 and visit["medical_info_allowed"]
    medical = http.get(f"{stack.url}/api/v1/visits/{visit['id']}/medical-information/medication",
                       headers={"Authorization": f"Bearer {nurse.token}", "X-Request-ID": "smoke-1"}, timeout=30)
    assert medical.status_code == 200, medical.text
    assert medical.headers["X-Request-ID"] == "smoke-1"

    # Metrics are the whole server's, whichever worker answers the scrape.
    assert requests.get(stack.url + "/metrics", timeout=30).status_code == 401  # closed without the token
    metrics = requests.get(stack.url + "/metrics", timeout=30,
                           headers={"Authorization": f"Bearer {stack.metrics_token}"}).text
    assert 'mobile_api_verifications_total{outcome="verified"} 1.0' in metrics
    assert 'mobile_api_oqs_call_duration_seconds_count{operation="confirm"} 1.0' in metrics

    # One JSON line per request, with the request id; nothing personal.
    def smoke_line() -> bool:  # the access line is written after the response is sent: wait for it, not 0.2 s
        lines = [json.loads(line) for line in stack.log("api").splitlines() if line.startswith("{")]
        return any(e.get("request_id") == "smoke-1" and e.get("status") == 200 for e in lines)

    until(smoke_line, 30, "the access line of the medical view")
    text = stack.log("api")
    for secret in (nurse.token, seed.STAFF_PASSWORD, visit["id"], visit["qualification"]["name"]):
        assert secret not in text


# -- PostgreSQL killed with kill -9 under load ------------------------------------------------------------------------

def _kill_postgres(stack: ProdLocal) -> None:
    """SIGKILL the postmaster and every backend at once: a crash, no shutdown checkpoint."""
    with open(os.path.join(stack.pg.data_dir, "postmaster.pid")) as f:
        postmaster = int(f.readline())
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == postmaster:
                        children.append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    for pid in [postmaster, *children]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    # Gone, not just signalled: a restart refuses to start while the old postmaster's pid still exists (its lock
    # file names it), and on a loaded machine the dead take a while to be reaped.
    until(lambda: not any(_exists(pid) for pid in [postmaster, *children]), 60, "the killed PostgreSQL reaped")


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class _Load:
    """Verifications sent by several nurses at once, and what the server answered each."""

    def __init__(self, stack: ProdLocal, card: Any) -> None:
        self.stack, self.card = stack, card
        self.acknowledged: list[str] = []
        self.retry_later: list[tuple[str, str, dict, str]] = []  # submits answered 503: resent after the restart
        self.statuses: list[int] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def writer(self, nurse: seed.Nurse) -> None:
        http = requests.Session()
        auth = {"Authorization": f"Bearer {nurse.token}"}
        for _ in range(500):  # bounded; normally ended by ``stop``
            if self.stop.is_set():
                return
            with contextlib.suppress(requests.ConnectionError):  # never acknowledged: nothing to check
                self._verify(http, nurse, auth)

    def _verify(self, http: requests.Session, nurse: seed.Nurse, auth: dict[str, str]) -> None:
        url = self.stack.url
        started = http.post(url + "/api/v1/verifications", json=seed.start_body(), headers=auth, timeout=30)
        with self.lock:
            self.statuses.append(started.status_code)
        if started.status_code != 201:
            assert started.status_code == 503 and started.headers.get("Retry-After"), started.text
            time.sleep(0.05)  # a client's pause before it tries again (bounded loop)
            return
        challenge = started.json()
        body, key = seed.submit_body(self.card, challenge["challenge"]), uuid.uuid4().hex
        path = f"/api/v1/verifications/{challenge['challenge_id']}/submit"
        r = http.post(url + path, json=body, headers={**auth, "Idempotency-Key": key}, timeout=30)
        with self.lock:
            self.statuses.append(r.status_code)
            if r.status_code == 201:
                self.acknowledged.append(r.json()["id"])
            elif r.status_code == 503:
                self.retry_later.append((nurse.token, path, body, key))


def _ready(stack: ProdLocal) -> bool:
    with contextlib.suppress(requests.RequestException):
        return requests.get(stack.url + "/readyz", timeout=5).status_code == 200
    return False


def test_postgres_killed_under_load_loses_no_acknowledged_write_and_recovers_without_500s(stack: ProdLocal) -> None:
    tenant, nurses, card = seed.seed(stack.url, stack.database_url, nurses=3)
    load = _Load(stack, card)
    acknowledged, retry_later, statuses = load.acknowledged, load.retry_later, load.statuses

    threads = [threading.Thread(target=load.writer, args=(n,), daemon=True) for n in nurses]
    for t in threads:
        t.start()
    # Each phase lasts until the load has seen it, not a fixed 2 s: on a loaded machine 2 s could pass without
    # one verification acknowledged, or without one request meeting the outage.
    until(lambda: len(acknowledged) >= 3, 60, "verifications acknowledged before the crash")
    before_crash, refused_before = len(acknowledged), statuses.count(503)
    _kill_postgres(stack)
    until(lambda: statuses.count(503) > refused_before, 60, "a 503 during the outage")
    stack.pg.resume()  # crash recovery replays the WAL
    until(lambda: _ready(stack), 60, "the API ready again by itself")
    after_recovery = len(acknowledged)
    until(lambda: len(acknowledged) > after_recovery, 60, "a verification acknowledged after the recovery")
    load.stop.set()
    for t in threads:
        t.join(timeout=90)  # a request in flight has 30 s; the writers end at the next loop
    assert not any(t.is_alive() for t in threads), "a writer did not stop"

    assert before_crash > 0 and len(acknowledged) > before_crash, (before_crash, len(acknowledged))
    assert 503 in statuses, "the outage was never seen"
    assert not [s for s in statuses if s >= 500 and s != 503], sorted(set(statuses))
    assert set(statuses) <= {201, 503}, sorted(set(statuses))

    # Submits answered 503 are resent with the same Idempotency-Key: each ends 201 (done now, or replayed).
    for token, path, body, key in retry_later:
        r = requests.post(stack.url + path, json=body, headers={"Authorization": f"Bearer {token}",
                                                                "Idempotency-Key": key}, timeout=30)
        assert r.status_code == 201, r.text
        acknowledged.append(r.json()["id"])

    with psycopg.connect(stack.database_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        found = {row[0] for row in conn.execute("SELECT id FROM visits WHERE id = ANY(%s)", (acknowledged,))}
    assert found == set(acknowledged), f"{len(set(acknowledged) - found)} acknowledged visits lost"
    assert all(p.poll() is None for p in stack.procs.values()), "a process of the topology died with the database"
