"""The verification flow: two round trips from the device (start, submit).

start  → a single-use random challenge that expires (2 minutes by default).
submit → the card's certificate and its signature over the challenge (PIN), or
         the certificate plus the visual-mode password (目視), and for form ②
         the consent choice. The server checks signature, chain, certificate
         standing and challenge, asks OQS, records the visit and the consent.

Submissions carry an Idempotency-Key: a retry gets the same outcome (the same
visit, or the same refusal) and nothing is created twice.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography import x509

from ..adapters import jpki, orm
from ..adapters.oqs import ConfirmationRequest
from ..adapters.repository import UnitOfWork
from ..domain import consent as consent_rules
from ..domain.certificate import CertificateStanding, assess_certificate
from ..domain.codes import CareType, Form, IdentityMethod
from ..domain.consent import ConsentChoice, ViewingWindow
from ..domain.errors import (
    ChallengeExpired,
    ChallengeInvalid,
    ChallengeUsed,
    ConsentNotApplicable,
    DomainError,
    DuplicateRecord,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    QualificationUnavailable,
    ValidationFailed,
)
from ..domain.qualification import QualificationResult
from ..runtime import Runtime
from . import audit, idempotency, visual_password
from .care import open_or_renew_relationship
from .principal import Principal, institution_of
from .visits import VisitView, relationship_status, replayed_view

SUBMIT_SCOPE = "verification.submit"


@dataclass(frozen=True)
class StartRequest:
    care_type: CareType
    form: Form
    method: IdentityMethod
    patient_reference: str | None = None


@dataclass(frozen=True)
class SubmitRequest:
    certificate: bytes
    signature: bytes | None = None
    visual_password: str | None = None
    visual_confirmed_by: str | None = None
    consent: ConsentChoice | None = None
    certificate_kind: str | None = None  # token the device read: card / android / iphone
    raw: dict[str, Any] = field(default_factory=dict)  # the request as sent, for the idempotency hash


def start(rt: Runtime, actor: Principal, req: StartRequest) -> orm.Challenge:
    actor.require_staff_on_device()
    now = rt.clock()
    with rt.uow() as uow:
        try:
            rt.policy.require(institution_of(uow, actor).facility_kind, req.form)
            _check_method(uow, actor, req)
        except DomainError as refusal:
            audit.record_refusal(rt, actor, "verification.start", refusal, form=req.form.value,
                                 method=req.method.value)
            raise
        challenge = uow.challenges.add(orm.Challenge(
            nonce=secrets.token_bytes(32), institution_id=actor.institution_id, device_id=actor.device_id,
            user_id=actor.user_id, care_type=int(req.care_type), form=req.form.value, method=req.method.value,
            patient_reference=req.patient_reference, created_at=now, expires_at=now + rt.rules.challenge_ttl))
        audit.record(uow, at=now, action="verification.start", institution_id=actor.institution_id,
                     user_id=actor.user_id, device_id=actor.device_id, target_type="challenge",
                     target_id=challenge.id, form=req.form.value, method=req.method.value,
                     care_type=int(req.care_type))
        uow.commit()
        return challenge


def _check_method(uow: UnitOfWork, actor: Principal, req: StartRequest) -> None:
    if req.care_type is CareType.EMERGENCY:
        raise ValidationFailed("救急の資格確認はモバイル端末では行えません。", field="care_type")
    if req.method is IdentityMethod.VISUAL and req.care_type is CareType.ONLINE:
        raise MethodNotAllowed("オンライン診療では目視確認はできません。暗証番号で本人確認してください。",
                               rule="online-needs-pin")
    if req.method is IdentityMethod.VISUAL and not uow.institutions.has_visual_password(actor.institution_id):
        raise MethodNotAllowed("目視確認モードのパスワードが設定されていません。管理者に設定を依頼してください。",
                               rule="visual-password-not-set")


def submit(rt: Runtime, actor: Principal, challenge_id: str, idempotency_key: str,
           req: SubmitRequest) -> VisitView:
    actor.require_staff_on_device()
    request_hash = idempotency.request_hash({"challenge_id": challenge_id, "body": req.raw})
    with rt.uow() as uow:
        replay = replayed_view(rt, uow, actor, SUBMIT_SCOPE, idempotency_key, request_hash)
        if replay is not None:
            return replay
        challenge = uow.challenges.get_owned(challenge_id, actor.institution_id)
        if challenge is None or challenge.client_id is not None:  # a machine client's challenge is its own
            raise NotFound("確認手続きが見つかりません。")
        try:
            visit, consent, relationship = _verify(rt, uow, actor, challenge, req)
        except QualificationUnavailable as refusal:
            # Transient: the challenge stays usable and nothing is remembered under the key.
            uow.rollback()
            audit.record_refusal(rt, actor, "verification.submit", refusal, target_type="challenge",
                                 target_id=challenge_id)
            raise
        except DomainError as refusal:
            uow.rollback()
            return _refuse(rt, uow, actor, challenge_id, idempotency_key, request_hash, refusal)
        now = rt.clock()  # the view is made of what was just written: nothing is read back
        view = VisitView(visit, consent, now, relationship, relationship_status(rt, relationship, now))
        idempotency.remember(uow, actor, SUBMIT_SCOPE, idempotency_key, request_hash, status=201,
                             response={"visit_id": visit.id}, now=rt.clock())
        return idempotency.commit_or_replay(
            uow, view, lambda: replayed_view(rt, uow, actor, SUBMIT_SCOPE, idempotency_key, request_hash))


def _verify(rt: Runtime, uow: UnitOfWork, actor: Principal, challenge: orm.Challenge, req: SubmitRequest
            ) -> tuple[orm.Visit, orm.Consent | None, orm.CareRelationship | None]:
    """Check everything, ask OQS, then spend the challenge and record the visit (and the consent, and the
    care relationship). Nothing is flushed here: the rows carry their ids from construction and are written
    together when the unit commits (docs/performance.md)."""
    now = rt.clock()
    _check_challenge(challenge, actor, now)
    form, method = Form(challenge.form), IdentityMethod(challenge.method)
    institution = institution_of(uow, actor)  # the challenge is the caller's institution's (get_owned)
    rt.policy.require(institution.facility_kind, form)  # the policy may have changed since start
    certificate = trusted_certificate(rt, req.certificate)
    confirmed_by = _identify(rt, uow, actor, challenge, certificate, method, req)
    standing = standing_of(rt, certificate, now)
    choice = _consent_for(form, req.consent)
    requested = consent_rules.may_request_medical_information(form, standing, choice)
    result = rt.oqs.confirm(ConfirmationRequest(
        institution_code=institution.code, certificate=certificate, care_type=CareType(challenge.care_type),
        form=form, method=method, consent_kinds=choice.kinds if requested and choice else frozenset(), at=now))
    granted = consent_rules.medical_information_granted(requested, person_resolved=result.person_ref is not None,
                                                        data_withheld=result.data_withheld)
    if not uow.challenges.claim(challenge.id, now):
        raise ChallengeUsed()
    visit = _record_visit(uow, actor, challenge, req, result, standing, confirmed_by, granted, now,
                          certificate_not_after=certificate.not_valid_after_utc)  # renewal alert (docs/rules.md §2.4)
    consent = _register_consent(rt, uow, actor, visit, choice, now) if granted and choice is not None else None
    relationship = None
    if consent_rules.opens_care_relationship(form=form, care_type=CareType(challenge.care_type),
                                             person_resolved=result.person_ref is not None):
        relationship = open_or_renew_relationship(rt, uow, actor, visit, consent, now)
    return visit, consent, relationship


def trusted_certificate(rt: Runtime, der: bytes) -> x509.Certificate:
    """The card's certificate, parsed and chained to a trust anchor OQS publishes. Shared by the device
    flow and a machine client's card check (services/qualification.py), so both trust the same cards."""
    certificate = jpki.load_certificate(der)
    jpki.verify_chain(certificate, rt.oqs.trust_anchors())
    return certificate


