"""Full visits: the device agent, the virtual card behind nfcpy's ISO-DEP stack or behind pcscd + vpcd (PC/SC),
and the real API (SQLite)."""
from __future__ import annotations

import functools
import logging
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from device_agent import cli, flows, messages
from device_agent.agent import Agent, AgentHome
from device_agent.card.apdu import PinLocked, WrongPin
from device_agent.card.sim.nfc_virtual import virtual_session
from device_agent.card.sim.virtual_card import VirtualJpkiCard
from device_agent.card.transport import CardRemovedError
from device_agent.client import ApiProblem
from device_agent.labels import JST
from device_agent.outbox import Outbox
from mobile_api import create_app
from mobile_api.clock import FrozenClock
from tests.integration.conftest import TEST_CONFIG
from tests.support import database
from tests.support.harness import STAFF_PASSWORD, T0, VISUAL_PASSWORD, Harness
from tests.support.live import serve
from tests.support.scrub import scrub

HOME = flows.VisitRequest(form="home_consent", care_type=2, consent={"blanket": True})
CHECK_ONLY = flows.VisitRequest(form="qualification_only")


@pytest.fixture(params=["nfc", "pcsc"])
def card_session(request: pytest.FixtureRequest):
    """``virtual_session`` through nfcpy's virtual reader, or the same card through pcscd + vpcd."""
    if request.param == "nfc":
        return virtual_session
    slot = request.getfixturevalue("pcsc_slot")
    return lambda card, technology="B": slot.session(card)


@pytest.fixture
def world_kind() -> str:
    return "home_visit_care"


@pytest.fixture
def world(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, world_kind: str, monkeypatch):
    # The server's frozen clock, not the real one: the personas' ages and dates must give the same answers
    # whatever the calendar says (P07 was "6歳" only until 2027-09-15). The tablet's clock is the same clock,
    # for this agent and for the agents the CLI makes (which would otherwise read the system clock).
    clock = FrozenClock(T0)
    monkeypatch.setattr(cli, "Agent", functools.partial(Agent, clock=clock))
    template = database.migrated_sqlite_template(tmp_path_factory.mktemp("tpl"))
    app = create_app({**TEST_CONFIG, "DATABASE_URL": database.sqlite_copy(template, tmp_path)}, clock=clock)
    h = Harness(app, clock)
    tenant = h.institution(world_kind)
    tenant.set_visual_password()
    tenant.create_staff("nurse1")
    with serve(app) as (url, wire):
        code = h.client.post("/api/v1/devices", json={"label": "タブレット"}, headers=tenant.auth()).get_json()
        agent = Agent(AgentHome(tmp_path / "agent"), clock=clock)
        agent.enroll(url, code["activation_code"])
        agent.login("nurse1", STAFF_PASSWORD)
        wire.clear()
        yield h, tenant, agent, wire
    app.extensions["mobile_api_engine"].dispose()


def virtual(h: Harness, persona: str, *, variant: str = "card", pin: str | None = "use-persona") -> VirtualJpkiCard:
    issued = h.card(persona, variant=variant)
    return VirtualJpkiCard(issued.private_key, issued.certificate_der, token=issued.token,
                           pin=issued.pin if pin == "use-persona" else pin)


def visits_of(h, tenant):
    return h.client.get("/api/v1/visits", headers=tenant.auth()).get_json()


def test_pin_visit_in_exactly_two_round_trips(world, card_session):
    h, tenant, agent, wire = world
    card = virtual(h, "P01-valid-30")
    with card_session(card) as session:
        read = flows.read_card(session, with_token_info=True)
        assert read.tries_left == 3 and read.pin_usable and read.certificate_kind == "card"
        assert wire.requests == [], "reading the card needs no server"
        visit = flows.verify_with_pin(agent.api, session, read, HOME, "1234")
    paths = wire.paths()
    assert len(paths) == 2
    assert paths[0] == "POST /api/v1/verifications"
    assert paths[1].startswith("POST /api/v1/verifications/") and paths[1].endswith("/submit")
    assert visit["eligibility_status"] == 1 and visit["method"] == "pin" and visit["certificate_kind"] == "card"
    med = agent.api.medical_information(visit["id"], "medication")
    assert med["records"]


