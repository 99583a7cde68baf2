"""Refusals and edge cases of the verification flow."""
import base64
import datetime as dt
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from tests.support.harness import VISUAL_PASSWORD, b64

P = "P01-valid-30"


def started(h, token, **kw):
    r = h.start(token, **kw)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_replayed_challenge_refused(h):
    nurse = h.institution().nurse()
    card = h.card(P)
    ch = started(h, nurse)
    body = h.pin_body(card, ch["challenge"])
    assert h.submit(nurse, ch["challenge_id"], body).status_code == 201
    again = h.submit(nurse, ch["challenge_id"], body)  # new Idempotency-Key: a replay, not a retry
    assert again.status_code == 409
    assert again.get_json()["type"] == "/problems/challenge-used"


def test_expired_challenge_refused(h):
    nurse = h.institution().nurse()
    card = h.card(P)
    ch = started(h, nurse)
    h.clock.advance(seconds=119)
    ok = h.submit(nurse, ch["challenge_id"], h.pin_body(card, ch["challenge"]))
    assert ok.status_code == 201
    ch2 = started(h, nurse)
    h.clock.advance(seconds=120)
    late = h.submit(nurse, ch2["challenge_id"], h.pin_body(card, ch2["challenge"]))
    assert late.status_code == 409
    assert late.get_json()["type"] == "/problems/challenge-expired"


def test_signature_by_another_key_refused(h):
    nurse = h.institution().nurse()
    card, other = h.card(P), h.card(P)
    ch = started(h, nurse)
    body = {"certificate": b64(card.certificate_der), "signature": b64(h.sign(other, ch["challenge"]))}
    r = h.submit(nurse, ch["challenge_id"], body)
    assert r.status_code == 422
    assert r.get_json()["type"] == "/problems/signature-invalid"


def test_signature_over_another_challenge_refused(h):
    nurse = h.institution().nurse()
    card = h.card(P)
    ch1, ch2 = started(h, nurse), started(h, nurse)
    r = h.submit(nurse, ch2["challenge_id"], h.pin_body(card, ch1["challenge"]))
    assert r.get_json()["type"] == "/problems/signature-invalid"


def _self_made_card(h, persona_extension_from):
    """A certificate from a CA we do not trust, copying the sandbox persona extension."""
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    real = persona_extension_from.certificate
    now = h.clock()
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP")]))
            .issuer_name(real.issuer)  # even claiming the sandbox CA's name
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=365)))
    for ext in real.extensions:
        cert = cert.add_extension(ext.value, critical=ext.critical)
    return key, cert.sign(ca_key, hashes.SHA256())


def test_certificate_from_untrusted_ca_refused(h):
    nurse = h.institution().nurse()
    key, cert = _self_made_card(h, h.card(P))
    ch = started(h, nurse)
    sig = key.sign(base64.b64decode(ch["challenge"]), padding.PKCS1v15(), hashes.SHA256())
    from cryptography.hazmat.primitives.serialization import Encoding

    r = h.submit(nurse, ch["challenge_id"], {"certificate": b64(cert.public_bytes(Encoding.DER)),
                                             "signature": b64(sig)})
    assert r.status_code == 422
    assert r.get_json()["type"] == "/problems/certificate-untrusted"


def test_expired_within_grace_is_qualification_only(h):
    nurse = h.institution().nurse()
    r = h.verify_pin(nurse, h.card("P21-cert-expired-1m"), consent={"blanket": True})
    assert r.status_code == 201, r.get_json()
    visit = r.get_json()
    assert visit["certificate_standing"] == "expired_in_grace"
    assert visit["qualification"] is not None
    assert visit["medical_info_allowed"] is False and visit["consent"] is None
    assert any("猶予" in n for n in visit["notices"])
    assert h.medical(nurse, visit["id"]).status_code == 403