def standing_of(rt: Runtime, certificate: x509.Certificate, now: datetime) -> CertificateStanding:
    """Valid, or expired but in the grace period (a card's certificate only: a phone's, told by its own policy,
    has none); otherwise refused (docs/rules.md §2.4)."""
    return assess_certificate(not_before=certificate.not_valid_before_utc,
                              not_after=certificate.not_valid_after_utc, now=now,
                              grace_months=rt.rules.certificate_grace_months,
                              smartphone=jpki.is_smartphone_certificate(certificate, rt.rules.smartphone_policies))


def challenge_usable(challenge: orm.Challenge, now: datetime) -> None:
    """Single use and short-lived, whoever started it."""
    if challenge.used_at is not None:
        raise ChallengeUsed()
    if now >= challenge.expires_at:
        minutes = round((challenge.expires_at - challenge.created_at).total_seconds() / 60)
        raise ChallengeExpired(f"確認の有効時間（{minutes}分）を過ぎました。最初からやり直してください。",
                               expired_at=challenge.expires_at.isoformat())


def verify_pin_signature(challenge: orm.Challenge, certificate: x509.Certificate, signature: bytes | None) -> None:
    """The card signed this challenge's nonce, which it does only after the holder's PIN."""
    if not signature:
        raise ValidationFailed("暗証番号による確認にはカードの署名が必要です。", field="signature")
    jpki.verify_signature(certificate, signature, challenge.nonce)


