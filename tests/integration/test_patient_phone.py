"""The patient's own phone (docs/rules.md §3.4, §3.3): consent links, the PIN through a JPKI client,
the institution's list with each window, tenancy, expiry and revocation, withdrawal from the page."""
from __future__ import annotations

import base64
import io
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlparse

from tests.support.harness import b64

P = "P01-valid-30"


def _link(h, tenant, **body):
    r = h.client.post("/api/v1/consent-links", json={"purpose": "general", **body}, headers=tenant.auth())
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def _token(url: str) -> str:
    return urlparse(url).path.rsplit("/", 1)[1]


def _authenticate(h, token: str, card, *, purpose: str = "register", **choice):
    """What the page and the JPKI client do: start a session, sign its challenge with the card, answer."""
    started = h.client.post(f"/api/v1/patient-links/{token}/sessions", json={"purpose": purpose, **choice})
    assert started.status_code == 201, started.get_json()
    session = started.get_json()
    handoff = urlparse(session["handoff_uri"])
    assert handoff.scheme == "mobileoqs-jpki"
    assert parse_qs(handoff.query)["session"] == [session["status_url"]]
    signature = h.sign(card, session["challenge"])
    answered = h.client.post(urlparse(session["answer_url"]).path,
                             json={"certificate": b64(card.certificate_der), "signature": b64(signature)})
    return session, answered


def test_a_consent_from_the_patients_phone_is_listed_with_its_window_closing_at_24_hours(h):
    tenant = h.institution()
    created = _link(h, tenant, purpose="appointment", planned_date="2026-12-05", care_type=3)
    assert created["link"]["expires_at"].startswith("2026-12-05T15:00:00")  # end of the planned date in Japan
    import zxingcpp
    from PIL import Image

    (decoded,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(base64.b64decode(created["qr_png"]))))
    assert decoded.text == created["url"] and "<svg" in created["qr_svg"]
    token = _token(created["url"])
    page = h.client.get(urlparse(created["url"]).path)
    assert page.status_code == 200 and "同意" in page.get_data(as_text=True)

    session, answered = _authenticate(h, token, h.card(P), kinds=["medication", "clinical"])
    assert answered.status_code == 200, answered.get_json()
    status = answered.get_json()
    assert status["status"] == "authenticated" and status["consent_id"]
    (mine,) = status["consents"]
    assert mine["window"]["state"] == "open" and sorted(mine["kinds"]) == ["clinical", "medication"]

    nurse = tenant.nurse()
    listed = h.client.get("/api/v1/consents?order=planned_date&source=patient_phone",
                          headers={"Authorization": f"Bearer {nurse}"}).get_json()
    (consent,) = listed
    assert consent["id"] == status["consent_id"] and consent["planned_date"] == "2026-12-05"
    assert consent["patient"]["name"] and consent["window"]["state"] == "open"
    closes = datetime.fromisoformat(consent["window"]["closes_at"])
    assert closes == h.clock() + timedelta(hours=24)
    assert h.client.get(f"/api/v1/consents/{consent['id']}/medical-information/medication",
                        headers={"Authorization": f"Bearer {nurse}"}).status_code == 200
    replay = h.client.post(urlparse(session["status_url"]).path + "/answer",
                           json={"certificate": b64(h.card(P).certificate_der), "signature": b64(b"x" * 256)})
    assert replay.status_code == 409  # the challenge is single use

    h.clock.advance(hours=24)
    nurse = tenant.login_on_device("nurse1", tenant.devices[0])
    (later,) = h.client.get("/api/v1/consents", headers={"Authorization": f"Bearer {nurse}"}).get_json()
    assert later["window"]["state"] == "closed" and later["window"]["viewable_now"] is False
    assert datetime.fromisoformat(later["window"]["closed_at"]) == closes
    refused = h.client.get(f"/api/v1/consents/{consent['id']}/medical-information/medication",
                           headers={"Authorization": f"Bearer {nurse}"})
    assert refused.status_code == 403 and refused.get_json()["type"] == "/problems/consent-window-closed"