def test_expired_past_grace_refused_with_guidance(h):
    nurse = h.institution().nurse()
    r = h.verify_pin(nurse, h.card("P22-cert-expired-4m"), consent={"blanket": True})
    assert r.status_code == 422
    problem = r.get_json()
    assert problem["type"] == "/problems/certificate-expired"
    assert problem["guidance"] == "qualification-certificate"
    assert "資格確認書" in problem["detail"]


@pytest.mark.parametrize("persona,status,has_data", [
    ("P01-valid-30", 1, True),
    ("P02-lost", 2, True),
    ("P03-newer-qualification", 3, True),
    ("P04-no-match", 4, False),
    ("P05-multiple-matches", 5, False),
    ("P06-medical-assistance", 6, True),
])
def test_each_eligibility_status(h, persona, status, has_data):
    nurse = h.institution().nurse()
    r = h.verify_pin(nurse, h.card(persona))
    assert r.status_code == 201, r.get_json()
    visit = r.get_json()
    assert visit["eligibility_status"] == status
    assert (visit["qualification"] is not None) is has_data
    if status == 2:
        assert visit["qualification"]["lost_on"], "an invalid result still shows the lost qualification"
    if status == 5:
        assert visit["candidates"] >= 2
    assert visit["eligibility_label"]


def test_data_withheld_by_insurer_is_no_qualification_information_with_the_fallbacks(h):
    """seed 001 files DV等により資格情報の表示を停止 under 資格情報なし: never status 1 / valid (docs/rules.md §4)."""
    nurse = h.institution().nurse()
    visit = h.verify_pin(nurse, h.card("P20-data-withheld"), consent={"blanket": True}).get_json()
    assert visit["data_withheld"] is True and visit["qualification"] is None
    assert visit["eligibility_status"] == 4 and "有効" not in visit["eligibility_label"]
    assert visit["medical_info_allowed"] is False
    notes = " ".join(visit["notices"])
    assert "資格情報なし" in notes and "資格情報のお知らせ" in notes and "被保険者資格申立書" in notes


@pytest.mark.parametrize("persona,registration,why", [
    ("P29-not-registered", "not_registered", "利用登録がされていません"),
    ("P30-deregistered", "deregistered", "申請により"),
    ("P31-registration-lapsed", "lapsed", "更新されなかった"),
])
def test_a_card_not_registered_for_insurance_use_is_refused_with_the_certificate_and_the_registration(
        h, persona, registration, why):
    """seed 001 A/B/C (docs/rules.md §2.6): refused in Japanese, pointing to the 資格確認書 and the registration,
    with the fallbacks that apply; the challenge is spent and the retry gets the same answer."""
    nurse = h.institution().nurse()
    ch = started(h, nurse)
    body, key = h.pin_body(h.card(persona), ch["challenge"]), uuid.uuid4().hex
    r = h.submit(nurse, ch["challenge_id"], body, key=key)
    assert r.status_code == 422, r.get_json()
    problem = r.get_json()
    assert problem["type"] == "/problems/card-not-registered" and problem["registration"] == registration
    assert why in problem["detail"] and "資格確認書" in problem["detail"] and "利用登録" in problem["detail"]
    assert problem["guidance"] == "qualification-certificate"
    assert problem["fallbacks"] == ["qualification_certificate", "oral_revisit", "declaration"]
    assert h.submit(nurse, ch["challenge_id"], body, key=key).get_json() == problem
    assert h.client.get("/api/v1/visits", headers={"Authorization": f"Bearer {nurse}"}).get_json() == []


def test_android_certificate_resolves_to_the_same_person(h):
    nurse = h.institution().nurse()
    plastic = h.verify_pin(nurse, h.card("P24-android")).get_json()
    phone = h.verify_pin(nurse, h.card("P24-android", variant="android")).get_json()
    assert phone["qualification"]["name"] == plastic["qualification"]["name"]
    assert phone["qualification"]["number"] == plastic["qualification"]["number"]