def test_default_read_keeps_a_pin_verification_within_the_apdu_aim(world, card_session):
    h, tenant, agent, wire = world
    card = virtual(h, "P01-valid-30")
    with card_session(card) as session:
        read = flows.read_card(session)
        flows.verify_with_pin(agent.api, session, read, HOME, "1234")
    chunks = -(-len(read.identity.certificate_der) // 256)
    assert card.apdus_received <= 7 + chunks


def test_wrong_pin_counts_down_and_never_retries_by_itself(world, card_session):
    h, tenant, agent, wire = world
    card = virtual(h, "P01-valid-30")
    with card_session(card) as session:
        read = flows.read_card(session)
        with pytest.raises(WrongPin) as first:
            flows.verify_with_pin(agent.api, session, read, HOME, "0000")
        assert first.value.tries_left == 2 and card.tries_left == 2
        with pytest.raises(WrongPin) as second:
            flows.verify_with_pin(agent.api, session, read, HOME, "0001")
        assert second.value.tries_left == 1
        assert "ロック" in messages.describe(second.value), "the last try is warned about"
        assert flows.read_card(session).tries_left == 1
    assert wire.requests == [], "a wrong PIN never costs a server round trip"
    assert visits_of(h, tenant) == []


def test_lock_then_visual_check(world, card_session):
    h, tenant, agent, wire = world
    card = virtual(h, "P01-valid-30")
    with card_session(card) as session:
        read = flows.read_card(session)
        for attempt in ("1111", "2222"):
            with pytest.raises(WrongPin):
                flows.verify_with_pin(agent.api, session, read, HOME, attempt)
        with pytest.raises(PinLocked):
            flows.verify_with_pin(agent.api, session, read, HOME, "3333")
        after = flows.read_card(session)
    assert after.pin_usable is False
    assert "市区町村" in messages.PIN_LOCKED
    visit = flows.verify_visually(agent.api, after, HOME, VISUAL_PASSWORD)
    assert visit["method"] == "visual" and visit["visual_confirmed_by"]
    assert len(wire.requests) == 2


def test_face_recognition_card_goes_to_visual(world, card_session):
    h, tenant, agent, wire = world
    card = virtual(h, "P23-face-card-no-pin")
    with card_session(card) as session:
        read = flows.read_card(session)
    assert read.pin_usable is False
    visit = flows.verify_visually(agent.api, read, HOME, VISUAL_PASSWORD)
    assert visit["method"] == "visual" and visit["eligibility_status"] == 1


def test_smartphone_token(world, card_session):
    h, tenant, agent, wire = world
    card = virtual(h, "P24-android", variant="android")
    with card_session(card, technology="A") as session:  # phones may answer as Type A
        read = flows.read_card(session, with_token_info=True)
        assert read.certificate_kind == "android"
        visit = flows.verify_with_pin(agent.api, session, read, HOME, "1234")
    assert visit["certificate_kind"] == "android" and visit["eligibility_status"] == 1


@pytest.mark.parametrize("world_kind", ["judo_therapy"])
def test_a_judo_clinic_checks_qualification_only(world, card_session):
    """③ 資格確認限定型: the same card path, no consent, no medical information."""
    h, tenant, agent, wire = world
    card = virtual(h, "P01-valid-30")
    with card_session(card) as session:
        read = flows.read_card(session)
        visit = flows.verify_with_pin(agent.api, session, read, CHECK_ONLY, "1234")
    assert visit["form"] == "qualification_only" and visit["eligibility_status"] == 1 and visit["consent"] is None
    assert card.tries_left == 3 and len(wire.requests) == 2


def test_expired_within_grace_is_qualification_only(world, card_session):
    h, tenant, agent, wire = world
    card = virtual(h, "P21-cert-expired-1m")
    with card_session(card) as session:
        read = flows.read_card(session)
        visit = flows.verify_with_pin(agent.api, session, read, HOME, "1234")
    assert visit["certificate_standing"] == "expired_in_grace" and visit["consent"] is None
    with pytest.raises(Exception) as refused:
        agent.api.medical_information(visit["id"], "medication")
    assert refused.value.status == 403


@pytest.mark.parametrize("remove_after", [3, 6])  # during the certificate read; during the PIN step
def test_card_removed_mid_read_records_nothing(world, card_session, remove_after):
    h, tenant, agent, wire = world
    card = virtual(h, "P01-valid-30")
    original = card.process
    count = {"n": 0}

    def process(apdu: bytes):
        count["n"] += 1
        if count["n"] == remove_after:
            card.remove()
        return original(apdu)

    card.process = process  # type: ignore[method-assign]
    with pytest.raises(CardRemovedError) as removed, card_session(card) as session:
        read = flows.read_card(session)
        flows.verify_with_pin(agent.api, session, read, HOME, "1234")
    assert "かざして" in messages.describe(removed.value)
    assert visits_of(h, tenant) == []


def test_card_removed_during_signature_records_nothing(world, card_session):
    h, tenant, agent, wire = world
    card = virtual(h, "P01-valid-30")
    original = card.process

    def process(apdu: bytes):
        if apdu[:2] == b"\x80\x2a":
            card.remove()
        return original(apdu)

    card.process = process  # type: ignore[method-assign]
    with pytest.raises(CardRemovedError), card_session(card) as session:
        flows.verify_with_pin(agent.api, session, flows.read_card(session), HOME, "1234")
    assert visits_of(h, tenant) == []


def test_the_pin_goes_nowhere_but_the_card(world, card_session, caplog):
    h, tenant, agent, wire = world
    secret_pin = "8642"  # the virtual card's own PIN, chosen so it can be searched for
    card = virtual(h, "P01-valid-30", pin=secret_pin)
    caplog.set_level(logging.DEBUG)
    with card_session(card) as session:
        read = flows.read_card(session)
        with pytest.raises(WrongPin):
            flows.verify_with_pin(agent.api, session, read, HOME, "8643")
        visit = flows.verify_with_pin(agent.api, session, read, HOME, secret_pin)
    agent.api.medical_information(visit["id"], "medication")
    needles = [secret_pin.encode(), secret_pin.encode().hex().encode(), b"8643", b"38363433"]

    def holds_a_pin(text: str) -> bool:
        """The PINs as typed, looked for after the random ids and ports (which may hold "8642" by chance) are
        scrubbed; their hex forms as they are (a hex run is what scrub would remove, and 8 hex digits do not
        turn up by chance)."""
        return any(pin in scrub(text) for pin in (secret_pin, "8643")) \
            or any(pin.encode().hex() in text for pin in (secret_pin, "8643"))

    assert wire.requests, "the visit crossed the wire"
    for _method, path, body in wire.requests:
        assert not holds_a_pin(path + " " + body.decode("utf-8", "replace"))
    assert caplog.records, "debug logging was on"
    assert not holds_a_pin("\n".join(r.getMessage() for r in caplog.records))
    for file in agent.home.path.rglob("*"):
        if file.is_file():
            for needle in needles:
                assert needle not in file.read_bytes()


def test_cli_records_offline_then_syncs_exactly_once(world, monkeypatch, capsys):
    from device_agent.cli import main

    h, tenant, agent, wire = world
    home = str(agent.home.path)
    monkeypatch.setenv("DEVICE_AGENT_PASSWORD", STAFF_PASSWORD)
    assert main(["--home", home, "outbox", "record", "--method", "notice_with_card", "--insurer-number", "01130012",
                 "--number", "1287", "--name", "佐藤 健一", "--birth-date", "1984-05-12"]) == 2
    assert "マイナンバーカードの提示が必要です" in capsys.readouterr().out, "refused on the device, nothing kept"
    year = h.clock().astimezone(JST).year
    assert main(["--home", home, "outbox", "record", "--method", "qualification_certificate", "--insurer-number",
                 "01130012", "--number", "1287", "--birth-date", "1984-05-12", "--valid-until", f"{year + 6}-01-01"]) == 2
    assert "資格確認書の有効期限は最長5年です" in capsys.readouterr().out, "a 資格確認書 past 5 years: refused on the device"
    assert main(["--home", home, "outbox", "record", "--method", "notice_with_card", "--card-presented",
                 "--insurer-number", "01130012", "--number", "1287", "--name", "佐藤 健一",
                 "--birth-date", "1984-05-12"]) == 0
    assert main(["--home", home, "outbox", "list"]) == 0
    assert "未送信 1 件・要修正 0 件・送信済み 0 件" in capsys.readouterr().out
    assert main(["--home", home, "outbox", "sync", "--login", "nurse1"]) == 0
    synced = capsys.readouterr().out
    assert "患者負担: 3割" in synced and "請求: ①" in synced and "資格確認書をお持ちいただく" in synced
    assert main(["--home", home, "outbox", "sync", "--login", "nurse1"]) == 0
    records = h.client.get("/api/v1/fallback-records", headers=tenant.auth()).get_json()
    assert len(records) == 1 and records[0]["status"] == "pending_post_hoc"
    assert records[0]["evidence"]["insurer_number"] == "01130012" and records[0]["evidence"]["card_presented"]
    assert main(["--home", home, "outbox", "list"]) == 0
    assert "未送信 0 件・要修正 0 件・送信済み 1 件" in capsys.readouterr().out


def test_cli_rejected_record_shows_the_reason_and_is_fixed_under_the_same_id(world, monkeypatch, capsys):
    """Oral confirmation on a first visit: the server refuses it; the nurse switches to the notice and the card
    (the patient showed both), and the record goes under its first id, once."""
    from device_agent.cli import main
    from device_agent.outbox import Outbox

    h, tenant, agent, wire = world
    home = str(agent.home.path)
    monkeypatch.setenv("DEVICE_AGENT_PASSWORD", STAFF_PASSWORD)
    assert main(["--home", home, "outbox", "record", "--method", "oral_revisit", "--nothing-changed",
                 "--patient-reference", "P-NEW", "--name", "佐藤 健一"]) == 0
    assert main(["--home", home, "outbox", "sync", "--login", "nurse1"]) == 0
    out = capsys.readouterr().out
    assert "要修正 1 件" in out and "確認した方法: 口頭での確認は再来の患者で" in out
    record_id = out.split("要修正 1 件")[1].split()[0]
    assert main(["--home", home, "outbox", "list"]) == 0
    listed = capsys.readouterr().out
    assert "未送信 0 件・要修正 1 件・送信済み 0 件" in listed and f"outbox fix {record_id}" in listed
    assert main(["--home", home, "outbox", "fix", record_id, "--method", "notice_with_card", "--card-presented",
                 "--insurer-number", "01130012", "--number", "1287", "--birth-date", "1984-05-12"]) == 0
    assert main(["--home", home, "outbox", "sync", "--login", "nurse1"]) == 0
    assert "送信済み 1 件、要修正 0 件" in capsys.readouterr().out
    records = h.client.get("/api/v1/fallback-records", headers=tenant.auth()).get_json()
    assert [(r["method"], r["patient_reference"], r["evidence"]["name"]) for r in records] == [
        ("notice_with_card", "P-NEW", "佐藤 健一")]
    assert [p for p in wire.paths("/api/v1/fallback-records") if p.startswith("POST")] == [
        "POST /api/v1/fallback-records"] * 2
    box = Outbox(agent.home.outbox_path, agent.home.outbox_key_path)
    try:
        assert box.get(record_id).state == "sent" and box.counts() == {"pending": 0, "rejected": 0, "sent": 1}
    finally:
        box.close()


def test_cli_oral_revisit_with_numbers_from_the_providers_records(world, monkeypatch, capsys):
    """A long-standing patient not yet seen on this system (issue 17): the numbers come from the provider's records."""
    from device_agent.cli import main

    h, tenant, agent, wire = world
    home = str(agent.home.path)
    monkeypatch.setenv("DEVICE_AGENT_PASSWORD", STAFF_PASSWORD)
    assert main(["--home", home, "outbox", "record", "--method", "oral_revisit", "--nothing-changed",
                 "--from-provider-records", "--insurer-number", "01130012", "--number", "1287",
                 "--birth-date", "1984-05-12", "--patient-reference", "P-OLD"]) == 0
    assert main(["--home", home, "outbox", "sync", "--login", "nurse1"]) == 0
    assert "送信済み 1 件、要修正 0 件" in capsys.readouterr().out
    records = h.client.get("/api/v1/fallback-records", headers=tenant.auth()).get_json()
    assert [(r["method"], r["qualification_source"], r["claim_guidance"]["route"]) for r in records] == [
        ("oral_revisit", "provider_records", 1)]


def test_cli_verify_with_a_virtual_card(world, monkeypatch, capsys):
    import io

    from device_agent.cli import main

    h, tenant, agent, wire = world
    h.card("P01-valid-30").save(agent.home.cards_dir() / "P01-valid-30")
    monkeypatch.setenv("DEVICE_AGENT_PASSWORD", STAFF_PASSWORD)
    monkeypatch.setattr("sys.stdin", io.StringIO("0000\n"))
    assert main(["--home", str(agent.home.path), "verify", "--login", "nurse1", "--consent", "blanket",
                 "--virtual-card", "P01-valid-30", "--pin-stdin"]) == 2
    assert "残り2回" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("1234\n"))
    assert main(["--home", str(agent.home.path), "verify", "--login", "nurse1", "--consent", "blanket",
                 "--virtual-card", "P01-valid-30", "--pin-stdin", "--show", "medication", "surgery"]) == 0
    out = capsys.readouterr().out
    assert "資格確認が完了しました" in out and "■ 薬剤情報" in out and "■ 手術情報" in out


