"""The verification use case (start, submit) against the fake unit of work: no database, no HTTP."""
from __future__ import annotations

from datetime import timedelta

import pytest

from mobile_api.adapters import orm
from mobile_api.clock import FrozenClock
from mobile_api.domain.codes import CareType, Form, IdentityMethod, InfoKind
from mobile_api.domain.consent import ConsentChoice
from mobile_api.domain.errors import (
    CertificateUntrusted,
    ChallengeExpired,
    ChallengeInvalid,
    ChallengeUsed,
    FormNotAllowed,
    IdempotencyConflict,
    QualificationUnavailable,
    SignatureInvalid,
)
from mobile_api.domain.facility import FacilityKind
from mobile_api.runtime import Runtime
from mobile_api.services import verification
from mobile_api.services.principal import Principal
from tests.unit.mobile_api.services.fakes import (
    Card,
    FakeDatabase,
    FakeOQS,
    Tenant,
    TestCA,
    default_rules,
    fake_runtime,
    seed_tenant,
)

HOME = verification.StartRequest(care_type=CareType.HOME_VISIT, form=Form.HOME_CONSENT, method=IdentityMethod.PIN)


def _start(rt: Runtime, actor: Principal) -> orm.Challenge:
    return verification.start(rt, actor, HOME)


def _submit(rt: Runtime, actor: Principal, challenge: orm.Challenge, card: Card, *, key: str = "key-1",
            signature: bytes | None = None, consent: ConsentChoice | None = None) -> verification.VisitView:
    signature = card.sign(challenge.nonce) if signature is None else signature
    consent = consent or ConsentChoice.of(kinds=[InfoKind.MEDICATION])
    raw = {"certificate": card.certificate_der, "signature": signature,
           "consent": {"kinds": sorted(k.value for k in consent.kinds)}}
    request = verification.SubmitRequest(certificate=card.certificate_der, signature=signature, consent=consent,
                                         raw=raw)
    return verification.submit(rt, actor, challenge.id, key, request)


def test_start_refuses_a_form_the_facility_kind_may_not_use_and_audits_the_refusal(db: FakeDatabase) -> None:
    rt = fake_runtime(db)
    health_check = seed_tenant(rt, facility_kind=FacilityKind.HEALTH_CHECK)  # form ③ only
    with pytest.raises(FormNotAllowed):
        _start(rt, health_check.nurse)
    assert db.rows(orm.Challenge) == []
    (refusal,) = db.audit(action="verification.start")
    assert refusal.outcome == "refused"
    assert refusal.detail["reason"] == FormNotAllowed.slug
    assert refusal.detail["form"] == Form.HOME_CONSENT.value
    assert refusal.actor_user_id == health_check.nurse.user_id


def test_a_pin_submit_records_the_visit_and_a_consent_window_of_exactly_the_configured_length(
        db: FakeDatabase, clock: FrozenClock, ca: TestCA) -> None:
    rt = fake_runtime(db, clock=clock, ca=ca, rules=default_rules(viewing_window=timedelta(hours=6)))
    tenant = seed_tenant(rt)
    challenge = _start(rt, tenant.nurse)
    clock.advance(seconds=30)
    view = _submit(rt, tenant.nurse, challenge, ca.issue())
    (visit,) = db.rows(orm.Visit)
    assert view.id == visit.id and visit.medical_info_allowed and visit.person_ref == "person-1"
    (consent,) = db.rows(orm.Consent, visit_id=visit.id)
    assert consent.registered_at == clock()
    assert consent.expires_at - consent.registered_at == timedelta(hours=6)
    assert consent.kinds == [InfoKind.MEDICATION.value]
    assert db.rows(orm.Challenge)[0].used_at == clock()
    # a card-verified home visit (care type 2) also opens the continuing-care relationship (docs/rules.md §3.2)
    assert [e.action for e in db.audit(outcome="ok")][-3:] == ["verification.submit", "consent.register",
                                                                 "care.open"]


