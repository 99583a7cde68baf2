"""Fallback methods on their dates, evidence per method, the declaration destroyed on settlement, post-hoc
confirmation, claim guidance ①②③ and the monthly CSV (docs/rules.md §5)."""
import csv
import io
import json
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from mobile_api.domain.japanese_dates import JST
from mobile_api.services import fallback as fallback_service

PATH = "/api/v1/fallback-records"
P01 = {"insurer_number": "01130012", "symbol": "44100021", "number": "1287", "branch_number": "00",
       "birth_date": "1984-05-12"}  # sandbox persona P01-valid-30
LATTER = {"insurer_number": "39131008", "number": "10234567", "birth_date": "1945-02-14", "copayment_ratio": "010"}
DECLARATION = {"has_valid_qualification": True, "insurance_kind": "shaho", "insurer_name": "全国健康保険協会",
               "employer_name": "株式会社ミナト精工", "copayment_ratio": "unknown", "name": "港川 澄子",
               "name_kana": "ミナトガワ スミコ", "birth_date": {"era": "showa", "year": 59, "month": 5, "day": 12},
               "sex": "2", "address": "沖縄県那覇市泊九丁目八番七号", "declared_on": "2026-12-01", "signed": True,
               "signed_by": "self", "phone": "098-765-4321"}


def at_jst(y, m, d, hour=10):
    return datetime(y, m, d, hour, tzinfo=JST).isoformat()


def body(method, evidence, *, when=None, reason="offline", patient="P-001"):
    return {"care_type": 2, "form": "home_consent", "method": method, "reason": reason,
            "device_recorded_at": when or at_jst(2026, 11, 30), "patient_reference": patient, "evidence": evidence}


def post(h, token, payload):
    return h.client.post(PATH, json=payload, headers={"Authorization": f"Bearer {token}",
                                                      "Idempotency-Key": str(uuid.uuid4())})


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def pointers(r):
    return [e["pointer"] for e in r.get_json().get("errors", [])]


@pytest.mark.parametrize("method,evidence,day,ok", [
    # paper card: 後期高齢者 until 2025-07-31, everyone else until 2025-12-01
    ("paper_card", LATTER, (2025, 7, 31), True),
    ("paper_card", LATTER, (2025, 8, 1), False),
    ("paper_card", P01, (2025, 12, 1), True),
    ("paper_card", P01, (2025, 12, 2), False),
    # the notice or an expired paper card alone: 2025-12-02..2026-03-31, after a lookup that finds P01
    ("notice_alone", P01, (2025, 12, 1), False),
    ("notice_alone", P01, (2025, 12, 2), True),
    ("expired_paper_card", P01, (2026, 3, 31), True),
    ("expired_paper_card", P01, (2026, 4, 1), False),
    # card + notice: from 2024-12-02, still valid after the interim
    ("notice_with_card", {**P01, "card_presented": True}, (2026, 4, 1), True),
    ("notice_with_card", {**P01, "card_presented": True}, (2024, 12, 1), False),
])
def test_each_method_only_on_its_dates(h, method, evidence, day, ok):
    h.clock.set(datetime(*day, 18, tzinfo=JST))  # received the same evening: the server judges the stated day
    nurse = h.institution().nurse()
    r = post(h, nurse, body(method, evidence, when=at_jst(*day)))
    if ok:
        assert r.status_code == 201, r.get_json()
        made = r.get_json()
        assert made["visit_on"] == date(*day).isoformat()
        if method in ("notice_alone", "expired_paper_card"):  # confirmed at once by the lookup
            assert made["status"] == "confirmed" and made["lookup"]["eligibility_status"] == 1
        assert any("マイナ保険証" in n and "資格確認書" in n for n in made["notices"])
    else:
        assert r.status_code == 422, r.get_json()
        assert r.get_json()["rule"] == "method-date" and pointers(r) == ["/method"]


