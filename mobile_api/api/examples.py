"""Request and response examples for the OpenAPI document (what an integrator copies first).

They are real answers of the sandbox (persona P01-valid-30 on 2026-12-01), not invented shapes:
tests/integration/test_spec_examples.py sends every request example that can be sent on its own and
validates every response example against its schema in the spec. Values an integrator must replace
with their own (institution code, device assertion, tokens, activation code, card certificate and
signature) are named in ``PLACEHOLDERS``.
"""
from __future__ import annotations

from typing import Any

INSTITUTION_CODE = "1312345678"
USER_ID = "adb28533-5684-47cd-8dd4-2da8267928cd"
DEVICE_ID = "3041f88d-2f88-4ccf-9383-2dcdb8b63adc"
CHALLENGE_ID = "990ab108-ba2a-49e2-ab55-346c91aa3c01"
VISIT_ID = "e0196271-518a-426c-baeb-ce8a9966d410"
ACCESS_TOKEN = ("eyJhbGciOiJIUzI1NiIsImtpZCI6InRlc3QxIiwidHlwIjoiSldUIn0.eyJpc3MiOiJtb2JpbGUtb3FzIiwiYXVkIjoibW9iaWxl"
                "LW9xcy1hcGkiLCJzdWIiOiJhZGIyODUzMy01Njg0LTQ3Y2QtOGRkNC0yZGE4MjY3OTI4Y2QiLCJpYXQiOjE3OTYwODMyMDAsImV4cCI6"
                "MTc5NjA4NDEwMCwianRpIjoiNGRiYTEyZWY4NzVmNDI4Nzg5MzM1YmU2MzI5NjE0MWQiLCJrbmQiOiJzdGFmZiIsImlucyI6Ijc0NTI0"
                "NjFhLWQzYzUtNDllYy05NGE0LTJkMmVjMmVhMmM4YSIsInJvbGUiOiJzdGFmZiIsImRldiI6IjMwNDFmODhkLTJmODgtNGNjZi05Mzgz"
                "LTJkY2RiOGI2M2FkYyJ9.SYMmipYGIt_csijruCxtW3A-s7OJXLg3bEP4i_qgfdA")
REFRESH_TOKEN = "Bepa9AR8oEWgvtvQhOM9wT5wNdiEYRusatCuA6lzzYg"
DEVICE_ASSERTION = ("eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiIzMDQxZjg4ZC0yZjg4LTRjY2YtOTM4My0yZGNkYjhiNjNhZGMi"
                    "LCJzdWIiOiIzMDQxZjg4ZC0yZjg4LTRjY2YtOTM4My0yZGNkYjhiNjNhZGMiLCJhdWQiOiJtb2JpbGUtb3FzLWFwaSJ9."
                    "MEUCIQDd3f1x0mJg")
ACTIVATION_CODE = "490866745430"
PUBLIC_KEY_PEM = ("-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE2x9xJ0pVvC0a7m3Hq1sS4mJ8g3q1\n"
                  "Yk3bZ0nQh8x4rW6Jt7v2c9pZ5uL1eA0fB3dG6hK8mN2oP4qR7sT9uV1wXg==\n-----END PUBLIC KEY-----\n")
CERTIFICATE_B64 = "MIIE4jCCA8qgAwIBAgIUYx3v…（カードの利用者証明用電子証明書 DER を base64 で）"
SIGNATURE_B64 = "Qm9yZGVyIHNpZ25hdHVyZSBvdmVyIHRoZSBjaGFsbGVuZ2U…（256バイトの RSA 署名を base64 で）"
VISUAL_PASSWORD = "mokushi-2026"

PLACEHOLDERS = {
    "institution_code": "the institution's own 10-digit code",
    "device_assertion": "an ES256 JWT signed just now by the enrolled device's key (device_agent.device_key)",
    "assertion": "the same, for POST /auth/device-token",
    "refresh_token": "the refresh_token of the last login or refresh",
    "activation_code": "the code of POST /devices (single use, 24 h)",
    "public_key_pem": "the device's own EC P-256 public key",
    "certificate": "the card's user-auth certificate read by the reader",
    "signature": "the card's signature over the challenge of POST /verifications",
    "challenge_id": "the challenge_id of POST /verifications",
    "visual_password": "the institution's visual-mode password (PUT /institution/visual-password)",
}