def test_another_institution_cannot_list_revoke_or_see_what_came_through_a_link(h):
    a, b = h.institution(), h.institution()
    created = _link(h, a)
    _, answered = _authenticate(h, _token(created["url"]), h.card(P), blanket=True)
    consent_id = answered.get_json()["consent_id"]
    assert h.client.get("/api/v1/consent-links", headers=b.auth()).get_json() == []
    assert h.client.post(f"/api/v1/consent-links/{created['link']['id']}/revoke", headers=b.auth()).status_code == 404
    assert h.client.get("/api/v1/consents", headers=b.auth()).get_json() == []
    b_nurse = b.nurse()
    assert h.client.get(f"/api/v1/consents/{consent_id}/medical-information/medication",
                        headers={"Authorization": f"Bearer {b_nurse}"}).status_code == 404
    assert [link["id"] for link in h.client.get("/api/v1/consent-links", headers=a.auth()).get_json()] == [
        created["link"]["id"]]


def test_an_expired_or_revoked_link_is_refused(h):
    tenant = h.institution()
    revoked, expiring = _link(h, tenant), _link(h, tenant)
    r = h.client.post(f"/api/v1/consent-links/{revoked['link']['id']}/revoke", headers=tenant.auth())
    assert r.status_code == 200 and r.get_json()["revoked_at"]
    gone = h.client.get(f"/api/v1/patient-links/{_token(revoked['url'])}")
    assert gone.status_code == 410 and gone.get_json()["reason"] == "revoked"
    page = h.client.get(urlparse(revoked["url"]).path)
    assert page.status_code == 410 and "取り消されています" in page.get_data(as_text=True)
    h.clock.advance(days=30)
    expired = h.client.post(f"/api/v1/patient-links/{_token(expiring['url'])}/sessions", json={"blanket": True})
    assert expired.status_code == 410 and expired.get_json()["reason"] == "expired"
    assert h.client.get("/api/v1/patient-links/not-a-link").status_code == 404


def test_a_qualification_only_institution_cannot_create_links(h):
    judo = h.institution("judo_therapy")
    r = h.client.post("/api/v1/consent-links", json={"purpose": "general"}, headers=judo.auth())
    assert r.status_code == 403 and r.get_json()["type"] == "/problems/form-not-allowed"


def test_withdrawal_from_the_page_then_a_view_one_second_later_is_refused(h):
    tenant = h.institution()
    nurse = tenant.nurse()
    visit = h.verify_pin(nurse, h.card(P), consent={"blanket": True}).get_json()  # a card consent too
    created = _link(h, tenant)
    token = _token(created["url"])
    _, answered = _authenticate(h, token, h.card(P), kinds=["medication"])
    assert len(answered.get_json()["consents"]) == 2  # the card's and the phone's, at this institution
    session, managed = _authenticate(h, token, h.card(P), purpose="manage")
    assert managed.get_json()["consent_id"] is None and len(managed.get_json()["consents"]) == 2
    withdrawn = h.client.post(urlparse(session["status_url"]).path + "/withdrawal")
    assert withdrawn.status_code == 200, withdrawn.get_json()
    assert withdrawn.get_json()["consents_withdrawn"] == 2 and withdrawn.get_json()["via"] == "patient_phone"
    h.clock.advance(seconds=1)
    refused = h.medical(nurse, visit["id"])
    assert refused.status_code == 403 and refused.get_json()["type"] == "/problems/consent-withdrawn"
    after = h.client.get(urlparse(session["status_url"]).path).get_json()
    assert {c["window"]["state"] for c in after["consents"]} == {"withdrawn"}


