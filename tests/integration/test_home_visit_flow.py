"""Form ② end to end: card-verified visit, consent, medical information inside the 24-hour window."""
import pytest

P = "P01-valid-30"


def test_pin_visit_with_blanket_consent_serves_medication(h):
    tenant = h.institution("home_visit_care")
    nurse = tenant.nurse()
    r = h.verify_pin(nurse, h.card(P), consent={"blanket": True})
    assert r.status_code == 201, r.get_json()
    visit = r.get_json()
    assert visit["eligibility_status"] == 1
    assert visit["qualification"]["copayment_ratio"] == "030"
    assert visit["medical_info_allowed"] is True
    assert sorted(visit["consent"]["kinds"]) == ["checkups", "clinical", "medication", "surgery"]
    assert visit["consent"]["window_closes_at"].startswith("2026-12-02T00:00:00")
    med = h.medical(nurse, visit["id"], "medication")
    assert med.status_code == 200, med.get_json()
    assert med.get_json()["records"], "the sandbox persona has medication records"
    assert med.get_json()["seconds_left"] == 24 * 3600


def test_window_boundary_driven_by_the_injected_clock(h):
    tenant = h.institution()
    nurse = tenant.nurse()
    visit = h.verify_pin(nurse, h.card(P), consent={"kinds": ["medication"]}).get_json()
    h.clock.advance(hours=23, minutes=59, seconds=59)
    # Access tokens last 15 minutes; sign in again on the same device as a nurse would.
    nurse = tenant.login_on_device("nurse1", tenant.devices[0])
    assert h.medical(nurse, visit["id"]).status_code == 200
    h.clock.advance(seconds=1)
    refused = h.medical(nurse, visit["id"])
    assert refused.status_code == 403
    assert refused.mimetype == "application/problem+json"
    problem = refused.get_json()
    assert problem["type"] == "/problems/consent-window-closed"
    assert problem["window_closed_at"].startswith("2026-12-02T00:00:00")
    # a card-verified home visit (care type 2) opened continuing care: a re-query reopens it (docs/rules.md §3.2)
    assert problem["how_to_reopen"] == "requery"


def test_only_consented_kinds_are_served(h):
    nurse = h.institution().nurse()
    visit = h.verify_pin(nurse, h.card(P), consent={"kinds": ["medication", "checkups"]}).get_json()
    assert h.medical(nurse, visit["id"], "checkups").status_code == 200
    surgery = h.medical(nurse, visit["id"], "surgery")
    assert surgery.status_code == 403
    assert surgery.get_json()["type"] == "/problems/no-consent-for-kind"


def test_no_consent_means_qualification_only(h):
    nurse = h.institution().nurse()
    visit = h.verify_pin(nurse, h.card(P)).get_json()
    assert visit["medical_info_allowed"] is False and visit["consent"] is None
    assert h.medical(nurse, visit["id"]).status_code == 403


def test_unknown_kind_is_a_validation_error(h):
    nurse = h.institution().nurse()
    visit = h.verify_pin(nurse, h.card(P), consent={"blanket": True}).get_json()
    r = h.medical(nurse, visit["id"], "genome")
    assert r.status_code == 422 and r.mimetype == "application/problem+json"


def test_every_view_and_refusal_is_audited(h):
    tenant = h.institution()
    nurse = tenant.nurse()
    visit = h.verify_pin(nurse, h.card(P), consent={"kinds": ["medication"]}).get_json()
    h.medical(nurse, visit["id"], "medication")
    h.medical(nurse, visit["id"], "surgery")
    events = h.client.get("/api/v1/audit-events?action=medical_info.view", headers=tenant.auth()).get_json()
    assert [(e["outcome"], e["detail"]["kind"]) for e in events] == [("refused", "surgery"), ("ok", "medication")]
    assert all(e["target_id"] == visit["id"] and e["user_id"] and e["device_id"] for e in events)
    consent_events = h.client.get("/api/v1/audit-events?action=consent.register", headers=tenant.auth()).get_json()
    assert len(consent_events) == 1


@pytest.mark.parametrize("care_type", [1, 2, 3])
def test_care_types_accepted_for_pin(h, care_type):
    nurse = h.institution().nurse()
    r = h.verify_pin(nurse, h.card(P), consent={"blanket": True}, care_type=care_type)
    assert r.status_code == 201
    assert r.get_json()["care_type"] == care_type


def test_window_length_is_configurable(h, app, clock):
    from mobile_api import create_app
    from tests.integration.conftest import TEST_CONFIG

    short = create_app({**TEST_CONFIG, "DATABASE_URL": app.config["DATABASE_URL"], "VIEWING_WINDOW_HOURS": 1},
                       clock=clock)
    from tests.support.harness import Harness

    h2 = Harness(short, clock)
    tenant = h2.institution()
    nurse = tenant.nurse()
    visit = h2.verify_pin(nurse, h2.card(P), consent={"blanket": True}).get_json()
    clock.advance(minutes=59, seconds=59)
    nurse = tenant.login_on_device("nurse1", tenant.devices[0])
    assert h2.medical(nurse, visit["id"]).status_code == 200
    clock.advance(seconds=1)
    assert h2.medical(nurse, visit["id"]).status_code == 403
    short.extensions["mobile_api_engine"].dispose()