def _placeholders(*names: str) -> str:
    return "Replace: " + "; ".join(f"`{name}`: {PLACEHOLDERS[name]}" for name in names) + "."


LOGIN_REQUEST: dict[str, Any] = {
    "on_device": {"summary": "A staff member on an enrolled device (the usual case)",
                  "description": _placeholders("institution_code", "device_assertion"),
                  "value": {"institution_code": INSTITUTION_CODE, "login": "nurse1", "password": "staff-password-1",
                            "device_assertion": DEVICE_ASSERTION}},
    "admin": {"summary": "An administrator (no device)", "description": _placeholders("institution_code"),
              "value": {"institution_code": INSTITUTION_CODE, "login": "admin", "password": "admin-password-1"}},
}
TOKEN_PAIR = {"token_type": "Bearer", "access_token": ACCESS_TOKEN, "access_expires_at": "2026-12-01T00:15:00+00:00",
              "refresh_token": REFRESH_TOKEN, "refresh_expires_at": "2026-12-01T12:00:00+00:00", "user_id": USER_ID,
              "device_id": DEVICE_ID}
REFRESH_REQUEST: dict[str, Any] = {"refresh": {"summary": "Rotate (each refresh token works once)",
                                              "description": _placeholders("refresh_token"),
                                              "value": {"refresh_token": REFRESH_TOKEN}}}
REFRESHED_PAIR = {**TOKEN_PAIR, "refresh_token": "C0kU-csFHquTzVvmzsCMGCgzmNv2upyFmmsMwpbf3JI"}
DEVICE_TOKEN_REQUEST: dict[str, Any] = {"device": {"summary": "A device-only token",
                                                   "description": _placeholders("assertion"),
                                                   "value": {"assertion": DEVICE_ASSERTION}}}
DEVICE_TOKEN = {"token_type": "Bearer", "access_token": ACCESS_TOKEN, "access_expires_at": "2026-12-01T00:15:00+00:00",
                "device_id": DEVICE_ID}

DEVICE_CREATE_REQUEST = {"label": "訪問看護タブレット1"}
NEW_DEVICE = {
    "device": {"id": DEVICE_ID, "label": "訪問看護タブレット1", "state": "awaiting_enrolment",
               "activation_expires_at": "2026-12-02T00:00:00+00:00", "enrolled_at": None, "revoked_at": None,
               "created_at": "2026-12-01T00:00:00+00:00"},
    "activation_code": ACTIVATION_CODE,
    "activation_uri": f"mobileoqs://enrol?code={ACTIVATION_CODE}&server=https%3A%2F%2Foqs.example.jp",
    "activation_qr_svg": "<?xml version='1.0' encoding='UTF-8'?>\n<svg width=\"37mm\" height=\"37mm\" "
                         "version=\"1.1\" viewBox=\"0 0 37 37\" xmlns=\"http://www.w3.org/2000/svg\">…</svg>\n"}
ENROL_REQUEST: dict[str, Any] = {"enrol": {"summary": "The device registers its own public key",
                                           "description": _placeholders("activation_code", "public_key_pem"),
                                           "value": {"activation_code": ACTIVATION_CODE,
                                                     "public_key_pem": PUBLIC_KEY_PEM}}}
ENROLLED = {"device_id": DEVICE_ID, "institution_code": INSTITUTION_CODE, "institution_name": "さくら訪問看護ステーション"}

STAFF_CREATE_REQUEST = {"login": "nurse1", "display_name": "看護 花子", "role": "staff",
                        "password": "staff-password-1"}
STAFF = {"id": USER_ID, "login": "nurse1", "display_name": "看護 花子", "role": "staff", "revoked_at": None,
         "created_at": "2026-12-01T00:00:00+00:00"}

START_REQUEST: dict[str, Any] = {
    "pin": {"summary": "② 居宅同意取得型, 暗証番号 (the card signs)",
            "value": {"care_type": 2, "form": "home_consent", "method": "pin", "patient_reference": "P-001"}},
    "visual": {"summary": "② 居宅同意取得型, 目視確認 (the institution's visual-mode password)",
               "value": {"care_type": 2, "form": "home_consent", "method": "visual", "patient_reference": "P-001"}},
}
CHALLENGE = {"challenge_id": CHALLENGE_ID, "challenge": "FVheY5T7Gz+7gw3KuP+ZkElF132mTalzJxpkfQU8vNE=",
             "expires_at": "2026-12-01T00:02:00+00:00", "form": "home_consent", "method": "pin", "care_type": 2}
