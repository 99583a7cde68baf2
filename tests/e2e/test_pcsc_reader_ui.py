"""The touch UI on a PC/SC reader found by ``--reader auto``: it shows the reader and whether a card is on it,
and a ② visit runs through pcscd + vpcd."""
from __future__ import annotations

import pytest

from device_agent.card import readers
from device_agent.card_source import ReaderSource
from device_agent.ui import create_ui_app
from tests.e2e.conftest import served
from tests.e2e.test_field_visits import P01, PIN, Ui
from tests.support.pcsc_fixtures import OTHER_READER, READER


@pytest.fixture
def ui_on_auto_reader(touch_world, monkeypatch):
    monkeypatch.setattr(readers, "nfc_readers", lambda: [])  # no nfcpy reader: only pcscd's two vpcd readers
    url, _ = touch_world.stack.enter_context(served(create_ui_app(touch_world.agent, ReaderSource("auto"))))
    ui = Ui(url)
    assert ui.login().ok
    assert ui.post("/start", form="home_consent", care_type="2").ok
    assert ui.post("/consent", choice="blanket").ok
    return ui


def test_the_card_page_names_the_reader_and_a_visit_runs_through_pcsc(touch_world, pcsc_slot, ui_on_auto_reader):
    ui = ui_on_auto_reader
    empty = ui.get("/card").text
    assert "複数" in empty and f"pcsc:{READER}" in empty and f"pcsc:{OTHER_READER}" in empty, "no card: which reader?"
    pcsc_slot.insert(touch_world.card(P01))
    page = ui.get("/card").text
    assert f"pcsc:{READER}（カードあり）" in page
    assert ui.post("/card").url.endswith("/pin")
    result = ui.pin(PIN)
    assert result.url.endswith("/result") and "有効" in result.text, result.text


def test_the_card_page_says_when_the_service_is_down(touch_world, pcscd, ui_on_auto_reader):
    pcscd.stop()
    try:
        page = ui_on_auto_reader.get("/card")
    finally:
        pcscd.start()
    assert page.ok and "pcscd" in page.text and "Traceback" not in page.text