def test_a_retry_with_the_same_key_and_body_answers_with_the_same_visit(rt: Runtime, db: FakeDatabase,
                                                                        tenant: Tenant, ca: TestCA,
                                                                        oqs: FakeOQS) -> None:
    card = ca.issue()
    challenge = _start(rt, tenant.nurse)
    signature = card.sign(challenge.nonce)
    first = _submit(rt, tenant.nurse, challenge, card, signature=signature)
    again = _submit(rt, tenant.nurse, challenge, card, signature=signature)
    assert again.id == first.id
    assert len(db.rows(orm.Visit)) == 1 and len(oqs.confirmations) == 1


def test_a_refused_submit_spends_the_challenge_and_a_retry_with_the_same_key_gets_the_same_refusal(
        rt: Runtime, db: FakeDatabase, tenant: Tenant, ca: TestCA, oqs: FakeOQS) -> None:
    card = ca.issue()
    challenge = _start(rt, tenant.nurse)
    forged = bytes(256)
    with pytest.raises(SignatureInvalid) as first:
        _submit(rt, tenant.nurse, challenge, card, signature=forged)
    with pytest.raises(SignatureInvalid) as retry:
        _submit(rt, tenant.nurse, challenge, card, signature=forged)
    assert (retry.value.detail, retry.value.extra) == (first.value.detail, first.value.extra)
    assert db.rows(orm.Challenge)[0].used_at is not None  # no second guess on the same challenge
    with pytest.raises(ChallengeUsed):  # not even with the right signature under a new key
        _submit(rt, tenant.nurse, challenge, card, key="key-2")
    assert db.rows(orm.Visit) == [] and oqs.confirmations == []
    refused = db.audit(action="verification.submit", outcome="refused")
    assert refused[0].detail["reason"] == SignatureInvalid.slug


def test_the_same_key_with_a_different_body_is_an_idempotency_conflict(rt: Runtime, db: FakeDatabase,
                                                                      tenant: Tenant, ca: TestCA) -> None:
    card = ca.issue()
    challenge = _start(rt, tenant.nurse)
    _submit(rt, tenant.nurse, challenge, card)
    with pytest.raises(IdempotencyConflict):
        _submit(rt, tenant.nurse, challenge, card, consent=ConsentChoice.of(blanket=True))
    assert len(db.rows(orm.Visit)) == 1


def test_a_challenge_started_by_another_staff_member_is_refused(rt: Runtime, db: FakeDatabase, tenant: Tenant,
                                                                ca: TestCA, oqs: FakeOQS) -> None:
    challenge = _start(rt, tenant.nurse)
    with pytest.raises(ChallengeInvalid) as caught:
        _submit(rt, tenant.other_nurse, challenge, ca.issue())
    assert caught.value.extra["rule"] == "challenge-user"
    assert db.rows(orm.Visit) == [] and oqs.confirmations == []


def test_an_expired_challenge_is_refused(rt: Runtime, clock: FrozenClock, tenant: Tenant, ca: TestCA) -> None:
    challenge = _start(rt, tenant.nurse)
    clock.advance(seconds=rt.rules.challenge_ttl.total_seconds())
    with pytest.raises(ChallengeExpired):
        _submit(rt, tenant.nurse, challenge, ca.issue())


def test_a_card_from_another_ca_is_not_trusted(rt: Runtime, db: FakeDatabase, tenant: Tenant) -> None:
    challenge = _start(rt, tenant.nurse)
    with pytest.raises(CertificateUntrusted):
        _submit(rt, tenant.nurse, challenge, TestCA(name="Not JPKI").issue(holder="stranger"))
    assert db.rows(orm.Visit) == []


def test_an_oqs_outage_keeps_the_challenge_and_the_key_usable_and_is_audited(
        rt: Runtime, db: FakeDatabase, tenant: Tenant, ca: TestCA, oqs: FakeOQS) -> None:
    card = ca.issue()
    challenge = _start(rt, tenant.nurse)
    signature = card.sign(challenge.nonce)
    oqs.unavailable = True
    with pytest.raises(QualificationUnavailable):
        _submit(rt, tenant.nurse, challenge, card, signature=signature)
    assert db.rows(orm.Challenge)[0].used_at is None and db.rows(orm.IdempotencyRecord) == []
    assert db.audit(action="verification.submit", outcome="refused")[0].detail["reason"] == \
        QualificationUnavailable.slug
    oqs.unavailable = False
    view = _submit(rt, tenant.nurse, challenge, card, signature=signature)
    assert db.rows(orm.Visit)[0].id == view.id