def test_an_ended_method_stated_long_after_is_refused_by_the_servers_clock(h):
    """Issue 17: on 2026-12-04 a paper card dated 2025-11-30 and a notice alone dated 2026-03-31 were accepted."""
    h.clock.set(datetime(2026, 12, 4, 10, tzinfo=JST))
    nurse = h.institution().nurse()
    for method, day in (("paper_card", (2025, 11, 30)), ("notice_alone", (2026, 3, 31))):
        r = post(h, nurse, body(method, P01, when=at_jst(*day)))
        assert r.status_code == 422, r.get_json()
        assert r.get_json()["rule"] == "recorded-too-long-ago" and pointers(r) == ["/device_recorded_at"]
    future = post(h, nurse, body("notice_with_card", {**P01, "card_presented": True}, when=at_jst(2027, 6, 1)))
    assert future.status_code == 422 and future.get_json()["rule"] == "recorded-in-future"
    assert h.client.get(PATH, headers=auth(nurse)).get_json() == []


@pytest.mark.parametrize("received,ok", [((2026, 1, 10), True), ((2026, 1, 11), True), ((2026, 1, 12), False)])
def test_a_late_sync_is_judged_on_the_stated_day_within_the_claim_cycle(h, received, ok):
    """The paper card's last day (2025-12-01), synced 40, 41 and 42 days later (FALLBACK_MAX_AGE_DAYS = 41)."""
    h.clock.set(datetime(*received, 23, 59, tzinfo=JST))
    nurse = h.institution().nurse()
    r = post(h, nurse, body("paper_card", P01, when=at_jst(2025, 12, 1, hour=23)))
    if ok:
        assert r.status_code == 201 and r.get_json()["visit_on"] == "2025-12-01", r.get_json()
    else:
        assert r.status_code == 422 and r.get_json()["rule"] == "recorded-too-long-ago"
        assert r.get_json()["earliest_visit_on"] == "2025-12-02"


def test_a_time_a_few_minutes_ahead_counts_as_the_day_the_server_received_it(h):
    """Received at 23:58 JST on the paper card's last day from a tablet 4 minutes fast: the visit was that day."""
    h.clock.set(datetime(2025, 12, 1, 23, 58, tzinfo=JST))
    nurse = h.institution().nurse()
    r = post(h, nurse, body("paper_card", P01, when=datetime(2025, 12, 2, 0, 2, tzinfo=JST).isoformat()))
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["visit_on"] == "2025-12-01"
    assert r.get_json()["device_recorded_at"] == "2025-12-02T00:02:00+09:00"  # kept as sent


def test_the_visit_day_is_the_day_in_japan(h):
    h.clock.set(datetime(2025, 12, 2, 12, tzinfo=JST))
    nurse = h.institution().nurse()
    # 2025-12-01T15:30Z is already 2025-12-02 in Japan: the paper card is over.
    late = post(h, nurse, body("paper_card", P01, when="2025-12-01T15:30:00+00:00"))
    assert late.status_code == 422 and late.get_json()["rule"] == "method-date"
    assert post(h, nurse, body("paper_card", P01, when="2025-12-01T14:59:00+00:00")).status_code == 201


def test_interim_lookup_that_finds_nothing_is_refused(h):
    h.clock.set(datetime(2026, 1, 15, 18, tzinfo=JST))
    nurse = h.institution().nurse()
    r = post(h, nurse, body("notice_alone", {**P01, "number": "9999"}, when=at_jst(2026, 1, 15)))
    assert r.status_code == 422 and r.get_json()["rule"] == "lookup-failed"
    assert "照会" in r.get_json()["detail"]