def test_the_renewal_alert_starts_exactly_three_calendar_months_before_expiry_in_japan(h):
    """docs/rules.md §2.4: a certificate expiring 2026-08-15 (JST) alerts from 2026-05-15 (JST), not a day later."""
    from mobile_api.domain.japanese_dates import JST

    expires = dt.datetime(2026, 8, 15, 23, 59, 59, tzinfo=JST)
    h.clock.set(dt.datetime(2026, 5, 14, 23, 55, tzinfo=JST))
    nurse = h.institution().nurse()

    def renewal_on(moment):
        h.clock.set(moment)
        card = h.ca.issue_card(P, now=moment, not_after=expires)
        r = h.verify_pin(nurse, card)
        assert r.status_code == 201, r.get_json()
        return r.get_json()["certificate_renewal"]

    assert renewal_on(dt.datetime(2026, 5, 14, 23, 59, 59, tzinfo=JST)) is None
    alert = renewal_on(dt.datetime(2026, 5, 15, 0, 0, tzinfo=JST))
    assert alert is not None and alert["expires_on"] == "2026-08-15" and alert["expired"] is False


def test_a_phone_certificate_gets_no_grace_the_card_does_whatever_the_device_says(h):
    """docs/rules.md §2.4: the 3-month grace covers the plastic card only. Phone or card is read from the
    certificate (its policy), never from the device's certificate_kind."""
    from mobile_api.domain.japanese_dates import JST

    expires = dt.datetime(2026, 11, 30, 23, 59, 59, tzinfo=JST)
    h.clock.set(dt.datetime(2026, 11, 30, 23, 55, tzinfo=JST))
    nurse = h.institution().nurse()
    phone = h.ca.issue_card("P24-android", variant="android", now=h.clock(), not_after=expires)
    plastic = h.ca.issue_card("P24-android", now=h.clock(), not_after=expires)

    def submit(card, claimed_kind):
        ch = started(h, nurse)
        return h.submit(nurse, ch["challenge_id"], {**h.pin_body(card, ch["challenge"]),
                                                    "certificate_kind": claimed_kind})

    h.clock.set(dt.datetime(2026, 11, 30, 23, 59, tzinfo=JST))  # the last day: the phone still works
    on_the_day = submit(phone, "android")
    assert on_the_day.status_code == 201 and on_the_day.get_json()["certificate_standing"] == "valid"
    h.clock.set(dt.datetime(2026, 12, 1, 0, 0, 1, tzinfo=JST))  # the day after expiry, in Japan
    refused = submit(phone, "card")  # the device claims a card: the certificate says phone
    assert refused.status_code == 422, refused.get_json()
    problem = refused.get_json()
    assert problem["type"] == "/problems/certificate-expired" and problem["medium"] == "smartphone"
    assert "スマートフォン" in problem["detail"] and "猶予" in problem["detail"]
    card = submit(plastic, "android")  # the device claims a phone: the certificate says card
    assert card.status_code == 201 and card.get_json()["certificate_standing"] == "expired_in_grace"


def test_a_name_with_a_black_circle_is_flagged_with_a_prompt_to_confirm_by_the_kana(h):
    """seed 001: a character that cannot be encoded shows as 「●」; staff confirm the person by the kana name."""
    nurse = h.institution().nurse()
    visit = h.verify_pin(nurse, h.card("P32-unencodable-name")).get_json()
    assert visit["qualification"]["name"] == "●田 智子" and visit["name_has_unencodable"] is True
    assert any("●" in n and "ヨシダ トモコ" in n and "カナ" in n for n in visit["notices"])
    plain = h.verify_pin(nurse, h.card(P)).get_json()
    assert plain["name_has_unencodable"] is False and not any("●" in n for n in plain["notices"])


