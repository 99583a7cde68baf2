"""The patient's own phone in headless Chromium at 360 px: the link's QR code → the Japanese page (no login)
→ consent kind by kind → the PIN through the agent in the patient role reading the virtual card via nfcpy
(docs/rules.md §3.4), then withdrawal from the page (§3.3)."""
from __future__ import annotations

import base64
import io
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests

from device_agent.card.apdu import WrongPin
from device_agent.card.sim.nfc_virtual import virtual_session
from device_agent.patient import sign_handoff
from tests.e2e.test_touch_ui import P01, PIN, assert_touch_friendly, shots
from tests.support.harness import ADMIN_PASSWORD, STAFF_PASSWORD
from tests.support.scrub import scrub


def _link_from_qr(world) -> str:
    """Create a link as the institution, then read its URL back from the printed QR code (PNG)."""
    import zxingcpp
    from PIL import Image

    world.h.app.config["PUBLIC_BASE_URL"] = world.server_url
    r = world.h.client.post("/api/v1/consent-links", json={"purpose": "general", "care_type": 2},
                            headers=world.tenant.auth())
    assert r.status_code == 201, r.get_json()
    (decoded,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(base64.b64decode(r.get_json()["qr_png"]))))
    assert decoded.text.startswith(world.server_url + "/p/")
    return decoded.text


PROVIDER_WORDING = ("患者が", "閲覧するには", "資格確認を行ってください")  # the window's message is for staff


def _above_the_fold(phone, selector: str) -> None:
    box = phone.locator(selector).bounding_box()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= phone.viewport_size["height"], box


def _says_it_once_for_the_patient(phone, sentence: str) -> None:
    text = phone.locator("#done").inner_text()
    assert text.count(sentence) == 1, text
    assert not [w for w in PROVIDER_WORDING if w in text], text


def _start_on_the_page(world, phone, url: str, *, kinds: list[str] | None) -> str:
    """Open the link at 360×800, choose, and return the hand-off link the page gives the JPKI client."""
    phone.set_viewport_size({"width": 360, "height": 800})
    phone.goto(url)
    phone.get_by_role("heading", name="医療情報の提供への同意").wait_for()
    assert phone.evaluate("document.documentElement.lang") == "ja"
    assert "ログイン不要" in phone.locator("header").inner_text()
    assert_touch_friendly(phone)
    if kinds:
        phone.get_by_text("項目ごとに選ぶ").tap()
        for kind in kinds:
            phone.locator(f"label.choice:has(span.name:text-is('{kind}'))").tap()
        assert_touch_friendly(phone)
    phone.get_by_role("button", name="暗証番号で本人確認する").tap()
    phone.get_by_role("heading", name="マイナンバーカードを読み取ってください").wait_for()
    return phone.get_by_role("link", name="本人確認アプリを開く").get_attribute("href")


def _authenticate_on_the_page(world, phone, url: str, *, kinds: list[str] | None) -> None:
    handoff = _start_on_the_page(world, phone, url, kinds=kinds)
    card = world.card(P01)
    answer = sign_handoff(handoff, lambda: virtual_session(card), PIN, http=requests.Session())
    assert answer.authenticated, answer.body
    assert card.tries_left == 3


def _admin(world) -> dict[str, str]:
    r = world.h.client.post("/api/v1/auth/login", json={"institution_code": world.tenant.code, "login": "admin",
                                                         "password": ADMIN_PASSWORD})
    return {"Authorization": f"Bearer {r.get_json()['access_token']}"}


def test_consent_kind_by_kind_from_the_qr_link_then_the_window_closes_at_24_hours(touch_world, phone,
                                                                                  tmp_path: Path) -> None:
    url = _link_from_qr(touch_world)
    _authenticate_on_the_page(touch_world, phone, url, kinds=["薬剤情報", "診療情報"])
    phone.get_by_role("heading", name="同意を登録しました").wait_for()
    until = "12月2日 9時00分まで"  # T0 + 24 h in Japan's time, from the server's clock (not the phone's)
    assert phone.locator("#done-lead").inner_text() == f"{until}（24時間）、この医療機関があなたの医療情報を閲覧できます。"
    _above_the_fold(phone, "#done-title")
    _above_the_fold(phone, "#done-lead")
    _says_it_once_for_the_patient(phone, "あなたの医療情報を閲覧できます")
    item = phone.locator("#consents li").first
    assert "診療情報、薬剤情報" in item.inner_text() and f"{until}、この医療機関が閲覧できます" in item.inner_text()
    assert_touch_friendly(phone)
    phone.screenshot(path=str(shots(tmp_path) / "patient-consented-360x800.png"))  # the viewport: what is seen

    (consent,) = touch_world.h.client.get("/api/v1/consents", headers=_admin(touch_world)).get_json()
    assert consent["source"] == "patient_phone" and sorted(consent["kinds"]) == ["clinical", "medication"]
    assert consent["window"]["state"] == "open"
    assert datetime.fromisoformat(consent["window"]["closes_at"]) == touch_world.clock() + timedelta(hours=24)
    touch_world.clock.advance(hours=24)
    (later,) = touch_world.h.client.get("/api/v1/consents", headers=_admin(touch_world)).get_json()
    assert later["window"]["state"] == "closed" and later["window"]["closed_at"] == consent["window"]["closes_at"]