@pytest.mark.parametrize("method,evidence,pointer", [
    ("notice_with_card", {}, "/evidence/card_presented"),
    ("notice_with_card", {"card_presented": True}, "/evidence/insurer_number"),
    ("portal_with_card", {"card_presented": True, "insurer_number": "01130012", "number": "1"},
     "/evidence/birth_date"),
    ("qualification_certificate", {"insurer_number": "01130012", "birth_date": "1984-05-12"}, "/evidence/number"),
    ("declaration", {"card_presented": True}, "/evidence/declaration"),
    ("oral_revisit", {"nothing_changed": True, "insurer_number": "01130012"}, "/evidence/from_provider_records"),
    ("oral_revisit", {"nothing_changed": True, "from_provider_records": True, "insurer_number": "01130012",
                      "number": "1287"}, "/evidence/birth_date"),
    ("oral_revisit", {"nothing_changed": True, "card_presented": True}, "/evidence/card_presented"),
    ("oral_revisit", {}, "/evidence/nothing_changed"),
    ("notice_with_card", {**P01, "card_presented": True, "nothing_changed": True}, "/evidence/nothing_changed"),
])
def test_each_method_requires_its_own_evidence(h, method, evidence, pointer):
    nurse = h.institution().nurse()
    r = post(h, nurse, body(method, evidence))
    assert r.status_code == 422, r.get_json()
    assert pointers(r) == [pointer]
    assert any("\u3040" <= c <= "\u30ff" for c in r.get_json()["detail"])  # Japanese


def _card_visit(h, nurse, persona, patient="P-001"):
    started = h.client.post("/api/v1/verifications", json={"care_type": 2, "form": "home_consent", "method": "pin",
                                                           "patient_reference": patient}, headers=auth(nurse))
    assert started.status_code == 201, started.get_json()
    c = started.get_json()
    r = h.submit(nurse, c["challenge_id"], h.pin_body(h.card(persona), c["challenge"]))
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_oral_confirmation_only_on_a_revisit_and_the_declaration_only_on_a_first_visit(h):
    nurse = h.institution().nurse()
    oral = body("oral_revisit", {"nothing_changed": True}, when=(h.clock() + timedelta(minutes=4)).isoformat())
    first = post(h, nurse, oral)
    assert first.status_code == 422 and first.get_json()["rule"] == "oral-needs-revisit"
    declared = post(h, nurse, body("declaration", {"card_presented": True, "declaration": DECLARATION},
                                   when=(h.clock() + timedelta(minutes=4)).isoformat()))
    assert declared.status_code == 201, declared.get_json()
    _card_visit(h, nurse, "P01-valid-30")  # before the oral check's time on the device
    again = post(h, nurse, oral)
    assert again.status_code == 201, again.get_json()
    assert again.get_json()["copayment_ratio"] == "030" and again.get_json()["copayment_basis"] == "past_visit"
    assert again.get_json()["claim_guidance"]["route"] == 1
    second_declaration = post(h, nurse, body("declaration", {"card_presented": True, "declaration": DECLARATION},
                                             when=(h.clock() + timedelta(minutes=4)).isoformat()))
    assert second_declaration.status_code == 422
    assert second_declaration.get_json()["rule"] == "declaration-first-visit-only"


def test_oral_confirmation_of_a_patient_known_from_the_providers_own_records(h):
    """A long-standing patient on the day the station adopts this system (issue 17): staff copy the numbers from
    their own records; the record says so, is audited, billed by ① from those numbers and confirmed post hoc."""
    tenant = h.institution()
    nurse = tenant.nurse()
    oral = {"nothing_changed": True, "from_provider_records": True, **P01}
    first_visit = post(h, nurse, body("oral_revisit", {"nothing_changed": True}, patient="P-9"))
    assert first_visit.status_code == 422 and first_visit.get_json()["rule"] == "oral-needs-revisit"
    assert "カルテ" in first_visit.get_json()["detail"]
    mistyped = post(h, nurse, body("oral_revisit", {**oral, "insurer_number": "01130013"}, patient="P-9"))
    assert mistyped.status_code == 422 and pointers(mistyped) == ["/evidence/insurer_number"]
    made = post(h, nurse, body("oral_revisit", oral, patient="P-9"))
    assert made.status_code == 201, made.get_json()
    record = made.get_json()
    assert record["qualification_source"] == "provider_records" and record["evidence"]["from_provider_records"]
    assert record["status"] == "pending_post_hoc" and record["copayment_ratio"] == "030"
    guidance = record["claim_guidance"]
    assert (guidance["route"], guidance["source"], guidance["identifiers"]["insurer_number"]) == (
        1, "provider_records", "01130012")
    assert "施設の記録" in guidance["message"]
    events = h.client.get("/api/v1/audit-events?action=fallback.record&outcome=ok", headers=tenant.auth()).get_json()
    assert [e["detail"]["qualification_source"] for e in events] == ["provider_records"]
    assert fallback_service.confirm_pending(h.rt).confirmed == [record["id"]]
    elder = {"nothing_changed": True, "from_provider_records": True, **LATTER}
    del elder["copayment_ratio"]
    no_ratio = post(h, nurse, body("oral_revisit", elder, patient="P-8"))
    assert no_ratio.status_code == 422 and pointers(no_ratio) == ["/evidence/copayment_ratio"]
    assert post(h, nurse, body("oral_revisit", {**elder, "copayment_ratio": "010"}, patient="P-8")).status_code == 201