def test_cli_says_a_card_is_not_registered_asks_for_the_kana_of_a_black_circle_name_and_why_no_checkups(world, monkeypatch, capsys):
    """seed 001: the CLI prints the server's refusal of an unregistered card with the fallbacks that apply, and
    for a ● name the prompt to confirm by the kana (docs/rules.md §2.6, §4)."""
    import io

    from device_agent.cli import main

    h, tenant, agent, wire = world
    for persona in ("P30-deregistered", "P32-unencodable-name"):
        h.card(persona).save(agent.home.cards_dir() / persona)
    monkeypatch.setenv("DEVICE_AGENT_PASSWORD", STAFF_PASSWORD)
    monkeypatch.setattr("sys.stdin", io.StringIO("1234\n"))
    assert main(["--home", str(agent.home.path), "verify", "--login", "nurse1", "--consent", "blanket",
                 "--virtual-card", "P30-deregistered", "--pin-stdin"]) == 2
    out = capsys.readouterr().out
    assert "利用登録が解除されています" in out and "申請により" in out and "資格確認書" in out
    assert "この場合に使える確認方法: 資格確認書、再来時の口頭確認、被保険者資格申立書" in out
    monkeypatch.setattr("sys.stdin", io.StringIO("1234\n"))
    assert main(["--home", str(agent.home.path), "verify", "--login", "nurse1", "--consent", "blanket",
                 "--virtual-card", "P32-unencodable-name", "--pin-stdin"]) == 0
    out = capsys.readouterr().out
    assert "！ 氏名の「●」は表せない文字です。カナ氏名「ヨシダ トモコ」で本人確認してください。" in out
    h.card("P07-preschool-20").save(agent.home.cards_dir() / "P07-preschool-20")
    monkeypatch.setattr("sys.stdin", io.StringIO("1234\n"))
    assert main(["--home", str(agent.home.path), "verify", "--login", "nurse1", "--consent", "blanket",
                 "--virtual-card", "P07-preschool-20", "--pin-stdin"]) == 0
    assert "特定健診等情報: 特定健診等情報は40歳以上の方が対象です（この方は6歳）" in capsys.readouterr().out