def test_checkups_are_not_offered_before_40_and_are_from_the_40th_birthday_in_japan(h):
    """seed 002 (docs/rules.md §3.6): 特定健診等情報 exists from 40. P32 turns 40 on 2026-12-02 (JST): the day
    before, the visit lists the kind as not available with the reason and a view answers with the reason, not
    「0件」; from the birthday the same consent serves her checkup."""
    from mobile_api.domain.japanese_dates import JST

    h.clock.set(dt.datetime(2026, 12, 1, 23, 50, tzinfo=JST))
    nurse = h.institution().nurse()
    visit = h.verify_pin(nurse, h.card("P32-unencodable-name"), consent={"blanket": True}).get_json()
    assert [k["kind"] for k in visit["unavailable_kinds"]] == ["checkups"]
    assert "40歳以上" in visit["unavailable_kinds"][0]["reason"] and "39歳" in visit["unavailable_kinds"][0]["reason"]
    h.clock.set(dt.datetime(2026, 12, 1, 23, 59, 59, tzinfo=JST))
    refused = h.medical(nurse, visit["id"], "checkups")
    assert refused.status_code == 403, refused.get_json()
    assert refused.get_json()["type"] == "/problems/info-kind-not-applicable"
    assert "40歳以上" in refused.get_json()["detail"]
    assert h.medical(nurse, visit["id"], "medication").status_code == 200  # the other kinds are unaffected
    h.clock.set(dt.datetime(2026, 12, 2, 0, 0, tzinfo=JST))
    served = h.medical(nurse, visit["id"], "checkups")
    assert served.status_code == 200 and len(served.get_json()["records"]) == 1
    again = h.client.get(f"/api/v1/visits/{visit['id']}", headers={"Authorization": f"Bearer {nurse}"}).get_json()
    assert again["unavailable_kinds"] == []


# --- visual check (目視確認) ---------------------------------------------------------------

def visual(h, token, card, password, **extra):
    ch = started(h, token, method="visual")
    return h.submit(token, ch["challenge_id"], {"certificate": b64(card.certificate_der),
                                                "visual_password": password, **extra})


def test_visual_wrong_password_refused_and_audited(h):
    tenant = h.institution()
    tenant.set_visual_password()
    nurse = tenant.nurse()
    r = visual(h, nurse, h.card("P23-face-card-no-pin"), "wrong-password")
    assert r.status_code == 403
    assert r.get_json()["type"] == "/problems/visual-password-wrong"
    events = h.client.get("/api/v1/audit-events?action=verification.submit&outcome=refused",
                          headers=tenant.auth()).get_json()
    assert events[0]["detail"]["reason"] == "visual-password-wrong"


def test_visual_right_password_recorded_with_staff(h):
    tenant = h.institution()
    tenant.set_visual_password()
    nurse = tenant.nurse()
    me = h.client.get("/api/v1/staff", headers=tenant.auth()).get_json()
    nurse_id = next(s["id"] for s in me if s["login"] == "nurse1")
    r = visual(h, nurse, h.card("P23-face-card-no-pin"), VISUAL_PASSWORD, consent={"blanket": True})
    assert r.status_code == 201, r.get_json()
    visit = r.get_json()
    assert visit["method"] == "visual" and visit["visual_confirmed_by"] == nurse_id
    events = h.client.get("/api/v1/audit-events?action=verification.submit&outcome=ok",
                          headers=tenant.auth()).get_json()
    assert events[0]["detail"]["visual_confirmed_by"] == nurse_id and events[0]["detail"]["method"] == "visual"


def test_visual_needs_the_password_to_be_set(h):
    nurse = h.institution().nurse()
    r = h.start(nurse, method="visual")
    assert r.status_code == 403
    assert r.get_json()["rule"] == "visual-password-not-set"


def test_visual_not_for_online_consultation(h):
    tenant = h.institution()
    tenant.set_visual_password()
    r = h.start(tenant.nurse(), method="visual", care_type=3)
    assert r.status_code == 403 and r.get_json()["rule"] == "online-needs-pin"


# --- facility policy on every verification ----------------------------------------------

@pytest.mark.parametrize("kind,form,allowed", [
    ("home_visit_care", "home_consent", True),
    ("home_visit_care", "qualification_only", False),
    ("judo_therapy", "qualification_only", True),
    ("judo_therapy", "home_consent", False),
    ("health_check", "home_consent", False),
    ("transitional_exemption", "qualification_only", True),
])
def test_facility_kind_decides_the_form(h, kind, form, allowed):
    nurse = h.institution(kind).nurse()
    r = h.start(nurse, form=form)
    if allowed:
        assert r.status_code == 201
    else:
        assert r.status_code == 403 and r.get_json()["type"] == "/problems/form-not-allowed"