def test_oral_confirmation_of_a_patient_seen_here_needs_no_numbers_and_says_so(h):
    nurse = h.institution().nurse()
    _card_visit(h, nurse, "P01-valid-30", patient="P-7")
    h.clock.advance(minutes=1)
    r = post(h, nurse, body("oral_revisit", {"nothing_changed": True}, when=h.clock().isoformat(), patient="P-7"))
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["qualification_source"] == "past_visit"
    assert r.get_json()["claim_guidance"]["source"] == "past_visit"


@pytest.mark.parametrize("change,pointer", [
    ({"employer_name": None}, "/evidence/declaration/employer_name"),  # ※1 for 社保
    ({"birth_date": {"era": "showa", "year": 64, "month": 2, "day": 1}}, "/evidence/declaration/birth_date"),
    ({"birth_date": {"era": "heisei", "year": 31, "month": 5, "day": 1}}, "/evidence/declaration/birth_date"),
    ({"name_kana": "みなとがわ すみこ"}, "/evidence/declaration/name_kana"),
    ({"phone": "1234"}, "/evidence/declaration/phone"),
    ({"signed_by": "guardian"}, "/evidence/declaration/guardian_relationship"),
    # ※2: 70 and over must give the ratio (or "unknown")
    ({"birth_date": {"era": "showa", "year": 24, "month": 1, "day": 1}, "copayment_ratio": None},
     "/evidence/declaration/copayment_ratio"),
])
def test_the_declaration_is_validated_with_its_conditions(h, change, pointer):
    nurse = h.institution().nurse()
    declaration = {k: v for k, v in {**DECLARATION, **change}.items() if v is not None}
    r = post(h, nurse, body("declaration", {"card_presented": True, "declaration": declaration}))
    assert r.status_code == 422, r.get_json()
    assert pointers(r) == [pointer]


def test_copayment_is_derived_and_never_100_percent(h):
    nurse = h.institution().nurse()
    child = post(h, nurse, body("notice_with_card", {"card_presented": True, "insurer_number": "01130012",
                                                     "number": "1287", "birth_date": "2021-09-15"}, patient="C"))
    assert child.get_json()["copayment_ratio"] == "020" and child.get_json()["copayment_basis"] == "age"
    elder = {"card_presented": True, "insurer_number": "06270037", "number": "70211", "birth_date": "1953-07-22"}
    missing = post(h, nurse, body("notice_with_card", elder, patient="E"))  # 73: the notice shows the ratio
    assert missing.status_code == 422 and pointers(missing) == ["/evidence/copayment_ratio"]
    wrong = post(h, nurse, body("notice_with_card", {**elder, "copayment_ratio": "010"}, patient="E"))
    assert wrong.status_code == 422 and pointers(wrong) == ["/evidence/copayment_ratio"]
    stated = post(h, nurse, body("notice_with_card", {**elder, "copayment_ratio": "030"}, patient="E"))
    assert stated.get_json()["copayment_ratio"] == "030"
    assert any("3割" in n and "10割" in n for n in stated.get_json()["notices"])
    unknown = post(h, nurse, body("declaration", {"card_presented": True, "declaration": {
        **DECLARATION, "insurance_kind": "kouki", "birth_date": {"era": "showa", "year": 20, "month": 2, "day": 14},
        "copayment_ratio": "unknown"}}, patient="K"))
    assert unknown.status_code == 201, unknown.get_json()
    assert (unknown.get_json()["copayment_ratio"], unknown.get_json()["copayment_basis"]) == ("010", "provisional")


