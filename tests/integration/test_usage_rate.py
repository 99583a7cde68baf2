"""The usage rate (マイナ保険証利用率 = マイナ保険証利用件数 ÷ オンライン資格確認利用件数, seed 000; docs/rules.md §4, the usage rate):
per institution and month in Japan, with the counts behind it, in the API, as CSV and in the console."""
from __future__ import annotations

import csv
import io
import uuid
from datetime import date, datetime

import pytest

from mobile_api.domain.japanese_dates import JST
from mobile_api.services import disaster
from tests.integration.test_health_check_api import Integrator
from tests.support.harness import ADMIN_PASSWORD

P = "P01-valid-30"
P01 = {"insurer_number": "01130012", "symbol": "44100021", "number": "1287", "branch_number": "00",
       "birth_date": "1984-05-12"}
LOST = {"insurer_number": "06135107", "symbol": "12", "number": "3456", "birth_date": "1991-07-03"}


@pytest.fixture
def app(app):  # type: ignore[no-untyped-def]
    yield app
    app.extensions["mobile_api"].jobs.stop()


def _rate(h, token: str, month: str):
    return h.client.get(f"/api/v1/usage-rate?month={month}", headers={"Authorization": f"Bearer {token}"})


def _fallback(h, token: str, evidence: dict, patient: str):
    return h.client.post("/api/v1/fallback-records", json={
        "care_type": 2, "form": "home_consent", "method": "notice_with_card", "reason": "system_down",
        "device_recorded_at": h.clock().isoformat(), "patient_reference": patient,
        "evidence": {**evidence, "card_presented": True}},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex})


def test_a_month_of_card_fallback_requery_and_disaster_confirmations(h):
    h.clock.set(datetime(2026, 11, 30, 23, 59, 59, tzinfo=JST))  # the last second of November in Japan
    tenant = h.institution()
    nurse = tenant.nurse()
    assert h.verify_pin(nurse, h.card(P), consent={"kinds": ["medication"]}).status_code == 201
    h.clock.advance(seconds=1)  # December from here
    nurse = tenant.login_on_device("nurse1", tenant.devices[0])
    first = h.verify_pin(nurse, h.card(P), consent={"kinds": ["medication"]}).get_json()
    assert h.verify_pin(nurse, h.card(P), care_type=1).status_code == 201  # no consent asked: still a card use
    requery = h.client.post(f"/api/v1/visits/{first['id']}/requery", json={}, headers={
        "Authorization": f"Bearer {nurse}", "Idempotency-Key": uuid.uuid4().hex})
    assert requery.status_code == 201, requery.get_json()
    disaster.declare(h.rt, name="テスト地震", starts_on=date(2026, 12, 1), ends_on=date(2026, 12, 2),
                     prefectures=["13"], declared_by="テスト")
    looked_up = h.client.post("/api/v1/disaster/lookups", json={**P01, "kinds": ["medication"], "oral_consent": True,
                                                                "care_type": 1},
                              headers={"Authorization": f"Bearer {nurse}", "Idempotency-Key": uuid.uuid4().hex})
    assert looked_up.status_code == 201, looked_up.get_json()
    assert _fallback(h, nurse, P01, "P-001").status_code == 201  # confirmed online post hoc: counted
    assert _fallback(h, nurse, LOST, "P-002").status_code == 201  # OQS says lost: never confirmed, not counted
    assert h.app.test_cli_runner().invoke(args=["fallback", "post-hoc"]).exit_code == 0

    r = _rate(h, nurse, "2026-12")
    assert r.status_code == 200, r.get_json()
    december = r.get_json()
    assert december["counts"] == {"card_visits": 2, "card_checks": 0, "requeries": 1, "disaster_lookups": 1,
                                  "identifier_checks": 0, "fallback_confirmed": 1}
    assert (december["card_uses"], december["online_confirmations"]) == (2, 5)
    assert december["rate"] == pytest.approx(0.4) and december["rate_percent"] == 40.0
    assert december["institution_code"] == tenant.code and december["requery_is_card"] is False
    november = _rate(h, nurse, "2026-11").get_json()
    assert (november["card_uses"], november["online_confirmations"], november["rate"]) == (1, 1, 1.0)

    got = h.client.get("/api/v1/usage-rate/csv?month=2026-12", headers={"Authorization": f"Bearer {nurse}"})
    assert got.status_code == 200 and got.headers["Content-Type"].startswith("text/csv")
    header, row = list(csv.reader(io.StringIO(got.data.decode("utf-8-sig"))))
    assert dict(zip(header, row, strict=True)) | {"医療機関等コード": ""} == {
        "月": "2026-12", "医療機関等コード": "", "マイナ保険証利用件数": "2", "オンライン資格確認利用件数": "5",
        "利用率": "40.00%", "カード（暗証番号・目視）": "2", "カード（機器での照会）": "0", "再照会": "1",
        "災害時の照会": "1", "被保険者番号等での照会": "0", "代替確認のオンライン確認": "1"}


