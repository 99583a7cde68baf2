"""Liveness, readiness, request ids, JSON logs without personal data, and Prometheus metrics."""
from __future__ import annotations

import json
import logging

import pytest
from prometheus_client import REGISTRY, generate_latest
from sqlalchemy import text

from mobile_api import create_app
from mobile_api.observability import JsonFormatter
from tests.integration.conftest import TEST_CONFIG
from tests.support.harness import ADMIN_PASSWORD, Harness
from tests.support.scrub import scrub

P = "P01-valid-30"


def test_liveness_and_readiness_on_a_migrated_database(h: Harness) -> None:
    live = h.client.get("/healthz")
    assert live.status_code == 200 and live.get_json() == {"status": "ok"}
    ready = h.client.get("/readyz")
    assert ready.status_code == 200, ready.get_json()
    assert ready.get_json()["database"] == "ok"


def test_readiness_says_503_when_the_schema_is_not_migrated(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = create_app({**TEST_CONFIG, "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}",
                      "DB_RETRY_AFTER_SECONDS": 4})
    r = app.test_client().get("/readyz")
    assert r.status_code == 503 and r.mimetype == "application/problem+json"
    assert r.headers["Retry-After"] == "4"
    assert r.get_json()["type"] == "/problems/not-ready"
    assert app.test_client().get("/healthz").status_code == 200  # liveness does not depend on the database


def test_readiness_says_503_when_the_database_is_unreachable() -> None:
    # A port nothing listens on: the connection is refused.
    app = create_app({**TEST_CONFIG, "DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none",
                      "DB_CONNECT_TIMEOUT_SECONDS": 2, "DB_RETRY_AFTER_SECONDS": 6})
    r = app.test_client().get("/readyz")
    assert r.status_code == 503 and r.headers["Retry-After"] == "6"
    assert "psycopg" not in r.get_data(as_text=True)


def test_readiness_says_503_when_the_schema_is_behind(h: Harness) -> None:
    with h.app.extensions["mobile_api_engine"].begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    assert h.client.get("/readyz").status_code == 503


def test_request_id_is_kept_or_made_and_echoed(h: Harness) -> None:
    sent = h.client.get("/healthz", headers={"X-Request-ID": "agent-42.abc_DEF"})
    assert sent.headers["X-Request-ID"] == "agent-42.abc_DEF"
    made = h.client.get("/healthz")
    assert len(made.headers["X-Request-ID"]) == 32
    hostile = h.client.get("/healthz", headers={"X-Request-ID": "x\" injected=1 " + "a" * 100})
    assert hostile.headers["X-Request-ID"] != "x\" injected=1 " + "a" * 100


def test_request_logs_are_json_with_the_request_id_and_no_personal_data(
        h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    tenant = h.institution()
    nurse = tenant.nurse()
    card = h.card(P)
    caplog.set_level(logging.INFO, logger="mobile_api")
    r = h.verify_pin(nurse, card, consent={"kinds": ["medication"]})
    assert r.status_code in (200, 201), r.get_json()
    visit = r.get_json()
    h.client.get(f"/api/v1/visits/{visit['id']}/medical-information/medication?q=秘密",
                 headers={"Authorization": f"Bearer {nurse}", "X-Request-ID": "trace-1"})
    h.client.post("/api/v1/auth/login", json={"institution_code": tenant.code, "login": "admin",
                                              "password": ADMIN_PASSWORD})
    lines = [JsonFormatter().format(record) for record in caplog.records
             if record.name == "mobile_api.access"]
    assert len(lines) >= 4
    entries = [json.loads(line) for line in lines]
    assert all(e["request_id"] and e["route"] and e["status"] for e in entries)
    medical = [e for e in entries if e["request_id"] == "trace-1"]
    assert medical and medical[0]["route"] == "/api/v1/visits/<visit_id>/medical-information/<info_kind:kind>"
    everything = "\n".join(JsonFormatter().format(record) for record in caplog.records)
    qualification = visit["qualification"]
    for secret in (ADMIN_PASSWORD, nurse, visit["id"], card.certificate_der.hex()[:40]):  # long: as they are
        assert secret not in everything, secret
    for secret in ("秘密", qualification["name"], qualification["number"]):  # short ("1287"): not by chance
        assert secret not in scrub(everything), secret                    # inside a random request id


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_count_requests_verifications_and_oqs_calls(h: Harness) -> None:
    nurse = h.institution().nurse()
    before = {"verified": _value("mobile_api_verifications_total", outcome="verified"),
              "down": _value("mobile_api_verifications_total", outcome="qualification-unavailable"),
              "errors": _value("mobile_api_oqs_call_errors_total", operation="confirm",
                               error="QualificationUnavailable"),
              "calls": _value("mobile_api_oqs_call_duration_seconds_count", operation="confirm")}
    assert h.verify_pin(nurse, h.card(P)).status_code in (200, 201)
    h.rt.oqs.fail_next(1)
    failed = h.verify_pin(nurse, h.card(P))
    assert failed.status_code == 503
    assert _value("mobile_api_verifications_total", outcome="verified") == before["verified"] + 1
    assert _value("mobile_api_verifications_total", outcome="qualification-unavailable") == before["down"] + 1
    assert _value("mobile_api_oqs_call_errors_total", operation="confirm",
                  error="QualificationUnavailable") == before["errors"] + 1
    assert _value("mobile_api_oqs_call_duration_seconds_count", operation="confirm") == before["calls"] + 2
    body = generate_latest(REGISTRY).decode()  # what /metrics shows (its token: test below)
    assert 'route="/api/v1/verifications/<challenge_id>/submit"' in body
    assert "mobile_api_http_request_duration_seconds_bucket" in body


def test_database_errors_never_carry_the_statements_values(database_url: str) -> None:
    """A logged database error (traceback included) must not leak the values bound to the statement."""
    from sqlalchemy import exc as sa_exc

    from mobile_api.adapters.db import make_engine

    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT no_such_column FROM visits WHERE id = :id"), {"id": "山田太郎-秘密"})
    except sa_exc.DBAPIError as error:
        assert "山田太郎-秘密" not in str(error)
    else:
        raise AssertionError("the statement should have failed")
    finally:
        engine.dispose()


@pytest.mark.parametrize("settings, status", [({}, 403), ({"METRICS_PUBLIC": True}, 200),
                                              ({"METRICS_PUBLIC": True, "METRICS_TOKEN": "scrape-secret-123"}, 401)])
def test_metrics_are_closed_by_default_and_open_only_when_configured_so(database_url: str, settings: dict,
                                                                         status: int) -> None:
    app = create_app({**TEST_CONFIG, "DATABASE_URL": database_url, **settings})
    try:
        r = app.test_client().get("/metrics")
        assert r.status_code == status
        assert ("mobile_api_http_requests_total" in r.get_data(as_text=True)) == (status == 200)
    finally:
        app.extensions["mobile_api_engine"].dispose()


def test_made_up_http_methods_share_one_label(h: Harness) -> None:
    before = _value("mobile_api_http_requests_total", method="other", route="<unmatched>", status="405")
    series = len(generate_latest(REGISTRY).splitlines())
    for i in range(60):
        assert h.client.open("/healthz", method=f"FOO{i}").status_code == 405
    assert _value("mobile_api_http_requests_total", method="other", route="<unmatched>", status="405") == before + 60
    body = generate_latest(REGISTRY).decode()
    assert "FOO" not in body
    assert len(body.splitlines()) <= series + 20  # one counter and one histogram (its buckets), not 60 of each


def test_with_a_metrics_token_only_the_scraper_that_sends_it_reads_metrics(database_url: str) -> None:
    app = create_app({**TEST_CONFIG, "DATABASE_URL": database_url, "METRICS_TOKEN": "scrape-secret-123"})
    try:
        client = app.test_client()
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        ok = client.get("/metrics", headers={"Authorization": "Bearer scrape-secret-123"})
        assert ok.status_code == 200 and "mobile_api_http_requests_total" in ok.get_data(as_text=True)
    finally:
        app.extensions["mobile_api_engine"].dispose()