def _forms(secret: str) -> list[bytes]:
    """As UTF-8, and as a JSON column stores it (non-ASCII escaped as \\uXXXX)."""
    return [secret.encode(), json.dumps(secret)[1:-1].encode()]


def _database_bytes(database_url: str) -> bytes:
    path = Path(database_url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())


def test_settling_the_claim_destroys_the_declaration_in_the_database_file(h, database_url):
    tenant = h.institution()
    nurse = tenant.nurse()
    made = post(h, nurse, body("declaration", {"card_presented": True, "declaration": DECLARATION},
                               reason="system_down")).get_json()
    secrets = [DECLARATION[k] for k in ("name", "name_kana", "address", "phone", "employer_name")]
    early = h.client.post(f"{PATH}/{made['id']}/settle", json={"route": 3}, headers=tenant.auth())
    assert early.status_code == 409  # post-hoc confirmation first
    assert made["claim_guidance"]["route"] == 3
    assert DECLARATION["address"] in made["claim_guidance"]["remarks"]
    assert DECLARATION["phone"] in made["claim_guidance"]["remarks"]
    report = fallback_service.confirm_pending(h.rt)  # no numbers to look up: needs attention
    assert report.needs_attention == [made["id"]]
    if database_url.startswith("sqlite"):
        raw = _database_bytes(database_url)
        assert any(form in raw for form in _forms(DECLARATION["address"]))  # the check can see it
    settled = h.client.post(f"{PATH}/{made['id']}/settle", json={"route": 3}, headers=tenant.auth())
    assert settled.status_code == 200, settled.get_json()
    record = settled.get_json()
    assert record["status"] == "claim_settled" and record["claim_route"] == 3
    assert record["evidence"]["declaration"]["destroyed"] is True
    assert record["evidence"]["declaration"]["destroyed_by"] is not None
    assert not any(s in str(record) for s in secrets)
    events = h.client.get("/api/v1/audit-events?action=fallback.declaration_destroyed", headers=tenant.auth()).get_json()
    assert len(events) == 1 and events[0]["target_id"] == made["id"] and events[0]["user_id"]
    if database_url.startswith("sqlite"):
        raw = _database_bytes(database_url)
        for secret in secrets:
            assert not any(form in raw for form in _forms(secret)), secret


def test_an_empty_identifiers_update_is_refused_and_leaves_the_record_as_it_was(h):
    tenant = h.institution()
    nurse = tenant.nurse()
    made = post(h, nurse, body("declaration", {"card_presented": True, "declaration": DECLARATION})).get_json()
    fallback_service.confirm_pending(h.rt)  # no numbers to look up: needs attention
    url = f"{PATH}/{made['id']}/identifiers"
    no_body = h.client.patch(url, headers=tenant.auth())
    empty = h.client.patch(url, json={}, headers=tenant.auth())
    assert (no_body.status_code, empty.status_code) == (422, 422)
    assert pointers(empty) == ["/"] and "1つ以上" in empty.get_json()["errors"][0]["detail"]
    record = h.client.get(f"{PATH}/{made['id']}", headers=tenant.auth()).get_json()
    assert record["status"] == "needs_attention"  # not sent back to pending
    updated = h.client.patch(url, json={"insurer_number": P01["insurer_number"]}, headers=tenant.auth())
    assert updated.status_code == 200 and updated.get_json()["status"] == "pending_post_hoc"


