"""Issue 9 on the device: the offline form takes each method's evidence, the server's answer (co-payment, claim
guidance, "bring マイナ保険証 or 資格確認書 next time") shows once a record is sent, and the result shows the
certificate renewal alert. The UI over HTTP (fast), one bounded headless-Chromium check of the form."""
from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from device_agent import fallback, insurer
from device_agent.card.sim.virtual_card import VirtualJpkiCard
from device_agent.outbox import Outbox
from mobile_api.domain import fallback as server
from mobile_api.domain.errors import ValidationFailed
from mobile_api.domain.japanese_dates import shift_months
from tests.e2e.test_field_visits import P01, PIN, Ui, to_pin_pad
from tests.e2e.test_touch_ui import shots
from tests.support.harness import STAFF_PASSWORD

DECLARATION = {"method": "declaration", "reason": "offline", "form": "home_consent", "care_type": "2",
               "card_presented": "on", "patient_reference": "P-NEW", "name": "佐藤 健一", "name_kana": "サトウ ケンイチ",
               "decl_has_valid_qualification": "on", "decl_insurance_kind": "kokuho", "decl_birth_era": "showa",
               "decl_birth_year": "59", "decl_birth_month": "5", "decl_birth_day": "12", "decl_sex": "1",
               "decl_address": "東京都千代田区千代田1-1", "decl_phone": "090-1234-5678",
               "decl_declared_on": "2026-12-01", "decl_signed": "on", "decl_signed_by": "self"}


def counts(world) -> dict[str, int]:
    box = Outbox(world.agent.home.outbox_path, world.agent.home.outbox_key_path)
    try:
        return box.counts()
    finally:
        box.close()


def test_the_form_offers_every_method_on_its_dates_and_refuses_missing_evidence_on_the_device(touch_world) -> None:
    url, _ = touch_world.start_ui(touch_world.card(P01))
    ui = Ui(url)
    ui.login()
    form = ui.get("/offline/new").text
    for label in ("資格情報のお知らせ＋マイナンバーカード", "再来時の口頭確認", "被保険者資格申立書", "資格確認書",
                  "健康保険証（従来の保険証）", "資格情報のお知らせのみ（経過措置）"):
        assert label in form
    # 2026-12-01 in Japan: the paper card (until 2025-12-01) and the interim methods (until 2026-03-31) are over.
    for code in ("paper_card", "notice_alone", "expired_paper_card"):
        assert re.search(rf'value="{code}"[^>]*disabled', form), code
    assert 'name="card_presented"' in form and 'name="nothing_changed"' in form and 'name="valid_until"' in form
    assert 'name="decl_phone"' in form and 'value="2026-12-01"' in form, "申立日 defaults to today in Japan"

    refused = ui.post("/offline/new", method="notice_with_card", reason="offline", form="home_consent", care_type="2",
                      insurer_number="01130012", number="1287", name="佐藤 健一")
    assert refused.status_code == 422
    assert "マイナンバーカードの提示が必要です" in refused.text and "生年月日の入力が必要です" in refused.text
    assert 'value="01130012"' in refused.text, "what was typed stays"
    assert counts(touch_world) == {"pending": 0, "rejected": 0, "sent": 0}
    late = ui.post("/offline/new", method="paper_card", reason="offline", form="home_consent", care_type="2",
                   insurer_number="01130012", number="1287", birth_date="1984-05-12")
    assert late.status_code == 422 and "2025年12月1日までの方法です" in late.text


def test_a_declaration_is_sent_and_the_record_shows_the_share_the_claim_and_the_next_time_notice(touch_world) -> None:
    url, _ = touch_world.start_ui(touch_world.card(P01))
    ui = Ui(url)
    ui.login()
    saved = ui.post("/offline/new", **DECLARATION)
    assert saved.url.endswith("/offline") and "未送信 <strong>1</strong> 件" in saved.text
    synced = ui.post("/offline/sync")
    assert "送信済み 1 件" in synced.text and "送信済み <strong>1</strong> 件" in synced.text
    assert "患者負担: 3割" in synced.text and "請求: " in synced.text
    assert "マイナ保険証（マイナンバーカード）または資格確認書をお持ちいただく" in synced.text
    records = touch_world.h.client.get("/api/v1/fallback-records", headers=touch_world.tenant.auth()).get_json()
    assert len(records) == 1 and records[0]["method"] == "declaration"
    declaration = records[0]["evidence"]["declaration"]
    assert declaration["birth_date"] == {"era": "showa", "year": 59, "month": 5, "day": 12}
    assert records[0]["copayment_ratio"] == "030"


