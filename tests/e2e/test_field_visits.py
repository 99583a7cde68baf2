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
import qrcode
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
    assert page.url.endswith("/day"), "the home screen, not nurse1's visit"
    assert ui.get("/pin").url.endswith("/start"), "nurse1's visit (card read, consent) is not handed to nurse2"


def test_a_tablet_13_hours_ahead_works_in_the_touch_ui_by_the_servers_clock(touch_world) -> None:
    """Issue 19: the touch UI on a tablet whose clock is 13 hours ahead signs in, says so once, verifies,
    and counts the viewing window down from the server's 24 hours."""
    from datetime import timedelta

    from device_agent.card.sim.nfc_virtual import virtual_session
    from device_agent.ui import create_ui_app

    card = touch_world.card(P01)
    tablet = Agent(touch_world.agent.home, clock=lambda: touch_world.clock() + timedelta(hours=13))
    url, _ = touch_world.stack.enter_context(served(create_ui_app(tablet, lambda: virtual_session(card))))
    ui = Ui(url)
    home = ui.login()
    assert home.url.endswith("/day") and "約13時間進んでいます" in home.text and "このまま続けられます" in home.text
    assert "約13時間" not in ui.get("/day").text, "said once"
    assert ui.post("/start", form="home_consent", care_type="2").ok
    assert ui.post("/consent", choice="blanket").ok
    assert ui.post("/card").url.endswith("/pin")
    result = ui.pin(PIN)
    assert result.url.endswith("/result") and 'data-seconds-left="86400"' in result.text, "the server's 24 hours"
    assert "24時間0分" in ui.get("/day").text


def test_the_touch_ui_says_the_clock_offset_once_a_day_as_the_cli_does(touch_world, monkeypatch, capsys) -> None:
    """The touch UI and the CLI keep the day they said it in the agent's home: a second sign-in the same day (or
    a CLI command after it) does not say it again; the first sign-in of the next day (the server's) does."""
    from datetime import timedelta

    from device_agent import cli
    from device_agent.ui import create_ui_app

    def tablet(home: AgentHome) -> Agent:
        return Agent(home, clock=lambda: touch_world.clock() + timedelta(hours=13))

    url, _ = touch_world.stack.enter_context(served(create_ui_app(tablet(touch_world.agent.home), lambda: None)))
    ui = Ui(url)
    notice = "約13時間進んでいます"
    assert notice in ui.login().text
    ui.post("/logout")
    again = ui.login()
    assert again.url.endswith("/day") and notice not in again.text, "signed in, the same day: said already"
    monkeypatch.setattr(cli, "Agent", tablet)
    monkeypatch.setenv("DEVICE_AGENT_PASSWORD", STAFF_PASSWORD)
    assert cli.main(["--home", str(touch_world.agent.home.path), "visits", "--login", "nurse1"]) == 0
    assert notice not in capsys.readouterr().out, "the CLI on the same tablet the same day"
    touch_world.clock.advance(hours=24)
    ui.post("/logout")
    assert notice in ui.login().text, "a new day"


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


# -- 2. errors that say what happened and what to do ---------------------------------------------------

def run_cli(capsys, *argv: str) -> tuple[int, str]:
    from device_agent.cli import main

    code = main(list(argv))
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert "Traceback" not in out, out
    return code, captured.out


def test_enrolment_errors_are_told_apart(touch_world, tmp_path, capsys) -> None:
    home = str(tmp_path / "new-device")
    code, out = run_cli(capsys, "--home", home, "enroll", "--server", "127.0.0.1:8000", "--code", "123456789012")
    assert code == 2 and "http:// または https://" in out
    code, out = run_cli(capsys, "--home", home, "enroll", "--server", touch_world.server_url, "--code", "123456789012")
    assert code == 2 and messages.ACTIVATION_REJECTED in out and "ログイン" not in out
    created = touch_world.h.client.post("/api/v1/devices", json={"label": "2台目"},
                                        headers=touch_world.tenant.auth()).get_json()
    svg = tmp_path / "activation.svg"
    svg.write_text(created["activation_qr_svg"], encoding="utf-8")  # the only image the API gives
    code, out = run_cli(capsys, "--home", home, "enroll", "--server", touch_world.server_url, "--qr", str(svg))
    assert code == 0 and "登録しました" in out
    code, out = run_cli(capsys, "--home", str(tmp_path / "third"), "enroll", "--server", touch_world.server_url,
                        "--code", created["activation_code"])
    # A spent code is 409 /problems/activation-code-used (537a34a): the agent says it was used on another device,
    # not that it is wrong, and never "login".
    assert code == 2 and messages.ACTIVATION_USED in out and "ログイン" not in out
    from device_agent.client import ActivationCodeRejected

    used = ActivationCodeRejected(409, {"type": "/problems/activation-code-used"})
    assert messages.describe(used) == messages.ACTIVATION_USED
    not_an_image = tmp_path / "notes.txt"
    not_an_image.write_text("hello", encoding="utf-8")
    code, out = run_cli(capsys, "--home", home, "enroll", "--server", touch_world.server_url, "--qr", str(not_an_image))
    assert code == 2 and "PNG" in out and "SVG" in out


