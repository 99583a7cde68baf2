"""SandboxOQS answers like OQS for every persona, and resolves people, not certificates."""
from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import pytest
from cryptography import x509

from mobile_api.adapters.oqs import ConfirmationRequest, OQSGateway
from mobile_api.clock import FrozenClock
from mobile_api.domain.codes import (
    ALL_INFO_KINDS,
    CareType,
    ConsentFlag,
    EligibilityStatus,
    Form,
    IdentityMethod,
    InfoKind,
)
from mobile_api.domain.errors import CardNotRegistered, CardRejected, PinNotAvailable, QualificationUnavailable
from mobile_api.domain.qualification import QualificationResult
from mobile_api.domain.registration import Registration
from mobile_api.sandbox.ca import IssuedCard, SandboxCA
from mobile_api.sandbox.gateway import SandboxOQS
from mobile_api.sandbox.personas import PersonaBook

INSTITUTION = "1312345678"


def confirm(
    gateway: SandboxOQS,
    certificate: x509.Certificate,
    now: datetime,
    *,
    form: Form = Form.HOME_CONSENT,
    kinds: frozenset[InfoKind] = ALL_INFO_KINDS,
    method: IdentityMethod = IdentityMethod.PIN,
) -> QualificationResult:
    request = ConfirmationRequest(
        institution_code=INSTITUTION,
        certificate=certificate,
        care_type=CareType.HOME_VISIT,
        form=form,
        method=method,
        consent_kinds=kinds if form is Form.HOME_CONSENT else frozenset(),
        at=now,
    )
    result = gateway.confirm(request)
    json.dumps(result.to_dict(), ensure_ascii=False)  # always storable with the visit
    return result


def medical(gateway: SandboxOQS, person_ref: str, kind: InfoKind, now: datetime) -> list[dict[str, Any]]:
    return gateway.medical_information(institution_code=INSTITUTION, person_ref=person_ref, kind=kind, at=now)


def test_is_an_oqs_gateway_trusting_only_its_ca(gateway: SandboxOQS, shared_ca: SandboxCA) -> None:
    as_protocol: OQSGateway = gateway  # checked by a type checker; the loop checks it at run time
    for name in ("confirm", "medical_information", "trust_anchors"):
        ours, theirs = inspect.signature(getattr(SandboxOQS, name)), inspect.signature(getattr(OQSGateway, name))
        assert list(ours.parameters) == list(theirs.parameters), name
        assert callable(getattr(as_protocol, name))
    assert gateway.trust_anchors() == [shared_ca.certificate]


def test_valid_persona_returns_qualification_and_opaque_ref(
    gateway: SandboxOQS, card_for: Callable[..., IssuedCard], now: datetime
) -> None:
    result = confirm(gateway, card_for("P01-valid-30").certificate, now)
    assert result.status is EligibilityStatus.VALID
    assert result.qualification is not None and result.qualification.name == "佐藤 健一"
    assert result.qualification.copayment_ratio == "030"
    assert result.consent_flag is ConsentFlag.CONSENTED
    ref = result.person_ref
    assert ref is not None and ref.startswith("sbx-") and len(ref) == 24
    assert "P01" not in ref and not result.data_withheld and result.candidates == 0


@pytest.mark.parametrize(
    "form, kinds, flag",
    [
        (Form.HOME_CONSENT, frozenset({InfoKind.MEDICATION}), ConsentFlag.CONSENTED),
        (Form.HOME_CONSENT, frozenset(), ConsentFlag.NONE),
        (Form.QUALIFICATION_ONLY, ALL_INFO_KINDS, ConsentFlag.NONE),
    ],
)
def test_consent_flag_only_for_home_consent_with_kinds(
    gateway: SandboxOQS, card_for: Callable[..., IssuedCard], now: datetime, form: Form, kinds, flag: ConsentFlag
) -> None:
    assert confirm(gateway, card_for("P01-valid-30").certificate, now, form=form, kinds=kinds).consent_flag is flag