def test_a_wrong_signature_is_refused_and_spends_the_session(h):
    tenant = h.institution()
    token = _token(_link(h, tenant)["url"])
    started = h.client.post(f"/api/v1/patient-links/{token}/sessions", json={"blanket": True}).get_json()
    card = h.card(P)
    bad = h.client.post(urlparse(started["answer_url"]).path,
                        json={"certificate": b64(card.certificate_der), "signature": b64(b"\x01" * 256)})
    assert bad.status_code == 422 and bad.get_json()["type"] == "/problems/signature-invalid"
    status = h.client.get(urlparse(started["status_url"]).path).get_json()
    assert status["status"] == "refused" and status["problem"]["slug"] == "signature-invalid"
    assert status["consents"] is None


def test_a_wrong_pin_reported_by_the_client_keeps_the_session_and_a_lock_ends_it(h):
    """The card counts the tries; the client's report only lets the page say so (docs/rules.md §3.4)."""
    tenant = h.institution()
    token = _token(_link(h, tenant)["url"])
    started = h.client.post(f"/api/v1/patient-links/{token}/sessions", json={"blanket": True}).get_json()
    report = urlparse(started["status_url"]).path + "/card-error"
    wrong = h.client.post(report, json={"reason": "wrong-pin", "tries_left": 2})
    assert wrong.status_code == 200, wrong.get_json()
    status = h.client.get(urlparse(started["status_url"]).path).get_json()
    assert status["status"] == "pending" and status["challenge"] == started["challenge"]
    assert status["problem"]["slug"] == "wrong-pin" and "あと2回間違えるとロックされます" in status["problem"]["detail"]
    assert h.client.post(report, json={"reason": "wrong-pin", "tries_left": "1; DROP"}).status_code == 422
    assert h.client.post(report, json={"reason": "forgot"}).status_code == 422

    card = h.card(P)
    answered = h.client.post(urlparse(started["answer_url"]).path, json={
        "certificate": b64(card.certificate_der), "signature": b64(h.sign(card, started["challenge"]))})
    assert answered.status_code == 200 and answered.get_json()["status"] == "authenticated"
    assert answered.get_json()["problem"] is None and answered.get_json()["consent_id"]
    late = h.client.post(report, json={"reason": "wrong-pin", "tries_left": 1})
    assert late.status_code == 409 and late.get_json()["type"] == "/problems/patient-session-invalid"

    again = h.client.post(f"/api/v1/patient-links/{token}/sessions", json={"blanket": True}).get_json()
    locked = h.client.post(urlparse(again["status_url"]).path + "/card-error", json={"reason": "locked"})
    assert locked.status_code == 200 and locked.get_json()["status"] == "refused"
    assert "ロックされました" in locked.get_json()["problem"]["detail"] and locked.get_json()["challenge"] is None
    assert h.client.post(urlparse(again["answer_url"]).path, json={
        "certificate": b64(card.certificate_der), "signature": b64(h.sign(card, again["challenge"]))}).status_code == 409


def _assert_page_headers(r) -> None:  # type: ignore[no-untyped-def]
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp and "frame-ancestors 'none'" in csp
    assert r.headers["Referrer-Policy"] == "no-referrer" and r.headers["Cache-Control"] == "no-store"
    assert r.headers["X-Frame-Options"] == "DENY" and r.headers["X-Content-Type-Options"] == "nosniff"


def test_the_patient_page_is_sent_with_a_strict_csp_no_framing_no_referrer_and_no_store(h):
    import re

    tenant = h.institution()
    token = _token(_link(h, tenant)["url"])
    page = h.client.get(f"/p/{token}")
    assert page.status_code == 200
    _assert_page_headers(page)
    html = page.get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)", html) and "<style" not in html and " style=" not in html
    script = re.search(r'<script src="([^"]+)"', html).group(1)
    _assert_page_headers(h.client.get(script))
    gone = h.client.get("/p/no-such-link-token")
    assert gone.status_code == 404
    _assert_page_headers(gone)


def test_the_patient_pages_script_may_call_the_public_origin(h):
    h.app.config["PUBLIC_BASE_URL"] = "https://oqs.example.jp/base"
    token = _token(_link(h, h.institution())["url"])
    csp = h.client.get(f"/p/{token}").headers["Content-Security-Policy"]
    assert "connect-src 'self' https://oqs.example.jp;" in csp
