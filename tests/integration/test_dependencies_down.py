"""When a dependency is down the answer is 503 problem+json with Retry-After, never a 500 or a hang.

The database: a dedicated PostgreSQL cluster is crashed (immediate stop) under
a running app and started again; a write lock is held on SQLite and
PostgreSQL past the configured busy/lock timeout. The national system (OQS):
the sandbox's outage switch; the device also gets the fallback guidance.
"""
from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from mobile_api import create_app
from mobile_api.adapters import migrations
from mobile_api.adapters.db import make_engine
from mobile_api.clock import FrozenClock
from mobile_api.config import DEFAULTS
from mobile_api.domain.fallback import FallbackMethod
from tests.integration.conftest import TEST_CONFIG
from tests.support.harness import ADMIN_PASSWORD, T0, Harness
from tests.support.pgcluster import PgCluster

P = "P01-valid-30"


def assert_unavailable(r, slug: str, retry_after: int) -> dict:
    assert r.status_code == 503, (r.status_code, r.get_data(as_text=True)[:300])
    assert r.mimetype == "application/problem+json"
    assert r.headers["Retry-After"] == str(retry_after)
    body = r.get_json()
    assert body["status"] == 503 and body["type"] == f"/problems/{slug}" and body["title"]
    assert "psycopg" not in r.get_data(as_text=True) and "sqlite" not in r.get_data(as_text=True).lower()
    return body


def quickly(request: Callable[[], Any]) -> Any:
    """The answer of one request that must not wait out a default timeout (5 s, mobile_api/config.py).

    Measured per request with the default as the bound: the configured timeouts here are 0.3 s or a refused
    connection, so a loaded CI machine has a wide margin, and a request that waited for the default still fails.
    """
    started = time.monotonic()
    answer = request()
    elapsed = time.monotonic() - started
    assert elapsed < DEFAULTS["DB_BUSY_TIMEOUT_SECONDS"], f"waited {elapsed:.1f} s"
    return answer


def login(h: Harness, code: str):  # type: ignore[no-untyped-def]
    return h.client.post("/api/v1/auth/login", json={"institution_code": code, "login": "admin",
                                                     "password": ADMIN_PASSWORD})


# -- the database is down ---------------------------------------------------------------------------------------

@pytest.fixture
def crashable() -> Iterator[tuple[PgCluster, Harness]]:
    """An app on its own PostgreSQL cluster, which the test may crash without disturbing the others."""
    # synchronous_commit on: the throwaway default (off) may lose the last commits to an immediate stop.
    with PgCluster(settings={"synchronous_commit": "on"}) as pg:
        url = pg.create_database("outage")
        engine = make_engine(url)
        migrations.upgrade(engine)
        engine.dispose()
        clock = FrozenClock(T0)
        app = create_app({**TEST_CONFIG, "DATABASE_URL": url, "DB_RETRY_AFTER_SECONDS": 7}, clock=clock)
        try:
            yield pg, Harness(app, clock)
        finally:
            app.extensions["mobile_api_engine"].dispose()


@pytest.mark.postgres
def test_database_down_is_503_with_retry_after_and_recovers(pg_cluster, crashable):  # pg_cluster: skip or fail
    pg, h = crashable
    tenant = h.institution()
    assert h.client.get("/api/v1/staff", headers=tenant.auth()).status_code == 200  # the pool holds a connection

    pg.halt()
    assert_unavailable(quickly(lambda: h.client.get("/api/v1/staff", headers=tenant.auth())),
                       "service-unavailable", 7)
    assert_unavailable(quickly(lambda: login(h, tenant.code)), "service-unavailable", 7)
    assert_unavailable(quickly(lambda: h.client.post(
        "/api/v1/staff", json={"login": "n1", "display_name": "看護 花子", "role": "staff",
                               "password": "staff-password-1"}, headers=tenant.auth())), "service-unavailable", 7)

    pg.resume()
    assert h.client.get("/api/v1/staff", headers=tenant.auth()).status_code == 200  # pool_pre_ping reconnects
    assert login(h, tenant.code).status_code == 200


# -- a write lock that does not clear -----------------------------------------------------------------------------

