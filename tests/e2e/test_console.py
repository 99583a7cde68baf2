"""The institutions' web console in headless Chromium, against the real app on a loopback socket and the
injected FrozenClock: sign-in/out and lock-out, device enrolment and revocation, a form ② visit made through the
API with its countdown, medical information inside and after the window, tenancy, CSRF, offline API docs.
Screenshots of the main pages at 1280 px and 360 px go to the test's tmp dir; no page scrolls sideways at 360 px.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from mobile_api import create_app
from mobile_api.clock import FrozenClock
from tests.e2e.conftest import E2E_CONFIG, served
from tests.support import database
from tests.support.harness import ADMIN_PASSWORD, STAFF_PASSWORD, T0, Harness, Tenant

P01 = "P01-valid-30"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}


@dataclass
class ConsoleWorld:
    h: Harness
    clock: FrozenClock
    a: Tenant
    b: Tenant
    url: str

    def visit(self, tenant: Tenant) -> dict[str, Any]:
        """A form ② visit with blanket consent, made through the API by a nurse on an enrolled device."""
        nurse = tenant.nurse(f"nurse{len(tenant.devices) + 1}")
        made = self.h.verify_pin(nurse, self.h.card(P01), consent={"blanket": True})
        assert made.status_code == 201, made.get_json()
        return made.get_json()

    def activation_code(self, tenant: Tenant, label: str) -> str:
        r = self.h.client.post("/api/v1/devices", json={"label": label}, headers=tenant.auth())
        assert r.status_code == 201, r.get_json()
        return r.get_json()["activation_code"]


@pytest.fixture
def world(tmp_path: Path, e2e_sqlite_template: Path) -> Iterator[ConsoleWorld]:
    clock = FrozenClock(T0)
    app = create_app({**E2E_CONFIG, "DATABASE_URL": database.sqlite_copy(e2e_sqlite_template, tmp_path),
                      "SIGN_IN_MAX_FAILURES": 3, "SIGN_IN_LOCK_MINUTES": 15,
                      "JOBS_EMBEDDED_WORKERS": 0}, clock=clock)
    app.instance_path = str(tmp_path / "instance")
    h = Harness(app, clock)
    with ExitStack() as stack:
        url, _ = stack.enter_context(served(app))
        yield ConsoleWorld(h, clock, h.institution("home_visit_care"), h.institution("home_visit_care"), url)
    app.extensions["mobile_api_engine"].dispose()


@pytest.fixture
def browser_context(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport=DESKTOP, locale="ja-JP")
    context.set_default_timeout(30_000)  # a wait ends when its condition holds; 10 s was short on a loaded machine
    try:
        yield context
    finally:
        context.close()


def shot(page: Any, tmp_path: Path, name: str) -> None:
    """Screenshots at 1280 and 360 px; at 360 px nothing is wider than the screen."""
    target = tmp_path / "screenshots"
    target.mkdir(exist_ok=True)
    for label, size in (("desktop", DESKTOP), ("360", PHONE)):
        page.set_viewport_size(size)
        assert page.evaluate("document.documentElement.lang") == "ja"
        if label == "360":
            assert page.evaluate("document.documentElement.scrollWidth") <= 360, (name, page.url)
        page.screenshot(path=str(target / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(DESKTOP)


def sign_in(page: Any, world: ConsoleWorld, tenant: Tenant, login: str = "admin",
            password: str = ADMIN_PASSWORD) -> None:
    page.goto(f"{world.url}/console/login")
    page.get_by_label("医療機関等コード").fill(tenant.code)
    page.get_by_label("ログインID").fill(login)
    page.get_by_label("パスワード").fill(password)
    page.get_by_role("button", name="ログイン").click()


def test_sign_in_sign_out_and_lock_out(world: ConsoleWorld, browser_context: Any, tmp_path: Path) -> None:
    page = browser_context.new_page()
    page.goto(f"{world.url}/console/visits")
    page.get_by_role("heading", name="ログイン").wait_for()  # no session: the sign-in page
    shot(page, tmp_path, "login")
    for _ in range(3):
        sign_in(page, world, world.a, password="wrong-password-x")
        page.get_by_text("パスワードが正しくありません").wait_for()
    sign_in(page, world, world.a)  # the right password, but locked now
    page.get_by_text("ロックされています").wait_for()
    assert "/console/login" in page.url

    world.clock.advance(minutes=16)
    sign_in(page, world, world.a)
    page.get_by_role("heading", name=re.compile("^訪問")).wait_for()
    assert page.get_by_text("管理者").first.is_visible()
    shot(page, tmp_path, "visits-empty")
    page.get_by_role("button", name="ログアウト").click()
    page.get_by_text("ログアウトしました。").wait_for()
    page.goto(f"{world.url}/console/staff")
    page.get_by_role("heading", name="ログイン").wait_for()  # signed out: the session is gone


def test_enrol_a_device_see_code_and_qr_then_revoke(world: ConsoleWorld, browser_context: Any,
                                                    tmp_path: Path) -> None:
    page = browser_context.new_page()
    sign_in(page, world, world.a)
    page.get_by_role("link", name="端末").click()
    page.get_by_label("端末の名前").fill("訪問看護タブレット2")
    page.get_by_role("button", name="新しい端末を登録する").click()
    code = page.locator("#activation-code").inner_text().replace(" ", "")
    assert re.fullmatch(r"\d{12}", code)
    assert page.locator(".qr svg").is_visible()
    page.wait_for_function("document.querySelector('.countdown').textContent.includes('時間')")
    assert re.match(r"(24時間0分|23時間59分)", page.locator(".countdown").inner_text())  # 24 h, the server's clock
    shot(page, tmp_path, "device-code")

    page.get_by_role("link", name="端末の一覧へ").click()
    card = page.locator(".card", has_text="訪問看護タブレット2")
    assert "未登録" in card.inner_text()
    shot(page, tmp_path, "devices")
    card.get_by_role("link", name="取り消す").click()
    page.get_by_role("heading", name=re.compile("取り消しますか")).wait_for()
    page.get_by_role("button", name="取り消す").click()
    page.get_by_text("登録を取り消しました").wait_for()
    assert "取り消し済み" in page.locator(".card", has_text="訪問看護タブレット2").inner_text()
    enrol = world.h.client.post("/api/v1/devices/enrol", json={"activation_code": code, "public_key_pem": "x"})
    assert enrol.status_code in (401, 422)  # the revoked code enrols nothing


def test_form_two_visit_countdown_medication_inside_window_and_refused_after(
        world: ConsoleWorld, browser_context: Any, tmp_path: Path) -> None:
    visit = world.visit(world.a)
    page = browser_context.new_page()

    sign_in(page, world, world.a)  # a plain browser: the admin sees the visit but not medical information
    page.get_by_role("link", name=re.compile("居宅同意取得型")).first.wait_for()
    page.wait_for_function("/^(24時間0分|23時間59分)/.test(document.querySelector('.countdown').textContent)")
    page.set_viewport_size(PHONE)  # on a phone the visit list comes first, not the filters
    assert page.locator("ul.visits li.card").first.bounding_box()["y"] < 360
    page.set_viewport_size(DESKTOP)
    page.goto(f"{world.url}/console/visits/{visit['id']}")
    page.locator("#medical-why-not").wait_for()  # one line saying why, instead of buttons that end in a refusal
    assert page.get_by_role("link", name="薬剤情報を見る").count() == 0
    shot(page, tmp_path, "visit-no-device")
    page.goto(f"{world.url}/console/visits/{visit['id']}/medical/medication")
    page.get_by_text("登録済み端末").wait_for()
    page.get_by_role("button", name="ログアウト").click()

    page.goto(f"{world.url}/console/this-device")  # enrol this browser as a device (WebCrypto key)
    page.get_by_label("アクティベーションコード").fill(world.activation_code(world.a, "受付のPC"))
    page.get_by_role("button", name="この端末を登録する").click()
    page.get_by_text("登録しました").wait_for()
    sign_in(page, world, world.a)
    page.get_by_text("登録端末）").wait_for()

    page.get_by_role("link", name=re.compile("居宅同意取得型")).first.click()
    page.get_by_role("heading", name=re.compile("訪問の記録")).wait_for()
    assert "包括同意" in page.locator("main").inner_text()
    shot(page, tmp_path, "visit")
    page.get_by_role("link", name="薬剤情報を見る").click()
    table = page.locator("table")
    table.wait_for()
    assert "アムロジピン錠5mg" in table.inner_text() and "1回1錠 1日1回 朝食後" in table.inner_text()
    shot(page, tmp_path, "medication")
    page.go_back()
    page.get_by_role("link", name="特定健診等情報を見る").click()
    assert "mmHg" in page.locator("main").inner_text()  # checkup values with units and reference ranges
    shot(page, tmp_path, "checkups")

    world.clock.advance(hours=24, minutes=1)  # the window has closed (the app's injected clock)
    page.goto(f"{world.url}/console/visits/{visit['id']}/medical/medication")
    page.get_by_text("しばらく操作がなかったため").wait_for()  # and the idle session ended long ago
    sign_in(page, world, world.a)
    page.get_by_text("登録端末）").wait_for()
    response = page.goto(f"{world.url}/console/visits/{visit['id']}/medical/medication")
    assert response is not None and response.status == 403
    page.get_by_text("を過ぎました").wait_for()
    assert "アムロジピン" not in page.locator("main").inner_text()
    page.goto(f"{world.url}/console/visits/{visit['id']}")
    assert "終了" in page.locator("#window").inner_text()
    rows = page.locator("table tbody tr")
    assert rows.count() >= 3, "the visit page lists who viewed which medical information"
    admin = world.h.client.post("/api/v1/auth/login", json={"institution_code": world.a.code, "login": "admin",
                                                           "password": ADMIN_PASSWORD}).get_json()["access_token"]
    audit = world.h.client.get("/api/v1/audit-events?action=medical_info.view",
                               headers=world.a.auth(admin)).get_json()
    assert [r["outcome"] for r in audit][:2] == ["refused", "ok"]  # audited as an API read is, refusal too
    assert audit[1]["device_id"] is not None and audit[1]["user_id"] is not None

    for name in ("staff", "settings", "audit"):
        page.goto(f"{world.url}/console/{name}")
        shot(page, tmp_path, name)


def test_other_institution_and_forged_post_are_refused(world: ConsoleWorld, browser_context: Any) -> None:
    theirs = world.visit(world.b)
    page = browser_context.new_page()
    sign_in(page, world, world.a)
    response = page.goto(f"{world.url}/console/visits/{theirs['id']}")
    assert response is not None and response.status == 404
    assert "訪問記録が見つかりません" in page.locator("main").inner_text()

    page.goto(f"{world.url}/console/staff")
    page.locator("input[name=csrf_token]").last.evaluate("el => el.value = 'forged-token'")
    form = page.locator("form", has=page.get_by_role("button", name="追加する"))
    form.get_by_label("ログインID").fill("intruder")
    form.get_by_label("表示名").fill("侵入者")
    form.get_by_label("初期パスワード").fill(STAFF_PASSWORD)
    with page.expect_response(lambda r: r.request.method == "POST") as answered:
        form.get_by_role("button", name="追加する").click()
    assert answered.value.status == 400
    page.get_by_text("不正な送信").wait_for()
    logins = [u["login"] for u in world.h.client.get("/api/v1/staff", headers=world.a.auth()).get_json()]
    assert "intruder" not in logins


def test_api_docs_render_with_the_network_blocked(world: ConsoleWorld, browser_context: Any) -> None:
    blocked: list[str] = []

    def only_loopback(route: Any) -> None:
        if urlparse(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    browser_context.route("**/*", only_loopback)
    page = browser_context.new_page()
    page.goto(f"{world.url}/api/docs")
    page.locator(".swagger-ui .info .title", has_text="Mobile OQS API").wait_for()
    page.locator(".opblock-tag", has_text="監査ログ").first.wait_for()
    assert blocked == [], blocked


def test_health_check_batch_results_listed_paged_and_downloaded_as_the_apis_csv(
        world: ConsoleWorld, browser_context: Any, tmp_path: Path) -> None:
    from mobile_api.services import batch
    from tests.integration.test_health_check_api import Integrator, rows

    integrator = Integrator(world.h)  # a health-check institution and its reservation system's API client
    headers = integrator.auth()
    made = world.h.client.post("/api/v1/batch-jobs", json={"examinees": rows(120)}, headers=headers)
    assert made.status_code == 202, made.get_json()
    location = made.headers["Location"]
    assert batch.run(world.h.rt, location.rsplit("/", 1)[1]) == "done"  # no embedded workers here

    page = browser_context.new_page()
    sign_in(page, world, integrator.tenant)
    page.get_by_role("link", name="一括照会").click()
    page.get_by_role("heading", name="健診の一括資格確認").wait_for()
    page.get_by_text("120 / 120 件処理済み").wait_for()
    shot(page, tmp_path, "batch-jobs")
    page.get_by_role("link", name=re.compile("120件・完了")).click()
    page.get_by_role("cell", name="R00000", exact=True).wait_for()
    assert page.locator("table.batch-rows tbody tr").count() == 100
    shot(page, tmp_path, "batch-job")
    page.get_by_role("link", name="次の100件").click()
    page.get_by_role("cell", name="R00119", exact=True).wait_for()
    assert page.locator("table.batch-rows tbody tr").count() == 20
    with page.expect_download() as downloading:
        page.get_by_role("link", name="結果をCSVでダウンロード").click()
    saved = tmp_path / "batch.csv"
    downloading.value.save_as(saved)
    api = world.h.client.get(f"{location}/results.csv", headers=headers)
    assert saved.read_bytes() == api.data  # the API's CSV, byte for byte


def test_api_clients_and_consent_links_without_the_command_line(world: ConsoleWorld, browser_context: Any,
                                                                 tmp_path: Path) -> None:
    page = browser_context.new_page()
    sign_in(page, world, world.a)
    page.get_by_role("link", name="APIクライアント").click()
    page.get_by_role("heading", name="APIクライアント").wait_for()
    shot(page, tmp_path, "clients-empty")
    page.get_by_label("名前").fill("健診システム")
    page.get_by_label(re.compile("シークレット")).check()
    page.get_by_role("button", name="APIクライアントを登録する").click()
    secret = page.locator("#client-secret").inner_text()
    assert len(secret) >= 32 and page.get_by_text("この画面でしか表示されません").is_visible()
    shot(page, tmp_path, "client-secret")
    page.get_by_role("link", name="APIクライアントの一覧へ").click()
    card = page.locator(".card", has_text="健診システム")
    assert secret not in page.content() and "シークレット" in card.inner_text()
    shot(page, tmp_path, "clients")

    page.get_by_role("link", name="同意用リンク").click()
    page.get_by_label(re.compile("メモ")).fill("12/5 オンライン診療")
    page.get_by_role("button", name="リンクとQRコードを作る").click()
    assert page.locator(".qr svg").is_visible()
    url = page.locator("#link-url").inner_text()
    shot(page, tmp_path, "consent-link-qr")
    patient = browser_context.new_page()
    patient.goto(url)
    assert patient.evaluate("document.documentElement.lang") == "ja"
    patient.close()
    page.get_by_role("link", name="同意登録用リンクの一覧へ").click()
    row = page.locator("tr", has_text="12/5 オンライン診療")
    assert "有効" in row.inner_text()
    shot(page, tmp_path, "consent-links")
    row.get_by_role("button", name="取り消す").click()
    page.get_by_text("同意登録用リンクを取り消しました").wait_for()
    assert "取り消し済み" in page.locator("tr", has_text="12/5 オンライン診療").inner_text()


def test_disaster_time_viewing_without_the_card_and_the_usage_rate(
        world: ConsoleWorld, browser_context: Any, tmp_path: Path) -> None:
    """Seed 004: inside a declared disaster, staff find a patient by identifiers with oral consent and see the
    medication; outside the area the page says so. Seed 000: the usage-rate page shows the month's figures."""
    from datetime import date

    from mobile_api.services import disaster

    page = browser_context.new_page()
    sign_in(page, world, world.a)
    page.get_by_role("link", name="災害時の閲覧").click()
    page.get_by_text("宣言された災害はありません。", exact=True).wait_for()
    disaster.declare(world.h.rt, name="令和8年12月能登地方の地震", starts_on=date(2026, 11, 30),
                     ends_on=date(2026, 12, 7), prefectures=["13", "17"], declared_by="OQS（サンドボックス）")
    page.get_by_role("button", name="ログアウト").click()
    page.goto(f"{world.url}/console/this-device")
    page.get_by_label("アクティベーションコード").fill(world.activation_code(world.a, "救護所のPC"))
    page.get_by_role("button", name="この端末を登録する").click()
    page.get_by_text("登録しました").wait_for()
    sign_in(page, world, world.a)
    page.get_by_text("登録端末）").wait_for()
    page.get_by_role("link", name="災害時の閲覧").click()
    page.get_by_text("利用できます", exact=True).wait_for()
    page.get_by_label("保険者番号").fill("01130012")
    page.get_by_label("記号").fill("44100021")
    page.get_by_label("番号", exact=True).fill("1287")
    page.get_by_label("枝番").fill("00")
    page.get_by_label("生年月日").fill("1984-05-12")
    page.get_by_label(re.compile("口頭で同意を得ました")).check()
    shot(page, tmp_path, "disaster-lookup")
    page.get_by_role("button", name="照会して同意を記録する").click()
    page.get_by_role("heading", name=re.compile("訪問の記録")).wait_for()
    main = page.locator("main").inner_text()
    assert "災害時の照会（カードなし・口頭同意）" in main and "佐藤 健一" in main
    assert "診療情報を見る" not in main  # medication and checkups only
    shot(page, tmp_path, "disaster-visit")
    page.get_by_role("link", name="薬剤情報を見る").click()
    assert "アムロジピン錠5mg" in page.locator("table").inner_text()
    shot(page, tmp_path, "disaster-medication")

    page.get_by_role("link", name="利用率").click()
    page.locator("#usage-rate").wait_for()
    assert "0.00%" in page.locator("#usage-rate").inner_text()  # one lookup without the card, no card use
    shot(page, tmp_path, "usage-rate")

    osaka = world.h.institution("home_visit_care", code="2710000099")  # outside the area (Osaka, 27)
    page = browser_context.browser.new_context(viewport=DESKTOP, locale="ja-JP").new_page()
    sign_in(page, world, osaka)
    page.get_by_role("link", name="災害時の閲覧").click()
    page.get_by_text("対象地域外", exact=True).wait_for()
    assert page.get_by_role("button", name="照会して同意を記録する").count() == 0


