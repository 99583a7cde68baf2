"""The device's fallback tables and record builder (device_agent/fallback.py): the same rules as the server's,
checked on the device so a record is complete before the patient is gone; the server's refusals in Japanese."""
from __future__ import annotations

import sqlite3
from datetime import date, timedelta

import pytest

from device_agent import fallback, insurer
from device_agent.certificate import shift_months as device_shift_months
from device_agent.outbox import Outbox
from mobile_api.domain import declaration as server_declaration
from mobile_api.domain import fallback as server
from mobile_api.domain.insurer import is_valid_insurer_number
from mobile_api.domain.japanese_dates import shift_months as server_shift_months

NOTICE = {"method": "notice_with_card", "card_presented": "on", "insurer_number": "01130012", "number": "1287",
          "birth_date": "1984-05-12", "name": "佐藤 健一"}
DECLARATION = {"method": "declaration", "card_presented": "on", "patient_reference": "P-9", "name": "佐藤 健一",
               "name_kana": "サトウ ケンイチ", "decl_has_valid_qualification": "on", "decl_insurance_kind": "kokuho",
               "decl_birth_date": "昭和59年5月12日", "decl_sex": "1", "decl_address": "東京都千代田区1-1",
               "decl_phone": "090-1234-5678", "decl_declared_on": "2026-12-01", "decl_signed": "on",
               "decl_signed_by": "self"}


def build(fields, at="2026-12-01T01:00:00+00:00"):
    return fallback.build(fields, recorded_at=at, care_type=2, form="home_consent")


def test_the_device_tables_are_the_servers():
    assert {m.value: label for m, label in server.METHOD_LABELS_JA.items()} == fallback.METHODS
    assert fallback.CONDITIONS.keys() == fallback.METHODS.keys()
    assert {m.value: dates for m, dates in server.METHOD_DATES.items()} == fallback.DATES
    assert fallback.LATTER_STAGE_PAPER_CARD_UNTIL == server.PAPER_CARD_LAST_DAY_LATTER_STAGE
    assert {m: (set(req), set(allowed)) for m, (req, allowed) in fallback.EVIDENCE.items()} == {
        m.value: (set(req), set(allowed)) for m, (req, allowed) in server.EVIDENCE_RULES.items()}
    assert set(fallback.REASONS) == {r.value for r in server.FallbackReason}
    assert tuple(fallback.INSURANCE_KINDS) == server_declaration.INSURANCE_KINDS
    assert fallback.DECLARATION_REQUIRED == server_declaration.REQUIRED
    every_field = set().union(*(allowed for _, allowed in fallback.EVIDENCE.values()))
    assert every_field <= {*fallback.EVIDENCE_FIELDS, "declaration"}


@pytest.mark.parametrize(("method", "missing", "message"), [
    ("notice_with_card", "card_presented", "マイナンバーカードの提示が必要です"),
    ("portal_with_card", "birth_date", "生年月日の入力が必要です"),
    ("oral_revisit", "nothing_changed", "資格に変更がないことの口頭確認が必要です"),
    ("qualification_certificate", "insurer_number", "保険者番号の入力が必要です"),
])
def test_each_method_needs_its_evidence(method, missing, message):
    fields = {**NOTICE, "method": method, "nothing_changed": "on", "patient_reference": "P-1"}
    del fields[missing]
    _, errors = build(fields)
    assert [name for name, _ in errors] == [missing] and message in errors[0][1]


def test_only_the_methods_fields_are_kept():
    payload, errors = build({**NOTICE, "valid_until": "2027-01-01", "nothing_changed": "on", "decl_phone": "0"})
    assert errors == []
    assert payload["evidence"] == {"card_presented": True, "insurer_number": "01130012", "number": "1287",
                                   "birth_date": "1984-05-12", "name": "佐藤 健一"}
    payload, errors = build({"method": "oral_revisit", "nothing_changed": "on", "patient_reference": "P-1",
                             "insurer_number": "01130012", "name": "佐藤 健一"})
    assert errors == [] and payload["evidence"] == {"nothing_changed": True, "name": "佐藤 健一"}