def test_withdrawal_from_the_page_then_a_view_is_refused(touch_world, phone) -> None:
    nurse = touch_world.tenant.nurse("nurse2")
    url = _link_from_qr(touch_world)
    _authenticate_on_the_page(touch_world, phone, url, kinds=None)  # blanket (包括同意)
    phone.get_by_role("heading", name="同意を登録しました").wait_for()
    assert "すべての情報（包括同意）" in phone.locator("#consents li").first.inner_text()
    (consent,) = touch_world.h.client.get("/api/v1/consents", headers=_admin(touch_world)).get_json()
    view = f"/api/v1/consents/{consent['id']}/medical-information/medication"
    headers = {"Authorization": f"Bearer {nurse}"}
    assert touch_world.h.client.get(view, headers=headers).status_code == 200

    phone.get_by_role("button", name="すべての同意を取り消す").tap()
    phone.get_by_role("button", name="取り消しを確定する").tap()
    phone.get_by_role("heading", name="すべての同意を取り消しました").wait_for()
    _above_the_fold(phone, "#done-lead")
    _says_it_once_for_the_patient(phone, "あなたの医療情報を閲覧できなくなりました")
    assert "取り消し済み（12月1日 9時00分）" in phone.locator("#consents li").first.inner_text()
    assert phone.get_by_role("button", name="すべての同意を取り消す").is_hidden()
    touch_world.clock.advance(seconds=1)
    refused = touch_world.h.client.get(view, headers=headers)
    assert refused.status_code == 403 and refused.mimetype == "application/problem+json"
    assert refused.get_json()["type"] == "/problems/consent-withdrawn"


def test_a_wrong_pin_is_reported_on_the_page_then_the_right_one_consents(touch_world, phone, tmp_path: Path) -> None:
    """The card refuses a wrong PIN; the JPKI client tells the page (tries left, never the PIN), which says so
    in Japanese instead of waiting; the same challenge then works with the right PIN."""
    url = _link_from_qr(touch_world)
    handoff = _start_on_the_page(touch_world, phone, url, kinds=None)
    card = touch_world.card(P01)
    wire_before = len(touch_world.server_wire.requests)
    with pytest.raises(WrongPin):
        sign_handoff(handoff, lambda: virtual_session(card), "9999", http=requests.Session())
    assert card.tries_left == 2
    waiting = phone.locator("#waiting")
    waiting.get_by_text("暗証番号が違います。あと2回間違えるとロックされます。").wait_for()
    assert waiting.get_attribute("class") == "problem"
    _above_the_fold(phone, "#waiting")
    assert not any("9999" in scrub(body.decode("utf-8", "replace"))  # the PIN only to the card
                   for _, _, body in touch_world.server_wire.requests[wire_before:])
    assert_touch_friendly(phone)
    phone.screenshot(path=str(shots(tmp_path) / "patient-wrong-pin-360x800.png"))

    answer = sign_handoff(handoff, lambda: virtual_session(card), PIN, http=requests.Session())
    assert answer.authenticated, answer.body
    phone.get_by_role("heading", name="同意を登録しました").wait_for()
    assert phone.locator("#done-note").inner_text() == ""  # the wrong PIN is no longer the news