def test_77777777_only_as_an_unknown_claim(h):
    tenant = h.institution()
    nurse = tenant.nurse()
    as_evidence = post(h, nurse, body("notice_with_card", {**P01, "card_presented": True,
                                                           "insurer_number": "77777777"}))
    assert as_evidence.status_code == 422 and pointers(as_evidence) == ["/evidence/insurer_number"]
    made = post(h, nurse, body("declaration", {"card_presented": True, "declaration": DECLARATION})).get_json()
    patched = h.client.patch(f"{PATH}/{made['id']}/identifiers", json={"insurer_number": "77777777"},
                             headers=tenant.auth())
    assert patched.status_code == 422
    fallback_service.confirm_pending(h.rt)
    as_current = h.client.post(f"{PATH}/{made['id']}/settle", headers=tenant.auth(), json={
        "route": 1, "billed": {"insurer_number": "77777777", "number": "77777777"}})
    assert as_current.status_code == 422 and as_current.get_json()["rule"] == "unknown-claim-only"
    not_all_sevens = h.client.post(f"{PATH}/{made['id']}/settle", headers=tenant.auth(), json={
        "route": 3, "billed": {"insurer_number": "01130012", "number": "77777777"}})
    assert not_all_sevens.status_code == 422
    unknown = h.client.post(f"{PATH}/{made['id']}/settle", headers=tenant.auth(), json={
        "route": 3, "billed": {"insurer_number": "77777777", "number": "77777777"}})
    assert unknown.status_code == 200, unknown.get_json()


@pytest.mark.parametrize("term,ok,rule", [
    ({"valid_until": "2031-11-30"}, True, None),  # visit 2026-11-30 (JST): at most 5 years from it
    ({"valid_until": "2031-12-01"}, False, "certificate-over-5-years"),
    ({"valid_until": "2035-12-31"}, False, "certificate-over-5-years"),  # issue 17's example
    ({"issued_on": "2026-04-01", "valid_until": "2031-04-01"}, True, None),  # 5 years from its issue day
    ({"issued_on": "2026-04-01", "valid_until": "2031-04-02"}, False, "certificate-over-5-years"),
    ({"issued_on": "2026-12-01", "valid_until": "2027-07-31"}, False, "certificate-issued-later"),
    ({"issued_on": "2026-04-01", "valid_until": "2026-03-31"}, False, "certificate-expired"),
])
def test_a_qualification_certificate_is_valid_for_at_most_5_years(h, term, ok, rule):
    nurse = h.institution().nurse()
    r = post(h, nurse, body("qualification_certificate", {**P01, **term}))
    if ok:
        assert r.status_code == 201, r.get_json()
        assert r.get_json()["evidence"]["valid_until"] == term["valid_until"]
    else:
        assert r.status_code == 422 and r.get_json()["rule"] == rule, r.get_json()
        assert "資格確認書" in r.get_json()["detail"]
        assert h.client.get(PATH, headers=auth(nurse)).get_json() == []


def test_route_1_needs_the_current_numbers(h):
    """Issue 17: route ① was accepted with no numbers while the guidance said ③."""
    tenant = h.institution()
    nurse = tenant.nurse()
    made = post(h, nurse, body("declaration", {"card_presented": True, "declaration": DECLARATION})).get_json()
    fallback_service.confirm_pending(h.rt)  # no numbers: needs attention, guidance ③
    settle = f"{PATH}/{made['id']}/settle"
    bare = h.client.post(settle, json={"route": 1}, headers=tenant.auth())
    assert bare.status_code == 422, bare.get_json()
    assert bare.get_json()["rule"] == "current-numbers-needed" and pointers(bare) == ["/billed"]
    assert bare.get_json()["guided_route"] == 3 and "③" in bare.get_json()["detail"]
    assert h.client.get(f"{PATH}/{made['id']}", headers=tenant.auth()).get_json()["status"] == "needs_attention"
    billed = h.client.post(settle, json={"route": 1, "billed": {"insurer_number": "01130012", "number": "1287"}},
                           headers=tenant.auth())
    assert billed.status_code == 200 and billed.get_json()["claim_route"] == 1