def test_status_2_lost_still_shows_the_lost_qualification(
    gateway: SandboxOQS, card_for: Callable[..., IssuedCard], now: datetime
) -> None:
    result = confirm(gateway, card_for("P02-lost").certificate, now)
    assert result.status is EligibilityStatus.INVALID_LOST and not result.status.is_valid
    q = result.qualification
    assert q is not None and q.lost_on == date(2026, 10, 1) and q.loss_reason == "退職"
    assert q.insurer_number and q.number  # enough to bill the former insurer
    assert result.person_ref is not None


def test_status_3_shows_the_old_qualification_and_says_a_newer_exists(
    gateway: SandboxOQS, card_for: Callable[..., IssuedCard], now: datetime
) -> None:
    result = confirm(gateway, card_for("P03-newer-qualification").certificate, now)
    assert result.status is EligibilityStatus.INVALID_NEWER_EXISTS
    assert result.qualification is not None and result.qualification.lost_on is not None
    assert any("新しい資格" in m for m in result.messages)


def test_status_4_no_match_has_no_data(gateway: SandboxOQS, card_for: Callable[..., IssuedCard], now: datetime) -> None:
    result = confirm(gateway, card_for("P04-no-match").certificate, now)
    assert result.status is EligibilityStatus.NO_MATCH
    assert result.qualification is None and result.person_ref is None
    assert result.consent_flag is ConsentFlag.NONE and result.messages


def test_status_5_several_matches_has_two_candidates_and_no_data(
    gateway: SandboxOQS, card_for: Callable[..., IssuedCard], now: datetime
) -> None:
    result = confirm(gateway, card_for("P05-multiple-matches").certificate, now)
    assert result.status is EligibilityStatus.MULTIPLE_MATCHES and result.candidates == 2
    assert result.qualification is None and result.person_ref is None


def test_status_6_medical_assistance_is_valid_but_unregistered(
    gateway: SandboxOQS, card_for: Callable[..., IssuedCard], now: datetime
) -> None:
    result = confirm(gateway, card_for("P06-medical-assistance").certificate, now)
    assert result.status is EligibilityStatus.VALID_UNREGISTERED and result.status.is_valid
    q = result.qualification
    assert q is not None and "医療扶助" in q.insurance_card_kind and q.insurer_number.startswith("12")
    assert q.copayment_percent == 0


def test_withheld_person_gets_no_data_at_all(
    gateway: SandboxOQS, card_for: Callable[..., IssuedCard], shared_ca: SandboxCA, now: datetime
) -> None:
    result = confirm(gateway, card_for("P20-data-withheld").certificate, now)
    assert result.data_withheld and result.qualification is None and result.person_ref is None
    assert result.consent_flag is ConsentFlag.NONE
    stored = json.dumps(result.to_dict(), ensure_ascii=False)
    assert "斎藤" not in stored and "サイトウ" not in stored
    ref = shared_ca.person_ref("P20-data-withheld")
    assert medical(gateway, ref, InfoKind.MEDICATION, now) == []


def test_every_persona_answers_with_its_status(
    gateway: SandboxOQS, card_for: Callable[..., IssuedCard], book: PersonaBook, now: datetime
) -> None:
    for persona in book:
        if persona.registration is not Registration.REGISTERED:
            continue  # refused: test_a_card_not_registered_for_insurance_use_is_refused_with_the_fallbacks
        method = IdentityMethod.VISUAL if persona.card.face_recognition else IdentityMethod.PIN
        result = confirm(gateway, card_for(persona.id).certificate, now, method=method)
        expected = EligibilityStatus.NO_MATCH if persona.data_withheld else persona.status  # 資格情報なし
        assert result.status is expected, persona.id
        has_data = persona.status not in (4, 5) and not persona.data_withheld
        assert (result.qualification is not None) == has_data, persona.id
        assert (result.person_ref is not None) == has_data, persona.id