def test_a_phone_certificate_past_its_expiry_is_refused_in_the_servers_words(world):
    """docs/rules.md §2.4: no grace for a phone; the virtual Android card carries the sandbox's smartphone
    policy, and the device shows the server's phone-specific reason, not the card's grace wording."""
    from datetime import timedelta

    h, tenant, agent, wire = world
    issued = h.ca.issue_card("P24-android", variant="android", now=h.clock(),
                             not_after=h.clock() - timedelta(days=2))
    card = VirtualJpkiCard(issued.private_key, issued.certificate_der, token=issued.token, pin=issued.pin)
    with virtual_session(card, technology="A") as session:
        read = flows.read_card(session, with_token_info=True)
        with pytest.raises(ApiProblem) as refused:
            flows.verify_with_pin(agent.api, session, read, HOME, "1234")
    assert refused.value.problem["medium"] == "smartphone"
    assert "スマートフォン" in messages.explain(refused.value).text


def test_enroll_from_the_qr_image_the_server_gives(world, tmp_path, capsys):
    import qrcode

    from device_agent.cli import main

    h, tenant, agent, wire = world
    created = h.client.post("/api/v1/devices", json={"label": "スマホ"}, headers=tenant.auth()).get_json()
    image = tmp_path / "qr.png"
    qrcode.make(created["activation_uri"]).save(image)
    home = tmp_path / "phone"
    assert main(["--home", str(home), "enroll", "--server", agent.api.base_url, "--qr", str(image)]) == 0
    assert "登録しました" in capsys.readouterr().out
    key = home / "device-key.pem"
    assert key.stat().st_mode & 0o077 == 0, "the device key is owner-only"
    devices = h.client.get("/api/v1/devices", headers=tenant.auth()).get_json()
    assert any(d["id"] == created["device"]["id"] and d["state"] == "enrolled" for d in devices)


