"""Continuing home care: re-query without the card (再照会), discharge, withdrawal, idle limit, and a visit
whose window has closed telling the truth (docs/rules.md §3.2, §3.3)."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from tests.support.harness import ADMIN_PASSWORD

P = "P01-valid-30"


def _requery(h, token: str, visit_id: str, kinds: list[str] | None = None, key: str | None = None):
    body = {} if kinds is None else {"kinds": kinds}
    return h.client.post(f"/api/v1/visits/{visit_id}/requery", json=body, headers={
        "Authorization": f"Bearer {token}", "Idempotency-Key": key or uuid.uuid4().hex})


def _card_visit(h, kinds=("medication", "clinical"), care_type: int = 2):
    tenant = h.institution()
    nurse = tenant.nurse()
    r = h.verify_pin(nurse, h.card(P), consent={"kinds": list(kinds)}, care_type=care_type)
    assert r.status_code == 201, r.get_json()
    return tenant, nurse, r.get_json()


def _relogin(tenant) -> str:
    return tenant.login_on_device("nurse1", tenant.devices[0])


def _audit(h, tenant, action: str) -> list[dict]:
    """The institution's audit events of one kind, read by its admin (signing in again: the clock moved)."""
    login = h.client.post("/api/v1/auth/login", json={"institution_code": tenant.code, "login": "admin",
                                                       "password": ADMIN_PASSWORD})
    r = h.client.get(f"/api/v1/audit-events?action={action}", headers=tenant.auth(login.get_json()["access_token"]))
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_requery_inside_the_relationship_opens_a_fresh_window_for_the_same_kinds(h):
    tenant, nurse, first = _card_visit(h)
    assert first["care_relationship"]["active"] and first["care_relationship"]["opened_by_visit_id"] == first["id"]
    h.clock.advance(days=7)
    nurse = _relogin(tenant)
    r = _requery(h, nurse, first["id"])
    assert r.status_code == 201, r.get_json()
    second = r.get_json()
    assert second["method"] == "requery" and second["requery_of"] == first["id"]
    assert second["certificate_standing"] == "not_presented" and second["eligibility_status"] == 1
    assert second["qualification"]["insurer_number"] == first["qualification"]["insurer_number"]
    consent = second["consent"]
    assert consent["source"] == "requery" and consent["renews_id"] == first["consent"]["id"]
    assert sorted(consent["kinds"]) == ["clinical", "medication"]
    assert datetime.fromisoformat(consent["window_closes_at"]) == h.clock() + timedelta(hours=24)
    assert second["medical_info_allowed"] is True and second["medical_info_window"]["state"] == "open"

    assert h.medical(nurse, second["id"], "medication").status_code == 200
    assert h.medical(nurse, second["id"], "surgery").get_json()["type"] == "/problems/no-consent-for-kind"
    h.clock.advance(hours=23, minutes=59, seconds=59)
    nurse = _relogin(tenant)
    assert h.medical(nurse, second["id"], "clinical").status_code == 200
    h.clock.advance(seconds=1)
    assert h.medical(nurse, second["id"], "clinical").get_json()["type"] == "/problems/consent-window-closed"

    events = _audit(h, tenant, "visit.requery")
    assert [(e["target_id"], e["detail"]["opened_by_visit_id"]) for e in events] == [(second["id"], first["id"])]
    views = _audit(h, tenant, "medical_info.view")
    assert {e["detail"].get("requery_of") for e in views if e["target_id"] == second["id"]} == {first["id"]}


def test_requery_never_widens_the_kinds_but_may_narrow_them(h):
    tenant, nurse, first = _card_visit(h, kinds=("medication",))
    widened = _requery(h, nurse, first["id"], ["medication", "surgery"])
    assert widened.status_code == 422
    problem = widened.get_json()
    assert problem["type"] == "/problems/consent-would-widen" and "手術情報" in problem["detail"]
    assert problem["consented_kinds"] == ["medication"]

    tenant2, nurse2, first2 = _card_visit(h, kinds=("medication", "clinical"))
    narrowed = _requery(h, nurse2, first2["id"], ["medication"]).get_json()
    assert narrowed["consent"]["kinds"] == ["medication"]
    assert h.medical(nurse2, narrowed["id"], "clinical").get_json()["rule"] == "consent-kind"
    # a re-query of a re-query is still capped by the card-verified visit, not by the narrower one
    again = _requery(h, nurse2, narrowed["id"]).get_json()
    assert sorted(again["consent"]["kinds"]) == ["clinical", "medication"] and again["requery_of"] == first2["id"]


def test_requery_retry_with_the_same_key_returns_the_same_visit(h):
    tenant, nurse, first = _card_visit(h)
    key = uuid.uuid4().hex
    one, two = _requery(h, nurse, first["id"], key=key), _requery(h, nurse, first["id"], key=key)
    assert one.status_code == two.status_code == 201
    assert one.get_json()["id"] == two.get_json()["id"]