def test_form_three_never_serves_medical_information(h):
    therapist = h.institution("judo_therapy").nurse("therapist")
    visit = h.verify_pin(therapist, h.card(P), form="qualification_only").get_json()
    assert visit["medical_info_allowed"] is False
    for kind in ("medication", "checkups", "clinical", "surgery"):
        r = h.medical(therapist, visit["id"], kind)
        assert r.status_code == 403
        assert r.get_json()["type"] == "/problems/form-never-serves-medical-info"


def test_form_three_refuses_a_consent(h):
    therapist = h.institution("judo_therapy").nurse("therapist")
    r = h.verify_pin(therapist, h.card(P), form="qualification_only", consent={"blanket": True})
    assert r.status_code == 422
    assert r.get_json()["type"] == "/problems/consent-not-applicable"


# --- idempotency -----------------------------------------------------------------------

def test_retry_with_same_key_returns_same_visit_and_creates_nothing_twice(h):
    tenant = h.institution()
    nurse = tenant.nurse()
    card = h.card(P)
    ch = started(h, nurse)
    body = h.pin_body(card, ch["challenge"], {"blanket": True})
    key = uuid.uuid4().hex
    first = h.submit(nurse, ch["challenge_id"], body, key=key)
    second = h.submit(nurse, ch["challenge_id"], body, key=key)
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    visits = h.client.get("/api/v1/visits", headers=tenant.auth()).get_json()
    assert len(visits) == 1
    consents = h.client.get("/api/v1/audit-events?action=consent.register", headers=tenant.auth()).get_json()
    assert len(consents) == 1


def test_same_key_with_different_body_refused(h):
    nurse = h.institution().nurse()
    card = h.card(P)
    ch = started(h, nurse)
    key = uuid.uuid4().hex
    assert h.submit(nurse, ch["challenge_id"], h.pin_body(card, ch["challenge"]), key=key).status_code == 201
    other = h.pin_body(card, ch["challenge"], {"kinds": ["medication"]})
    r = h.submit(nurse, ch["challenge_id"], other, key=key)
    assert r.status_code == 422 and r.get_json()["type"] == "/problems/idempotency-key-reused"


def test_retry_of_a_refusal_gets_the_same_refusal(h):
    nurse = h.institution().nurse()
    card, other = h.card(P), h.card(P)
    ch = started(h, nurse)
    body = {"certificate": b64(card.certificate_der), "signature": b64(h.sign(other, ch["challenge"]))}
    key = uuid.uuid4().hex
    first = h.submit(nurse, ch["challenge_id"], body, key=key)
    second = h.submit(nurse, ch["challenge_id"], body, key=key)
    assert first.status_code == second.status_code == 422
    assert first.get_json()["type"] == second.get_json()["type"] == "/problems/signature-invalid"


def test_national_system_outage_is_retryable_with_the_same_key(h):
    nurse = h.institution().nurse()
    card = h.card(P)
    ch = started(h, nurse)
    body = h.pin_body(card, ch["challenge"])
    key = uuid.uuid4().hex
    h.rt.oqs.fail_next(1)
    down = h.submit(nurse, ch["challenge_id"], body, key=key)
    assert down.status_code == 503 and down.mimetype == "application/problem+json"
    up = h.submit(nurse, ch["challenge_id"], body, key=key)
    assert up.status_code == 201


def test_idempotency_key_is_required(h):
    nurse = h.institution().nurse()
    card = h.card(P)
    ch = started(h, nurse)
    r = h.client.post(f"/api/v1/verifications/{ch['challenge_id']}/submit", json=h.pin_body(card, ch["challenge"]),
                      headers={"Authorization": f"Bearer {nurse}"})
    assert r.status_code == 422
    assert any(e["pointer"].startswith("/headers") for e in r.get_json()["errors"])
