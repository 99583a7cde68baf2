"""Disaster-time viewing without the card (docs/rules.md §3.5, seed 004): only inside a declared period and area,
for medication and checkups, after oral consent recorded by staff, under the usual window; every view audited."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

from mobile_api.domain.japanese_dates import JST
from mobile_api.services import disaster
from tests.support.harness import ADMIN_PASSWORD

P01 = {"insurer_number": "01130012", "symbol": "44100021", "number": "1287", "branch_number": "00",
       "birth_date": "1984-05-12"}
# T0 is 2026-12-01 09:00 JST; the disaster covers 2026-12-01 .. 2026-12-03 in Tokyo (13) and Ishikawa (17).
STARTS, ENDS = date(2026, 12, 1), date(2026, 12, 3)


def _declare(h, prefectures=("13", "17")) -> str:
    row = disaster.declare(h.rt, name="テスト地震", starts_on=STARTS, ends_on=ENDS, prefectures=list(prefectures),
                           declared_by="テスト")
    return row.id


def _lookup(h, token: str, kinds=("medication", "checkups"), oral_consent: bool = True, key: str | None = None,
            **ids):
    body = {**P01, **ids, "kinds": list(kinds), "oral_consent": oral_consent, "care_type": 1}
    return h.client.post("/api/v1/disaster/lookups", json=body, headers={
        "Authorization": f"Bearer {token}", "Idempotency-Key": key or uuid.uuid4().hex})


def _audit(h, tenant, action: str) -> list[dict]:
    login = h.client.post("/api/v1/auth/login", json={"institution_code": tenant.code, "login": "admin",
                                                       "password": ADMIN_PASSWORD})
    r = h.client.get(f"/api/v1/audit-events?action={action}", headers=tenant.auth(login.get_json()["access_token"]))
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def _at_jst(h, day: date, hour: int, minute: int = 0, second: int = 0) -> None:
    h.clock.set(datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=JST))


def test_inside_the_period_and_area_staff_find_the_patient_and_view_medication_with_oral_consent(h):
    declaration_id = _declare(h)
    tenant = h.institution()  # code 13…: Tokyo
    nurse = tenant.nurse()
    r = _lookup(h, nurse)
    assert r.status_code == 201, r.get_json()
    visit = r.get_json()
    assert visit["method"] == "disaster" and visit["certificate_standing"] == "not_presented"
    assert visit["eligibility_status"] == 1 and visit["qualification"]["number"] == "1287"
    assert visit["consent"]["source"] == "disaster_oral"
    assert sorted(visit["consent"]["kinds"]) == ["checkups", "medication"]
    assert datetime.fromisoformat(visit["consent"]["window_closes_at"]) == h.clock() + timedelta(hours=24)

    shown = h.medical(nurse, visit["id"], "medication")
    assert shown.status_code == 200 and shown.get_json()["records"]
    assert h.medical(nurse, visit["id"], "clinical").get_json()["rule"] == "consent-kind"

    (looked_up,) = _audit(h, tenant, "disaster.lookup")
    assert looked_up["target_id"] == visit["id"] and looked_up["detail"]["declaration_id"] == declaration_id
    assert looked_up["detail"]["consent_recorded_by"] == looked_up["user_id"] is not None
    views = [e for e in _audit(h, tenant, "medical_info.view") if e["target_id"] == visit["id"]]
    assert sorted((e["outcome"], e["detail"]["kind"]) for e in views) == [("ok", "medication"),
                                                                          ("refused", "clinical")]


def test_the_window_is_24_hours_and_never_outlasts_the_declared_period(h):
    _declare(h)
    tenant = h.institution()
    nurse = tenant.nurse()
    visit = _lookup(h, nurse).get_json()  # 2026-12-01 09:00 JST: 24 h ends inside the period
    h.clock.advance(hours=23, minutes=59, seconds=59)
    nurse = tenant.login_on_device("nurse1", tenant.devices[0])
    assert h.medical(nurse, visit["id"], "checkups").status_code == 200
    h.clock.advance(seconds=1)
    assert h.medical(nurse, visit["id"], "checkups").get_json()["type"] == "/problems/consent-window-closed"

    _at_jst(h, ENDS, 20)  # the last day, 20:00 JST: the window ends at midnight with the period, not 24 h later
    nurse = tenant.login_on_device("nurse1", tenant.devices[0])
    late = _lookup(h, nurse).get_json()
    assert datetime.fromisoformat(late["consent"]["window_closes_at"]) == datetime(2026, 12, 4, tzinfo=JST)
    _at_jst(h, ENDS, 23, 59, 59)
    nurse = tenant.login_on_device("nurse1", tenant.devices[0])
    assert h.medical(nurse, late["id"], "medication").status_code == 200
    h.clock.advance(seconds=1)
    assert h.medical(nurse, late["id"], "medication").status_code == 403


def test_outside_the_period_it_is_refused_at_both_boundaries_by_the_servers_jst_day(h):
    _declare(h)
    _at_jst(h, STARTS - timedelta(days=1), 23, 59, 59)  # the evening before the first day
    tenant = h.institution()
    nurse = tenant.nurse()
    before = _lookup(h, nurse)
    assert before.status_code == 403 and before.mimetype == "application/problem+json"
    assert before.get_json()["type"] == "/problems/disaster-viewing-not-allowed"
    assert before.get_json()["rule"] == "period" and "宣言期間外" in before.get_json()["detail"]
    h.clock.advance(seconds=1)  # 00:00 JST on the first day
    assert _lookup(h, nurse).status_code == 201
    _at_jst(h, ENDS, 23, 59, 59)
    nurse = tenant.login_on_device("nurse1", tenant.devices[0])
    assert _lookup(h, nurse).status_code == 201
    h.clock.advance(seconds=1)  # the day after the last day
    after = _lookup(h, nurse)
    assert after.status_code == 403 and after.get_json()["rule"] == "period"
    refused = [e for e in _audit(h, tenant, "disaster.lookup") if e["outcome"] == "refused"]
    assert [e["detail"]["rule"] for e in refused] == ["period", "period"]


def test_outside_the_area_or_without_any_declaration_it_is_refused(h):
    osaka = h.institution(code="2710000001")
    nurse = osaka.nurse()
    none_declared = _lookup(h, nurse)
    assert none_declared.status_code == 403 and none_declared.get_json()["rule"] == "area"
    _declare(h, prefectures=("13",))
    refused = _lookup(h, nurse)
    assert refused.status_code == 403 and refused.get_json()["rule"] == "area"
    assert "27" in refused.get_json()["detail"] and "マイナンバーカード" in refused.get_json()["detail"]
    listed = h.client.get("/api/v1/disaster/declarations", headers={"Authorization": f"Bearer {nurse}"}).get_json()
    assert [(d["in_force"], d["covers_institution"], d["prefectures"]) for d in listed] == [(True, False, ["13"])]


def test_other_kinds_are_refused_and_oral_consent_is_required(h):
    _declare(h)
    tenant = h.institution()
    nurse = tenant.nurse()
    clinical = _lookup(h, nurse, kinds=("medication", "clinical"))
    assert clinical.status_code == 403 and clinical.get_json()["rule"] == "kind"
    assert "診療情報" in clinical.get_json()["detail"]
    no_consent = _lookup(h, nurse, oral_consent=False)
    assert no_consent.status_code == 422 and no_consent.get_json()["errors"][0]["pointer"] == "/oral_consent"
    assert _audit(h, tenant, "disaster.lookup") and not any(
        e["outcome"] == "ok" for e in _audit(h, tenant, "disaster.lookup"))
    # a patient OQS does not know gets a visit with no window: nothing to view
    unknown = _lookup(h, nurse, number="9999").get_json()
    assert unknown["eligibility_status"] == 4 and unknown["consent"] is None
    assert h.medical(nurse, unknown["id"], "medication").status_code == 403


def test_the_sandbox_admin_command_declares_and_lists_disasters(h):
    runner = h.app.test_cli_runner()
    made = runner.invoke(args=["sandbox", "declare-disaster", "--name", "令和8年12月能登地方の地震", "--from",
                               "2026-12-01", "--to", "2026-12-07", "--prefecture", "17", "--prefecture", "13"])
    assert made.exit_code == 0, made.output
    assert "災害を宣言しました" in made.output and "13・17" in made.output
    listed = runner.invoke(args=["sandbox", "list-disasters"])
    assert "2026-12-01〜2026-12-07" in listed.output and "令和8年12月能登地方の地震" in listed.output
    wrong = runner.invoke(args=["sandbox", "declare-disaster", "--name", "x", "--from", "2026-12-01", "--to",
                                "2026-12-07", "--prefecture", "48"])
    assert wrong.exit_code == 1 and "都道府県番号" in wrong.output and "Traceback" not in wrong.output
    backwards = runner.invoke(args=["sandbox", "declare-disaster", "--name", "x", "--from", "2026-12-07", "--to",
                                    "2026-12-01", "--prefecture", "13"])
    assert backwards.exit_code == 1 and "終了日" in backwards.output
    tenant = h.institution()
    nurse = tenant.nurse()
    assert _lookup(h, nurse).status_code == 201  # the declared disaster covers Tokyo today


def test_a_retry_with_the_same_key_returns_the_same_visit_and_records_one_consent(h):
    _declare(h)
    tenant = h.institution()
    nurse = tenant.nurse()
    key = uuid.uuid4().hex
    one, two = _lookup(h, nurse, key=key), _lookup(h, nurse, key=key)
    assert one.status_code == two.status_code == 201
    assert one.get_json()["id"] == two.get_json()["id"]
    assert one.get_json()["consent"]["id"] == two.get_json()["consent"]["id"]
    assert len(_audit(h, tenant, "disaster.lookup")) == 1
    reused = _lookup(h, nurse, key=key, kinds=("medication",))  # the same key with another body
    assert reused.status_code == 422 and reused.get_json()["type"] == "/problems/idempotency-key-reused"


def test_the_claims_csv_names_the_disaster_method_in_japanese(h):
    _declare(h)
    tenant = h.institution()
    visit = _lookup(h, tenant.nurse()).get_json()
    login = h.client.post("/api/v1/auth/login", json={"institution_code": tenant.code, "login": "admin",
                                                       "password": ADMIN_PASSWORD})
    r = h.client.get("/api/v1/claims/csv?month=2026-12", headers=tenant.auth(login.get_json()["access_token"]))
    assert r.status_code == 200, r.get_data(as_text=True)
    (line,) = [line for line in r.get_data(as_text=True).splitlines() if visit["id"] in line]
    assert ",災害時の閲覧," in line and ",disaster," not in line