def test_the_server_url_is_taken_as_given_and_a_wrong_one_is_named(touch_world, tmp_path, capsys) -> None:
    """Issue 19: the URL the demo prints (…/api/v1, with or without a slash) is the same server; a URL where no
    API answers says which URL was tried; a QR from the console carries the URL, so --server may be left out."""
    from mobile_api.web.activation_qr import activation_uri

    def new_code() -> dict:
        return touch_world.h.client.post("/api/v1/devices", json={"label": "端末"},
                                         headers=touch_world.tenant.auth()).get_json()

    wrong = touch_world.server_url + "/oqs"
    code, out = run_cli(capsys, "--home", str(tmp_path / "a"), "enroll", "--server", wrong + "/api/v1/", "--code",
                        new_code()["activation_code"])
    assert code == 2 and f"試したURL: {wrong}/api/v1/devices/enrol" in out and "対象が見つかりません" not in out
    for n, given in enumerate((touch_world.server_url + "/api/v1", touch_world.server_url + "/api/v1/",
                               touch_world.server_url + "/")):
        code, out = run_cli(capsys, "--home", str(tmp_path / f"b{n}"), "enroll", "--server", given, "--code",
                            new_code()["activation_code"])
        assert code == 0 and "登録しました" in out, (given, out)
        assert json.loads((tmp_path / f"b{n}" / "agent.json").read_text())["server_url"] == touch_world.server_url
    qr = tmp_path / "activation.png"
    qrcode.make(activation_uri(new_code()["activation_code"], touch_world.server_url + "/api/v1")).save(qr)
    code, out = run_cli(capsys, "--home", str(tmp_path / "c"), "enroll", "--qr", str(qr))
    assert code == 0 and "登録しました" in out
    code, out = run_cli(capsys, "--home", str(tmp_path / "d"), "enroll", "--code", "123456789012")
    assert code == 2 and "--server" in out


def test_unreachable_servers_show_the_url_tried_and_why(tmp_path, capsys) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    home = str(tmp_path / "d")
    code, out = run_cli(capsys, "--home", home, "enroll", "--server", f"http://127.0.0.1:{port}", "--code",
                        "123456789012")
    assert code == 2 and "接続を断られました" in out and f"http://127.0.0.1:{port}" in out
    code, out = run_cli(capsys, "--home", home, "enroll", "--server", "http://no-such-host.invalid", "--code",
                        "123456789012")
    assert code == 2 and "サーバー名が見つかりません" in out and "no-such-host.invalid" in out


def test_verify_errors_in_plain_japanese(touch_world, tmp_path, monkeypatch, capsys) -> None:
    from device_agent import cli

    monkeypatch.setattr(cli, "Agent", lambda home: Agent(home, clock=touch_world.clock))
    home = str(touch_world.agent.home.path)
    monkeypatch.setenv("DEVICE_AGENT_PASSWORD", "not-the-password")
    base = ["verify", "--login", "nurse1", "--consent", "blanket", "--pin-stdin"]
    code, out = run_cli(capsys, "--home", home, *base, "--virtual-card", P01)
    assert code == 2 and "仮想カード「P01-valid-30」が見つかりません" in out
    touch_world.h.card(P01).save(touch_world.agent.home.cards_dir() / P01)
    code, out = run_cli(capsys, "--home", home, *base, "--virtual-card", P01)
    assert code == 2 and messages.LOGIN_REJECTED in out and "有効期限" not in out
    monkeypatch.setenv("DEVICE_AGENT_PASSWORD", STAFF_PASSWORD)
    monkeypatch.setattr("sys.stdin", io.StringIO("12\n"))
    code, out = run_cli(capsys, "--home", home, *base, "--virtual-card", P01)
    assert code == 2 and messages.PIN_FORMAT in out
    code, out = run_cli(capsys, "--home", str(tmp_path / "empty"), *base, "--virtual-card",
                        str(touch_world.agent.home.cards_dir() / P01))
    assert code == 2 and "まだ登録されていません" in out and "device-agent enroll" in out


