"""Rules found broken from outside (issue 6): a challenge belongs to the nurse who started it, and a
medical-information view that fails because OQS is down is still audited."""
from __future__ import annotations

from tests.support.harness import STAFF_PASSWORD

PERSONA = "P01-valid-30"


def test_another_nurse_on_the_same_device_cannot_submit_the_challenge(h) -> None:
    tenant = h.institution()
    tenant.create_staff("nurse1")
    tenant.create_staff("nurse2")
    device = tenant.enrol_device()
    first = tenant.login_on_device("nurse1", device)
    second = tenant.login_on_device("nurse2", device, STAFF_PASSWORD)
    challenge = h.start(first).get_json()

    taken = h.submit(second, challenge["challenge_id"], h.pin_body(h.card(PERSONA), challenge["challenge"]))

    assert taken.status_code == 409
    assert taken.get_json()["rule"] == "challenge-user"
    assert h.client.get("/api/v1/visits", headers=tenant.auth()).get_json() == []


def test_medical_information_outage_is_audited_and_retryable(h) -> None:
    tenant = h.institution()
    token = tenant.nurse()
    visit = h.verify_pin(token, h.card(PERSONA), consent={"blanket": True}).get_json()
    h.rt.oqs.fail_next(1)

    down = h.medical(token, visit["id"])

    assert down.status_code == 503
    events = h.client.get("/api/v1/audit-events?action=medical_info.view", headers=tenant.auth()).get_json()
    assert [(e["outcome"], e["detail"]["reason"]) for e in events] == [("refused", "qualification-unavailable")]
    assert h.medical(token, visit["id"]).status_code == 200
