"""The agent in the field (issue 10): a login that lasts a working round, honest errors, fit for ③ practices,
the visit list, and offline recording from the UI. Real server on the injected clock, the agent's UI over
HTTP (no browser here: fast), virtual cards via nfcpy."""
from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import requests

from device_agent import messages
from device_agent.agent import Agent, AgentHome
from mobile_api import create_app
from mobile_api.clock import FrozenClock
from tests.e2e.conftest import E2E_CONFIG, TouchWorld, served
from tests.support import database
from tests.support.harness import STAFF_PASSWORD, T0, Harness

P01 = "P01-valid-30"
PIN = "1234"


def token(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert found, name
    return found.group(1)


@pytest.fixture
def make_world(tmp_path: Path, e2e_sqlite_template: Path) -> Iterator[Any]:
    """A world like ``touch_world`` for any facility kind."""
    with ExitStack() as outer:
        def make(kind: str = "home_visit_care") -> TouchWorld:
            clock = FrozenClock(T0)
            root = tmp_path / kind
            root.mkdir()
            app = create_app({**E2E_CONFIG, "DATABASE_URL": database.sqlite_copy(e2e_sqlite_template, root)},
                             clock=clock)
            app.instance_path = str(root / "instance")
            outer.callback(app.extensions["mobile_api_engine"].dispose)
            h = Harness(app, clock)
            tenant = h.institution(kind)
            tenant.create_staff("nurse1")
            stack = outer.enter_context(ExitStack())
            server_url, wire = stack.enter_context(served(app))
            created = h.client.post("/api/v1/devices", json={"label": "端末"}, headers=tenant.auth())
            assert created.status_code == 201, created.get_json()
            agent = Agent(AgentHome(root / "agent"), clock=clock)
            agent.enroll(server_url, created.get_json()["activation_code"])
            return TouchWorld(h, tenant, clock, agent, server_url, wire, stack)

        yield make


class Ui:
    """The touch UI driven as a browser would, without one."""

    def __init__(self, url: str) -> None:
        self.url, self.s = url, requests.Session()
        self.csrf = token(self.s.get(f"{url}/login", timeout=10).text, "csrf_token")

    def get(self, path: str) -> requests.Response:
        return self.s.get(self.url + path, timeout=30)

    def post(self, path: str, **data: str) -> requests.Response:
        return self.s.post(self.url + path, data={"csrf_token": self.csrf, **data}, timeout=30)

    def login(self) -> requests.Response:
        return self.post("/login", login="nurse1", password=STAFF_PASSWORD)

    def pin(self, pin: str) -> requests.Response:
        return self.post("/pin", pin=pin, attempt=token(self.get("/pin").text, "attempt"))


def refreshes(world: TouchWorld) -> list[str]:
    return [json.loads(body)["refresh_token"] for method, path, body in world.server_wire.requests
            if path == "/api/v1/auth/refresh"]


def to_pin_pad(ui: Ui) -> None:
    assert ui.login().ok
    assert ui.post("/start", form="home_consent", care_type="2").ok
    assert ui.post("/consent", choice="blanket").ok
    page = ui.post("/card")
    assert page.url.endswith("/pin"), page.text


# -- 1. sessions that last a working round ---------------------------------------------------------------

def test_a_visit_spanning_20_minutes_succeeds_in_the_ui(touch_world) -> None:
    card = touch_world.card(P01)
    url, _ = touch_world.start_ui(card)
    ui = Ui(url)
    to_pin_pad(ui)
    touch_world.clock.advance(minutes=20)  # the access token (15 min) ran out while the patient got ready
    result = ui.pin(PIN)
    assert result.url.endswith("/result") and "有効" in result.text, result.text
    touch_world.clock.advance(minutes=20)
    medication = ui.get("/medical/medication")
    assert medication.ok and "アムロジピン" in medication.text
    spent = refreshes(touch_world)
    assert len(spent) == 2 and len(set(spent)) == 2, "each refresh token is sent once, then the new one"


def test_a_refused_refresh_asks_for_login_keeps_the_visit_and_spends_no_pin_try(touch_world) -> None:
    card = touch_world.card(P01)
    url, _ = touch_world.start_ui(card)
    ui = Ui(url)
    to_pin_pad(ui)
    touch_world.clock.advance(hours=13)  # past the 12-hour refresh token: the round is over
    page = ui.pin(PIN)
    assert page.url.endswith("/login") and messages.SESSION_EXPIRED in page.text
    assert card.tries_left == 3, "the card is not touched with a stale login"
    assert 'value="nurse1"' in page.text, "the login id is offered again"
    back = ui.login()
    assert back.url.endswith("/pin"), "the same nurse carries on where the visit was: form, consent, card kept"
    result = ui.pin(PIN)
    assert result.url.endswith("/result") and "有効" in result.text


def test_another_person_logging_in_after_expiry_starts_afresh(touch_world) -> None:
    touch_world.tenant.create_staff("nurse2")
    url, _ = touch_world.start_ui(touch_world.card(P01))
    ui = Ui(url)
    to_pin_pad(ui)
    touch_world.clock.advance(hours=13)
    ui.pin(PIN)
    page = ui.post("/login", login="nurse2", password=STAFF_PASSWORD)
    assert page.url.endswith("/start")
    assert ui.get("/pin").url.endswith("/start"), "nurse1's visit (card read, consent) is not handed to nurse2"


def test_the_cli_refreshes_during_a_20_minute_visit(touch_world, monkeypatch, capsys) -> None:
    from device_agent import cli

    touch_world.h.card(P01).save(touch_world.agent.home.cards_dir() / P01)
    monkeypatch.setattr(cli, "Agent", lambda home: Agent(home, clock=touch_world.clock))
    monkeypatch.setenv("DEVICE_AGENT_PASSWORD", STAFF_PASSWORD)

    class SlowPatient(io.StringIO):
        def readline(self, *args: Any) -> str:
            touch_world.clock.advance(minutes=20)  # the PIN comes 20 minutes after the login
            return super().readline(*args)

    monkeypatch.setattr("sys.stdin", SlowPatient(PIN + "\n"))
    home = str(touch_world.agent.home.path)
    code = cli.main(["--home", home, "verify", "--login", "nurse1", "--consent", "blanket", "--virtual-card", P01,
                     "--pin-stdin", "--show", "medication"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "資格確認が完了しました" in out and "■ 薬剤情報" in out
    assert len(refreshes(touch_world)) == 1