def test_the_cli_reports_an_expired_card_before_the_pin(touch_world, monkeypatch, capsys) -> None:
    from device_agent import cli

    persona = "P22-cert-expired-4m"
    touch_world.h.card(persona).save(touch_world.agent.home.cards_dir() / persona)
    monkeypatch.setattr(cli, "Agent", lambda home: Agent(home, clock=touch_world.clock))
    monkeypatch.setenv("DEVICE_AGENT_PASSWORD", STAFF_PASSWORD)
    asked = []
    monkeypatch.setattr("getpass.getpass", lambda prompt="": asked.append(prompt) or PIN)
    code, out = run_cli(capsys, "--home", str(touch_world.agent.home.path), "verify", "--login", "nurse1",
                        "--virtual-card", persona)
    assert code == 2 and "資格確認書" in out and "outbox record --method qualification_certificate" in out
    assert asked == [], "the PIN is not asked for a card that cannot be used"
    assert "暗証番号（数字4桁）を入力" not in out


def test_no_reader_is_not_no_card() -> None:
    from device_agent.card.transport import NoCardError, ReaderNotFoundError

    assert messages.describe(ReaderNotFoundError("x")) == messages.NO_READER
    assert messages.describe(NoCardError("x")) == messages.NO_CARD
    assert "かざし" not in messages.NO_READER


def test_debug_shows_the_details_for_developers(tmp_path, capsys) -> None:
    from device_agent.cli import main

    assert main(["--home", str(tmp_path), "--debug", "verify", "--login", "x", "--virtual-card", "nope"]) == 2
    captured = capsys.readouterr()
    assert "Traceback" in captured.err and "Traceback" not in captured.out


# -- 3. fit for each facility kind -------------------------------------------------------------------

def test_a_judo_clinic_is_not_asked_for_a_care_type_and_the_steps_add_up(make_world) -> None:
    world = make_world("judo_therapy")
    url, _ = world.start_ui(world.card(P01))
    ui = Ui(url)
    assert ui.login().url.endswith("/day")  # the home screen: today's visits
    start = ui.get("/start")
    assert "診療の種類" not in start.text and "訪問診療等" not in start.text
    assert "ステップ 1／4" in start.text
    card = ui.post("/start", form="qualification_only")
    assert card.url.endswith("/card") and "ステップ 2／4" in card.text
    pin = ui.post("/card")
    assert "ステップ 3／4" in pin.text and "ご家族" in pin.text
    assert "ログアウト" not in pin.text, "no staff controls while the patient holds the device"
    result = ui.pin(PIN)
    assert "ステップ 4／4" in result.text and "昭和59年5月12日（1984年）" in result.text
    assert "訪問診療等" not in result.text
    visits = ui.get("/visits")
    assert "佐藤 健一" in visits.text


# -- 4. the visit list, reopening a visit, and the window ----------------------------------------------

def test_the_visit_list_reopens_a_visit_inside_its_window_and_refuses_after(touch_world) -> None:
    url, _ = touch_world.start_ui(touch_world.card(P01))
    ui = Ui(url)
    to_pin_pad(ui)
    assert "有効" in ui.pin(PIN).text
    ui.get("/start")  # 次の確認へ: the result is no longer on screen
    touch_world.clock.advance(hours=23)  # the next day: a new working round, a new login
    assert ui.get("/visits").url.endswith("/login")
    listing = ui.login()
    assert listing.url.endswith("/visits"), "back where the nurse was"
    assert "佐藤 健一" in listing.text and "医療情報 残り" in listing.text
    link = re.search(r'href="(/visits/[^"]+)"', listing.text)
    assert link
    reopened = ui.get(link.group(1))
    assert reopened.url.endswith("/result") and "data-seconds-left" in reopened.text
    assert ui.get("/medical/medication").ok and "アムロジピン" in ui.get("/medical/medication").text
    touch_world.clock.advance(hours=1, minutes=1)
    closed = ui.get(link.group(1))
    assert "閲覧期間は終了しました" in closed.text and "/medical/medication" not in closed.text
    refused = ui.get("/medical/medication")
    assert messages.NOT_SHOWN in refused.text and "閲覧期間" in refused.text
    assert "佐藤 健一" not in ui.get("/visits").text, "older than 24 hours: not listed"


# -- 5. offline recording from the UI ------------------------------------------------------------------

