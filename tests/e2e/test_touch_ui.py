"""The touch UI in headless Chromium at phone size, against the real server and a virtual card via nfcpy."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import requests

from device_agent import messages
from tests.support.harness import STAFF_PASSWORD, VISUAL_PASSWORD
from tests.support.scrub import scrub

P01, P23 = "P01-valid-30", "P23-face-card-no-pin"
PIN = "1234"  # the sandbox persona's PIN


def shots(tmp_path: Path) -> Path:
    """Where screenshots go: $TOUCH_UI_SCREENSHOTS if set (to look at them), else the test's tmp dir."""
    target = Path(os.environ.get("TOUCH_UI_SCREENSHOTS") or tmp_path / "screenshots")
    target.mkdir(parents=True, exist_ok=True)
    return target


def assert_touch_friendly(page: Any) -> None:
    """No horizontal scroll at 360 px, and every visible button or button-like link at least 48 px high."""
    assert page.evaluate("document.documentElement.scrollWidth") <= 360, page.url
    for element in page.locator("button, a.button, summary").all():
        box = element.bounding_box()
        if box is not None and box["width"] > 0:
            assert box["height"] >= 48, (page.url, element.inner_text(), box)


def visit_page(page: Any, directory: Path, name: str) -> None:
    page.wait_for_load_state()
    assert page.evaluate("document.documentElement.lang") == "ja"
    assert_touch_friendly(page)
    page.screenshot(path=str(directory / f"{name}.png"), full_page=True)


def sign_in_and_reach_card(page: Any, ui: str, *, directory: Path | None = None,
                           kinds: list[str] | None = None) -> None:
    """Login → form ② → consent (blanket, or the given kinds in the patient's words) → read the card."""
    page.goto(ui)
    page.get_by_label("職員のログインID").fill("nurse1")
    page.get_by_label("パスワード").fill(STAFF_PASSWORD)
    if directory:
        visit_page(page, directory, "1-login")
    page.get_by_role("button", name="ログイン").tap()
    page.get_by_role("heading", name="今日の訪問").wait_for()  # the nurse's home screen
    page.get_by_role("link", name="カードで資格確認").tap()
    page.get_by_role("heading", name="確認方式を選んでください").wait_for()
    assert page.get_by_text("③ 資格確認限定型").count() == 0, "a home-visit institution may use ② only"
    assert page.get_by_label("② 居宅同意取得型", exact=False).is_checked()
    page.get_by_text("訪問診療等", exact=True).tap()
    if directory:
        visit_page(page, directory, "2-form")
    page.get_by_role("button", name="次へ").tap()
    page.get_by_role("heading", name="医療情報の提供への同意").wait_for()
    if directory or kinds:
        page.get_by_text("項目ごとに選ぶ").tap()
    if directory:
        visit_page(page, directory, "3-consent")
    if kinds:
        for kind in kinds:
            if kind == "手術情報":
                page.get_by_text("はい、提供します").tap()
            else:
                page.get_by_text(kind, exact=True).tap()
        page.get_by_role("button", name="選んだ項目に同意する").tap()
    else:
        page.get_by_role("button", name="すべて同意する（包括同意）").tap()
    page.get_by_role("heading", name="カードをかざしてください").wait_for()
    if directory:
        visit_page(page, directory, "4-card")
    page.get_by_role("button", name="読み取る").tap()


def tap_pin(page: Any, digits: str) -> None:
    page.get_by_role("heading", name="暗証番号の入力").wait_for()
    for digit in digits:
        page.locator(f"button[data-digit='{digit}']").tap()
    page.get_by_role("button", name="確定").tap()