def test_an_oral_check_keeps_numbers_copied_from_the_providers_records_and_needs_them_all():
    oral = {"method": "oral_revisit", "nothing_changed": "on", "patient_reference": "P-1",
            "from_provider_records": "on", "insurer_number": "01130012", "number": "1287"}
    payload, errors = build(oral)
    assert [name for name, _ in errors] == ["birth_date"]
    payload, errors = build({**oral, "birth_date": "1984-05-12"})
    assert errors == [] and payload["evidence"] == {"nothing_changed": True, "from_provider_records": True,
                                                    "insurer_number": "01130012", "number": "1287",
                                                    "birth_date": "1984-05-12"}


def test_oral_check_and_declaration_need_the_patient_reference():
    _, errors = build({"method": "oral_revisit", "nothing_changed": "on"})
    assert [name for name, _ in errors] == ["patient_reference"]


@pytest.mark.parametrize(("method", "at", "ok"), [
    ("paper_card", "2025-12-01T14:59:00+00:00", True),   # 2025-12-01 23:59 JST: the last day
    ("paper_card", "2025-12-01T15:00:00+00:00", False),  # 2025-12-02 00:00 JST
    ("notice_alone", "2025-12-01T14:59:00+00:00", False),
    ("notice_alone", "2025-12-01T15:00:00+00:00", True),
    ("expired_paper_card", "2026-03-31T14:59:00+00:00", True),
    ("expired_paper_card", "2026-03-31T15:00:00+00:00", False),  # 2026-04-01 in Japan
])
def test_dated_methods_are_judged_by_the_day_in_japan(method, at, ok):
    _, errors = build({**NOTICE, "method": method}, at=at)
    assert (errors == []) is ok
    if not ok:
        assert errors[0][0] == "method" and "の方法です" in errors[0][1]


@pytest.mark.parametrize(("insurer_number", "at", "ok"), [
    ("39131016", "2025-07-31T14:59:00+00:00", True),   # 後期高齢者 (law code 39): the last day in Japan
    ("39131016", "2025-07-31T15:00:00+00:00", False),  # 2025-08-01 in Japan
    ("01130012", "2025-08-01T01:00:00+00:00", True),   # other insurers: until 2025-12-01
])
def test_a_latter_stage_paper_card_ends_on_the_servers_earlier_day(insurer_number, at, ok):
    _, errors = build({**NOTICE, "method": "paper_card", "insurer_number": insurer_number}, at=at)
    assert (errors == []) is ok, errors
    if not ok:
        assert errors == [("method", fallback.latter_stage_error(fallback.visit_day(at)))]
        assert "後期高齢者医療の健康保険証は2025年7月31日で使えなくなりました" in errors[0][1]


def test_the_declaration_from_flat_fields():
    payload, errors = build(DECLARATION)
    assert errors == []
    decl = payload["evidence"]["declaration"]
    assert decl["birth_date"] == {"era": "showa", "year": 59, "month": 5, "day": 12}
    assert decl["name"] == "佐藤 健一" and "name" not in payload["evidence"], "the name is destroyed with the form"
    assert decl["has_valid_qualification"] is True and decl["signed"] is True and decl["phone"] == "090-1234-5678"
    _, errors = build({k: v for k, v in DECLARATION.items() if k not in ("decl_phone", "decl_signed")})
    assert [name for name, _ in errors] == ["decl_signed", "decl_phone"]
    _, errors = build({**DECLARATION, "decl_birth_date": "59/5/12"})
    assert [name for name, _ in errors] == ["decl_birth_date"]


@pytest.mark.parametrize("text", ["昭和59年5月12日", "S59.5.12", "showa 59 5 12", "1984-05-12"])
def test_era_dates(text):
    assert fallback.era_date(text) == {"era": "showa", "year": 59, "month": 5, "day": 12}
    assert fallback.era_date("平成元年1月8日") == {"era": "heisei", "year": 1, "month": 1, "day": 8}