def test_a_piped_pin_never_reaches_the_server(world, monkeypatch, capsys):
    """Issue 19: on a card without a usable PIN, --pin-stdin's line must not become the visual-check
    password (nor the staff password); each secret has its own source, stdin is the PIN's only."""
    import io

    from device_agent import cli, prompts

    h, tenant, agent, wire = world
    h.card("P23-face-card-no-pin").save(agent.home.cards_dir() / "P23-face-card-no-pin")
    monkeypatch.setattr(prompts, "has_terminal", lambda: False)  # a script: no terminal to prompt on
    monkeypatch.delenv(prompts.VISUAL_PASSWORD_ENV, raising=False)
    monkeypatch.delenv(prompts.STAFF_PASSWORD_ENV, raising=False)
    argv = ["--home", str(agent.home.path), "verify", "--login", "nurse1", "--consent", "blanket",
            "--virtual-card", "P23-face-card-no-pin", "--pin-stdin"]

    piped = io.StringIO(VISUAL_PASSWORD + "\n")  # even a line that *is* the password is not taken from stdin
    monkeypatch.setattr("sys.stdin", piped)
    assert cli.main(argv) == 2
    assert prompts.STAFF_PASSWORD_ENV in capsys.readouterr().out
    monkeypatch.setenv(prompts.STAFF_PASSWORD_ENV, STAFF_PASSWORD)
    assert cli.main(argv) == 2
    out = capsys.readouterr().out
    assert messages.PIN_LOCKED in out and prompts.VISUAL_PASSWORD_ENV in out and "標準入力" in out
    assert piped.tell() == 0, "standard input was not read at all"
    assert not any(VISUAL_PASSWORD.encode() in body for _, _, body in wire.requests)
    assert not [p for p in wire.paths() if p.endswith("/submit")]

    monkeypatch.setenv(prompts.VISUAL_PASSWORD_ENV, VISUAL_PASSWORD)
    monkeypatch.setattr("sys.stdin", io.StringIO("9876\n"))
    wire.clear()
    assert cli.main(argv) == 0, capsys.readouterr().out
    assert "資格確認が完了しました" in capsys.readouterr().out
    assert [p for p in wire.paths() if p.endswith("/submit")], "the visual check went through its own password"
    assert not any("9876" in scrub(body.decode("utf-8", "replace")) for _, _, body in wire.requests), \
        "the piped PIN never left the device"