SUBMIT_REQUEST: dict[str, Any] = {
    "pin": {"summary": "暗証番号: certificate + signature, consent to two kinds",
            "description": _placeholders("challenge_id", "certificate", "signature"),
            "value": {"certificate": CERTIFICATE_B64, "signature": SIGNATURE_B64, "certificate_kind": "card",
                      "consent": {"blanket": False, "kinds": ["medication", "checkups"]}}},
    "visual": {"summary": "目視確認: certificate + the visual-mode password, blanket consent",
               "description": _placeholders("challenge_id", "certificate", "visual_password"),
               "value": {"certificate": CERTIFICATE_B64, "certificate_kind": "card", "visual_password": VISUAL_PASSWORD,
                         "consent": {"blanket": True, "kinds": []}}},
}
_WINDOW_MESSAGE = "同意登録から24時間（2026年12月02日 09:00〈日本時間〉まで）診療／薬剤情報を閲覧できます。"
VISIT = {
    "id": VISIT_ID, "created_at": "2026-12-01T00:00:00+00:00", "care_type": 2, "form": "home_consent",
    "method": "pin", "staff_id": USER_ID, "device_id": DEVICE_ID, "visual_confirmed_by": None,
    "patient_reference": "P-001", "certificate_standing": "valid", "certificate_kind": "card",
    "eligibility_status": 1, "eligibility_label": "有効",
    "qualification": {
        "insurance_card_kind": "被保険者証", "insurer_number": "01130012", "insurer_name": "全国健康保険協会 東京支部",
        "symbol": "44100021", "number": "1287", "branch_number": "00", "relationship": "insured",
        "head_of_household_name": None, "name": "佐藤 健一", "name_kana": "サトウ ケンイチ", "sex": "1",
        "birth_date": "1984-05-12", "address": "東京都世田谷区三軒茶屋九丁目9番9号", "postcode": "154-0024",
        "acquired_on": "2007-04-01", "lost_on": None, "loss_reason": None, "issued_on": "2024-11-01",
        "valid_from": "2007-04-01", "valid_until": None, "copayment_ratio": "030", "preschool": False,
        "elderly_certificate": None, "limit_category": "ウ", "specified_diseases": []},
    "data_withheld": False, "name_has_unencodable": False, "unavailable_kinds": [], "candidates": 0,
    "medical_info_allowed": True,
    "medical_info_window": {"state": "open", "viewable_now": True, "opens_at": "2026-12-01T00:00:00+00:00",
                            "closes_at": "2026-12-02T00:00:00+00:00", "closed_at": None, "how_to_reopen": None,
                            "message": _WINDOW_MESSAGE},
    "consent": {"id": "e719defd-9938-4533-a67c-0f5f9dd2ee82", "blanket": False, "kinds": ["checkups", "medication"],
                "registered_at": "2026-12-01T00:00:00+00:00", "window_closes_at": "2026-12-02T00:00:00+00:00",
                "withdrawn_at": None, "source": "card", "renews_id": None},
    "requery_of": None,
    "care_relationship": {"id": "484f8d2c-04ee-4c2c-914d-3dab64f0cd4f", "opened_by_visit_id": VISIT_ID,
                          "active": True, "ended_at": None, "end_reason": None},
    "notices": [_WINDOW_MESSAGE],
    "certificate_renewal": None,
}
_DRUG = {"dispensed_on": "2026-11-10", "dosage_form": "内服", "days": 28, "quantity": 28, "unit": "錠",
         "prescribed_by": "サンドボックス内科クリニック", "pharmacy": "さくら調剤薬局 サンドボックス店"}
