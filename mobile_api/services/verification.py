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
from typing import Any

from sqlalchemy import update

from ..adapters import jpki, orm
from ..adapters.oqs import ConfirmationRequest
from ..adapters.repository import UnitOfWork
from ..domain.certificate import CertificateStanding, assess_certificate
from ..domain.codes import CareType, Form, IdentityMethod
from ..domain.consent import ConsentChoice
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
    VisualPasswordWrong,
    error_class_for,
)
from ..domain.facility import FacilityKind
from ..runtime import Runtime
from . import audit, idempotency
from .principal import Principal
from .visits import VisitView

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
        institution = uow.institutions.get(actor.institution_id)
        assert institution is not None
        try:
            rt.policy.require(FacilityKind(institution.facility_kind), req.form)
            _check_method(req, institution)
        except DomainError as refusal:
            _audit_refusal(rt, actor, "verification.start", refusal, form=req.form.value, method=req.method.value)
            raise
        challenge = uow.challenges.add(orm.Challenge(
            nonce=secrets.token_bytes(32), institution_id=actor.institution_id, device_id=actor.device_id,
            user_id=actor.user_id, care_type=int(req.care_type), form=req.form.value, method=req.method.value,
            patient_reference=req.patient_reference, created_at=now, expires_at=now + rt.rules.challenge_ttl))
        uow.flush()
        audit.record(uow, at=now, action="verification.start", institution_id=actor.institution_id,
                     user_id=actor.user_id, device_id=actor.device_id, target_type="challenge",
                     target_id=challenge.id, form=req.form.value, method=req.method.value,
                     care_type=int(req.care_type))
        uow.commit()
        return challenge


def _check_method(req: StartRequest, institution: orm.Institution) -> None:
    if req.care_type is CareType.EMERGENCY:
        raise ValidationFailed("救急の資格確認はモバイル端末では行えません。", field="care_type")
    if req.method is IdentityMethod.VISUAL and req.care_type is CareType.ONLINE:
        raise MethodNotAllowed("オンライン診療では目視確認はできません。暗証番号で本人確認してください。",
                               rule="online-needs-pin")
    if req.method is IdentityMethod.VISUAL and institution.visual_password_hash is None:
        raise MethodNotAllowed("目視確認モードのパスワードが設定されていません。管理者に設定を依頼してください。",
                               rule="visual-password-not-set")


def submit(rt: Runtime, actor: Principal, challenge_id: str, idempotency_key: str,
           req: SubmitRequest) -> VisitView:
    actor.require_staff_on_device()
    request_hash = idempotency.request_hash({"challenge_id": challenge_id, "body": req.raw})
    with rt.uow() as uow:
        replay = _replay(uow, actor, idempotency_key, request_hash)
        if replay is not None:
            return replay
        challenge = uow.challenges.get(challenge_id)
        if challenge is None or challenge.institution_id != actor.institution_id:
            raise NotFound("確認手続きが見つかりません。")
        try:
            visit = _verify(rt, uow, actor, challenge, req)
        except QualificationUnavailable as refusal:
            # Transient: the challenge stays usable and nothing is remembered under the key.
            uow.rollback()
            _audit_refusal(rt, actor, "verification.submit", refusal, challenge_id=challenge_id)
            raise
        except DomainError as refusal:
            uow.rollback()
            _refuse_and_remember(rt, actor, challenge_id, idempotency_key, request_hash, refusal)
            raise
        idempotency.remember(uow, actor, SUBMIT_SCOPE, idempotency_key, request_hash, status=201,
                             response={"visit_id": visit.id}, now=rt.clock())
        view = VisitView(visit, uow.consents.one_by(visit_id=visit.id))
        return idempotency.commit_or_replay(uow, view, lambda: _replay(uow, actor, idempotency_key, request_hash))