@pytest.mark.parametrize("skew", [timedelta(hours=13), timedelta(hours=-13), timedelta(minutes=-3),
                                  timedelta(minutes=3)], ids=["13h-ahead", "13h-behind", "3min-behind", "3min-ahead"])
def test_a_device_clock_hours_or_minutes_off_works_by_the_servers_clock(world, skew, monkeypatch, capsys):
    """Issue 19: the server's clock is the authority. A tablet 13 hours or 3 minutes off signs in, verifies,
    keeps its login alive on time and dates its countdown and records by the server's clock; the offset is
    said once, in Japanese, and does not stop the work."""
    from device_agent import cli
    from device_agent.ui.routes_session import seconds_left
    from device_agent.ui.state import Outcome

    h, tenant, agent, wire = world
    server = h.clock
    device = Agent(agent.home, clock=lambda: server() + skew)
    device.login("nurse1", STAFF_PASSWORD)  # the device assertion is dated by the server's clock
    assert abs(device.now() - server()) < timedelta(seconds=1)
    assert abs(device.api.access_expires_at - (server() + timedelta(minutes=15))) < timedelta(seconds=1)
    notice = device.clock_notice()
    amount = "約13時間" if abs(skew) > timedelta(hours=1) else "約3分"
    assert amount + ("遅れて" if skew < timedelta(0) else "進んで") in notice
    assert device.clock_notice() is None, "said once"

    with virtual_session(virtual(h, "P01-valid-30")) as session:
        visit = flows.verify_with_pin(device.api, session, flows.read_card(session), HOME, "1234")
    assert visit["eligibility_status"] == 1
    countdown = seconds_left(Outcome(visit, device.now()), device.now())
    assert 24 * 3600 - 5 < countdown <= 24 * 3600, "the fresh 24-hour window, not 24 h shifted by the skew"

    wire.clear()
    server.advance(minutes=10)  # the token's expiry is judged by the server's time: no rotation yet …
    device.api.visits()
    assert wire.paths("/api/v1/auth/refresh") == []
    server.advance(minutes=4)  # … and rotated before it runs out (never a 401 first)
    device.api.visits()
    assert wire.paths("/api/v1/auth/refresh") == ["POST /api/v1/auth/refresh"]

    offline = Agent(agent.home, clock=lambda: server() + skew)  # a new process without signal: the kept offset
    box = Outbox(offline.home.outbox_path, offline.home.outbox_key_path, clock=offline.now)
    try:
        record = box.get(box.add({"method": "notice_with_card"}))
        assert abs(datetime.fromisoformat(record.created_at) - server()) < timedelta(seconds=1)
    finally:
        box.close()

    h.card("P01-valid-30").save(agent.home.cards_dir() / "P01-valid-30")
    monkeypatch.setattr(cli, "Agent", lambda home: Agent(home, clock=lambda: server() + skew))
    monkeypatch.setenv("DEVICE_AGENT_PASSWORD", STAFF_PASSWORD)
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("1234\n"))
    assert cli.main(["--home", str(agent.home.path), "verify", "--login", "nurse1", "--consent", "blanket",
                     "--virtual-card", "P01-valid-30", "--pin-stdin"]) == 0
    out = capsys.readouterr().out
    assert "資格確認が完了しました" in out and "この端末の時計" not in out, "said once today already (above)"