MEDICATION = {
    "visit_id": VISIT_ID, "kind": "medication",
    "records": [{**_DRUG, "drug_name": "アムロジピン錠5mg", "strength": "5mg", "dose": "1回1錠 1日1回 朝食後"},
                {**_DRUG, "drug_name": "ロスバスタチン錠2.5mg", "strength": "2.5mg", "dose": "1回1錠 1日1回 夕食後"},
                {"dispensed_on": "2026-10-02", "dosage_form": "頓服", "drug_name": "ロキソプロフェンナトリウム錠60mg",
                 "strength": "60mg", "dose": "1回1錠 疼痛時（1日3回まで）", "days": 10, "quantity": 10, "unit": "錠",
                 "prescribed_by": "さんどぼっくす整形外科", "pharmacy": "あおば薬局 サンドボックス駅前店"}],
    "window_closes_at": "2026-12-02T00:00:00+00:00", "seconds_left": 86400}
CONSENT_WINDOW_CLOSED = {
    "consent-window-closed": {
        "summary": "24 hours after the consent was registered",
        "value": {"type": "/problems/consent-window-closed",
                  "title": "同意登録後の閲覧期間を過ぎたため閲覧できません。カードで改めて確認と同意を行ってください。",
                  "status": 403,
                  "detail": "同意登録から24時間を過ぎました（2026-12-02T00:00:00+00:00 に閲覧期間が終了）。"
                            "訪問時の再照会（カード不要）で新しい閲覧期間を開けます。",
                  "instance": f"/api/v1/visits/{VISIT_ID}/medical-information/medication",
                  "rule": "window", "window_closed_at": "2026-12-02T00:00:00+00:00", "how_to_reopen": "requery"}}}

INFO_KIND_NOT_APPLICABLE = {
    "info-kind-not-applicable": {
        "summary": "特定健診等情報 of a patient under 40 (docs/rules.md §3.6)",
        "value": {"type": "/problems/info-kind-not-applicable", "title": "この患者さんにはこの種類の情報はありません。",
                  "status": 403,
                  "detail": "特定健診等情報は40歳以上の方が対象です（この方は6歳）。40歳未満の方には特定健診等情報がないため、"
                            "閲覧できません。",
                  "instance": f"/api/v1/visits/{VISIT_ID}/medical-information/checkups",
                  "kind": "checkups", "rule": "checkups-from-40"}}}
CARD_REFUSALS = {
    "card-not-registered": {
        "summary": "A card not registered for insurance use (docs/rules.md §2.6)",
        "value": {"type": "/problems/card-not-registered",
                  "title": "このマイナンバーカードは健康保険証として利用登録されていません。", "status": 422,
                  "detail": "このマイナンバーカードは健康保険証としての利用登録がされていません。このカードでは資格確認できません。"
                            "保険者から交付された資格確認書の提示を受けてください。資格確認書がない場合は、再診なら口頭での確認、"
                            "初診なら被保険者資格申立書で受け付けられます。マイナ保険証として使うには、マイナポータルまたは"
                            "医療機関等のカードリーダーで利用登録ができます。",
                  "instance": f"/api/v1/verifications/{CHALLENGE_ID}/submit", "registration": "not_registered",
                  "guidance": "qualification-certificate",
                  "fallbacks": ["qualification_certificate", "oral_revisit", "declaration"]}},
    "certificate-expired-smartphone": {
        "summary": "A smartphone certificate the day after its expiry: no grace (docs/rules.md §2.4)",
        "value": {"type": "/problems/certificate-expired",
                  "title": "電子証明書の有効期限が切れてから猶予期間を過ぎています。", "status": 422,
                  "detail": "スマートフォンの電子証明書は有効期限（2026-11-30）を過ぎているため使えません。"
                            "有効期限後3か月間の猶予はマイナンバーカード（カード本体）の電子証明書だけが対象です。"
                            "マイナンバーカードで資格確認するか、資格確認書の提示を受けてください。"
                            "スマートフォンの電子証明書は、マイナンバーカードで再発行（更新）できます。",
                  "instance": f"/api/v1/verifications/{CHALLENGE_ID}/submit",
                  "expired_at": "2026-11-30T14:59:59+00:00", "grace_ended_at": "2026-11-30T14:59:59+00:00",
                  "medium": "smartphone", "guidance": "card"}}}