def test_requery_after_discharge_is_refused_and_says_a_card_is_needed(h):
    tenant, nurse, first = _card_visit(h)
    rel_id = first["care_relationship"]["id"]
    r = h.client.post(f"/api/v1/care-relationships/{rel_id}/discharge", json={"reason": "入院のため終了"},
                      headers={"Authorization": f"Bearer {nurse}"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["end_reason"] == "discharged" and r.get_json()["active"] is False
    refused = _requery(h, nurse, first["id"])
    assert refused.status_code == 403 and refused.mimetype == "application/problem+json"
    problem = refused.get_json()
    assert problem["type"] == "/problems/requery-not-allowed" and problem["rule"] == "discharged"
    assert "マイナンバーカード" in problem["detail"] and problem["how_to_reopen"] == "new-card-verification"
    again = h.client.post(f"/api/v1/care-relationships/{rel_id}/discharge", json={"reason": "二重"},
                          headers={"Authorization": f"Bearer {nurse}"})
    assert again.status_code == 409
    # a new card verification opens a new relationship, and re-query works again
    card = h.verify_pin(nurse, h.card(P), consent={"kinds": ["medication"]}).get_json()
    assert card["care_relationship"]["id"] != rel_id
    assert _requery(h, nurse, first["id"]).status_code == 201


def test_withdrawal_by_staff_closes_every_window_at_once_and_ends_requery(h):
    tenant, nurse, first = _card_visit(h)
    second = _requery(h, nurse, first["id"]).get_json()
    assert h.medical(nurse, first["id"]).status_code == 200
    r = h.client.post(f"/api/v1/visits/{second['id']}/consent-withdrawal", json={"note": "口頭で申し出"},
                      headers={"Authorization": f"Bearer {nurse}"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json() | {"withdrawn_at": None} == {"withdrawn_at": None, "consents_withdrawn": 2,
                                                      "relationships_ended": 1, "via": "staff_on_request"}
    h.clock.advance(seconds=1)
    for visit_id in (first["id"], second["id"]):
        refused = h.medical(nurse, visit_id)
        assert refused.status_code == 403
        assert refused.get_json()["type"] == "/problems/consent-withdrawn"
        assert "取り消しました" in refused.get_json()["detail"]
    problem = _requery(h, nurse, first["id"]).get_json()
    assert problem["type"] == "/problems/requery-not-allowed" and problem["rule"] == "withdrawn"
    shown = h.client.get(f"/api/v1/visits/{first['id']}", headers={"Authorization": f"Bearer {nurse}"}).get_json()
    assert shown["medical_info_allowed"] is False
    assert shown["medical_info_window"]["state"] == "withdrawn"
    assert shown["medical_info_window"]["how_to_reopen"] == "new-card-verification"
    (event,) = _audit(h, tenant, "consent.withdraw")
    assert event["detail"]["via"] == "staff_on_request" and event["user_id"]


def test_requery_after_the_idle_period_is_refused(h):
    tenant, nurse, first = _card_visit(h)
    h.clock.advance(days=89, hours=23)
    nurse = _relogin(tenant)
    second = _requery(h, nurse, first["id"])
    assert second.status_code == 201  # the re-query is a visit: the idle period starts again from it
    h.clock.advance(days=90)
    nurse = _relogin(tenant)
    problem = _requery(h, nurse, first["id"]).get_json()
    assert problem["type"] == "/problems/requery-not-allowed" and problem["rule"] == "idle"
    assert "90日間" in problem["detail"]


def test_only_a_card_verified_home_visit_opens_a_relationship(h):
    tenant, nurse, outpatient = _card_visit(h, care_type=1)
    assert outpatient["care_relationship"] is None
    problem = _requery(h, nurse, outpatient["id"]).get_json()
    assert problem["type"] == "/problems/requery-not-allowed" and problem["rule"] == "no-relationship"


def test_a_visit_whose_window_has_closed_reports_it_closed(h):
    tenant, nurse, first = _card_visit(h, care_type=1)
    assert first["medical_info_allowed"] is True and "閲覧できます" in " ".join(first["notices"])
    h.clock.advance(hours=24)
    nurse = _relogin(tenant)
    shown = h.client.get(f"/api/v1/visits/{first['id']}", headers={"Authorization": f"Bearer {nurse}"}).get_json()
    assert shown["medical_info_allowed"] is False
    window = shown["medical_info_window"]
    assert window["state"] == "closed" and window["viewable_now"] is False
    assert datetime.fromisoformat(window["closed_at"]) == datetime.fromisoformat(first["consent"]["window_closes_at"])
    assert window["how_to_reopen"] == "new-card-verification"
    notes = " ".join(shown["notices"])
    assert "までの" not in notes and "閲覧できます" not in notes and "終了しました" in notes
    listed = h.client.get("/api/v1/visits", headers={"Authorization": f"Bearer {nurse}"}).get_json()
    assert listed[0]["medical_info_allowed"] is False


def test_another_institution_cannot_requery_discharge_or_withdraw(h):
    tenant, nurse, first = _card_visit(h)
    other = h.institution().nurse("nurse9")
    assert _requery(h, other, first["id"]).status_code == 404
    assert h.client.post(f"/api/v1/care-relationships/{first['care_relationship']['id']}/discharge",
                         json={"reason": "x"}, headers={"Authorization": f"Bearer {other}"}).status_code == 404
    assert h.client.post(f"/api/v1/visits/{first['id']}/consent-withdrawal", json={},
                         headers={"Authorization": f"Bearer {other}"}).status_code == 404
    assert h.medical(nurse, first["id"]).status_code == 200