def _check_challenge(challenge: orm.Challenge, actor: Principal, now: datetime) -> None:
    """The challenge is bound to the device AND the staff member who started it, single use and short-lived."""
    if challenge.device_id != actor.device_id:
        raise ChallengeInvalid("この確認手続きは別の端末で開始されました。", rule="challenge-device")
    if challenge.user_id != actor.user_id:
        raise ChallengeInvalid("この確認手続きは別のスタッフが開始しました。最初からやり直してください。",
                               rule="challenge-user")
    challenge_usable(challenge, now)


def _identify(rt: Runtime, uow: UnitOfWork, actor: Principal, challenge: orm.Challenge,
              certificate: x509.Certificate, method: IdentityMethod, req: SubmitRequest) -> str | None:
    """The person behind the card: the card's PIN signature, or a staff member's visual check."""
    if method is not IdentityMethod.PIN:
        return _check_visual(rt, uow, actor, req)
    if req.signature and req.visual_password is not None:
        raise ValidationFailed("暗証番号による確認に目視確認のパスワードは不要です。", field="visual_password")
    verify_pin_signature(challenge, certificate, req.signature)
    return None


def _record_visit(uow: UnitOfWork, actor: Principal, challenge: orm.Challenge, req: SubmitRequest, result: QualificationResult, standing: CertificateStanding,
                  confirmed_by: str | None, granted: bool, now: datetime,
                  certificate_not_after: datetime | None = None) -> orm.Visit:
    """Inserted with everything known now, so the row is written once (no UPDATE after its INSERT)."""
    visit = uow.visits.add(orm.Visit(
        institution_id=challenge.institution_id, challenge_id=challenge.id, device_id=actor.device_id,
        user_id=actor.user_id,
        visual_confirmed_by=confirmed_by, care_type=challenge.care_type, form=challenge.form,
        method=challenge.method, patient_reference=challenge.patient_reference,
        certificate_standing=standing.value, certificate_kind=req.certificate_kind,
        eligibility_status=int(result.status), medical_info_allowed=granted, person_ref=result.person_ref,
        result=result.to_dict(), created_at=now, certificate_not_after=certificate_not_after))
    audit.record(uow, at=now, action="verification.submit", institution_id=challenge.institution_id,
                 user_id=actor.user_id, device_id=actor.device_id, target_type="visit", target_id=visit.id, method=challenge.method,
                 form=challenge.form, eligibility_status=int(result.status), certificate_standing=standing.value,
                 visual_confirmed_by=confirmed_by)
    return visit