@pytest.mark.parametrize("fields", [NOTICE, DECLARATION, {"method": "oral_revisit", "nothing_changed": "on",
                                                          "patient_reference": "P-1"}])
def test_a_kept_record_fills_the_form_back_unchanged(fields):
    payload, _ = build(fields)
    again, errors = build(fallback.flatten(payload), at=payload["device_recorded_at"])
    assert errors == [] and again == payload


def test_the_servers_refusal_in_japanese_with_the_fields_label():
    problem = {"type": "/problems/validation-failed", "title": "入力内容に誤りがあります", "status": 422,
               "detail": "保険者番号に誤りがあります。", "errors": [
                   {"pointer": "/evidence/insurer_number", "detail": "保険者番号に誤りがあります。"}]}
    assert fallback.describe_problem(problem) == ["保険者番号: 保険者番号に誤りがあります。"]
    assert fallback.problem_fields(problem) == {"insurer_number"}
    schema = {"title": "入力内容に誤りがあります", "status": 422, "errors": [
        {"pointer": "/evidence/declaration/phone", "detail": "String does not match expected pattern."},
        {"pointer": "/evidence/declaration/birth_date/year", "detail": "Must be between 1 and 64."}]}
    assert fallback.describe_problem(schema) == [
        "入力内容に誤りがあります", "申立書の連絡先電話番号: 入力の形式が正しくありません。",
        "申立書の生年月日: 入力の形式が正しくありません。"]
    assert fallback.problem_fields(schema) == {"decl_phone", "decl_birth_date"}
    assert fallback.describe_problem({"status": 409}) == ["サーバーが受け付けませんでした（409）。"]


def test_what_the_server_said_about_an_accepted_record():
    answer = {"copayment_ratio": "030", "notices": ["次回の受診時は、マイナ保険証…"],
              "claim_guidance": {"route": 1, "route_mark": "①", "message": "提示された資格で請求してください。",
                                 "identifiers": {"insurer_number": "01130012", "number": "1287"}, "remarks": None}}
    assert fallback.result_lines(answer) == ["患者負担: 3割", "請求: ① 提示された資格で請求してください。",
                                             "請求に使う番号: 保険者番号 01130012  番号 1287",
                                             "次回の受診時は、マイナ保険証…"]
    unknown = {"claim_guidance": {"route_mark": "③", "message": "③不詳レセプトとして請求してください。"}}
    assert fallback.result_lines(unknown) == ["請求: ③不詳レセプトとして請求してください。"], "the mark once"


def test_outbox_counts_and_keeps_the_servers_answer_encrypted(tmp_path):
    box = Outbox(tmp_path / "outbox.sqlite3", tmp_path / "outbox.key")
    ids = [box.add({"method": "notice_with_card", "n": i}) for i in range(3)]
    answers = iter([(201, {"id": "srv-1", "claim_guidance": {"remarks": "東京都千代田区1-1"}}),
                    (422, {"detail": "だめです"})])
    box.sync(lambda path, body, key: next(answers) if body["n"] < 2 else (_ for _ in ()).throw(ConnectionError()))
    assert box.counts() == {"pending": 1, "rejected": 1, "sent": 1}
    assert box.get(ids[0]).answer == {"id": "srv-1", "claim_guidance": {"remarks": "東京都千代田区1-1"}}
    box.close()
    raw = b"".join(bytes(str(row), "utf-8") for row in sqlite3.connect(tmp_path / "outbox.sqlite3").execute(
        "SELECT * FROM outbox"))
    assert "千代田".encode() not in raw and b"srv-1" in raw  # the server's id is not personal; the answer is sealed