def test_full_home_consent_visit_at_phone_size(touch_world, phone, tmp_path: Path) -> None:
    card = touch_world.card(P01)
    ui, _ = touch_world.start_ui(card)
    directory = shots(tmp_path)
    sign_in_and_reach_card(phone, ui, directory=directory)

    phone.get_by_role("heading", name="暗証番号の入力").wait_for()
    assert phone.get_by_text(messages.pin_prompt(3)).is_visible()
    for digit in "12":
        phone.locator(f"button[data-digit='{digit}']").tap()
    assert phone.locator(".dots span.filled").count() == 2
    assert phone.get_by_role("button", name="確定").is_disabled(), "確定 waits for four digits"
    visit_page(phone, directory, "5-pin")
    tap_pin(phone, "34")

    phone.get_by_text("有効", exact=True).wait_for()
    assert phone.locator(".summary dd.big").inner_text() == "3割"
    body = phone.locator("main").inner_text()
    for expected in ("全国健康保険協会 東京支部", "01130012", "44100021", "1287", "佐藤 健一", "ウ",
                     "暗証番号", "2026年12月2日 09:00", "24時間0分"):
        assert expected in body, expected
    visit_page(phone, directory, "6-result")
    button = phone.locator(".kind-buttons a").last.bounding_box()
    assert button["y"] + button["height"] <= phone.viewport_size["height"], "medical-information buttons above the fold"

    phone.get_by_role("link", name="薬剤情報").tap()
    phone.get_by_role("heading", name="薬剤情報").wait_for()
    assert phone.locator("article.record").count() >= 1
    assert "アムロジピン錠5mg" in phone.locator("article.record").first.inner_text()
    assert "24時間0分" in phone.locator("main").inner_text()
    visit_page(phone, directory, "7-medication")
    assert card.tries_left == 3


def test_wrong_pin_shows_tries_left_and_is_not_retried(touch_world, phone, tmp_path: Path) -> None:
    card = touch_world.card(P01)
    ui, _ = touch_world.start_ui(card)
    sign_in_and_reach_card(phone, ui)
    before = len(touch_world.server_wire.requests)
    tap_pin(phone, "9999")

    phone.get_by_role("alert").wait_for()
    assert messages.wrong_pin(2) in phone.get_by_role("alert").inner_text()
    assert "残り2回" in phone.locator("main").inner_text()
    visit_page(phone, shots(tmp_path), "8-wrong-pin")
    phone.wait_for_timeout(500)
    assert card.tries_left == 2, "one wrong PIN costs one try, and the UI does not try again"
    sent = [path for _, path, _ in touch_world.server_wire.requests[before:]]
    assert not any(path.startswith("/api/v1/verifications") for path in sent), "a wrong PIN never reaches the server"

    tap_pin(phone, "9998")  # the person decides to try again, and mistypes once more
    phone.get_by_role("alert").wait_for()
    assert messages.wrong_pin(1) in phone.get_by_role("alert").inner_text()
    assert phone.locator("main").inner_text().count("次に間違えると") == 1, "the last-try warning, once"
    ok = phone.get_by_role("button", name="確定").bounding_box()
    assert ok["y"] + ok["height"] <= phone.viewport_size["height"], "the keypad stays in view at the last try"
    visit_page(phone, shots(tmp_path), "8b-last-try")
    assert card.tries_left == 1
    tap_pin(phone, PIN)
    phone.get_by_text("有効", exact=True).wait_for()
    assert card.tries_left == 3


def test_face_recognition_card_goes_to_visual_check(touch_world, phone, tmp_path: Path) -> None:
    touch_world.tenant.set_visual_password()
    card = touch_world.card(P23)
    ui, _ = touch_world.start_ui(card)
    sign_in_and_reach_card(phone, ui, kinds=["薬剤情報", "手術情報"])

    phone.get_by_role("heading", name="目視確認").wait_for()
    assert messages.PIN_LOCKED in phone.locator("main").inner_text()
    directory = shots(tmp_path)
    visit_page(phone, directory, "9-visual")

    phone.get_by_label("顔写真とご本人が同じ人であることを確認しました").check()
    phone.get_by_label("目視確認モードのパスワード").fill("not-the-password")
    phone.get_by_role("button", name="目視確認で資格を確認する").tap()
    phone.get_by_role("alert").wait_for()
    assert phone.get_by_role("alert").inner_text() == messages.PROBLEM_MESSAGES["visual-password-wrong"]
    visit_page(phone, directory, "10-visual-wrong-password")

    phone.get_by_label("顔写真とご本人が同じ人であることを確認しました").check()
    phone.get_by_label("目視確認モードのパスワード").fill(VISUAL_PASSWORD)
    phone.get_by_role("button", name="目視確認で資格を確認する").tap()
    phone.get_by_text("有効", exact=True).wait_for()
    assert "目視確認" in phone.locator("main").inner_text()
    consented = phone.locator(".kind-buttons a").all_inner_texts()
    assert consented == ["薬剤情報", "手術情報"], "only the kinds the patient chose"
    visit_page(phone, directory, "11-visual-result")
    phone.get_by_role("link", name="手術情報").tap()
    phone.get_by_role("heading", name="手術情報").wait_for()
    assert "記録はありません。" in phone.locator("main").inner_text(), "this persona has no surgery records"
    visit_page(phone, directory, "12-surgery")