def test_android_certificate_resolves_to_the_same_person(
    gateway: SandboxOQS, card_for: Callable[..., IssuedCard], now: datetime
) -> None:
    plastic, phone = card_for("P24-android"), card_for("P24-android", "android")
    assert plastic.certificate != phone.certificate
    assert plastic.certificate.public_key() != phone.certificate.public_key()
    by_card = confirm(gateway, plastic.certificate, now)
    by_phone = confirm(gateway, phone.certificate, now)
    assert by_card.person_ref == by_phone.person_ref is not None
    assert by_card.qualification == by_phone.qualification


def test_person_ref_is_stable_across_instances_and_distinct_between_people(
    shared_ca: SandboxCA, book: PersonaBook, card_for: Callable[..., IssuedCard], now: datetime
) -> None:
    reloaded = SandboxCA(shared_ca.private_key, shared_ca.certificate, book)  # e.g. another worker
    other_worker = SandboxOQS(reloaded, book, clock=FrozenClock(now))
    first = confirm(SandboxOQS(shared_ca, book, clock=FrozenClock(now)), card_for("P01-valid-30").certificate, now)
    again = confirm(other_worker, shared_ca.issue_card("P01-valid-30", now=now).certificate, now)
    assert first.person_ref == again.person_ref
    refs = {shared_ca.person_ref(p.id) for p in book}
    assert len(refs) == len(book)
    stranger = SandboxCA.generate(now, book)
    assert stranger.person_ref("P01-valid-30") != shared_ca.person_ref("P01-valid-30")


def test_unknown_or_unmarked_or_foreign_certificates_match_nobody(
    gateway: SandboxOQS, shared_ca: SandboxCA, card_for: Callable[..., IssuedCard], book: PersonaBook, now: datetime
) -> None:
    key = card_for("P01-valid-30").private_key.public_key()
    unknown = shared_ca.issue_certificate(key, persona_id="P99-nobody", not_before=now, not_after=now)
    unmarked = shared_ca.issue_certificate(key, persona_id=None, not_before=now, not_after=now)
    forged = SandboxCA.generate(now, book).issue_card("P01-valid-30", now=now).certificate  # another CA
    for certificate in (unknown, unmarked, forged):
        result = confirm(gateway, certificate, now)
        assert result.status is EligibilityStatus.NO_MATCH
        assert result.qualification is None and result.person_ref is None


@pytest.mark.parametrize("kind", list(InfoKind))
def test_main_consenting_persona_has_records_of_every_kind(
    gateway: SandboxOQS, card_for: Callable[..., IssuedCard], now: datetime, kind: InfoKind
) -> None:
    ref = confirm(gateway, card_for("P01-valid-30").certificate, now).person_ref
    assert ref is not None
    records = medical(gateway, ref, kind, now)
    assert records and all(isinstance(r, dict) for r in records)
    assert json.loads(json.dumps(records, ensure_ascii=False)) == records  # JSON-ready
    date_keys = [k for r in records for k in r if k.endswith("_on")]
    assert date_keys and all(date.fromisoformat(r[k]) <= now.date() for r in records for k in r if k.endswith("_on"))


def test_records_have_the_expected_items(gateway: SandboxOQS, shared_ca: SandboxCA, now: datetime) -> None:
    ref = shared_ca.person_ref("P01-valid-30")

    def fetch(kind: InfoKind) -> list[dict[str, Any]]:
        return medical(gateway, ref, kind, now)

    assert {"dispensed_on", "pharmacy", "drug_name", "strength", "dose", "days"} <= set(fetch(InfoKind.MEDICATION)[0])
    checkup = fetch(InfoKind.CHECKUPS)[0]
    expected_items = {"checked_on", "height_cm", "weight_kg", "bmi", "waist_cm", "systolic_bp", "hba1c_percent", "ldl_mg_dl"}
    assert expected_items <= set(checkup)
    assert checkup["bmi"] == round(checkup["weight_kg"] / (checkup["height_cm"] / 100) ** 2, 1)
    assert {r["record_type"] for r in fetch(InfoKind.CLINICAL)} == {"diagnosis", "treatment", "allergy", "lab_result"}
    surgery = fetch(InfoKind.SURGERY)[0]
    assert surgery["procedure"] and surgery["disease_names"] and surgery["infections"]