def test_offline_record_refused_then_fixed_and_sent_under_the_same_id(touch_world) -> None:
    url, _ = touch_world.start_ui(touch_world.card(P01))
    ui = Ui(url)
    ui.login()
    form = ui.get("/offline/new")
    assert "資格情報のお知らせ＋マイナンバーカード" in form.text
    typed = dict(method="notice_with_card", reason="offline", form="home_consent", care_type="2",
                 card_presented="on", insurer_number="01130013", number="1287", birth_date="1984-05-12",
                 name="佐藤 健一", free_text="次回は資格確認書を持参予定")  # check digit wrong
    caught = ui.post("/offline/new", **typed)
    assert caught.status_code == 422 and "保険者番号に誤りがあります" in caught.text and 'value="01130013"' in caught.text
    assert "記録はありません" in ui.get("/offline").text, "caught before saving: nothing kept"
    # A record kept by an agent without that check (or any the server refuses) is refused at sync, fixed, resent.
    from device_agent import fallback
    from device_agent.outbox import Outbox

    payload, errors = fallback.build({**typed, "insurer_number": "01130012"}, recorded_at=touch_world.clock(),
                                     care_type=2, form="home_consent")
    assert not errors
    payload["evidence"]["insurer_number"] = "01130013"
    box = Outbox(touch_world.agent.home.outbox_path, touch_world.agent.home.outbox_key_path)
    box.add(payload)
    box.close()
    synced = ui.post("/offline/sync")
    assert "要修正" in synced.text and "保険者番号に誤りがあります" in synced.text
    fix = re.search(r'href="(/offline/[^"]+/fix)"', synced.text)
    assert fix
    record_id = fix.group(1).split("/")[2]
    page = ui.get(fix.group(1))
    assert 'value="01130013"' in page.text and "保険者番号: 保険者番号に誤りがあります" in page.text
    assert re.search(r'name="card_presented"[^>]*checked', page.text)
    for name, value in (("number", "1287"), ("birth_date", "1984-05-12"),
                        ("name", "佐藤 健一"), ("free_text", "次回は資格確認書を持参予定")):  # every field kept, 補足 too
        assert re.search(rf'name="{name}"[^>]*value="{value}"', page.text), name
    assert re.search(r'name="insurer_number"[^>]*aria-invalid="true"', page.text), "the refused field is marked"
    sent = ui.post(fix.group(1), method="notice_with_card", reason="offline", form="home_consent", care_type="2",
                   card_presented="on", insurer_number="01130012", number="1287", birth_date="1984-05-12",
                   name="佐藤 健一")
    assert "送信済み 1 件" in sent.text
    keys = [body for method, path, body in touch_world.server_wire.requests if path == "/api/v1/fallback-records"]
    assert len(keys) == 2
    records = touch_world.h.client.get("/api/v1/fallback-records", headers=touch_world.tenant.auth()).get_json()
    assert len(records) == 1 and records[0]["evidence"]["insurer_number"] == "01130012"
    from device_agent.outbox import Outbox

    box = Outbox(touch_world.agent.home.outbox_path, touch_world.agent.home.outbox_key_path)
    try:
        assert box.get(record_id).state == "sent", "the same record, under the same id"
    finally:
        box.close()


# -- the screens in headless Chromium at phone and tablet size ------------------------------------------

def test_main_screens_at_phone_and_tablet_size(touch_world, chromium, tmp_path) -> None:
    from tests.e2e.test_touch_ui import assert_touch_friendly, shots, sign_in_and_reach_card, tap_pin

    url, _ = touch_world.start_ui(touch_world.card(P01))
    directory = shots(tmp_path)
    phone = chromium.new_context(viewport={"width": 360, "height": 800}, device_scale_factor=1, is_mobile=True,
                                 has_touch=True, locale="ja-JP").new_page()
    phone.set_default_timeout(15_000)
    sign_in_and_reach_card(phone, url, directory=directory)
    phone.get_by_role("heading", name="暗証番号の入力").wait_for()
    assert phone.get_by_role("button", name="ログアウト").count() == 0, "no staff controls on the PIN pad"
    assert "ご家族" in phone.locator("main").inner_text()
    phone.screenshot(path=str(directory / "360-pin.png"), full_page=True)
    tap_pin(phone, PIN)
    phone.locator(".countdown").wait_for()
    box = phone.locator(".countdown").bounding_box()
    assert box is not None and box["y"] + box["height"] <= 800, "the time left is visible without scrolling"
    pages = ["/result", "/medical/medication", "/visits", "/offline", "/offline/new", "/start"]
    for width, height in ((360, 800), (800, 1280)):
        page = phone if width == 360 else chromium.new_context(
            viewport={"width": width, "height": height}, locale="ja-JP", has_touch=True).new_page()
        for path in pages:
            page.goto(url + path)
            page.wait_for_load_state()
            assert "Traceback" not in page.content()
            if width == 360:
                assert_touch_friendly(page)
            else:
                assert page.evaluate("document.documentElement.scrollWidth") <= width
            page.screenshot(path=str(directory / f"{width}-{path.strip('/').replace('/', '-')}.png"),
                            full_page=True)
        if width == 800:
            page.goto(url + "/result")
            sections = page.locator(".columns > section").all()
            left, right = sections[0].bounding_box(), sections[1].bounding_box()
            assert left and right and right["x"] > left["x"] + 300, "two columns on a tablet"
            assert page.locator("main").bounding_box()["width"] > 700
    assert (directory / "800-result.png").exists() and (directory / "360-medical-medication.png").exists()