def test_the_result_shows_the_certificate_renewal_alert(touch_world) -> None:
    clock = touch_world.clock
    issued = touch_world.h.ca.issue_card(P01, now=clock(), not_after=clock() + timedelta(days=40))
    card = VirtualJpkiCard(issued.private_key, issued.certificate_der, pin=issued.pin, token=issued.token)
    url, _ = touch_world.start_ui(card)
    ui = Ui(url)
    to_pin_pad(ui)
    result = ui.pin(PIN).text
    assert "電子証明書の更新" in result and result.count("電子証明書の有効期限は") == 1
    assert "市区町村窓口で早めに更新" in result


def _offline_form(touch_world, chromium, width: int, height: int, *, script: bool = True) -> Any:
    """Signed in on a screen of this size, at the offline form (``script``: JavaScript on or off)."""
    url, _ = touch_world.start_ui(touch_world.card(P01))
    context = chromium.new_context(viewport={"width": width, "height": height}, locale="ja-JP",
                                   is_mobile=width < 600, has_touch=True, java_script_enabled=script)
    page = context.new_page()
    page.set_default_timeout(30_000)  # a wait ends when its condition holds: 30 s costs nothing when healthy
    page.goto(url)
    page.get_by_label("職員のログインID").fill("nurse1")
    page.get_by_label("パスワード").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.get_by_role("heading", name="今日の訪問").wait_for()
    page.goto(url + "/offline/new")
    return page


def _shot(page: Any, directory: Path, name: str) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"], "horizontal scroll"
    page.screenshot(path=str(directory / f"{name}.png"), full_page=True)


def test_the_form_shows_only_the_chosen_methods_fields(touch_world, chromium) -> None:
    """On a phone the fields come in steps: the chosen method's evidence on the second step, and only it."""
    page = _offline_form(touch_world, chromium, 360, 800)
    step = page.locator(".offline-form > .step")
    page.get_by_text("再来時の口頭確認", exact=True).click()
    page.get_by_role("button", name="次へ").click()
    assert "ステップ 2／4" in step.inner_text()
    assert page.locator("input[name=nothing_changed]").is_visible() and page.locator("#f-valid_until").is_hidden()
    # a patient not seen on this system: the numbers are copied from the provider's own records, and marked so
    assert page.locator("input[name=from_provider_records]").is_visible() and page.locator("#f-insurer_number").is_visible()
    assert page.locator("input[name=card_presented]").is_hidden()
    page.get_by_role("button", name="戻る").click()
    page.get_by_text("被保険者資格申立書", exact=True).click()
    page.get_by_role("button", name="次へ").click()
    assert page.locator("input[name=card_presented]").is_visible()
    assert page.locator("input[name=nothing_changed]").is_hidden()
    assert page.locator("input[name=from_provider_records]").is_hidden()
    page.locator("input[name=card_presented]").check()
    page.get_by_role("button", name="次へ").click()
    assert "ステップ 3／4" in step.inner_text() and page.locator("#f-decl_phone").is_visible()
    page.get_by_role("button", name="戻る").click()
    page.get_by_role("button", name="戻る").click()
    page.get_by_text("資格確認書", exact=True).click()
    page.get_by_role("button", name="次へ").click()
    assert page.locator("#f-valid_until").is_visible() and page.locator("#f-insurer_number").is_visible()
    assert page.locator("input[name=card_presented]").is_hidden()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.context.close()