def test_records_are_copies_and_unknown_refs_get_nothing(gateway: SandboxOQS, shared_ca: SandboxCA, now: datetime) -> None:
    ref = shared_ca.person_ref("P01-valid-30")
    first = medical(gateway, ref, InfoKind.MEDICATION, now)
    first[0]["drug_name"] = "tampered"
    first.clear()
    second = medical(gateway, ref, InfoKind.MEDICATION, now)
    assert second and second[0]["drug_name"] != "tampered"
    assert medical(gateway, "sbx-0000", InfoKind.MEDICATION, now) == []


def test_fail_next_makes_the_next_calls_unavailable(
    gateway: SandboxOQS, card_for: Callable[..., IssuedCard], shared_ca: SandboxCA, now: datetime
) -> None:
    certificate = card_for("P01-valid-30").certificate
    ref = shared_ca.person_ref("P01-valid-30")
    gateway.fail_next(2)
    with pytest.raises(QualificationUnavailable):
        confirm(gateway, certificate, now)
    with pytest.raises(QualificationUnavailable):
        medical(gateway, ref, InfoKind.CLINICAL, now)
    assert confirm(gateway, certificate, now).status is EligibilityStatus.VALID
    assert medical(gateway, ref, InfoKind.CLINICAL, now)
    assert gateway.trust_anchors()  # never fails: the server needs it to check the chain


def test_face_recognition_card_refuses_a_pin_confirmation(
    gateway: SandboxOQS, card_for: Callable[..., IssuedCard], book: PersonaBook, now: datetime
) -> None:
    """A 顔認証マイナンバーカード has no PIN: a PIN confirmation for it cannot have happened; visual works."""
    face = [p for p in book if p.card.face_recognition]
    assert face
    for persona in face:
        certificate = card_for(persona.id).certificate
        with pytest.raises(PinNotAvailable) as refused:
            confirm(gateway, certificate, now, method=IdentityMethod.PIN)
        assert isinstance(refused.value, CardRejected) and refused.value.status == 422
        assert "目視" in refused.value.title
        visual = confirm(gateway, certificate, now, method=IdentityMethod.VISUAL)
        assert visual.status is persona.status and visual.person_ref is not None


def test_cards_with_a_pin_still_confirm_by_pin(
    gateway: SandboxOQS, card_for: Callable[..., IssuedCard], book: PersonaBook, now: datetime
) -> None:
    for persona in book:
        if not persona.card.face_recognition and persona.registration is Registration.REGISTERED:
            expected = EligibilityStatus.NO_MATCH if persona.data_withheld else persona.status
            assert confirm(gateway, card_for(persona.id).certificate, now).status is expected, persona.id


@pytest.mark.parametrize("persona_id,registration", [
    ("P29-not-registered", "not_registered"), ("P30-deregistered", "deregistered"),
    ("P31-registration-lapsed", "lapsed")])
def test_a_card_not_registered_for_insurance_use_is_refused_with_the_fallbacks(
    gateway: SandboxOQS, card_for: Callable[..., IssuedCard], now: datetime, persona_id: str, registration: str
) -> None:
    """seed 001 A/B/C: the card cannot confirm qualification; the refusal points to the 資格確認書 and the
    registration, with the fallbacks that still apply."""
    with pytest.raises(CardNotRegistered) as refused:
        confirm(gateway, card_for(persona_id).certificate, now)
    assert refused.value.status == 422 and refused.value.extra["registration"] == registration
    assert "資格確認書" in refused.value.detail and "利用登録" in refused.value.detail
    assert refused.value.extra["fallbacks"] == ["qualification_certificate", "oral_revisit", "declaration"]