def _register_consent(rt: Runtime, uow: UnitOfWork, actor: Principal, visit: orm.Visit, choice: ConsentChoice,
                      now: datetime) -> orm.Consent:
    assert visit.person_ref is not None
    window = ViewingWindow.after_registration(now, rt.rules.viewing_window)
    registered = uow.consents.add(orm.Consent(
        institution_id=visit.institution_id, visit_id=visit.id, person_ref=visit.person_ref, source="card",
        blanket=choice.blanket, kinds=sorted(k.value for k in choice.kinds), registered_at=window.opens_at,
        expires_at=window.closes_at))
    audit.record(uow, at=now, action="consent.register", institution_id=visit.institution_id,
                 user_id=actor.user_id, device_id=actor.device_id, target_type="consent", target_id=registered.id,
                 visit_id=visit.id, kinds=registered.kinds, blanket=choice.blanket,
                 expires_at=registered.expires_at.isoformat())
    return registered


def _check_visual(rt: Runtime, uow: UnitOfWork, actor: Principal, req: SubmitRequest) -> str:
    if req.signature:
        raise ValidationFailed("目視確認ではカードの署名は送りません。", field="signature")
    institution = uow.institutions.get(actor.institution_id)
    assert institution is not None
    visual_password.check(rt, actor, institution, req.visual_password)  # counted, and locked after too many
    confirmed_by = req.visual_confirmed_by or actor.user_id
    assert confirmed_by is not None
    staff = uow.users.get(confirmed_by)
    if staff is None or staff.institution_id != actor.institution_id or staff.revoked_at is not None:
        raise Forbidden("目視確認を行ったスタッフを確認できません。", field="visual_confirmed_by")
    return staff.id


def _consent_for(form: Form, choice: ConsentChoice | None) -> ConsentChoice | None:
    if form is Form.QUALIFICATION_ONLY and choice is not None and choice.consents_to_anything:
        raise ConsentNotApplicable(
            "資格確認限定型では診療／薬剤情報の同意は取得できません（資格情報のみ確認します）。", field="consent")
    return choice if form is Form.HOME_CONSENT else None


def _refuse(rt: Runtime, uow: UnitOfWork, actor: Principal, challenge_id: str, key: str, request_hash: str,
            refusal: DomainError) -> VisitView:
    """Answer a refused submission, unless a concurrent request with the same key already has an outcome.

    Concurrent retries of one submission race for the challenge: the losers see it spent
    (``challenge-used``) only because the winner spent it, and the winner recorded its outcome
    under the key in the same transaction. So a loser answers with the winner's outcome;
    only a request that has no winner is refused, and the refusal is remembered under the key.
    """
    winner = replayed_view(rt, uow, actor, SUBMIT_SCOPE, key, request_hash)
    if winner is not None:
        return winner
    uow.rollback()  # hand the connection back before the refusal's own transaction takes one
    if not _spend_and_remember(rt, actor, challenge_id, key, request_hash, refusal):
        winner = replayed_view(rt, uow, actor, SUBMIT_SCOPE, key, request_hash)
        if winner is not None:
            return winner
    raise refusal


def _spend_and_remember(rt: Runtime, actor: Principal, challenge_id: str, key: str, request_hash: str,
                        refusal: DomainError) -> bool:
    """A refused submission spends the challenge (no guessing) and is answered the same way on retry.

    False when a concurrent request with the same key remembered its outcome first.
    """
    now = rt.clock()
    with rt.uow() as uow:
        uow.challenges.claim(challenge_id, now)
        idempotency.remember_refusal(uow, actor, SUBMIT_SCOPE, key, request_hash, refusal, now=now)
        audit.record(uow, at=now, action="verification.submit", outcome="refused",
                     institution_id=actor.institution_id, user_id=actor.user_id, device_id=actor.device_id,
                     target_type="challenge", target_id=challenge_id, reason=refusal.slug)
        try:
            uow.commit()
        except DuplicateRecord:
            uow.rollback()
            return False
        return True