def test_the_offline_form_in_steps_on_a_phone_checks_each_field_as_typed(touch_world, chromium, tmp_path) -> None:
    """Issue 19: one step per screen at 360 × 800 (method → evidence and numbers → patient → confirm); the wrong
    check digit is said next to the insurer number as it is typed and a step with a missing field does not go on,
    so nothing wrong is kept; the last step lists what will be kept."""
    directory = shots(tmp_path) / "offline-steps-360x800"
    directory.mkdir()
    page = _offline_form(touch_world, chromium, 360, 800)
    step, next_ = page.locator(".offline-form > .step"), page.get_by_role("button", name="次へ")
    assert "ステップ 1／4　確認した方法" in step.inner_text()
    assert page.get_by_role("button", name="端末に記録する").is_hidden() and page.locator("#f-name").is_hidden()
    next_.click()  # no method chosen
    assert "確認した方法を選んでください。" in page.locator("fieldset.methods + .field-error").inner_text()
    assert "ステップ 1／4" in step.inner_text()
    _shot(page, directory, "1-method-refused")
    page.get_by_text("資格情報のお知らせ＋マイナンバーカード", exact=True).click()
    assert page.locator(".field-error").count() == 0, "chosen: the error goes"
    next_.click()
    assert "ステップ 2／4　確認した内容と保険の番号" in step.inner_text()
    page.locator("#f-insurer_number").press_sequentially("01130013")  # one digit off
    error = page.locator("label:has(#f-insurer_number) + .field-error")
    assert error.inner_text() == insurer.WRONG, "said as typed, next to the field"
    assert page.locator("#f-insurer_number").get_attribute("aria-invalid") == "true"
    assert page.locator("label:has(#f-number) + .field-error").count() == 0, "untouched fields are not scolded"
    _shot(page, directory, "2-check-digit")
    next_.click()
    assert "ステップ 2／4" in step.inner_text(), "a step with errors does not go on"
    assert "マイナンバーカードの提示が必要です" in page.locator("label:has(input[name=card_presented]) + .field-error").inner_text()
    assert "生年月日の入力が必要です" in page.locator("label:has(#f-birth_date) + .field-error").inner_text()
    page.locator("#f-insurer_number").fill("01130012")
    assert error.count() == 0, "corrected: the error goes"
    page.locator("input[name=card_presented]").check()
    page.locator("#f-number").fill("1287")
    page.locator("#f-birth_date").fill("1984-05-12")
    next_.click()
    assert "ステップ 3／4　患者" in step.inner_text()
    page.locator("#f-name").fill("佐藤 健一")
    page.locator("#f-free_text").fill("次回は資格確認書を持参")
    _shot(page, directory, "3-patient")
    next_.click()
    assert "ステップ 4／4　内容の確認" in step.inner_text()
    summary = page.locator(".summary").inner_text()
    for shown in ("資格情報のお知らせ＋マイナンバーカード", "01130012", "1287", "佐藤 健一", "次回は資格確認書を持参"):
        assert shown in summary, shown
    _shot(page, directory, "4-confirm")
    page.get_by_role("button", name="端末に記録する").click()
    page.get_by_text("端末に記録しました").wait_for()
    assert counts(touch_world) == {"pending": 1, "rejected": 0, "sent": 0}
    box = Outbox(touch_world.agent.home.outbox_path, touch_world.agent.home.outbox_key_path)
    try:
        (kept,) = box.recent()
    finally:
        box.close()
    assert kept.payload["evidence"] == {"card_presented": True, "insurer_number": "01130012", "number": "1287",
                                        "birth_date": "1984-05-12", "name": "佐藤 健一",
                                        "free_text": "次回は資格確認書を持参"}
    page.context.close()


@pytest.mark.parametrize(("width", "height", "script"), [(800, 1280, True), (360, 800, False)],
                         ids=["tablet", "phone-without-script"])