IDENTIFIER_LOOKUP_NOT_ALLOWED = {
    "identifier-lookup-not-allowed": {
        "summary": "A judo practice looking a person up by 被保険者番号等 (docs/rules.md §1.1)",
        "value": {"type": "/problems/identifier-lookup-not-allowed",
                  "title": "この施設種別では、被保険者番号等だけによる資格照会はできません。", "status": 403,
                  "detail": "柔道整復師は、被保険者番号等だけで資格を照会することはできません（資格確認限定型はマイナンバーカードと"
                            "暗証番号または目視確認で本人確認します）。患者さんのマイナンバーカードを読み取り、暗証番号の入力または"
                            "目視確認で資格を確認してください。",
                  "instance": "/api/v1/qualification-checks", "facility_kind": "judo_therapy", "guidance": "card",
                  "allowed_facility_kinds": ["health_check"]}}}

FALLBACK_REQUEST = {
    "care_type": 2, "form": "home_consent", "method": "notice_with_card", "reason": "offline",
    "device_recorded_at": "2026-12-01T10:15:00+09:00", "patient_reference": "P-001",
    "evidence": {"card_presented": True, "insurer_number": "01130012", "symbol": "44100021", "number": "1287",
                 "branch_number": "00", "birth_date": "1984-05-12"}}
FALLBACK_RECORD = {
    "id": "a6808f28-f51b-4db8-a4c0-da710df5e287", "care_type": 2, "form": "home_consent", "patient_reference": "P-001",
    "method": "notice_with_card", "method_label": "資格情報のお知らせ＋マイナンバーカード", "reason": "offline",
    "evidence": FALLBACK_REQUEST["evidence"], "device_recorded_at": "2026-12-01T10:15:00+09:00",
    "received_at": "2026-12-01T01:20:00+00:00", "visit_on": "2026-12-01", "status": "pending_post_hoc",
    "post_hoc_outcome": None, "lookup": None, "confirmed_at": None, "qualification_source": None, "copayment_ratio": "030",
    "copayment_basis": "age", "destroy_after_claim": False, "settled_at": None, "claim_route": None,
    "staff_id": USER_ID, "device_id": DEVICE_ID,
    "claim_guidance": {"route": 1, "route_mark": "①", "source": "evidence",
                       "message": "①患者が提示した書類の現在の被保険者番号等で請求してください。", "remarks": None,
                       "identifiers": {"insurer_number": "01130012", "symbol": "44100021", "number": "1287",
                                       "branch_number": "00"}},
    "notices": ["オンライン資格確認ができなかったため、後で資格を確認してください（事後確認）。",
                "患者負担は3割です（年齢から）。10割を求めないでください。",
                "次回の受診時は、マイナ保険証（マイナンバーカード）または資格確認書をお持ちいただくよう患者に伝えてください。"]}

_DEVICE_TIME_DETAIL = ("記録した時刻（2026年12月01日 10:30）がサーバーの受付時刻（2026年12月01日 10:20）より先になっています。"
                       "端末の日付と時刻を確かめて、正しい受診時刻で記録し直してください。")
FALLBACK_REFUSALS = {
    "device-time-refused": {
        "summary": "The device's clock runs 10 minutes ahead of the server's (docs/rules.md §5)",
        "value": {"type": "/problems/device-time-refused", "title": "端末の記録時刻を受診日として受け付けられません。",
                  "status": 422, "detail": _DEVICE_TIME_DETAIL, "instance": "/api/v1/fallback-records",
                  "errors": [{"pointer": "/device_recorded_at", "detail": _DEVICE_TIME_DETAIL}],
                  "rule": "recorded-in-future", "received_at": "2026-12-01T01:20:00+00:00"}},
    "individual-number": {
        "summary": "free_text holds an individual number (docs/rules.md §7): nothing is stored",
        "value": {"type": "/problems/validation-failed", "title": "入力内容に誤りがあります。", "status": 422,
                  "instance": "/api/v1/fallback-records",
                  "errors": [{"pointer": "/evidence/free_text",
                              "detail": "マイナンバー（個人番号）と思われる12桁の番号は入力できません。医療機関等は"
                                        "マイナンバーを収集・保存できません。該当の番号を削除してください。"}]}},
}

SERVER_TIME = {"description": "The server's clock when it answered (ISO 8601 UTC, milliseconds). The server's clock "
                              "is the authority for every window: devices date their assertions and expiries by it.",
               "schema": {"type": "string", "format": "date-time", "example": "2026-12-04T01:00:00.000Z"}}
SERVER_TIME_HEADER = {"Server-Time": "Server-Time"}  # a response's reference to that component header, by name
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying",
                               "schema": {"type": "integer", "minimum": 0}}}