def _verify(rt: Runtime, uow: UnitOfWork, actor: Principal, challenge: orm.Challenge,
            req: SubmitRequest) -> orm.Visit:
    now = rt.clock()
    if challenge.device_id != actor.device_id:
        raise ChallengeInvalid("この確認手続きは別の端末で開始されました。", rule="challenge-device")
    if challenge.used_at is not None:
        raise ChallengeUsed()
    if now >= challenge.expires_at:
        raise ChallengeExpired(expired_at=challenge.expires_at.isoformat())
    form, method = Form(challenge.form), IdentityMethod(challenge.method)
    institution = uow.institutions.get(challenge.institution_id)
    assert institution is not None
    rt.policy.require(FacilityKind(institution.facility_kind), form)  # the policy may have changed since start

    certificate = jpki.load_certificate(req.certificate)
    jpki.verify_chain(certificate, rt.oqs.trust_anchors())
    confirmed_by = None
    if method is IdentityMethod.PIN:
        if not req.signature:
            raise ValidationFailed("暗証番号による確認にはカードの署名が必要です。", field="signature")
        if req.visual_password is not None:
            raise ValidationFailed("暗証番号による確認に目視確認のパスワードは不要です。", field="visual_password")
        jpki.verify_signature(certificate, req.signature, challenge.nonce)
    else:
        confirmed_by = _check_visual(rt, uow, actor, institution, req)
    standing = assess_certificate(not_before=certificate.not_valid_before_utc,
                                  not_after=certificate.not_valid_after_utc, now=now,
                                  grace_months=rt.rules.certificate_grace_months)
    consent = _consent_for(form, req.consent)
    medical_allowed = (form is Form.HOME_CONSENT and standing is CertificateStanding.VALID
                       and consent is not None and consent.consents_to_anything)
    result = rt.oqs.confirm(ConfirmationRequest(
        institution_code=institution.code, certificate=certificate, care_type=CareType(challenge.care_type),
        form=form, method=method, consent_kinds=consent.kinds if medical_allowed and consent else frozenset(),
        at=now))
    medical_allowed = medical_allowed and result.person_ref is not None and not result.data_withheld

    claimed = uow.session.execute(
        update(orm.Challenge).where(orm.Challenge.id == challenge.id, orm.Challenge.used_at.is_(None))
        .values(used_at=now))
    if claimed.rowcount != 1:
        raise ChallengeUsed()
    visit = uow.visits.add(orm.Visit(
        institution_id=institution.id, challenge_id=challenge.id, device_id=actor.device_id, user_id=actor.user_id,
        visual_confirmed_by=confirmed_by, care_type=challenge.care_type, form=form.value, method=method.value,
        patient_reference=challenge.patient_reference, certificate_standing=standing.value,
        certificate_kind=req.certificate_kind, eligibility_status=int(result.status),
        medical_info_allowed=medical_allowed, person_ref=result.person_ref, result=result.to_dict(), created_at=now))
    uow.flush()
    audit.record(uow, at=now, action="verification.submit", institution_id=institution.id, user_id=actor.user_id,
                 device_id=actor.device_id, target_type="visit", target_id=visit.id, method=method.value,
                 form=form.value, eligibility_status=int(result.status), certificate_standing=standing.value,
                 visual_confirmed_by=confirmed_by)
    if medical_allowed and consent is not None:
        registered = uow.consents.add(orm.Consent(
            institution_id=institution.id, visit_id=visit.id, person_ref=result.person_ref, source="card",
            blanket=consent.blanket, kinds=sorted(k.value for k in consent.kinds), registered_at=now,
            expires_at=now + rt.rules.viewing_window))
        uow.flush()
        audit.record(uow, at=now, action="consent.register", institution_id=institution.id, user_id=actor.user_id,
                     device_id=actor.device_id, target_type="consent", target_id=registered.id, visit_id=visit.id,
                     kinds=registered.kinds, blanket=consent.blanket, expires_at=registered.expires_at.isoformat())
    return visit


def _check_visual(rt: Runtime, uow: UnitOfWork, actor: Principal, institution: orm.Institution,
                  req: SubmitRequest) -> str:
    if req.signature:
        raise ValidationFailed("目視確認ではカードの署名は送りません。", field="signature")
    if not req.visual_password or not rt.passwords.verify(institution.visual_password_hash, req.visual_password):
        raise VisualPasswordWrong()
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


def _replay(uow: UnitOfWork, actor: Principal, key: str, request_hash: str) -> VisitView | None:
    record = idempotency.find(uow, actor, SUBMIT_SCOPE, key, request_hash)
    if record is None:
        return None
    if "problem" in record.response:
        stored = record.response["problem"]
        raise error_class_for(stored["slug"])(stored["detail"], **stored.get("extra", {}))
    visit = uow.visits.get(record.response["visit_id"])
    assert visit is not None
    return VisitView(visit, uow.consents.one_by(visit_id=visit.id))


def _refuse_and_remember(rt: Runtime, actor: Principal, challenge_id: str, key: str, request_hash: str,
                         refusal: DomainError) -> None:
    """A refused submission spends the challenge (no guessing) and is answered the same way on retry."""
    now = rt.clock()
    with rt.uow() as uow:
        uow.session.execute(update(orm.Challenge).where(orm.Challenge.id == challenge_id,
                                                        orm.Challenge.used_at.is_(None)).values(used_at=now))
        idempotency.remember(uow, actor, SUBMIT_SCOPE, key, request_hash, status=refusal.status, now=now,
                             response={"problem": {"slug": refusal.slug, "detail": refusal.detail,
                                                   "extra": refusal.extra}})
        audit.record(uow, at=now, action="verification.submit", outcome="refused",
                     institution_id=actor.institution_id, user_id=actor.user_id, device_id=actor.device_id,
                     target_type="challenge", target_id=challenge_id, reason=refusal.slug)
        try:
            uow.commit()
        except DuplicateRecord:
            uow.rollback()  # a concurrent retry already remembered it


def _audit_refusal(rt: Runtime, actor: Principal, action: str, refusal: DomainError, **detail: Any) -> None:
    with rt.uow() as uow:
        audit.record(uow, at=rt.clock(), action=action, outcome="refused", institution_id=actor.institution_id,
                     user_id=actor.user_id, device_id=actor.device_id, reason=refusal.slug, **detail)
        uow.commit()
