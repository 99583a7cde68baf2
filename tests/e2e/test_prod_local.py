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


def test_a_verification_through_prod_local(stack: ProdLocal) -> None:
    t0 = time.monotonic()
    ready = requests.get(stack.url + "/readyz", timeout=5)
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
                       headers={"Authorization": f"Bearer {nurse.token}", "X-Request-ID": "smoke-1"}, timeout=10)
    assert medical.status_code == 200, medical.text
    assert medical.headers["X-Request-ID"] == "smoke-1"
    assert time.monotonic() - t0 < 30

    # Metrics are the whole server's, whichever worker answers the scrape.
    assert requests.get(stack.url + "/metrics", timeout=5).status_code == 401  # closed without the token
    metrics = requests.get(stack.url + "/metrics", timeout=5,
                           headers={"Authorization": f"Bearer {stack.metrics_token}"}).text
    assert 'mobile_api_verifications_total{outcome="verified"} 1.0' in metrics
    assert 'mobile_api_oqs_call_duration_seconds_count{operation="confirm"} 1.0' in metrics

    # One JSON line per request, with the request id; nothing personal.
    time.sleep(0.2)  # the access line is written after the response is sent
    lines = [json.loads(line) for line in stack.log("api").splitlines() if line.startswith("{")]
    assert any(e.get("request_id") == "smoke-1" and e.get("status") == 200 for e in lines)
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
        started = http.post(url + "/api/v1/verifications", json=seed.start_body(), headers=auth, timeout=10)
        with self.lock:
            self.statuses.append(started.status_code)
        if started.status_code != 201:
            assert started.status_code == 503 and started.headers.get("Retry-After"), started.text
            time.sleep(0.05)  # a client's pause before it tries again (bounded loop)
            return
        challenge = started.json()
        body, key = seed.submit_body(self.card, challenge["challenge"]), uuid.uuid4().hex
        path = f"/api/v1/verifications/{challenge['challenge_id']}/submit"
        r = http.post(url + path, json=body, headers={**auth, "Idempotency-Key": key}, timeout=10)
        with self.lock:
            self.statuses.append(r.status_code)
            if r.status_code == 201:
                self.acknowledged.append(r.json()["id"])
            elif r.status_code == 503:
                self.retry_later.append((nurse.token, path, body, key))


def test_postgres_killed_under_load_loses_no_acknowledged_write_and_recovers_without_500s(stack: ProdLocal) -> None:
    tenant, nurses, card = seed.seed(stack.url, stack.database_url, nurses=3)
    load = _Load(stack, card)
    acknowledged, retry_later, statuses = load.acknowledged, load.retry_later, load.statuses

    threads = [threading.Thread(target=load.writer, args=(n,), daemon=True) for n in nurses]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(2)  # load running before the crash (a duration, not a synchronisation)
    before_crash = len(acknowledged)
    _kill_postgres(stack)
    time.sleep(2)  # the outage
    stack.pg.resume()  # crash recovery replays the WAL
    deadline = time.monotonic() + 20
    while requests.get(stack.url + "/readyz", timeout=5).status_code != 200:
        assert time.monotonic() < deadline, "the API did not become ready again by itself"
        time.sleep(0.2)
    time.sleep(2)  # load after the recovery
    load.stop.set()
    for t in threads:
        t.join(timeout=15)
    assert time.monotonic() - t0 < 45

    assert before_crash > 0 and len(acknowledged) > before_crash, (before_crash, len(acknowledged))
    assert 503 in statuses, "the outage was never seen"
    assert not [s for s in statuses if s >= 500 and s != 503], sorted(set(statuses))
    assert set(statuses) <= {201, 503}, sorted(set(statuses))

    # Submits answered 503 are resent with the same Idempotency-Key: each ends 201 (done now, or replayed).
    for token, path, body, key in retry_later:
        r = requests.post(stack.url + path, json=body, headers={"Authorization": f"Bearer {token}",
                                                                "Idempotency-Key": key}, timeout=10)
        assert r.status_code == 201, r.text
        acknowledged.append(r.json()["id"])

    with psycopg.connect(stack.database_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        found = {row[0] for row in conn.execute("SELECT id FROM visits WHERE id = ANY(%s)", (acknowledged,))}
    assert found == set(acknowledged), f"{len(set(acknowledged) - found)} acknowledged visits lost"
    assert all(p.poll() is None for p in stack.procs.values()), "a process of the topology died with the database"