def test_a_black_circle_name_on_the_visit_page_asks_for_the_kana(world: ConsoleWorld, browser_context: Any,
                                                                   tmp_path: Path) -> None:
    """seed 001: 「●」 in a name → staff confirm the person by the kana name (docs/rules.md §4)."""
    nurse = world.a.nurse("nurse-kana")
    made = world.h.verify_pin(nurse, world.h.card("P32-unencodable-name"), consent={"blanket": True})
    assert made.status_code == 201, made.get_json()
    page = browser_context.new_page()
    sign_in(page, world, world.a)
    page.goto(f"{world.url}/console/visits/{made.get_json()['id']}")
    page.get_by_role("heading", name=re.compile("訪問の記録")).wait_for()
    prompt = page.locator(".kana-check")
    assert prompt.is_visible() and "ヨシダ トモコ" in prompt.inner_text() and "カナ氏名" in prompt.inner_text()
    assert "●田 智子" in page.locator("main").inner_text()
    assert "40歳以上" in page.locator(".unavailable-kind").inner_text()  # 39 on 2026-12-01: no checkups
    shot(page, tmp_path, "visit-unencodable-name")


def test_the_audit_log_in_japanese_filtered_by_a_select_and_cards_on_a_phone(
        world: ConsoleWorld, browser_context: Any, tmp_path: Path) -> None:
    """Issue 20: action labels, 成功/拒否, staff by display name and login, the filter a select of labels; at
    360 px each event is a card (no sideways scroll, checked by ``shot``)."""
    world.visit(world.a)  # verification.submit and consent.register by nurse1 on tablet
    page = browser_context.new_page()
    sign_in(page, world, world.a, password="wrong-password-x")  # auth.login refused
    page.get_by_text("パスワードが正しくありません").wait_for()
    sign_in(page, world, world.a)
    page.get_by_role("heading", name=re.compile("^訪問")).wait_for()
    page.goto(f"{world.url}/console/audit")
    page.get_by_role("heading", name="監査ログ").wait_for()
    body = page.locator("main").inner_text()
    assert "資格確認の結果" in body and "看護 花子（nurse1）" in body
    assert "verification.submit" not in body and "medical_info.view" not in body
    shot(page, tmp_path, "audit-all")

    page.get_by_label("操作").select_option(label="ログイン")
    page.get_by_role("button", name="検索").click()
    page.wait_for_url(re.compile(r"action=auth\.login"))
    rows = page.locator("table.audit tbody tr")
    texts = [rows.nth(i).inner_text() for i in range(rows.count())]  # the API sign-ins of the set-up too
    assert texts and all("ログイン" in t and "資格確認" not in t for t in texts)
    assert any("拒否" in t and "（admin）" in t for t in texts)
    assert any("成功" in t and "（admin）" in t for t in texts) and any("（nurse1）" in t for t in texts)
    assert page.get_by_label("操作").evaluate("s => s.options[s.selectedIndex].text") == "ログイン"
    shot(page, tmp_path, "audit-login")
    page.set_viewport_size(PHONE)  # a card: the cell's heading beside its value, the table head hidden
    assert not page.locator("table.audit thead").is_visible()
    first = rows.first.locator("td").first
    assert page.evaluate("td => getComputedStyle(td, '::before').content", first.element_handle()) == '"日時"'
