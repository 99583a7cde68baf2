"""End-to-end fixtures: the real server and the agent's touch UI on loopback sockets, and headless Chromium.

The browser is Debian's Chromium driven by playwright (no downloaded browser). Without
/usr/bin/chromium (or without playwright) the browser tests skip, unless REQUIRE_CHROMIUM=1.
"""
from __future__ import annotations

import io
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from device_agent.agent import Agent, AgentHome
from device_agent.card.sim.nfc_virtual import virtual_session
from device_agent.card.sim.virtual_card import VirtualJpkiCard
from device_agent.ui import create_ui_app
from mobile_api import create_app
from mobile_api.clock import FrozenClock
from tests.support import database
from tests.support.harness import T0, Harness, Tenant

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
E2E_CONFIG = {"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST_KIB": 1024,
              "JWT_KEYS": {"test1": "oRnogdo_mOgEaYrdoy3NSZWlpRej93cAEW9WJuA6W5y95EQAuOD0Jsa2ymhCg9YV"},  # test key
              "JWT_ACTIVE_KID": "test1",
              "SIGN_IN_RATE_LIMIT": "100000/minute"}  # many sign-ins a minute from one address


@dataclass
class Wire:
    """Every request one served app received: (method, path, raw body)."""

    requests: list[tuple[str, str, bytes]] = field(default_factory=list)


@contextmanager
def served(app: Any) -> Iterator[tuple[str, Wire]]:
    """Serve a WSGI app on 127.0.0.1 (free port) in a thread, recording the requests."""
    wire = Wire()

    def recorder(environ: dict[str, Any], start_response: Any) -> Any:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        wire.requests.append((environ["REQUEST_METHOD"], environ["PATH_INFO"], body))
        return app(environ, start_response)

    server = make_server("127.0.0.1", 0, recorder, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="e2e-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", wire
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _no_browser(reason: str) -> None:
    if os.environ.get("REQUIRE_CHROMIUM") == "1":
        pytest.fail(f"REQUIRE_CHROMIUM=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One headless Chromium for the session (Debian's /usr/bin/chromium through playwright)."""
    if not CHROMIUM.exists():
        _no_browser(f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _no_browser("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def phone(chromium: Any) -> Iterator[Any]:
    """A 360×740 touch screen, Japanese locale."""
    context = chromium.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=2,
                                   is_mobile=True, has_touch=True, locale="ja-JP")
    page = context.new_page()
    page.set_default_timeout(30_000)  # a wait ends when its condition holds: generous costs nothing when healthy
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(scope="session")
def e2e_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return database.migrated_sqlite_template(tmp_path_factory.mktemp("e2e-template"))


@dataclass
class TouchWorld:
    """The real server (SQLite file), a home-visit tenant with staff nurse1, and an enrolled agent."""

    h: Harness
    tenant: Tenant
    clock: FrozenClock
    agent: Agent
    server_url: str
    server_wire: Wire
    stack: ExitStack

    def card(self, persona_id: str, *, variant: str = "card") -> VirtualJpkiCard:
        issued = self.h.card(persona_id, variant=variant)
        return VirtualJpkiCard(issued.private_key, issued.certificate_der, pin=issued.pin, token=issued.token)

    def start_ui(self, card: VirtualJpkiCard) -> tuple[str, Wire]:
        """The agent's touch UI for this card, served on 127.0.0.1; returns its URL and request record."""
        source: Callable[[], Any] = lambda: virtual_session(card)  # noqa: E731
        return self.stack.enter_context(served(create_ui_app(self.agent, source)))


@pytest.fixture
def touch_world(tmp_path: Path, e2e_sqlite_template: Path) -> Iterator[TouchWorld]:
    clock = FrozenClock(T0)
    app = create_app({**E2E_CONFIG, "DATABASE_URL": database.sqlite_copy(e2e_sqlite_template, tmp_path)},
                     clock=clock)
    app.instance_path = str(tmp_path / "instance")
    h = Harness(app, clock)
    tenant = h.institution("home_visit_care")
    tenant.create_staff("nurse1")
    with ExitStack() as stack:
        server_url, wire = stack.enter_context(served(app))
        created = h.client.post("/api/v1/devices", json={"label": "訪問看護タブレット"}, headers=tenant.auth())
        assert created.status_code == 201, created.get_json()
        agent = Agent(AgentHome(tmp_path / "agent"), clock=clock)
        agent.enroll(server_url, created.get_json()["activation_code"])
        yield TouchWorld(h, tenant, clock, agent, server_url, wire, stack)
    app.extensions["mobile_api_engine"].dispose()