def test_post_hoc_confirmation_moves_records_when_the_sandbox_comes_back(h):
    tenant = h.institution()
    nurse = tenant.nurse()
    ok = post(h, nurse, body("notice_with_card", {**P01, "card_presented": True}, reason="system_down")).get_json()
    lost = post(h, nurse, body("notice_with_card", {"card_presented": True, "insurer_number": "06135107",
                                                    "symbol": "12", "number": "3456", "birth_date": "1991-07-03"},
                               reason="system_down", patient="P-002")).get_json()
    assert ok["status"] == lost["status"] == "pending_post_hoc"
    h.rt.oqs.fail_next(1)  # the sandbox is still down
    down = h.app.test_cli_runner().invoke(args=["fallback", "post-hoc"])
    assert down.exit_code != 0 and "中断" in down.output
    assert {r["status"] for r in h.client.get(PATH, headers=tenant.auth()).get_json()} == {"pending_post_hoc"}
    back = h.app.test_cli_runner().invoke(args=["fallback", "post-hoc"])
    assert back.exit_code == 0, back.output
    assert "確認済み 1 件" in back.output and "要確認 1 件" in back.output
    after = {r["id"]: r for r in h.client.get(PATH, headers=tenant.auth()).get_json()}
    assert after[ok["id"]]["status"] == "confirmed" and after[ok["id"]]["claim_guidance"]["route"] == 1
    assert after[lost["id"]]["status"] == "needs_attention" and after[lost["id"]]["post_hoc_outcome"] == "lost"
    assert after[lost["id"]]["claim_guidance"]["route"] == 2  # bill the former insurer
    assert after[lost["id"]]["claim_guidance"]["identifiers"]["insurer_number"] == "06135107"
    events = h.client.get("/api/v1/audit-events?action=fallback.post_hoc", headers=tenant.auth()).get_json()
    assert sorted(e["detail"]["post_hoc_outcome"] for e in events) == ["confirmed", "lost"]
    settled = h.client.post(f"{PATH}/{ok['id']}/settle", json={"route": 1}, headers=tenant.auth())
    assert settled.status_code == 200 and settled.get_json()["status"] == "claim_settled"
    assert "fallback.post_hoc" in h.rt.jobs.names if h.rt.jobs is not None else True


def test_claim_guidance_on_sandbox_personas_and_the_monthly_csv(h):
    tenant = h.institution()
    nurse = tenant.nurse()
    _card_visit(h, nurse, "P01-valid-30", patient="A")
    _card_visit(h, nurse, "P02-lost", patient="B")
    _card_visit(h, nurse, "P03-newer-qualification", patient="C")
    _card_visit(h, nurse, "P04-no-match", patient="D")
    h.clock.advance(minutes=1)
    _card_visit(h, nurse, "P04-no-match", patient="A")  # the same patient as the valid visit: past visits
    post(h, nurse, body("declaration", {"card_presented": True, "declaration": DECLARATION},
                        when=h.clock().isoformat(), patient="E"))
    month = h.clock().astimezone(JST).strftime("%Y-%m")
    rows = h.client.get(f"/api/v1/claims?month={month}", headers=tenant.auth())
    assert rows.status_code == 200, rows.get_json()
    routes = [(r["patient_reference"], r["kind"], r["claim_guidance"]["route"],
               r["claim_guidance"]["identifiers"]["insurer_number"]) for r in rows.get_json()]
    assert ("A", "visit", 1, "01130012") in routes
    assert ("B", "visit", 2, "06135107") in routes  # lost: the former insurer
    assert ("C", "visit", 2, "01270016") in routes  # status 3: a newer qualification exists, bill the shown one
    assert ("D", "visit", 3, "77777777") in routes  # status 4, nothing known: unknown claim
    assert ("A", "visit", 2, "01130012") in routes  # status 4, but past visits know the qualification
    assert ("E", "fallback", 3, "77777777") in routes
    r = h.client.get(f"/api/v1/claims/csv?month={month}", headers=tenant.auth())
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert table[0] == ["受診日", "区分", "確認方法", "記録ID", "患者参照", "請求ルート", "保険者番号", "記号", "番号", "枝番",
                        "一部負担金割合", "摘要", "根拠", "状態", "氏名", "氏名カナ"]
    assert len(table) == 1 + 6
    unknown = next(row for row in table[1:] if row[4] == "E")
    assert unknown[5] == "③" and unknown[6] == "77777777" and DECLARATION["address"] in unknown[11]
    assert r.data.count(b"\r\n") == 7
    # the patient's name and kana where the record knows them: the OQS qualification, the declaration; none for D
    names = {(row[4], row[5]): (row[14], row[15]) for row in table[1:]}
    assert names[("A", "①")] == ("佐藤 健一", "サトウ ケンイチ")
    assert names[("E", "③")] == (DECLARATION["name"], DECLARATION["name_kana"])
    assert names[("D", "③")] == ("", "")
    by_ref = {(r["patient_reference"], r["kind"]): r for r in rows.get_json()}
    assert by_ref[("E", "fallback")]["name_kana"] == DECLARATION["name_kana"]
    assert by_ref[("D", "visit")]["name"] is None
    from tests.integration.test_console_access import Browser
    from tests.support.harness import ADMIN_PASSWORD

    console = Browser(h, tenant, "admin", ADMIN_PASSWORD).get(f"/console/claims.csv?month={month}")
    assert console.status_code == 200 and "港川 澄子,ミナトガワ スミコ" in console.data.decode("utf-8-sig")
    bad = h.client.get("/api/v1/claims?month=2026-13", headers=tenant.auth())
    assert bad.status_code == 422