def test_the_cli_says_a_clock_offset_once_a_day(world, monkeypatch, capsys):
    """Every command that signs in is a new process: the day it was said (the server's day in Japan) and the
    offset are kept in the agent's home, so it is said on the day's first command, again on the next day, again
    when the offset moves by a minute or more, and after the clock was put right and drifted off again."""
    import io
    import json

    from device_agent import cli

    h, tenant, agent, wire = world
    skew = [timedelta(hours=13)]
    monkeypatch.setattr(cli, "Agent", lambda home: Agent(home, clock=lambda: h.clock() + skew[0]))
    monkeypatch.setenv("DEVICE_AGENT_PASSWORD", STAFF_PASSWORD)

    def said() -> int:
        monkeypatch.setattr("sys.stdin", io.StringIO(""))
        assert cli.main(["--home", str(agent.home.path), "visits", "--login", "nurse1"]) == 0
        return capsys.readouterr().out.count("この端末の時計はサーバーの時刻より約13時間")

    assert [said(), said(), said()] == [1, 0, 0], "once, not on every command"
    kept = json.loads(agent.home.config_path.read_text(encoding="utf-8"))["clock_notice"]
    today = h.clock().astimezone(JST).date()
    assert kept == {"day": today.isoformat(), "offset_seconds": pytest.approx(-13 * 3600, abs=2)}, "nothing else"
    h.clock.advance(hours=24)  # the next day, by the server's clock
    assert [said(), said()] == [1, 0]
    skew[0] = timedelta(hours=13, seconds=20)  # measured a little differently: not news
    assert said() == 0
    skew[0] = timedelta(hours=13, minutes=5)  # the tablet's clock moved on
    assert said() == 1
    skew[0] = timedelta(0)  # put right …
    assert said() == 0 and "clock_notice" not in agent.home.config()
    skew[0] = timedelta(hours=13)  # … and off again the same day
    assert said() == 1


