"""Visits recorded from fallback evidence (docs/rules.md §5), synced later from the device's outbox."""
import uuid
from datetime import timedelta

import pytest

from tests.support.harness import T0

PATH = "/api/v1/fallback-records"
GOOD_INSURER = "01130012"  # docs/rules.md §4's worked example
NOTICE_EVIDENCE = {"card_presented": True, "insurer_number": GOOD_INSURER, "symbol": "44100021", "number": "1287", "branch_number": "00",
                   "name": "佐藤 健一", "name_kana": "サトウ ケンイチ", "birth_date": "1984-05-12",
                   "copayment_ratio": "030"}


def body(**overrides):
    base = {"care_type": 2, "form": "home_consent", "method": "notice_with_card", "reason": "offline",
            "device_recorded_at": (T0 - timedelta(hours=3)).isoformat(), "patient_reference": "P-001",
            "evidence": dict(NOTICE_EVIDENCE)}
    base.update(overrides)
    return base


def post(h, token, payload, key=None):
    return h.client.post(PATH, json=payload, headers={"Authorization": f"Bearer {token}",
                                                      "Idempotency-Key": key or str(uuid.uuid4())})


def listed(h, token, **query):
    r = h.client.get(PATH, query_string=query, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_record_and_list_newest_first(h):
    tenant = h.institution()
    nurse = tenant.nurse()
    first = post(h, nurse, body())
    assert first.status_code == 201, first.get_json()
    made = first.get_json()
    assert made["status"] == "pending_post_hoc" and made["method"] == "notice_with_card"
    assert made["evidence"] == NOTICE_EVIDENCE and made["patient_reference"] == "P-001"
    assert made["destroy_after_claim"] is False
    assert any("事後確認" in n for n in made["notices"]) and any("10割" in n for n in made["notices"])
    h.clock.advance(minutes=5)
    second = post(h, nurse, body(method="portal_with_card"))
    assert second.status_code == 201, second.get_json()
    everything = listed(h, nurse)
    assert [r["id"] for r in everything] == [second.get_json()["id"], made["id"]]
    assert [r["id"] for r in listed(h, tenant.admin_token, status="pending_post_hoc")] == [r["id"] for r in everything]
    assert listed(h, nurse, status="confirmed") == []


def test_retry_with_the_same_key_returns_the_same_record(h):
    nurse = h.institution().nurse()
    key = str(uuid.uuid4())
    first, again = post(h, nurse, body(), key), post(h, nurse, body(), key)
    assert first.status_code == again.status_code == 201
    assert first.get_json() == again.get_json()
    assert len(listed(h, nurse)) == 1


def test_same_key_with_a_different_body_is_refused(h):
    nurse = h.institution().nurse()
    key = str(uuid.uuid4())
    assert post(h, nurse, body(), key).status_code == 201
    r = post(h, nurse, body(reason="card_unreadable"), key)
    assert r.status_code == 422 and r.get_json()["type"] == "/problems/idempotency-key-reused"
    assert len(listed(h, nurse)) == 1


@pytest.mark.parametrize("number", ["01130013", "0113001", "011300A2", "１１３００１２"])
def test_a_mistyped_insurer_number_is_refused_with_its_pointer(h, number):
    tenant = h.institution()
    nurse = tenant.nurse()
    r = post(h, nurse, body(evidence={**NOTICE_EVIDENCE, "insurer_number": number}))
    assert r.status_code == 422, r.get_json()
    assert r.mimetype == "application/problem+json"
    assert [e["pointer"] for e in r.get_json()["errors"]] == ["/evidence/insurer_number"]
    assert listed(h, nurse) == []


def test_a_refusal_is_audited_without_the_evidence(h):
    tenant = h.institution()
    nurse = tenant.nurse()
    post(h, nurse, body(evidence={**NOTICE_EVIDENCE, "insurer_number": "01130013"}))
    events = h.client.get("/api/v1/audit-events?action=fallback.record&outcome=refused",
                          headers=tenant.auth()).get_json()
    assert len(events) == 1 and events[0]["detail"]["reason"] == "validation-failed"
    assert "01130013" not in str(events[0]) and "佐藤" not in str(events[0])


def test_device_time_is_kept_as_sent_and_the_server_clock_gives_received_at(h):
    tenant = h.institution()
    nurse = tenant.nurse()
    ahead = T0 + timedelta(minutes=5)  # the most a device clock may run ahead (FALLBACK_FUTURE_SKEW_MINUTES)
    behind = T0 - timedelta(days=3)  # recorded offline three days ago: normal, not skew
    r_ahead = post(h, nurse, body(device_recorded_at=ahead.isoformat()))
    r_behind = post(h, nurse, body(device_recorded_at=behind.isoformat()))
    assert r_ahead.status_code == r_behind.status_code == 201
    for r, sent in ((r_ahead, ahead), (r_behind, behind)):
        assert r.get_json()["device_recorded_at"] == sent.isoformat()
        assert r.get_json()["received_at"] == T0.isoformat()
    events = {e["target_id"]: e for e in h.client.get("/api/v1/audit-events?action=fallback.record",
                                                       headers=tenant.auth()).get_json()}
    assert events[r_ahead.get_json()["id"]]["detail"]["device_clock_skew_seconds"] == 300
    assert "device_clock_skew_seconds" not in events[r_behind.get_json()["id"]]["detail"]


def test_a_time_ahead_of_the_server_beyond_the_skew_is_refused_and_nothing_is_stored(h):
    nurse = h.institution().nurse()
    for ahead in (timedelta(minutes=5, seconds=1), timedelta(days=182)):  # 2027-06-01: a clock, not a visit
        r = post(h, nurse, body(device_recorded_at=(T0 + ahead).isoformat()))
        assert r.status_code == 422, r.get_json()
        problem = r.get_json()
        assert problem["type"] == "/problems/device-time-refused" and problem["rule"] == "recorded-in-future"
        assert [e["pointer"] for e in problem["errors"]] == ["/device_recorded_at"]
        assert "端末の日付と時刻" in problem["detail"] and problem["received_at"] == T0.isoformat()
    assert listed(h, nurse) == []


def test_a_visit_day_older_than_the_limit_is_refused_by_the_day_in_japan(h):
    nurse = h.institution().nurse()
    # received 2026-12-01 09:00 JST: the earliest visit day is 41 days before, 2026-10-21 (JST)
    oldest = post(h, nurse, body(device_recorded_at="2026-10-21T00:00:00+09:00"))
    assert oldest.status_code == 201, oldest.get_json()
    assert oldest.get_json()["visit_on"] == "2026-10-21"
    too_old = post(h, nurse, body(device_recorded_at="2026-10-20T14:59:59+00:00"))  # 23:59:59 JST on 10-20
    assert too_old.status_code == 422, too_old.get_json()
    assert too_old.get_json()["rule"] == "recorded-too-long-ago"
    assert too_old.get_json()["earliest_visit_on"] == "2026-10-21" and "41日前" in too_old.get_json()["detail"]
    assert len(listed(h, nurse)) == 1


def test_the_past_limit_and_the_skew_are_settings(database_url):
    from mobile_api import create_app
    from mobile_api.clock import FrozenClock
    from tests.integration.conftest import TEST_CONFIG
    from tests.support.harness import Harness

    clock = FrozenClock(T0)
    app = create_app({**TEST_CONFIG, "DATABASE_URL": database_url, "FALLBACK_MAX_AGE_DAYS": 3,
                      "FALLBACK_FUTURE_SKEW_MINUTES": 60}, clock=clock)
    try:
        h = Harness(app, clock)
        nurse = h.institution().nurse()
        assert post(h, nurse, body(device_recorded_at=(T0 + timedelta(minutes=59)).isoformat())).status_code == 201
        assert post(h, nurse, body(device_recorded_at=(T0 - timedelta(days=3)).isoformat())).status_code == 201
        r = post(h, nurse, body(device_recorded_at=(T0 - timedelta(days=4)).isoformat()))
        assert r.status_code == 422 and r.get_json()["rule"] == "recorded-too-long-ago"
    finally:
        app.extensions["mobile_api_engine"].dispose()


def test_another_institution_cannot_list_them(h):
    a, b = h.institution(), h.institution()
    assert post(h, a.nurse(), body()).status_code == 201
    assert listed(h, b.nurse()) == [] and listed(h, b.admin_token) == []
    assert len(listed(h, a.admin_token)) == 1


def test_recording_is_audited(h):
    tenant = h.institution()
    nurse = tenant.nurse()
    made = post(h, nurse, body()).get_json()
    events = h.client.get("/api/v1/audit-events?action=fallback.record&outcome=ok", headers=tenant.auth()).get_json()
    assert len(events) == 1
    event = events[0]
    assert event["target_type"] == "fallback_record" and event["target_id"] == made["id"]
    assert event["user_id"] == made["staff_id"] and event["device_id"] == made["device_id"]
    assert event["detail"]["method"] == "notice_with_card" and event["detail"]["fallback_reason"] == "offline"
    assert "佐藤" not in str(event) and GOOD_INSURER not in str(event)


def test_declaration_data_is_marked_for_destruction_after_the_claim(h):
    nurse = h.institution().nurse()
    declaration = {"has_valid_qualification": True, "insurance_kind": "kokuho", "insurer_name": "世田谷区",
                   "copayment_ratio": "unknown", "name": "佐藤 健一", "name_kana": "サトウ ケンイチ",
                   "birth_date": {"era": "showa", "year": 59, "month": 5, "day": 12}, "sex": "1",
                   "address": "東京都世田谷区三軒茶屋九丁目9番9号", "declared_on": "2026-12-01", "signed": True,
                   "signed_by": "self", "phone": "03-1234-5678"}
    r = post(h, nurse, body(method="declaration", evidence={"card_presented": True, "declaration": declaration}))
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["destroy_after_claim"] is True
    assert r.get_json()["evidence"]["declaration"] == declaration
    assert any("廃棄" in n for n in r.get_json()["notices"])
    wrong = post(h, nurse, body(evidence={"declaration": declaration}))  # method notice_with_card
    assert wrong.status_code == 422
    assert [e["pointer"] for e in wrong.get_json()["errors"]] == ["/evidence/declaration"]


@pytest.mark.parametrize("where", ["evidence", "declaration", "top"])
@pytest.mark.parametrize("name", ["pin", "individual_number", "my_number"])
def test_no_field_accepts_a_pin_or_the_individual_number(h, where, name):
    nurse = h.institution().nurse()
    if where == "top":
        payload, pointer = {**body(), name: "1234"}, f"/{name}"
    elif where == "evidence":
        payload, pointer = body(evidence={**NOTICE_EVIDENCE, name: "1234"}), f"/evidence/{name}"
    else:
        payload = body(method="declaration", evidence={"declaration": {"name": "佐藤 健一", name: "1234"}})
        pointer = f"/evidence/declaration/{name}"
    r = post(h, nurse, payload)
    assert r.status_code == 422
    assert pointer in [e["pointer"] for e in r.get_json()["errors"]]


def test_evidence_is_checked_for_shape(h):
    nurse = h.institution().nurse()
    for evidence, pointer in (({"birth_date": "1984-13-40"}, "/evidence/birth_date"),
                              ({"copayment_ratio": "100"}, "/evidence/copayment_ratio"),
                              ({"branch_number": "1"}, "/evidence/branch_number")):
        r = post(h, nurse, body(evidence=evidence))
        assert r.status_code == 422 and pointer in [e["pointer"] for e in r.get_json()["errors"]]
    naive = post(h, nurse, body(device_recorded_at="2026-12-01T09:00:00"))
    assert naive.status_code == 422


def test_only_staff_on_a_device_may_record_and_the_key_is_required(h):
    tenant = h.institution()
    assert post(h, tenant.admin_token, body()).status_code == 403
    nurse = tenant.nurse()
    r = h.client.post(PATH, json=body(), headers={"Authorization": f"Bearer {nurse}"})
    assert r.status_code == 422
    assert any(e["pointer"].startswith("/headers") for e in r.get_json()["errors"])


def test_a_concurrent_resend_that_loses_the_insert_race_answers_with_the_winner(h, monkeypatch):
    from mobile_api.services import fallback

    nurse = h.institution().nurse()
    key = str(uuid.uuid4())
    winner = post(h, nurse, body(), key).get_json()
    real_replay, calls = fallback._replay, []

    def looked_before_the_winner_committed(*args):
        calls.append(args)
        return None if len(calls) == 1 else real_replay(*args)

    monkeypatch.setattr(fallback, "_replay", looked_before_the_winner_committed)
    loser = post(h, nurse, body(), key)
    assert loser.status_code == 201 and loser.get_json()["id"] == winner["id"]
    assert len(calls) == 2 and len(listed(h, nurse)) == 1


MY_NUMBER = "123456789018"  # 12 digits whose check digit is right (issue 17)
DECLARED = {"has_valid_qualification": True, "insurance_kind": "kokuho", "insurer_name": "世田谷区",
            "copayment_ratio": "unknown", "name": "佐藤 健一", "name_kana": "サトウ ケンイチ",
            "birth_date": {"era": "showa", "year": 59, "month": 5, "day": 12}, "sex": "1",
            "address": "東京都世田谷区三軒茶屋九丁目9番9号", "declared_on": "2026-12-01", "signed": True,
            "signed_by": "self", "phone": "03-1234-5678"}


@pytest.mark.parametrize("pointer,payload", [
    ("/evidence/free_text", body(evidence={**NOTICE_EVIDENCE, "free_text": f"マイナンバー {MY_NUMBER} を控えた"})),
    ("/evidence/number", body(evidence={**NOTICE_EVIDENCE, "number": MY_NUMBER})),
    ("/evidence/symbol", body(evidence={**NOTICE_EVIDENCE, "symbol": "１２３４－５６７８－９０１８"})),
    ("/evidence/name", body(evidence={**NOTICE_EVIDENCE, "name": "佐藤 個人番号123456789012"})),
    ("/evidence/name_kana", body(evidence={**NOTICE_EVIDENCE, "name_kana": "1234 5678 9018"})),
    ("/evidence/insurer_name", body(evidence={**NOTICE_EVIDENCE, "insurer_name": MY_NUMBER})),
    ("/patient_reference", body(patient_reference=MY_NUMBER)),
    *((f"/evidence/declaration/{name}", body(method="declaration", evidence={
        "card_presented": True, "declaration": {**DECLARED, name: value}})) for name, value in (
        ("address", f"東京都 {MY_NUMBER}"), ("residence_address", MY_NUMBER), ("phone", "1234-5678-9018"),
        ("name", MY_NUMBER), ("insurer_name", MY_NUMBER), ("guardian_relationship", MY_NUMBER),
        ("employer_name", MY_NUMBER))),
])
def test_an_individual_number_cannot_be_stored_through_any_field(h, pointer, payload):
    nurse = h.institution().nurse()
    r = post(h, nurse, payload)
    assert r.status_code == 422, r.get_json()
    errors = {e["pointer"]: e["detail"] for e in r.get_json()["errors"]}
    assert pointer in errors and "マイナンバー" in errors[pointer]
    assert listed(h, nurse) == []


def test_an_individual_number_cannot_be_added_later_or_billed(h):
    from mobile_api.services import fallback as fallback_service

    tenant = h.institution()
    nurse = tenant.nurse()
    made = post(h, nurse, body(method="declaration", evidence={"card_presented": True, "declaration": DECLARED}))
    assert made.status_code == 201, made.get_json()
    record = f"{PATH}/{made.get_json()['id']}"
    for field in ("number", "symbol", "insurer_name"):
        r = h.client.patch(f"{record}/identifiers", json={field: MY_NUMBER}, headers=tenant.auth())
        assert r.status_code == 422 and [e["pointer"] for e in r.get_json()["errors"]] == [f"/{field}"]
    fallback_service.confirm_pending(h.rt)
    billed = h.client.post(f"{record}/settle", headers=tenant.auth(), json={
        "route": 2, "billed": {"insurer_number": GOOD_INSURER, "number": MY_NUMBER}})
    assert billed.status_code == 422 and [e["pointer"] for e in billed.get_json()["errors"]] == ["/billed/number"]
    stored = h.client.get(record, headers=tenant.auth()).get_json()
    assert MY_NUMBER not in str(stored) and stored["status"] == "needs_attention"


@pytest.mark.parametrize("evidence", [
    {**NOTICE_EVIDENCE, "free_text": "電話 090-1234-5678、+81-90-1234-5678 で連絡"},  # phone numbers
    {**NOTICE_EVIDENCE, "number": "123456789012"},  # 12 digits, wrong check digit, no words beside them
    {**NOTICE_EVIDENCE, "free_text": "マイナンバーカードを提示。保険者番号 01130012"},
])
def test_phone_and_insurance_numbers_are_not_mistaken_for_an_individual_number(h, evidence):
    r = post(h, h.institution().nurse(), body(evidence=evidence))
    assert r.status_code == 201, r.get_json()


def test_a_free_text_may_break_lines_but_no_other_field_may_hold_a_control_character(h):
    """api/fields.py ``outside_text``: the evidence's free text is the one field that may span lines."""
    nurse = h.institution().nurse()
    kept = post(h, nurse, body(evidence={**NOTICE_EVIDENCE, "free_text": "お知らせを確認\n次回は資格確認書を持参\t済"}))
    assert kept.status_code == 201, kept.get_json()
    assert kept.get_json()["evidence"]["free_text"] == "お知らせを確認\n次回は資格確認書を持参\t済"
    for pointer, evidence in (("/evidence/free_text", {"free_text": "確認\x1b[2J"}),
                              ("/evidence/name", {"name": "佐藤\n健一"}), ("/evidence/number", {"number": "1287\t"})):
        r = post(h, nurse, body(evidence={**NOTICE_EVIDENCE, **evidence}))
        assert r.status_code == 422, r.get_json()
        assert "制御文字" in {e["pointer"]: e["detail"] for e in r.get_json()["errors"]}.get(pointer, ""), r.get_json()
    assert len(listed(h, nurse)) == 1