def test_the_offline_form_whole_on_a_tablet_and_without_script(touch_world, chromium, tmp_path, width, height,
                                                                script) -> None:
    """On a tablet every field of the chosen method shows at once, with no steps; without JavaScript every field
    shows (the agent keeps only the method's) and the check digit is caught on saving."""
    page = _offline_form(touch_world, chromium, width, height, script=script)
    page.get_by_text("資格情報のお知らせ＋マイナンバーカード", exact=True).click()
    assert page.locator(".step-nav").count() == (1 if script else 0)
    assert page.locator(".step-nav").is_hidden() if script else True
    for field in ("input[name=card_presented]", "#f-insurer_number", "#f-birth_date", "#f-name", "#f-free_text",
                  "select[name=reason]"):
        assert page.locator(field).is_visible(), field
    assert page.locator("#f-decl_phone").is_visible() is (not script), "the declaration only without the script"
    assert page.locator(".form-confirm").is_hidden()
    page.locator("#f-insurer_number").fill("01130013")
    page.locator("#f-insurer_number").blur()
    if script:
        assert page.locator("label:has(#f-insurer_number) + .field-error").inner_text() == insurer.WRONG
    _shot(page, shots(tmp_path), f"offline-form-{width}x{height}-{'script' if script else 'no-script'}")
    page.get_by_role("button", name="端末に記録する").click()
    page.locator(".field.invalid #f-insurer_number").wait_for()
    assert "保険者番号に誤りがあります" in page.locator("main").inner_text()
    assert page.locator("#f-insurer_number").input_value() == "01130013", "what was typed stays"
    assert counts(touch_world) == {"pending": 0, "rejected": 0, "sent": 0}
    page.context.close()


def test_a_certificates_dates_are_said_as_typed_and_nothing_is_kept(touch_world, chromium) -> None:
    """A 資格確認書 whose expiry is more than 5 years away, or whose issue day is after the visit, is said next to
    its field as it is typed, in the server's words, and the record is not kept: the server would refuse it at
    sync, after the patient has left."""
    day = fallback.visit_day(touch_world.clock())
    page = _offline_form(touch_world, chromium, 800, 1280)
    page.get_by_text("資格確認書", exact=True).click()
    for field, value in (("insurer_number", "01130012"), ("number", "1287"), ("birth_date", "1984-05-12"),
                         ("valid_until", shift_months(day, 61).isoformat())):
        page.locator(f"#f-{field}").fill(value)
    page.locator("#f-valid_until").blur()
    note = page.locator("label:has(#f-valid_until) + .field-error")
    assert note.inner_text() == fallback.certificate_error({"valid_until": shift_months(day, 61).isoformat()}, day)[1]
    assert "最長5年" in note.inner_text() and "受診日" in note.inner_text()
    page.locator("#f-valid_until").fill(shift_months(day, 60).isoformat())
    page.locator("#f-issued_on").fill((day + timedelta(days=1)).isoformat())
    page.locator("#f-issued_on").blur()
    assert note.count() == 0, "5 years to the day: right"
    assert "より後です" in page.locator("label:has(#f-issued_on) + .field-error").inner_text()
    page.get_by_role("button", name="端末に記録する").click()
    assert page.locator("#f-issued_on").get_attribute("aria-invalid") == "true"
    assert counts(touch_world) == {"pending": 0, "rejected": 0, "sent": 0}
    page.context.close()


def _cases() -> list[dict[str, Any]]:
    """Values the nurse might type: every method with each required field left out, wrong and right check digits,
    a 後期高齢者's paper card, declarations with items missing or a bad birth year."""
    notice = {"card_presented": "on", "insurer_number": "01130012", "number": "1287", "birth_date": "1984-05-12"}
    cases: list[dict[str, Any]] = [{}, {"method": "nonsense"}]
    for method, (required, _) in fallback.EVIDENCE.items():
        full = {**notice, **DECLARATION, "nothing_changed": "on", "patient_reference": "P-1", "method": method}
        cases.append(full)
        cases.extend({k: v for k, v in full.items() if k != name} for name in (*required, "patient_reference"))
    cases += [{**notice, "method": "notice_with_card", "insurer_number": n} for n in
              ("01130013", "0113001", "138156", "138155", "77777777", "０１１３００１２", " 01130012 ")]
    cases += [{**notice, "method": "oral_revisit", "nothing_changed": "on", "patient_reference": "P-1",
               "insurer_number": "01130013"},
              {**notice, "method": "oral_revisit", "nothing_changed": "on", "patient_reference": "P-1",
               "from_provider_records": "on", "insurer_number": "01130013", "number": ""}]
    cases += [{**notice, "method": "paper_card", "insurer_number": n} for n in ("39131016", "01130012")]
    cases += [{**DECLARATION, "decl_birth_year": "五十九"}, {**DECLARATION, "decl_birth_day": ""},
              {**DECLARATION, "name_kana": "", "decl_signed": ""}]
    return cases