def test_cli_second_visit_requery_discharge_and_withdrawal(world, monkeypatch, capsys):
    """Issue 19: the day from the CLI. ``visits`` lists today's visits and the continuing-care patients with
    their window; ``requery`` (never wider than the card's consent, a fresh 24-hour window), ``discharge`` and
    ``withdraw`` are confirmed before they are sent, and each refusal is one Japanese line."""
    import io
    import re

    from device_agent import cli

    h, tenant, agent, wire = world
    monkeypatch.setattr(cli, "Agent", lambda home: Agent(home, clock=h.clock))
    monkeypatch.setenv("DEVICE_AGENT_PASSWORD", STAFF_PASSWORD)
    home = ["--home", str(agent.home.path)]
    card_visit = {"form": "home_consent", "care_type": 2, "consent": {"kinds": ["medication", "clinical"]}}
    with virtual_session(virtual(h, "P01-valid-30")) as session:
        flows.verify_with_pin(agent.api, session, flows.read_card(session), flows.VisitRequest(**card_visit), "1234")

    def run(*argv: str, stdin: str = "") -> tuple[int, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = cli.main([*home, *argv])
        out = capsys.readouterr().out
        assert "Traceback" not in out
        return code, out

    def sent(kind: str) -> list[str]:
        return [p for p in wire.paths() if p.startswith("POST") and p.endswith(kind)]

    code, out = run("visits", "--login", "nurse1")
    assert code == 0 and "■ 今日の確認（1件）" in out and "継続的な訪問診療等の患者（1人）" in out
    patient = re.findall(r"\[([0-9a-f]{8})\]", out.split("継続的な")[1])[0]
    assert "同意: 薬剤情報、診療情報" in out and "閲覧できます（あと24時間0分）" in out

    code, out = run("requery", patient, "--login", "nurse1", "--kinds", "medication,surgery", "--yes")
    assert code == 2 and "この確認はできません" in out and "手術情報は、カードで確認したときに同意されていない" in out
    wire.clear()
    code, out = run("requery", patient, "--login", "nurse1", stdin="n\n")
    assert code == 1 and "再照会します" in out and "何も送信していません" in out and sent("/requery") == []
    h.clock.advance(hours=30)  # the card visit's window has closed; a re-query opens a fresh one
    code, out = run("visits", "--login", "nurse1")
    assert "閲覧期間が終わりました" in out and "■ 今日の確認（0件）" in out
    code, out = run("requery", patient, "--login", "nurse1", stdin="y\n")
    assert code == 0 and "✔ 再照会しました" in out and "あと24時間0分" in out, out
    assert "医療情報: 薬剤情報、診療情報" in out, "never widened: the card's kinds"
    code, out = run("visits", "--login", "nurse1")
    assert "■ 今日の確認（1件）" in out and "再照会" in out and "閲覧できます（あと24時間0分）" in out

    code, out = run("discharge", "nomatch0", "--login", "nurse1", "--reason", "入院", "--yes")
    assert code == 2 and "一覧にありません" in out
    code, out = run("discharge", patient, "--login", "nurse1", "--reason", "入院のため訪問診療を終了", stdin="y\n")
    assert code == 0 and "✔ 終了しました" in out and "もう一度マイナンバーカード" in out
    code, out = run("requery", patient, "--login", "nurse1", "--yes")
    assert code == 2 and "一覧にありません" in out  # no longer in continuing care
    code, out = run("visits", "--login", "nurse1")
    assert "継続的な訪問診療等の患者（0人）" in out

    agent.login("nurse1", STAFF_PASSWORD)  # the next day's login on the tablet
    with virtual_session(virtual(h, "P01-valid-30")) as session:  # a new card visit opens care again
        flows.verify_with_pin(agent.api, session, flows.read_card(session), flows.VisitRequest(**card_visit), "1234")
    code, out = run("visits", "--login", "nurse1")
    again = re.findall(r"\[([0-9a-f]{8})\]", out.split("継続的な")[1])[0]
    wire.clear()
    code, out = run("withdraw", again, "--login", "nurse1", "--note", "訪問時に口頭で申し出", stdin="\n")
    assert code == 1 and sent("/consent-withdrawal") == []
    code, out = run("withdraw", again, "--login", "nurse1", "--yes")
    assert code == 0 and "同意をすべて取り消しました" in out and "医療情報はもう閲覧できません" in out
    code, out = run("visits", "--login", "nurse1")
    assert "継続的な訪問診療等の患者（0人）" in out and "同意が取り消されました" in out
    assert [v["method"] for v in agent.api.visits()].count("requery") == 1
