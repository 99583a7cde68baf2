"""OQS over the network: the sandbox served as its own HTTP process, and the HTTP adapter's resilience.

Faults (the reliability suite of docs/rules.md §5's "system down"): OQS refusing connections, answering slowly
and answering 500 each give a quick 503 problem+json with Retry-After and the fallback options; the attempt is
audited and the same submit (same Idempotency-Key) succeeds once OQS is back, so nothing is lost. The circuit
breaker stops calling a dead system at all.
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pybreaker
import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from mobile_api import create_app
from mobile_api.adapters.oqs_http import HttpOQS
from mobile_api.adapters.orm import AuditEvent
from mobile_api.clock import FrozenClock
from mobile_api.domain.codes import InfoKind
from mobile_api.sandbox import server as oqs_server
from tests.integration.conftest import TEST_CONFIG
from tests.support.harness import T0, Harness

P = "P01-valid-30"
# Only the slow-OQS test runs with a short read timeout, so that a slow OQS is found quickly; every other call
# waits 10 s: a loaded CI machine may take over a second to answer, which is no fault. The slow fault holds its
# answer far longer than either (until the test lets it go), so "cut short by the timeout" cannot be mistaken
# for "OQS answered".
READ_TIMEOUT = 2.0
HEALTHY_READ_TIMEOUT = 10.0
SLOW_FAULT_SECONDS = 60.0


class FaultyOQS:
    """The sandbox OQS app on a loopback port, with a switch: ok, slow, 500, 503, or down (port closed)."""

    def __init__(self, database_url: str, clock: FrozenClock) -> None:
        self.inner = oqs_server.create_app(database_url, clock=clock)
        self.mode = "ok"
        self.hits = 0
        self.released = threading.Event()
        self.request_ids: list[str | None] = []
        self.server: Any = None
        self.port = 0
        self.start()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.hits += 1
        self.request_ids.append(environ.get("HTTP_X_REQUEST_ID"))
        if self.mode == "slow":
            self.released.wait(SLOW_FAULT_SECONDS)  # the fault itself: OQS takes far longer than our read timeout
        elif self.mode in ("500", "503"):
            start_response(f"{self.mode} Error", [("Content-Type", "text/plain")])
            return [b"oqs fault"]
        return self.inner(environ, start_response)

    def start(self) -> None:
        """On a free port, or back on the same one after ``down()`` (the app knows that URL). While it was down
        another process's connection may hold the port for a moment: try again for a few seconds."""
        deadline = time.monotonic() + 10
        while True:
            try:
                self.server = make_server("127.0.0.1", self.port, self, threaded=True)
                break
            except OSError:
                if not self.port or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def heal(self) -> None:
        """OQS answers again, and any request the slow fault holds goes on."""
        self.mode = "ok"
        self.released.set()

    def down(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def oqs(database_url: str) -> Iterator[FaultyOQS]:
    fake = FaultyOQS(database_url, FrozenClock(T0))
    yield fake
    fake.down()


def http_app(database_url: str, oqs: FaultyOQS, **settings: Any) -> Harness:
    clock = FrozenClock(T0)
    app = create_app({**TEST_CONFIG, "DATABASE_URL": database_url, "OQS_BACKEND": "http", "OQS_URL": oqs.url,
                      "OQS_READ_TIMEOUT_SECONDS": HEALTHY_READ_TIMEOUT, "OQS_RETRY_AFTER_SECONDS": 9,
                      **settings}, clock=clock)
    return Harness(app, clock)


CONSENT = {"kinds": ["medication"]}


def test_a_verification_and_a_medical_view_through_the_sandbox_over_http(database_url, oqs) -> None:
    h = http_app(database_url, oqs)
    nurse = h.institution().nurse()
    r = h.verify_pin(nurse, h.card(P), consent=CONSENT)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["eligibility_status"] == 1
    assert body["qualification"]["birth_date"]  # dates survive the wire
    medical = h.medical(nurse, body["id"])
    assert medical.status_code == 200, medical.get_json()
    assert medical.get_json()["records"]
    assert oqs.hits >= 3  # trust anchors, confirm, medical information: really over HTTP


def test_the_callers_request_id_goes_with_the_oqs_call(database_url, oqs) -> None:
    """One id in our log and in the gateway's: an operator can follow one nurse's request to OQS and back."""
    h = http_app(database_url, oqs)
    nurse = h.institution().nurse()
    visit = h.verify_pin(nurse, h.card(P), consent=CONSENT).get_json()
    oqs.request_ids.clear()
    r = h.client.get(f"/api/v1/visits/{visit['id']}/medical-information/medication",
                     headers={"Authorization": f"Bearer {nurse}", "X-Request-ID": "trace-oqs-1"})
    assert r.status_code == 200 and r.headers["X-Request-ID"] == "trace-oqs-1"
    assert oqs.request_ids == ["trace-oqs-1"]


class _KeepAliveGateway(BaseHTTPRequestHandler):
    """A gateway that keeps connections open, as a real one does (werkzeug's test server closes each one)."""

    protocol_version = "HTTP/1.1"
    client_ports: list[int] = []
    paths: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers["Content-Length"]))
        self.client_ports.append(self.client_address[1])
        self.paths.append(self.path)
        body = json.dumps({"records": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_the_oqs_client_keeps_its_connection_open_between_calls() -> None:
    """A connection (and on a real gateway its TLS handshake) per call would cost more CPU than the call's own
    work (docs/performance.md, "Third pass"): calls one after another share one kept-alive connection."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _KeepAliveGateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = HttpOQS(f"http://127.0.0.1:{server.server_port}/gateway")
        for _ in range(4):
            assert client.medical_information(institution_code="1312345678", person_ref="p",
                                              kind=InfoKind.MEDICATION, at=datetime.now(UTC)) == []
    finally:
        server.shutdown()
        server.server_close()
    assert len(_KeepAliveGateway.client_ports) == 4 and len(set(_KeepAliveGateway.client_ports)) == 1
    assert set(_KeepAliveGateway.paths) == {"/gateway/oqs/v1/medical-information"}  # under the gateway's prefix


def test_a_face_recognition_card_refusal_crosses_the_wire_as_the_same_refusal(database_url, oqs) -> None:
    from mobile_api.sandbox.personas import PersonaBook

    face = next(p.id for p in PersonaBook.default() if p.card.face_recognition)
    h = http_app(database_url, oqs)
    nurse = h.institution().nurse()
    r = h.verify_pin(nurse, h.card(face))
    assert r.status_code == 422 and r.get_json()["type"] == "/problems/pin-not-available"


def _submit_during_fault(h: Harness, nurse: str) -> tuple[Any, str, dict[str, Any], str, float]:
    card = h.card(P)
    started = h.start(nurse)
    assert started.status_code == 201
    challenge = started.get_json()
    body, key = h.pin_body(card, challenge["challenge"], CONSENT), uuid.uuid4().hex
    t0 = time.monotonic()
    r = h.submit(nurse, challenge["challenge_id"], body, key)
    return r, challenge["challenge_id"], body, key, time.monotonic() - t0


@pytest.mark.parametrize("fault", ["down", "slow", "500"])
def test_oqs_fault_is_a_quick_503_with_fallback_and_nothing_is_lost(database_url, oqs, fault) -> None:
    timeout = READ_TIMEOUT if fault == "slow" else HEALTHY_READ_TIMEOUT  # the short one only where it is the point
    h = http_app(database_url, oqs, OQS_RETRIES=1, OQS_READ_TIMEOUT_SECONDS=timeout)
    nurse = h.institution().nurse()
    h.rt.oqs.trust_anchors()  # fetched while OQS is up; the fault hits the confirmation itself
    if fault == "down":
        oqs.down()
    else:
        oqs.mode = fault
    oqs.hits = 0
    r, challenge_id, body, key, elapsed = _submit_during_fault(h, nurse)
    assert r.status_code == 503, r.get_json()
    assert r.mimetype == "application/problem+json" and r.headers["Retry-After"] == "9"
    problem = r.get_json()
    assert problem["type"] == "/problems/qualification-unavailable"
    assert problem["fallback"]["methods"], problem
    if fault == "slow":
        assert oqs.hits == 1  # a read timeout is not retried: the nurse already waited once
    # Quick: the read timeout cut the call short; a hang would last as long as the slow fault holds (60 s). The
    # margin is for a loaded machine, not for a second timeout (the hits above say there was none).
    assert elapsed < READ_TIMEOUT + 10, elapsed
    with h.rt.session_factory() as session:  # the attempt is recorded
        attempts = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "verification.submit", AuditEvent.target_id == challenge_id)).all()
        assert attempts and all(a.outcome != "success" for a in attempts)
    # OQS is back: the same submit (same key, same challenge) goes through; nothing was lost. Through another
    # worker with the usual timeout: a healthy call on a loaded machine may take longer than the short one.
    if fault == "down":
        oqs.start()
    oqs.heal()
    again = http_app(database_url, oqs).submit(nurse, challenge_id, body, key)
    assert again.status_code == 201, again.get_json()


def test_a_gateway_503_is_retried_a_bounded_number_of_times_and_a_500_is_not(database_url, oqs) -> None:
    h = http_app(database_url, oqs, OQS_RETRIES=2, OQS_BREAKER_FAILURES=100)
    nurse = h.institution().nurse()
    h.rt.oqs.trust_anchors()
    oqs.mode, oqs.hits = "503", 0
    assert _submit_during_fault(h, nurse)[0].status_code == 503
    assert oqs.hits == 3  # the first try and two retries
    oqs.mode, oqs.hits = "500", 0
    assert _submit_during_fault(h, nurse)[0].status_code == 503
    assert oqs.hits == 1


@pytest.fixture
def breaker_time(monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    """pybreaker's own clock (it times the reset with ``datetime.now``), frozen for the test to move. On the wall
    clock a 0.5 s reset ran out during the next request on a loaded machine, and the 'open' call went to OQS."""
    clock = FrozenClock(T0)

    class BreakerDatetime(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return clock()

    monkeypatch.setattr(pybreaker, "datetime", BreakerDatetime)
    return clock


def test_the_circuit_opens_after_consecutive_failures_and_closes_after_a_trial(database_url, oqs,
                                                                                breaker_time) -> None:
    """Failures are 500s, not timeouts: the breaker counts both alike, and the trial call must not race a short
    read timeout on a loaded machine."""
    h = http_app(database_url, oqs, OQS_RETRIES=0, OQS_BREAKER_FAILURES=2, OQS_BREAKER_RESET_SECONDS=30)
    nurse = h.institution().nurse()
    h.rt.oqs.trust_anchors()
    oqs.mode = "500"
    for _ in range(2):
        assert _submit_during_fault(h, nurse)[0].status_code == 503
    oqs.hits = 0
    breaker_time.advance(seconds=29)  # still within the reset time
    r = _submit_during_fault(h, nurse)[0]
    assert r.status_code == 503 and r.get_json()["type"] == "/problems/qualification-unavailable"
    assert oqs.hits == 0  # open: refused at once, OQS not called
    oqs.heal()
    breaker_time.advance(seconds=2)  # past OQS_BREAKER_RESET_SECONDS: one trial call may go
    for _ in range(2):  # the trial call, then a call on the closed circuit
        assert h.verify_pin(nurse, h.card(P), consent=CONSENT).status_code == 201
    assert oqs.hits == 2


def test_lookup_and_requery_over_http_give_what_the_embedded_sandbox_gives(database_url, oqs) -> None:
    from mobile_api.adapters.oqs import IdentifierQuery, RequeryRequest
    from mobile_api.domain.codes import CareType, InfoKind
    from mobile_api.domain.identifiers import normalise
    from mobile_api.sandbox.personas import PersonaBook

    h = http_app(database_url, oqs)
    persona = PersonaBook.default().get(P)
    q = persona.qualification
    query = IdentifierQuery(institution_code="1312345678", insurer_number=q.insurer_number,
                            symbol=normalise(q.symbol), number=normalise(q.number),
                            branch_number=normalise(q.branch_number), birth_date=q.birth_date, at=T0)
    over_http = h.rt.oqs.lookup(query)
    embedded = oqs.inner.extensions["sandbox_oqs"].lookup(query)
    assert over_http == embedded and int(over_http.status) == 1 and int(over_http.consent_flag) == 0
    requery = RequeryRequest(institution_code="1312345678", person_ref=over_http.person_ref,
                             care_type=CareType.HOME_VISIT, consent_kinds=frozenset({InfoKind.MEDICATION}), at=T0)
    assert h.rt.oqs.requery(requery) == oqs.inner.extensions["sandbox_oqs"].requery(requery)
