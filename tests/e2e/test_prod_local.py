"""Smoke test of `make prod-local`: the production topology from plain processes, one verification through it.

PostgreSQL (durable settings), the one-shot migration, the OQS sandbox as its own HTTP process, gunicorn with
two workers and the jobs worker; then over real HTTP: readiness, a staff login on an enrolled device, a card
verification with consent (OQS over HTTP), a medical-information view in the window, metrics summed over the
workers, and JSON logs carrying the request id.
"""
from __future__ import annotations

import json
import time

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
    metrics = requests.get(stack.url + "/metrics", timeout=5).text
    assert 'mobile_api_verifications_total{outcome="verified"} 1.0' in metrics
    assert 'mobile_api_oqs_call_duration_seconds_count{operation="confirm"} 1.0' in metrics

    # One JSON line per request, with the request id; nothing personal.
    time.sleep(0.2)  # the access line is written after the response is sent
    lines = [json.loads(line) for line in stack.log("api").splitlines() if line.startswith("{")]
    assert any(e.get("request_id") == "smoke-1" and e.get("status") == 200 for e in lines)
    text = stack.log("api")
    for secret in (nurse.token, seed.STAFF_PASSWORD, visit["id"], visit["qualification"]["name"]):
        assert secret not in text