def _certificate_cases(day: date) -> list[dict[str, Any]]:
    """A 資格確認書 on a visit on ``day``: expiries at, before and past 5 years from the visit or the issue day
    (a leap day's clamped anniversary included), before the visit, issue days after the visit."""
    base = {"method": "qualification_certificate", "insurer_number": "01130012", "number": "1287",
            "birth_date": "1984-05-12"}
    one = timedelta(days=1)
    five, issued = shift_months(day, 60), day - timedelta(days=400)
    dates = [(five, None), (five + one, None), (day, None), (day - one, None), (None, day + one), (None, day),
             (five, day + one), (shift_months(issued, 60), issued), (shift_months(issued, 60) + one, issued),
             (day + one, issued), (date(2029, 2, 28), date(2024, 2, 29)), (date(2029, 3, 1), date(2024, 2, 29))]
    return [{**base, **({"valid_until": until.isoformat()} if until else {}),
             **({"issued_on": on.isoformat()} if on else {})} for until, on in dates]


def _servers_refusal(payload: dict[str, Any], day: date) -> list[tuple[str, str]]:
    """What the server's own check of the evidence says on this visit day (mobile_api/domain/fallback.py)."""
    try:
        server.check_evidence(server.FallbackMethod(payload["method"]), payload["evidence"], day)
    except ValidationFailed as refusal:
        return [(str(refusal.extra["field"]).removeprefix("evidence/"), refusal.detail)]
    return []


def test_the_scripts_checks_are_the_agents(touch_world, chromium) -> None:
    """The touch UI's script says the same errors, in the same words, as the agent's own check on saving
    (device_agent/fallback.py build, itself pinned to the server's rules), on days when the paper card, the
    interim methods and the 後期高齢者's paper card were still valid or had ended; for a 資格確認書's expiry (at
    most 5 years) and issue day, the server's check says the same too, word for word."""
    page = _offline_form(touch_world, chromium, 800, 1280)
    digits = [f"{n:06d}" for n in range(0, 1_000_000, 7919)] + [f"{n:08d}" for n in range(0, 100_000_000, 999_983)]
    verdicts = page.evaluate("ns => ns.map(n => window.offlineChecks.insurerValid(n, [6, 8]))", digits)
    assert verdicts == [insurer.is_valid(n) for n in digits] and any(verdicts) and not all(verdicts)
    refusals, certificate_refusals = 0, set[str]()
    for at in ("2026-12-01T01:00:00+00:00", "2025-07-31T14:59:00+00:00", "2025-08-01T01:00:00+00:00",
               "2026-03-31T14:59:00+00:00"):
        rules = fallback.form_rules(fallback.visit_day(at))
        for case in _cases():
            _, expected = fallback.build(case, recorded_at=at, care_type=2, form="home_consent")
            said = page.evaluate("([values, rules]) => window.offlineChecks.check(values, rules)", [case, rules])
            assert sorted(map(tuple, said)) == sorted(expected), (at, case)
            refusals += len(expected)
        day = fallback.visit_day(at)
        for case in _certificate_cases(day):
            payload, expected = fallback.build(case, recorded_at=at, care_type=2, form="home_consent")
            said = page.evaluate("([values, rules]) => window.offlineChecks.check(values, rules)", [case, rules])
            assert [tuple(error) for error in said] == expected == _servers_refusal(payload, day), (at, case)
            certificate_refusals.update(message.split("（")[0] for _, message in expected)
    assert refusals > 100
    assert certificate_refusals == {"資格確認書の有効期限は最長5年です。有効期限", "資格確認書の有効期限",
                                    "資格確認書の交付日"}, "each of the server's refusals was compared"
    page.context.close()