def test_a_month_without_confirmations_has_no_rate_rather_than_a_division_by_zero(h):
    tenant = h.institution()
    nurse = tenant.nurse()
    empty = _rate(h, nurse, "2026-10")
    assert empty.status_code == 200
    assert empty.get_json() | {"institution_code": None} == {
        "month": "2026-10", "institution_code": None, "card_uses": 0, "online_confirmations": 0, "rate": None,
        "rate_percent": None, "requery_is_card": False,
        "counts": {"card_visits": 0, "card_checks": 0, "requeries": 0, "disaster_lookups": 0,
                   "identifier_checks": 0, "fallback_confirmed": 0}}
    row = list(csv.reader(io.StringIO(h.client.get("/api/v1/usage-rate/csv?month=2026-10", headers={
        "Authorization": f"Bearer {nurse}"}).data.decode("utf-8-sig"))))[1]
    assert row[2:5] == ["0", "0", "—"]
    bad = _rate(h, nurse, "2026-13")
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"


def test_identifier_lookups_of_a_health_check_institution_count_only_as_online_confirmations(h):
    integrator = Integrator(h)
    for _ in range(3):
        r = h.client.post("/api/v1/qualification-checks", json=P01, headers=integrator.auth())
        assert r.status_code == 200, r.get_json()
    h.client.post("/api/v1/qualification-checks", json={**P01, "insurer_number": "01130013"},
                  headers=integrator.auth())  # a wrong check digit: refused before OQS, not counted
    h.clock.advance(days=31)  # January: December's figures stay as they were
    rate = _rate(h, _admin(h, integrator.tenant), "2026-12").get_json()
    assert rate["counts"]["identifier_checks"] == 3 and rate["card_uses"] == 0
    assert (rate["online_confirmations"], rate["rate"]) == (3, 0.0)


def _admin(h, tenant) -> str:
    r = h.client.post("/api/v1/auth/login", json={"institution_code": tenant.code, "login": "admin",
                                                   "password": ADMIN_PASSWORD})
    return r.get_json()["access_token"]


def test_requery_counts_as_a_card_use_when_the_setting_says_so(h):
    h.rt.rules = type(h.rt.rules)(**{**vars(h.rt.rules), "usage_rate_requery_is_card": True})
    tenant = h.institution()
    nurse = tenant.nurse()
    first = h.verify_pin(nurse, h.card(P), consent={"kinds": ["medication"]}).get_json()
    h.clock.advance(hours=1)
    nurse = tenant.login_on_device("nurse1", tenant.devices[0])
    assert h.client.post(f"/api/v1/visits/{first['id']}/requery", json={}, headers={
        "Authorization": f"Bearer {nurse}", "Idempotency-Key": uuid.uuid4().hex}).status_code == 201
    rate = _rate(h, nurse, "2026-12").get_json()
    assert (rate["card_uses"], rate["online_confirmations"], rate["requery_is_card"]) == (2, 2, True)