def test_the_claims_name_comes_from_the_lookup_then_the_declaration_then_the_evidence():
    from mobile_api.services.claims import patient_name

    oqs, declared, typed = ({"name": n, "name_kana": k} for n, k in (("佐藤 健一", "サトウ ケンイチ"),
                                                                    ("佐藤 健一", "サトウ ケンイチ"), ("さとう", None)))
    declared["name"] = "佐藤 健ー"  # what the patient wrote may differ from the insurer's record
    assert patient_name(oqs, declared, typed) == ("佐藤 健一", "サトウ ケンイチ")
    assert patient_name(None, declared, typed) == ("佐藤 健ー", "サトウ ケンイチ")
    assert patient_name(None, {"destroyed": True}, typed) == ("さとう", None)
    assert patient_name(None, None, {}) == (None, None)


def test_a_visit_near_certificate_expiry_carries_the_renewal_alert(h):
    nurse = h.institution().nurse()
    soon = h.ca.issue_card("P01-valid-30", now=h.clock(), not_after=h.clock() + timedelta(days=40))
    started = h.start(nurse).get_json()
    visit = h.submit(nurse, started["challenge_id"], h.pin_body(soon, started["challenge"])).get_json()
    assert visit["certificate_renewal"]["expired"] is False
    assert any("更新" in n for n in visit["notices"])
    far = h.verify_pin(nurse, h.card("P01-valid-30")).get_json()
    assert far["certificate_renewal"] is None
    grace = h.verify_pin(nurse, h.card("P21-cert-expired-1m")).get_json()
    assert grace["certificate_renewal"]["expired"] is True


def test_the_renewal_alert_follows_the_configured_lead_and_grace(database_url):
    """CERTIFICATE_RENEWAL_ALERT_MONTHS and CERTIFICATE_GRACE_MONTHS are the ones the alert uses (docs/rules.md)."""
    from mobile_api import create_app
    from mobile_api.clock import FrozenClock
    from tests.integration.conftest import TEST_CONFIG
    from tests.support.harness import T0, Harness

    clock = FrozenClock(T0)
    app = create_app({**TEST_CONFIG, "DATABASE_URL": database_url, "CERTIFICATE_RENEWAL_ALERT_MONTHS": 1,
                      "CERTIFICATE_GRACE_MONTHS": 2}, clock=clock)
    try:
        h = Harness(app, clock)
        nurse = h.institution().nurse()

        def renewal(days_left):
            card = h.ca.issue_card("P01-valid-30", now=h.clock(), not_after=h.clock() + timedelta(days=days_left))
            started = h.start(nurse).get_json()
            return h.submit(nurse, started["challenge_id"], h.pin_body(card, started["challenge"])).get_json()[
                "certificate_renewal"]

        assert renewal(40) is None  # 40 days ahead: no alert with a 1-month lead (the default 3 would alert)
        soon = renewal(20)
        assert soon["expired"] is False
        expires = date.fromisoformat(soon["expires_on"])
        last_of_second_month = (expires.replace(day=1) + timedelta(days=95)).replace(day=1) - timedelta(days=1)
        assert date.fromisoformat(soon["usable_until"]) == last_of_second_month  # a 2-month grace, not 3
    finally:
        app.extensions["mobile_api_engine"].dispose()