def test_the_correction_form_on_a_phone_opens_on_the_refused_step_and_keeps_every_field(touch_world, chromium,
                                                                                       tmp_path) -> None:
    """A record the server refused (kept by an agent without the check) is fixed on a phone: the form opens on the
    step of the refused field, every field is kept (補足 too), fixing it clears the mark, and it is sent."""
    page = _offline_form(touch_world, chromium, 360, 800)
    typed = {"method": "notice_with_card", "card_presented": "on", "insurer_number": "01130012", "number": "1287",
             "birth_date": "1984-05-12", "name": "佐藤 健一", "free_text": "次回は資格確認書を持参"}
    payload, errors = fallback.build(typed, recorded_at=touch_world.clock(), care_type=2, form="home_consent")
    assert not errors
    payload["evidence"]["insurer_number"] = "01130013"
    box = Outbox(touch_world.agent.home.outbox_path, touch_world.agent.home.outbox_key_path)
    box.add(payload)
    box.close()
    page.get_by_role("link", name="記録の一覧へ").click()
    page.get_by_role("button", name="送信する").click()
    page.get_by_role("link", name="修正して送信し直す").click()
    assert "ステップ 2／4　確認した内容と保険の番号" in page.locator(".offline-form > .step").inner_text()
    assert page.locator("#f-insurer_number").get_attribute("aria-invalid") == "true"
    assert page.locator("input[name=card_presented]").is_checked() and page.locator("#f-number").input_value() == "1287"
    _shot(page, shots(tmp_path), "offline-fix-360x800")
    page.locator("#f-insurer_number").fill("01130012")
    assert page.locator("#f-insurer_number").get_attribute("aria-invalid") is None, "fixed: the mark goes"
    page.get_by_role("button", name="次へ").click()
    assert page.locator("#f-free_text").input_value() == "次回は資格確認書を持参", "the 補足 is kept"
    page.get_by_role("button", name="次へ").click()
    assert "次回は資格確認書を持参" in page.locator(".summary").inner_text()
    page.get_by_role("button", name="修正して送信する").click()
    page.get_by_text("送信済み 1 件").first.wait_for()
    (record,) = touch_world.h.client.get("/api/v1/fallback-records", headers=touch_world.tenant.auth()).get_json()
    assert record["evidence"]["insurer_number"] == "01130012" and record["evidence"]["free_text"] == "次回は資格確認書を持参"
    page.context.close()


_FIELD_BOXES = """form => Array.from(form.querySelectorAll("input, select"))
  .filter(el => el.name && el.type !== "hidden" && el.offsetParent !== null)
  .map(el => { const r = el.getBoundingClientRect();
               return [el.type === "radio" ? el.name + ":" + el.value : el.name,
                       Math.round(r.left), Math.round(r.top + window.scrollY), Math.round(r.width)]; })"""


@pytest.mark.parametrize(("width", "height"), [(800, 1280), (360, 800)], ids=["tablet", "phone"])
def test_an_error_note_does_not_move_the_fields(touch_world, chromium, tmp_path, width, height) -> None:
    """A note said next to a field as it is typed takes no place of its own in the form's grid: on a tablet
    (two columns) and on a phone every field keeps its column and width, fields side by side stay side by
    side, the fields above the note stay put, and nothing scrolls sideways."""
    page = _offline_form(touch_world, chromium, width, height)
    form = page.locator("form.offline-form")
    page.get_by_text("資格情報のお知らせ＋マイナンバーカード", exact=True).click()
    if width < 600:  # in steps: on to the numbers
        page.get_by_role("button", name="次へ").click()
    before = {name: box for name, *box in form.evaluate(_FIELD_BOXES)}
    page.locator("#f-insurer_number").press_sequentially("01130013")  # a note after a field in the first column
    page.locator("#f-birth_date").fill("1984-05-12")
    page.locator("#f-birth_date").fill("")
    page.locator("#f-birth_date").blur()  # … and one after a field in the second column (on a tablet)
    assert page.locator(".field-error").count() == 2
    after = {name: box for name, *box in form.evaluate(_FIELD_BOXES)}
    assert after.keys() == before.keys() and len(before) >= 8
    first_note = before["insurer_number"][1]
    for name, (left, top, field_width) in before.items():
        assert (after[name][0], after[name][2]) == (left, field_width), f"{name} moved sideways or changed width"
        if top <= first_note:
            assert after[name][1] == top, f"{name}, above the note, moved"
        else:
            assert after[name][1] >= top, f"{name} moved up"
    for a in before:
        for b in before:
            assert (before[a][1] == before[b][1]) == (after[a][1] == after[b][1]), f"{a} and {b}: rows changed"
    if width >= 768:
        assert before["insurer_number"][0] < before["insurer_name"][0], "two columns on a tablet"
    _shot(page, shots(tmp_path), f"offline-notes-{width}x{height}")
    page.context.close()
