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


def test_messages_tell_the_configured_numbers(h, app, clock) -> None:
    """The window, the challenge lifetime and the activation code lifetime are settings: the words follow."""
    from mobile_api import create_app
    from tests.integration.conftest import TEST_CONFIG
    from tests.support.harness import Harness

    short = create_app({**TEST_CONFIG, "DATABASE_URL": app.config["DATABASE_URL"], "VIEWING_WINDOW_HOURS": 1,
                        "CHALLENGE_TTL_SECONDS": 60, "ACTIVATION_CODE_TTL_SECONDS": 7200}, clock=clock)
    try:
        h2 = Harness(short, clock)
        tenant = h2.institution()
        nurse = tenant.nurse()
        made = h2.verify_pin(nurse, h2.card(PERSONA), consent={"blanket": True}).get_json()
        assert any("同意登録から1時間" in n for n in made["notices"]), made["notices"]
        late = h2.start(nurse).get_json()
        clock.advance(minutes=1)
        expired = h2.submit(nurse, late["challenge_id"], h2.pin_body(h2.card(PERSONA), late["challenge"]))
        assert expired.status_code == 409 and "1分" in expired.get_json()["detail"]
        clock.advance(hours=1)
        nurse = tenant.login_on_device("nurse1", tenant.devices[0])
        closed = h2.medical(nurse, made["id"]).get_json()
        assert "1時間" in closed["detail"] and "24時間" not in closed["detail"]
        unknown = h2.client.post("/api/v1/devices/enrol", json={"activation_code": "000000000000",
                                                                "public_key_pem": _any_key()})
        assert "2時間" in unknown.get_json()["detail"]
    finally:
        short.extensions["mobile_api_engine"].dispose()


def _any_key() -> str:
    from device_agent.device_key import generate_key, public_key_pem

    return public_key_pem(generate_key())