@pytest.fixture
def short_lock_app(database_url: str, tmp_path) -> Iterator[Harness]:  # type: ignore[no-untyped-def]
    clock = FrozenClock(T0)
    app = create_app({**TEST_CONFIG, "DATABASE_URL": database_url, "DB_BUSY_TIMEOUT_SECONDS": 0.3,
                      "DB_RETRY_AFTER_SECONDS": 2}, clock=clock)
    app.instance_path = str(tmp_path / "instance")
    yield Harness(app, clock)
    app.extensions["mobile_api_engine"].dispose()


def hold_write_lock(database_url: str):  # type: ignore[no-untyped-def]
    """Another process's transaction that keeps the database (SQLite) or the users table (PostgreSQL) locked."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        conn = sqlite3.connect(url.database, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        return conn
    conn = psycopg.connect(host=url.host, port=url.port, user=url.username, dbname=url.database)
    conn.execute("LOCK TABLE users, audit_events IN ACCESS EXCLUSIVE MODE")
    return conn


def test_lock_that_does_not_clear_is_a_quick_503(short_lock_app, database_url):
    h = short_lock_app
    tenant = h.institution()
    holder = hold_write_lock(database_url)
    try:
        # writes a refresh token and audit: 503 after the configured 0.3 s, not after the default 5 s
        assert_unavailable(quickly(lambda: login(h, tenant.code)), "service-unavailable", 2)
        assert_unavailable(quickly(lambda: h.client.post("/api/v1/devices", json={"label": "t"},
                                                         headers=tenant.auth())), "service-unavailable", 2)
    finally:
        holder.rollback()
        holder.close()
    assert login(h, tenant.code).status_code == 200


# -- the national system (OQS) is down ------------------------------------------------------------------------------

def test_oqs_outage_gives_retry_after_and_fallback_guidance(h):
    tenant = h.institution()
    nurse = tenant.nurse()
    started = h.start(nurse).get_json()
    h.rt.oqs.fail_next(1)
    r = h.submit(nurse, started["challenge_id"], h.pin_body(h.card(P), started["challenge"]))
    body = assert_unavailable(r, "qualification-unavailable", 10)
    guidance = body["fallback"]
    assert [m["method"] for m in guidance["methods"]] == [m.value for m in FallbackMethod]
    labels = {m["method"]: m["label"] for m in guidance["methods"]}
    assert labels["declaration"] == "被保険者資格申立書" and labels["oral_revisit"] == "再来時の口頭確認"
    assert all(m["condition"] for m in guidance["methods"])
    assert guidance["reason"] == "system_down" and "事後確認" in guidance["next_step"]

    # The guidance is actionable as sent: its codes are what the fallback record accepts.
    record = h.client.post("/api/v1/fallback-records", json={
        "care_type": 2, "form": "home_consent", "method": guidance["methods"][0]["method"],
        "reason": guidance["reason"], "device_recorded_at": T0.isoformat(),
        "evidence": {"card_presented": True, "insurer_number": "01130012", "number": "1287", "birth_date": "1984-05-12"}},
        headers={"Authorization": f"Bearer {nurse}", "Idempotency-Key": uuid.uuid4().hex})
    assert record.status_code == 201, record.get_json()


def test_oqs_outage_retry_after_is_configurable(app, h):
    app.config["OQS_RETRY_AFTER_SECONDS"] = 42
    nurse = h.institution().nurse()
    started = h.start(nurse).get_json()
    h.rt.oqs.fail_next(1)
    r = h.submit(nurse, started["challenge_id"], h.pin_body(h.card(P), started["challenge"]))
    assert_unavailable(r, "qualification-unavailable", 42)


def test_medical_information_outage_is_503_with_retry_after_but_no_qualification_fallback(h):
    nurse = h.institution().nurse()
    visit = h.verify_pin(nurse, h.card(P), consent={"blanket": True}).get_json()
    h.rt.oqs.fail_next(1)
    body = assert_unavailable(h.medical(nurse, visit["id"]), "qualification-unavailable", 10)
    assert "fallback" not in body  # the qualification is already confirmed; only the records are unavailable
    assert h.medical(nurse, visit["id"]).status_code == 200