def test_an_outbox_made_before_the_answer_columns_opens_and_works(tmp_path):
    db = sqlite3.connect(tmp_path / "outbox.sqlite3")
    db.execute("CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, created_at TEXT "
               "NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, nonce BLOB NOT "
               "NULL, ciphertext BLOB NOT NULL, server_record_id TEXT)")
    db.commit()
    db.close()
    box = Outbox(tmp_path / "outbox.sqlite3", tmp_path / "outbox.key")
    record_id = box.add({"method": "oral_revisit"})
    box.sync(lambda path, body, key: (201, {"id": "srv-1", "copayment_ratio": "030"}))
    assert box.get(record_id).answer == {"id": "srv-1", "copayment_ratio": "030"}
    box.close()


def test_the_insured_persons_numbers_are_called_hi_hokensha_bangou_tou_as_seed_003_does():
    """Seed 003 says 「被保険者番号等で照会」; 「保険者番号等」 (the insurer's numbers) was a wrong label, on the server
    and on the device, for the numbers a lookup or an unknown claim fills in."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    wrong = [f"{path.relative_to(root)}:{number}"
             for package in ("mobile_api", "device_agent")
             for path in (root / package).rglob("*") if path.suffix in (".py", ".html", ".js")
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if re.search(r"(?<!被)保険者番号等", line)]
    assert wrong == []
    assert "被保険者番号等" in fallback.CONDITIONS["notice_alone"] == server.METHOD_CONDITIONS_JA[server.FallbackMethod.NOTICE_ALONE]


def test_the_devices_insurer_check_digit_is_the_servers():
    for prefix in ("0113001", "0613510", "3913100", "13117", "27102", "0000000", "9999999", "12345"):
        for last in "0123456789":
            assert insurer.is_valid(prefix + last) == is_valid_insurer_number(prefix + last), prefix + last
    for odd in ("0113001", "011300122", "0113001a", "０１１３００１２", ""):
        assert insurer.is_valid(odd) == is_valid_insurer_number(odd) is False


def test_a_wrong_insurer_check_digit_is_caught_before_the_record_is_kept():
    fields = {"method": "qualification_certificate", "insurer_number": "01130013", "number": "1287",
              "birth_date": "1984-05-12", "valid_until": "2027-07-31"}
    _, errors = build(fields)
    assert ("insurer_number", insurer.WRONG) in errors
    _, errors = build({**fields, "insurer_number": "01130012"})
    assert not [e for e in errors if e[0] == "insurer_number"]


def test_the_devices_certificate_term_is_the_servers():
    """The 資格確認書's 5 years and their calendar months (a month's end clamped, a leap day's anniversary) are the
    server's; the e2e pinning test compares the messages with the server's check and the script's."""
    assert fallback.CERTIFICATE_MAX_YEARS == server.CERTIFICATE_MAX_YEARS
    start = date(2023, 12, 25)
    for offset in range(0, 800, 3):
        day = start + timedelta(days=offset)
        for months in (-3, 1, 60):
            assert device_shift_months(day, months) == server_shift_months(day, months), (day, months)


@pytest.mark.parametrize(("evidence", "field", "message"), [
    ({"valid_until": "2031-12-01"}, None, None),
    ({"valid_until": "2031-12-02"}, "valid_until", "有効期限（2031年12月2日）が受診日（2026年12月1日）から5年（2031年12月1日）を超えて"),
    ({"valid_until": "2032-06-01", "issued_on": "2026-01-10"}, "valid_until", "交付日（2026年1月10日）から5年（2031年1月10日）"),
    ({"issued_on": "2026-12-02", "valid_until": "2027-12-01"}, "issued_on", "交付日（2026年12月2日）が受診日（2026年12月1日）より後です"),
    ({"valid_until": "2026-11-30"}, "valid_until", "有効期限（2026-11-30）が受診日より前です"),
])
def test_a_certificates_dates_are_checked_before_the_record_is_kept(evidence, field, message):
    """The server refuses these at sync, after the patient has left (docs/rules.md §5): the device says so first."""
    _, errors = build({"method": "qualification_certificate", "insurer_number": "01130012", "number": "1287",
                       "birth_date": "1984-05-12", **evidence})
    if field is None:
        assert errors == []
    else:
        assert [name for name, _ in errors] == [field] and message in errors[0][1]