@pytest.mark.parametrize("width,height", [(360, 800), (800, 1280)], ids=["phone", "tablet"])
def test_a_consent_link_shown_as_qr_on_the_tablet_then_consented_and_withdrawn_on_the_patients_phone(
        touch_world, chromium, phone, tmp_path: Path, width: int, height: int) -> None:
    """Issue 19: from the home screen, staff create a link for online consultation; the tablet shows its QR code
    large; the patient scans it and consents on their own phone (PIN to the card); the tablet then shows the
    link consented, and withdrawn after the patient withdraws on the page, each by itself (no reload)."""
    import zxingcpp
    from PIL import Image

    touch_world.h.app.config["PUBLIC_BASE_URL"] = touch_world.server_url
    context = chromium.new_context(viewport={"width": width, "height": height}, device_scale_factor=1,
                                   is_mobile=width < 768, has_touch=True, locale="ja-JP")
    tablet = context.new_page()
    tablet.set_default_timeout(15_000)
    directory = shots(tmp_path) / f"consent-link-{width}x{height}"
    directory.mkdir(exist_ok=True)

    def shot(name: str) -> None:
        tablet.wait_for_load_state()
        assert tablet.evaluate("document.documentElement.scrollWidth") <= width, (tablet.url, "horizontal scroll")
        tablet.screenshot(path=str(directory / f"{name}.png"), full_page=True)

    def status(state: str) -> str:
        """The state shown once the page has refreshed it by itself: no reload (the mark set on the page stays)."""
        tablet.locator(f".link-status[data-state={state}]").wait_for()
        assert tablet.evaluate("window.sameVisit") is True, "the page was not reloaded"
        return tablet.locator(".link-status").inner_text()

    try:
        ui, ui_wire = touch_world.start_ui(touch_world.card(P01))
        tablet.goto(ui)
        tablet.get_by_label("職員のログインID").fill("nurse1")
        tablet.get_by_label("パスワード").fill(STAFF_PASSWORD)
        tablet.get_by_role("button", name="ログイン").tap()
        tablet.get_by_role("heading", name="今日の訪問").wait_for()
        tablet.get_by_role("link", name="患者のスマホで同意（QRコード）").tap()
        tablet.get_by_role("heading", name="患者のスマホで同意").wait_for()
        assert tablet.get_by_label("オンライン診療等", exact=True).is_checked()
        shot("1-new-link")
        tablet.get_by_text("診療予定日まで", exact=True).tap()
        tablet.get_by_role("button", name="QRコードを作る").tap()  # no date chosen: said, nothing sent
        tablet.get_by_text("診療予定日を選んでください。").wait_for()
        assert tablet.get_by_label("診療予定日まで", exact=True).is_checked(), "the choice stays"
        assert touch_world.h.client.get("/api/v1/consent-links", headers=_admin(touch_world)).get_json() == []
        tablet.get_by_text("日付を決めない（30日間有効）", exact=True).tap()
        tablet.get_by_role("button", name="QRコードを作る").tap()

        qr = tablet.get_by_role("img", name="同意登録用リンクのQRコード")
        qr.wait_for()
        assert qr.bounding_box()["width"] >= min(width, 480) - 40, "the QR code is shown large"
        assert "患者の同意を待っています" in tablet.locator(".link-status").inner_text()
        shot("2-qr-waiting")
        (decoded,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr.screenshot())))
        assert decoded.text.startswith(touch_world.server_url + "/p/")
        (link,) = touch_world.h.client.get("/api/v1/consent-links", headers=_admin(touch_world)).get_json()
        assert link["care_type"] == 3 and link["purpose"] == "general"
        tablet.evaluate("window.sameVisit = true")

        _authenticate_on_the_page(touch_world, phone, decoded.text, kinds=None)
        phone.get_by_role("heading", name="同意を登録しました").wait_for()
        consented = status("consented")
        assert "同意されました" in consented and "すべての情報（包括同意）" in consented, consented
        assert tablet.locator(".link-qr").count() == 0, "no QR code once it has been used"
        shot("3-consented")

        phone.get_by_role("button", name="すべての同意を取り消す").tap()
        phone.get_by_role("button", name="取り消しを確定する").tap()
        phone.get_by_role("heading", name="すべての同意を取り消しました").wait_for()
        touch_world.clock.advance(seconds=1)
        assert "同意が取り消されました" in status("withdrawn")
        asked = sum(path.endswith("/status") for _, path, _ in ui_wire.requests)
        tablet.wait_for_timeout(3_500)  # longer than the page's interval (routes_links.POLL_SECONDS)
        assert sum(path.endswith("/status") for _, path, _ in ui_wire.requests) == asked, "final: no more asking"
        tablet.get_by_role("link", name="リンクの一覧").tap()
        assert tablet.locator(f"[data-link='{link['id']}'] .link-state").inner_text() == "同意が取り消されました"
        shot("4-list")
    finally:
        context.close()


def test_a_locked_pin_ends_the_attempt_on_the_page_and_a_new_one_starts_clean(touch_world, phone) -> None:
    """The third wrong PIN locks the card: the page says so (not 「待っています…」), and starting again shows
    the plain waiting line, not the old refusal."""
    from device_agent.card.apdu import PinLocked

    url = _link_from_qr(touch_world)
    handoff = _start_on_the_page(touch_world, phone, url, kinds=None)
    card = touch_world.card(P01)
    for _ in range(2):
        with pytest.raises(WrongPin):
            sign_handoff(handoff, lambda: virtual_session(card), "9999", http=requests.Session())
    phone.locator("#waiting").get_by_text("あと1回間違えるとロックされます").wait_for()
    with pytest.raises(PinLocked):
        sign_handoff(handoff, lambda: virtual_session(card), "9999", http=requests.Session())
    phone.get_by_role("heading", name="本人確認できませんでした").wait_for()
    assert "ロックされました" in phone.locator("#refused-detail").inner_text()
    phone.get_by_role("button", name="最初からやり直す").tap()
    phone.get_by_role("button", name="暗証番号で本人確認する").tap()
    phone.get_by_role("heading", name="マイナンバーカードを読み取ってください").wait_for()
    assert phone.locator("#waiting").inner_text() == "読み取りの完了を待っています…"