def test_an_expired_card_is_reported_before_the_pin_with_the_qualification_certificate_path(
        touch_world, phone, tmp_path: Path) -> None:
    card = touch_world.card("P22-cert-expired-4m")
    ui, _ = touch_world.start_ui(card)
    sign_in_and_reach_card(phone, ui)
    phone.get_by_role("heading", name=messages.CARD_NOT_USABLE).wait_for()  # the rules at work: a neutral heading
    text = phone.get_by_role("alert").inner_text()
    assert "猶予期間" in text and "資格確認書" in text and "年" in text
    assert "Traceback" not in phone.content()
    assert card.tries_left == 3 and phone.locator("#pinpad").count() == 0, "no PIN is asked for an unusable card"
    visit_page(phone, shots(tmp_path), "13-card-unusable")
    phone.get_by_role("link", name="資格確認書で確認して記録する").tap()
    phone.get_by_role("heading", name="確認した方法を記録する").wait_for()
    assert phone.get_by_label("資格確認書", exact=False).first.is_checked()


def test_the_pin_never_comes_back_in_a_page(touch_world, phone, caplog) -> None:
    card = touch_world.card(P01)
    ui, ui_wire = touch_world.start_ui(card)
    api_bodies: list[str] = []
    touch_world.agent.api.observers.append(lambda method, path, body: api_bodies.append(repr(body)))
    pages: list[tuple[str, str]] = []

    def keep(response: Any) -> None:
        if "text/html" in response.headers.get("content-type", "") and not 300 <= response.status < 400:
            pages.append((response.url, response.text()))

    phone.on("response", keep)
    sign_in_and_reach_card(phone, ui)
    tap_pin(phone, "5678")  # wrong first: the pad comes back
    phone.get_by_role("alert").wait_for()
    tap_pin(phone, PIN)
    phone.get_by_text("有効", exact=True).wait_for()
    phone.get_by_role("link", name="薬剤情報").tap()
    phone.get_by_role("heading", name="薬剤情報").wait_for()

    assert len(pages) >= 8
    for url, html in pages:
        cleaned = scrub(html)
        for secret in (PIN, "5678"):
            assert secret not in cleaned, f"the PIN appears in {url}"
        assert not re.search(r'name="pin"[^>]*value=', html)
    pin_posts = [body for method, path, body in ui_wire.requests if method == "POST" and path == "/pin"]
    assert len(pin_posts) == 2 and all(b"pin=" in body for body in pin_posts)
    assert not any(PIN in scrub(body.decode("utf-8", "replace")) for _, path, body in ui_wire.requests
                   if path != "/pin")
    assert not any(PIN in scrub(body) or "5678" in scrub(body) for body in api_bodies), "the PIN goes to the card only"
    assert not any(PIN in scrub(record.getMessage()) for record in caplog.records)


# -- without a browser: the guards around the local UI -------------------------------------------------

