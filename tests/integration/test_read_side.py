"""The read side (queries/, docs/architecture.md "Read side"): a page of visits, of care relationships, of
consents or of fallback records is one select however long the page is (not one per row), on both databases, and what it returns is
the same visit the API answered when it was made."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from mobile_api.services import fallback as fallback_service
from tests.integration.test_fallback_follow_up import DECLARATION, P01
from tests.integration.test_statement_budget import statements
from tests.support.harness import Harness

P = "P01-valid-30"


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _visit(h: Harness, nurse: str, persona: str, *, patient_reference: str | None = None,
           consent: dict[str, Any] | None = None) -> dict[str, Any]:
    started = h.client.post("/api/v1/verifications", headers=_auth(nurse), json={
        "care_type": 2, "form": "home_consent", "method": "pin", "patient_reference": patient_reference})
    assert started.status_code == 201, started.get_json()
    challenge = started.get_json()
    r = h.submit(nurse, challenge["challenge_id"], h.pin_body(h.card(persona), challenge["challenge"], consent))
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def _page_reads(seen: list[str]) -> list[str]:
    """Every SELECT but authentication's (the caller's user and device, test_statement_budget.py)."""
    return [s for s in seen if s.startswith("SELECT") and not s.startswith("SELECT users.")]


def test_a_page_of_visits_is_one_select_with_their_consents_and_relationships(h: Harness) -> None:
    nurse = h.institution().nurse()
    made = [_visit(h, nurse, persona, consent={"kinds": ["medication"]})
            for persona in (P, "P08-elderly-20", P, "P08-elderly-20")]
    with statements(h) as seen:
        r = h.client.get("/api/v1/visits?limit=10", headers=_auth(nurse))
    assert r.status_code == 200, r.get_json()
    listed = r.get_json()
    assert len(listed) == 4 and all(v["consent"] and v["care_relationship"] for v in listed)
    (page,) = _page_reads(seen)  # one statement for the page, not one per visit
    assert " FROM visits" in page and "JOIN consents" in page and "JOIN care_relationships" in page
    # the page says what the verification answered, window and notices included (same clock)
    assert {v["id"]: v for v in listed} == {v["id"]: v for v in made}


def test_a_visit_is_read_in_one_select_and_another_institutions_answers_404(h: Harness) -> None:
    nurse = h.institution().nurse()
    made = _visit(h, nurse, P, consent={"kinds": ["medication"]})
    with statements(h) as seen:
        r = h.client.get(f"/api/v1/visits/{made['id']}", headers=_auth(nurse))
    assert r.status_code == 200 and r.get_json() == made
    (read,) = _page_reads(seen)
    assert " FROM visits" in read and "JOIN consents" in read
    other = h.institution().nurse("other")
    assert h.client.get(f"/api/v1/visits/{made['id']}", headers=_auth(other)).status_code == 404


def test_visits_are_listed_newest_first_for_one_patient_and_the_read_is_audited_with_the_ids(h: Harness) -> None:
    tenant = h.institution()
    nurse = tenant.nurse()
    older = _visit(h, nurse, P, patient_reference="P-1")
    h.clock.advance(minutes=5)
    _visit(h, nurse, P, patient_reference="P-2")
    h.clock.advance(minutes=5)
    newer = _visit(h, nurse, P, patient_reference="P-1")
    r = h.client.get("/api/v1/visits?patient_reference=P-1", headers=_auth(nurse))
    assert [v["id"] for v in r.get_json()] == [newer["id"], older["id"]]
    second = h.client.get("/api/v1/visits?limit=1&offset=1", headers=_auth(nurse)).get_json()
    assert [v["patient_reference"] for v in second] == ["P-2"]
    events = h.client.get("/api/v1/audit-events", query_string={"action": "visit.list"},
                          headers=tenant.auth()).get_json()  # newest first
    assert [e["detail"]["ids"] for e in events] == [[second[0]["id"]], [newer["id"], older["id"]]]


def test_a_page_of_care_relationships_is_one_select(h: Harness) -> None:
    nurse = h.institution().nurse()
    for persona in (P, "P08-elderly-20", "P02-lost"):
        _visit(h, nurse, persona, consent={"kinds": ["medication"]})
    with statements(h) as seen:
        r = h.client.get("/api/v1/care-relationships", headers=_auth(nurse))
    assert r.status_code == 200 and len(r.get_json()) >= 2
    (page,) = _page_reads(seen)
    assert " FROM care_relationships" in page


def test_a_page_of_consents_is_one_select_with_each_patients_name(h: Harness) -> None:
    nurse = h.institution().nurse()
    for persona in (P, "P08-elderly-20", P):
        _visit(h, nurse, persona, consent={"kinds": ["medication"]})
    with statements(h) as seen:
        r = h.client.get("/api/v1/consents", headers=_auth(nurse))
    assert r.status_code == 200, r.get_json()
    listed = r.get_json()
    assert len(listed) == 3 and all(c["patient"]["name_kana"] for c in listed)
    assert all(c["window"]["state"] == "open" for c in listed)
    (page,) = _page_reads(seen)  # the names through a join and a subquery, not a read per consent
    assert page.startswith("SELECT consents.") and "JOIN visits" in page and "FROM patient_sessions" in page


def _fallback(h: Harness, nurse: str, method: str, evidence: dict[str, Any], *, patient: str,
              when: datetime) -> dict[str, Any]:
    r = h.client.post("/api/v1/fallback-records", headers={**_auth(nurse), "Idempotency-Key": str(uuid.uuid4())},
                      json={"care_type": 2, "form": "home_consent", "method": method, "reason": "offline",
                            "device_recorded_at": when.isoformat(), "patient_reference": patient,
                            "evidence": evidence})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_a_page_of_fallback_records_is_one_select_with_the_earlier_rows_their_claim_guidance_reads(
        h: Harness) -> None:
    """Each record's guidance reads an earlier row: the visit an oral check relied on (①), the record confirmed
    post hoc it relied on (①), the patient's earlier visit with a lost qualification (②). The page reads them
    in its one select, and says what each record's own read says."""
    nurse = h.institution().nurse()
    yesterday = h.clock() - timedelta(hours=20)
    notice = _fallback(h, nurse, "notice_with_card", {"card_presented": True, **P01}, patient="P-3",
                       when=yesterday)
    assert fallback_service.confirm_pending(h.rt).confirmed == [notice["id"]]
    _visit(h, nurse, P, patient_reference="P-1")
    _visit(h, nurse, "P02-lost", patient_reference="P-2")
    h.clock.advance(minutes=1)
    made = [_fallback(h, nurse, "oral_revisit", {"nothing_changed": True}, patient="P-1", when=h.clock()),
            _fallback(h, nurse, "oral_revisit", {"nothing_changed": True}, patient="P-3", when=h.clock()),
            _fallback(h, nurse, "declaration", {"card_presented": True, "declaration": DECLARATION}, patient="P-2",
                      when=h.clock())]
    assert [(r["claim_guidance"]["route"], r["claim_guidance"]["source"]) for r in made] == [
        (1, "past_visit"), (1, "past_visit"), (2, "past_visit")]

    with statements(h) as seen:
        r = h.client.get("/api/v1/fallback-records?limit=10", headers=_auth(nurse))
    assert r.status_code == 200, r.get_json()
    (page,) = _page_reads(seen)  # one statement for the page, not one per record
    assert " FROM fallback_records" in page and " FROM visits" in page
    one_by_one = [h.client.get(f"/api/v1/fallback-records/{record['id']}", headers=_auth(nurse)).get_json()
                  for record in r.get_json()]
    assert r.get_json() == one_by_one  # the page's guidance is each record's own, ①②③ alike
    listed = [record["id"] for record in r.get_json()]  # newest received first (the three at one instant)
    assert set(listed[:3]) == {m["id"] for m in made} and listed[3:] == [notice["id"]]

    with statements(h) as seen:  # the month's claims (the console's claims page and CSV): the same one select
        claims = h.client.get("/api/v1/claims?month=2026-12", headers=_auth(nurse))
    assert claims.status_code == 200, claims.get_json()
    reads = _page_reads(seen)
    assert len(reads) == 2 and reads[0].startswith("SELECT visits.") and " FROM fallback_records" in reads[1]
    guidance = {record["id"]: record["claim_guidance"] for record in r.get_json()}
    fallback_rows = [row for row in claims.get_json() if row["kind"] == "fallback"]
    assert {row["id"]: row["claim_guidance"] for row in fallback_rows} == {m["id"]: guidance[m["id"]] for m in made}
