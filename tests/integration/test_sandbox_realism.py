"""The sandbox answers as the national system would for cards that cannot do what a request claims."""
from __future__ import annotations

from tests.support.harness import VISUAL_PASSWORD, b64

FACE = "P23-face-card-no-pin"  # 顔認証マイナンバーカード: no PIN, only a visual check


def test_pin_verification_with_a_face_recognition_card_is_refused_visual_works(h):
    tenant = h.institution()
    tenant.set_visual_password()
    nurse = tenant.nurse()
    card = h.card(FACE)
    assert card.pin is None

    # Signed with the certificate's key (which a real face-recognition card never lets one use by PIN).
    r = h.verify_pin(nurse, card)
    assert r.status_code == 422, r.get_json()
    assert r.mimetype == "application/problem+json"
    problem = r.get_json()
    assert problem["type"] == "/problems/pin-not-available"
    assert "目視" in problem["title"]
    listed = h.client.get("/api/v1/visits", headers=tenant.auth(nurse))
    assert listed.status_code == 200 and listed.get_json() == [], "a refused PIN check records no visit"

    started = h.start(nurse, method="visual")
    assert started.status_code == 201, started.get_json()
    ok = h.submit(nurse, started.get_json()["challenge_id"],
                  {"certificate": b64(card.certificate_der), "visual_password": VISUAL_PASSWORD})
    assert ok.status_code == 201, ok.get_json()
    assert ok.get_json()["method"] == "visual"