def _token(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert found, name
    return found.group(1)


def test_posts_without_the_csrf_token_or_from_another_host_are_refused(touch_world) -> None:
    ui, _ = touch_world.start_ui(touch_world.card(P01))
    forged = requests.post(f"{ui}/login", data={"login": "nurse1", "password": STAFF_PASSWORD}, timeout=10)
    assert forged.status_code == 400 and "受け付けられませんでした" in forged.text
    assert touch_world.agent.api.access_token is None
    rebound = requests.get(f"{ui}/login", headers={"Host": "evil.example:80"}, timeout=10)
    assert rebound.status_code == 400
    page = requests.get(f"{ui}/login", timeout=10)
    assert page.headers["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in page.headers[
        "Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"
    wrong = requests.post(f"{ui}/login", timeout=10, data={"csrf_token": _token(page.text, "csrf_token"),
                                                            "login": "nurse1", "password": "not-it"})
    assert wrong.status_code == 401 and "パスワードが正しくありません" in wrong.text
    assert touch_world.agent.api.access_token is None


def _to_the_pin_pad(ui: str) -> tuple[requests.Session, str]:
    """Drive the forms without a browser (as any HTTP client on the tablet could), up to the PIN pad."""
    s = requests.Session()
    csrf = _token(s.get(f"{ui}/login", timeout=10).text, "csrf_token")
    steps = [("/login", {"login": "nurse1", "password": STAFF_PASSWORD}),
             ("/start", {"form": "home_consent", "care_type": "2"}), ("/consent", {"choice": "blanket"}),
             ("/card", {})]
    for path, data in steps:
        assert s.post(f"{ui}{path}", data={"csrf_token": csrf, **data}, timeout=30).ok, path
    return s, csrf


def test_a_repeated_pin_submission_does_not_spend_another_try(touch_world) -> None:
    card = touch_world.card(P01)
    ui, _ = touch_world.start_ui(card)
    s, csrf = _to_the_pin_pad(ui)
    attempt = _token(s.get(f"{ui}/pin", timeout=10).text, "attempt")
    for _ in range(2):  # a double tap, or the browser sending the form again
        s.post(f"{ui}/pin", data={"csrf_token": csrf, "attempt": attempt, "pin": "0000"}, timeout=30)
    assert card.tries_left == 2


def test_the_third_wrong_pin_locks_and_leads_to_the_visual_check(touch_world) -> None:
    card = touch_world.card(P01)
    ui, _ = touch_world.start_ui(card)
    s, csrf = _to_the_pin_pad(ui)
    for tries_left in (2, 1, 0):
        attempt = _token(s.get(f"{ui}/pin", timeout=10).text, "attempt")
        page = s.post(f"{ui}/pin", data={"csrf_token": csrf, "attempt": attempt, "pin": "0000"}, timeout=30)
        assert card.tries_left == tries_left
    assert page.url.endswith("/visual") and messages.PIN_LOCKED in page.text

def test_records_read_well_on_a_phone() -> None:
    from device_agent.ui import display

    view = display.record_view({"performed_on": "2019-07-08", "procedure": "腹腔鏡下虫垂切除術",
                                "disease_names": ["急性虫垂炎"], "anesthesia": "全身麻酔",
                                "infections": [{"name": "HBs抗原", "result": "陰性"}]})
    assert (view["date"], view["title"]) == ("2019-07-08", "腹腔鏡下虫垂切除術")
    assert view["rows"] == [("麻酔", "全身麻酔"), ("病名", "急性虫垂炎"), ("感染症", "HBs抗原 陰性")]
    medication = display.record_view({"days": 28, "quantity": 28, "unit": "錠", "drug_name": "アムロジピン錠5mg",
                                      "dose": "1回1錠", "dispensed_on": "2026-11-10"})
    assert medication["rows"] == [("用法・用量", "1回1錠"), ("日数", "28日分"), ("数量", "28 錠")]
    assert display.ratio("030") == "3割" and display.ratio("010") == "1割" and display.ratio(None) == "—"
    assert display.duration(24 * 3600) == "24時間0分" and display.duration(59) == "0分"
    assert display.duration(0) == "終了"


def test_a_card_not_registered_for_insurance_use_shows_why_and_the_fallbacks(touch_world, phone,
                                                                            tmp_path: Path) -> None:
    """seed 001 (docs/rules.md §2.6): the server refuses the card; the device says so in Japanese, points to the
    資格確認書 and the registration, and lists the fallbacks that apply, with a way to record one."""
    card = touch_world.card("P29-not-registered")
    ui, _ = touch_world.start_ui(card)
    sign_in_and_reach_card(phone, ui)
    tap_pin(phone, PIN)
    phone.get_by_role("heading", name=messages.CARD_NOT_REGISTERED).wait_for()
    body = phone.locator("main").inner_text()
    for expected in ("利用登録がされていません", "資格確認書", "マイナポータル", "被保険者資格申立書",
                     "この場合に使える確認方法", "再来時の口頭確認"):
        assert expected in body, expected
    assert phone.get_by_role("link", name="確認方法を記録する").is_visible()
    visit_page(phone, shots(tmp_path), "9-card-not-registered")
    assert touch_world.h.client.get("/api/v1/visits", headers=touch_world.tenant.auth()).get_json() == []


def test_a_black_circle_name_asks_for_the_kana_and_checkups_are_not_offered_under_40(touch_world, phone,
                                                                                    tmp_path: Path) -> None:
    """seed 001: 「●」 in a name → confirm by the kana; seed 002: P32 is 39 on 2026-12-01, so the consented
    特定健診等情報 is not offered as a button, and the reason is shown instead (docs/rules.md §3.6)."""
    card = touch_world.card("P32-unencodable-name")
    ui, _ = touch_world.start_ui(card)
    sign_in_and_reach_card(phone, ui)
    tap_pin(phone, PIN)
    phone.get_by_text("有効", exact=True).wait_for()
    kana = phone.locator(".kana-check")
    assert kana.is_visible() and "ヨシダ トモコ" in kana.inner_text() and "カナ氏名" in kana.inner_text()
    assert "●田 智子" in phone.locator("h1.name").inner_text()
    assert phone.get_by_role("link", name="薬剤情報").is_visible()
    assert phone.get_by_role("link", name="特定健診等情報").count() == 0
    assert "40歳以上" in phone.locator(".unavailable-kind[data-kind='checkups']").inner_text()
    visit_page(phone, shots(tmp_path), "10-unencodable-name")


@pytest.mark.parametrize("width,height", [(360, 800), (800, 1280)], ids=["phone", "tablet"])
def test_the_second_visit_discharge_and_withdrawal_from_the_home_screen(touch_world, chromium, tmp_path: Path,
                                                                       width: int, height: int) -> None:
    """Issue 19: today's visits and the continuing-care patients are the nurse's home screen; 再照会 shows the
    card's kinds only and opens a fresh 24-hour window with its countdown; 終了 and the withdrawal recorded
    by staff are confirmed before they are sent; the withdrawal banner says what happened."""
    context = chromium.new_context(viewport={"width": width, "height": height}, device_scale_factor=1,
                                   is_mobile=width < 768, has_touch=True, locale="ja-JP")
    page = context.new_page()
    page.set_default_timeout(15_000)
    directory = shots(tmp_path) / f"day-{width}x{height}"
    directory.mkdir(exist_ok=True)

    def shot(name: str) -> None:
        page.wait_for_load_state()
        assert page.evaluate("document.documentElement.scrollWidth") <= width, (page.url, "horizontal scroll")
        page.screenshot(path=str(directory / f"{name}.png"), full_page=True)

    def card_visit() -> None:
        page.get_by_role("link", name="カードで資格確認").tap()
        page.get_by_text("訪問診療等", exact=True).tap()
        page.get_by_role("button", name="次へ").tap()
        page.get_by_text("項目ごとに選ぶ").tap()
        for kind in ("薬剤情報", "診療情報"):
            page.get_by_text(kind, exact=True).tap()
        page.get_by_role("button", name="選んだ項目に同意する").tap()
        page.get_by_role("button", name="読み取る").tap()
        tap_pin(page, PIN)
        page.get_by_text("有効", exact=True).wait_for()
        page.get_by_role("link", name="今日の訪問").tap()
        page.get_by_role("heading", name="今日の訪問").wait_for()

    try:
        ui, _ = touch_world.start_ui(touch_world.card(P01))
        page.goto(ui)
        page.get_by_label("職員のログインID").fill("nurse1")
        page.get_by_label("パスワード").fill(STAFF_PASSWORD)
        page.get_by_role("button", name="ログイン").tap()
        page.get_by_role("heading", name="今日の訪問").wait_for()
        assert "継続的な訪問診療等の患者（0人）" in page.locator("main").inner_text()
        card_visit()
        patient = page.locator("article.care-row")
        assert patient.count() == 1 and "同意: 薬剤情報、診療情報" in patient.inner_text()
        assert "閲覧できます（残り 24時間0分）" in patient.inner_text()
        shot("1-home")

        touch_world.clock.advance(hours=2)  # the next visit, later: a re-query from the list
        page.reload()
        assert "残り 22時間0分" in page.locator("article.care-row").inner_text()
        page.locator("article.care-row").get_by_role("link", name="再照会").tap()
        page.get_by_role("heading", name="佐藤 健一さん：再照会しますか？").wait_for()
        offered = [box.get_attribute("value") for box in page.locator("input[name=kinds]").all()]
        assert sorted(offered) == ["clinical", "medication"], "the card's kinds only: never wider"
        assert "新しい閲覧期間（24時間）" in page.locator("main").inner_text()
        shot("2-requery-confirm")
        page.get_by_role("button", name="再照会する").tap()
        page.locator(".countdown .remaining").wait_for()
        assert page.locator(".countdown .remaining").inner_text() == "24時間0分", "a fresh window"
        assert "再照会（カードなし）" in page.locator("main").inner_text()
        assert [a.inner_text() for a in page.locator(".kind-buttons a").all()] == ["薬剤情報", "診療情報"]
        assert len([p for _, p, _ in touch_world.server_wire.requests if p.endswith("/requery")]) == 1
        shot("3-requery-result")

        page.get_by_role("link", name="今日の訪問").tap()
        page.locator("article.care-row").get_by_role("link", name="終了").tap()
        page.get_by_role("heading", name="佐藤 健一さん：継続的な訪問診療等を終了しますか？").wait_for()
        shot("4-discharge-confirm")
        page.get_by_role("link", name="やめる（送信しない）").tap()
        page.get_by_role("heading", name="今日の訪問").wait_for()
        assert page.locator("article.care-row").count() == 1, "nothing sent"
        page.locator("article.care-row").get_by_role("link", name="終了").tap()
        page.get_by_label("終了の理由").fill("入院のため訪問診療を終了")
        page.get_by_role("button", name="終了する").tap()
        page.get_by_role("heading", name="今日の訪問").wait_for()
        text = page.locator("main").inner_text()
        assert "継続的な訪問診療等を終了しました" in text and "継続的な訪問診療等の患者（0人）" in text
        shot("5-discharged")

        card_visit()  # the patient comes back to care with the card; then asks to withdraw every consent
        page.locator("article.care-row").get_by_role("link", name="同意の取消").tap()
        page.get_by_role("heading", name="佐藤 健一さん：すべての同意を取り消しますか？").wait_for()
        shot("6-withdraw-confirm")
        page.get_by_role("button", name="同意を取り消す").tap()
        page.get_by_role("heading", name="今日の訪問").wait_for()
        text = page.locator("main").inner_text()
        assert "すべての同意を取り消しました" in text and "継続的な訪問診療等の患者（0人）" in text
        assert "同意が取り消されました" in page.locator("a.visit").first.inner_text()
        shot("7-withdrawn")
        page.locator("a.visit").first.tap()
        banner = page.locator(".countdown").inner_text()
        assert "同意が取り消されました" in banner and "に取り消し" in banner and "まで" not in banner
        assert page.locator("main").inner_text().count("同意を取り消したため") == 1, "said once"
        shot("8-withdrawn-result")
    finally:
        context.close()
