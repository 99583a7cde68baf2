"""The agent retries a 503 after the server's Retry-After, only where a retry is safe, and not for long outages."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import requests

from device_agent.client import ApiClient, ApiProblem

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
UNAVAILABLE = {"type": "/problems/service-unavailable", "title": "サーバーが一時的に利用できません。", "status": 503}


def response(status: int, body: dict[str, Any], **headers: str) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r._content = json.dumps(body).encode()
    r.headers.update({"Content-Type": "application/json", **headers})
    return r


class ScriptedSession:
    def __init__(self, *answers: requests.Response) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, str, dict[str, str]]] = []

    def request(self, method: str, url: str, *, json: Any = None, headers: dict[str, str], timeout: float) -> Any:
        self.calls.append((method, url, dict(headers)))
        return self.answers.pop(0)


def client(session: ScriptedSession, slept: list[float]) -> ApiClient:
    return ApiClient("http://server.test", session=session, sleep=slept.append, access_token="t",
                     clock=lambda: NOW)  # type: ignore[arg-type]


def test_idempotent_submit_waits_retry_after_then_succeeds_with_the_same_key():
    session = ScriptedSession(response(503, UNAVAILABLE, **{"Retry-After": "4"}), response(201, {"id": "v1"}))
    slept: list[float] = []
    assert client(session, slept).submit_verification("c1", {"x": 1}, idempotency_key="k1") == {"id": "v1"}
    assert slept == [4.0]
    assert [c[2]["Idempotency-Key"] for c in session.calls] == ["k1", "k1"]


def test_retry_after_as_an_http_date():
    later = format_datetime(NOW + timedelta(seconds=3), usegmt=True)
    session = ScriptedSession(response(503, UNAVAILABLE, **{"Retry-After": later}), response(200, {"ok": True}))
    slept: list[float] = []
    assert client(session, slept).institution() == {"ok": True}
    assert slept == [3.0]


def test_without_retry_after_the_backoff_applies():
    session = ScriptedSession(response(503, UNAVAILABLE), response(200, {"ok": True}))
    slept: list[float] = []
    client(session, slept).institution()
    assert slept == [0.5]


def test_a_long_outage_is_reported_at_once_with_the_servers_guidance():
    guidance = {**UNAVAILABLE, "type": "/problems/qualification-unavailable", "fallback": {"methods": []}}
    session = ScriptedSession(response(503, guidance, **{"Retry-After": "600"}))
    slept: list[float] = []
    with pytest.raises(ApiProblem) as info:
        client(session, slept).submit_verification("c1", {}, idempotency_key="k1")
    assert info.value.status == 503 and info.value.problem["fallback"] == {"methods": []}
    assert slept == [] and len(session.calls) == 1


def test_a_post_without_idempotency_key_is_not_retried():
    session = ScriptedSession(response(503, UNAVAILABLE, **{"Retry-After": "1"}))
    slept: list[float] = []
    with pytest.raises(ApiProblem):
        client(session, slept).enrol("123456789012", "pem")
    assert slept == [] and len(session.calls) == 1


def test_gives_up_after_the_retries():
    session = ScriptedSession(*[response(503, UNAVAILABLE, **{"Retry-After": "1"}) for _ in range(4)])
    slept: list[float] = []
    with pytest.raises(ApiProblem) as info:
        client(session, slept).submit_verification("c1", {}, idempotency_key="k1")
    assert info.value.slug == "service-unavailable"
    assert slept == [1.0, 1.0, 1.0] and len(session.calls) == 4
