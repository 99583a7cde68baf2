"""The verification flow: two round trips from the device (start, submit).

start  → a single-use random challenge that expires (2 minutes by default).
submit → the card's certificate and its signature over the challenge (PIN), or
         the certificate plus the visual-mode password (目視), and for form ②
         the consent choice. The server checks signature, chain, certificate
         standing and challenge, asks OQS, records the visit and the consent.

Submissions carry an Idempotency-Key: a retry gets the same outcome (the same
visit, or the same refusal) and nothing is created twice.

Both run on the hot path's ledger (adapters/ledger.py): Core statements in one transaction, no ORM unit of
work. A submission is checked in full, then written as one ``Verified`` value by one ledger method
(docs/architecture.md, "The write side").
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography import x509

from ..adapters import orm
from ..adapters.ledger import Ledger, Verified
from ..adapters.oqs import ConfirmationRequest
from ..domain import consent as consent_rules
from ..domain.certificate import CertificateStanding
from ..domain.codes import CareType, Form, IdentityMethod
from ..domain.consent import ConsentChoice, ViewingWindow
from ..domain.errors import (
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
from ..domain.facility import InstitutionFacts
from ..domain.qualification import QualificationResult
from ..queries.visits import VisitRead
from ..runtime import Runtime
from . import audit, card_checks, idempotency, visual_password
from .care import relationship_for_card_visit
from .principal import Principal
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
    """A challenge and its audit row, in one transaction (two INSERTs)."""
    actor.require_staff_on_device()
    now = rt.clock()
    with rt.ledger() as ledger:
        try:
            rt.policy.require(_institution(ledger, actor).facility_kind, req.form)
            _check_method(ledger, actor, req)
        except DomainError as refusal:
            audit.record_refusal(rt, actor, "verification.start", refusal, form=req.form.value,
                                 method=req.method.value)
            raise
        challenge = orm.Challenge.plain(
            nonce=secrets.token_bytes(32), institution_id=actor.institution_id, device_id=actor.device_id,
            user_id=actor.user_id, care_type=int(req.care_type), form=req.form.value, method=req.method.value,
            patient_reference=req.patient_reference, created_at=now, expires_at=now + rt.rules.challenge_ttl)
        ledger.add_challenge(challenge)
        audit.record(ledger, at=now, action="verification.start", actor=actor, target_type="challenge",
                     target_id=challenge.id, form=req.form.value, method=req.method.value,
                     care_type=int(req.care_type))
        ledger.commit()
        return challenge


def _institution(ledger: Ledger, actor: Principal) -> InstitutionFacts:
    """As authentication read it in this request (``principal.institution_of``), or read now."""
    return actor.institution if actor.institution is not None else ledger.institution_facts(actor.institution_id)


def _check_method(ledger: Ledger, actor: Principal, req: StartRequest) -> None:
    if req.care_type is CareType.EMERGENCY:
        raise ValidationFailed("救急の資格確認はモバイル端末では行えません。", field="care_type")
    if req.method is IdentityMethod.VISUAL and req.care_type is CareType.ONLINE:
        raise MethodNotAllowed("オンライン診療では目視確認はできません。暗証番号で本人確認してください。",
                               rule="online-needs-pin")
    if req.method is IdentityMethod.VISUAL and not ledger.has_visual_password(actor.institution_id):
        raise MethodNotAllowed("目視確認モードのパスワードが設定されていません。管理者に設定を依頼してください。",
                               rule="visual-password-not-set")


def submit(rt: Runtime, actor: Principal, challenge_id: str, idempotency_key: str,
           req: SubmitRequest) -> VisitRead:
    """The visit a card verification made (or the one a retry gets back), as its response shows it."""
    return _submit(rt, actor, challenge_id, idempotency_key, req).read(rt.rules)


def _submit(rt: Runtime, actor: Principal, challenge_id: str, idempotency_key: str,
            req: SubmitRequest) -> VisitView:
    """Check, ask OQS, spend the challenge and write the ``Verified`` in one transaction.

    The Idempotency-Key is read only when the challenge is missing or already spent (a retry): a first
    submission is decided by the database's unique constraint when its outcome is written."""
    actor.require_staff_on_device()
    request_hash = idempotency.request_hash({"challenge_id": challenge_id, "body": req.raw})
    with rt.ledger() as ledger:
        challenge = ledger.challenge(challenge_id, actor.institution_id)
        if challenge is None or challenge.client_id is not None:  # a machine client's challenge is its own
            ledger.rollback()
            return _replay_or_raise(rt, actor, idempotency_key, request_hash, NotFound("確認手続きが見つかりません。"))
        if challenge.used_at is not None:
            ledger.rollback()
            replay = _replayed(rt, actor, idempotency_key, request_hash)
            if replay is not None:
                return replay
        try:
            verified, view = _verify(rt, ledger, actor, challenge, req, idempotency_key, request_hash)
        except QualificationUnavailable as refusal:
            # Transient: the challenge stays usable and nothing is remembered under the key.
            ledger.rollback()
            audit.record_refusal(rt, actor, "verification.submit", refusal, target_type="challenge",
                                 target_id=challenge_id)
            raise
        except DomainError as refusal:
            ledger.rollback()
            return _refuse(rt, actor, challenge_id, idempotency_key, request_hash, refusal)
        try:
            ledger.write_verified(verified)
            ledger.commit()
        except DuplicateRecord as duplicate:  # a concurrent retry with the same key wrote its outcome first
            return _replay_or_raise(rt, actor, idempotency_key, request_hash, duplicate)
        return view


def _replayed(rt: Runtime, actor: Principal, key: str, request_hash: str) -> VisitView | None:
    """The outcome already given under the key (the same visit, or the same refusal raised again)."""
    with rt.uow() as uow:
        return replayed_view(rt, uow, actor, SUBMIT_SCOPE, key, request_hash)


def _replay_or_raise(rt: Runtime, actor: Principal, key: str, request_hash: str, error: DomainError) -> VisitView:
    replay = _replayed(rt, actor, key, request_hash)
    if replay is None:
        raise error
    return replay


def _verify(rt: Runtime, ledger: Ledger, actor: Principal, challenge: orm.Challenge, req: SubmitRequest,
            key: str, request_hash: str) -> tuple[Verified, VisitView]:
    """Check everything, ask OQS, spend the challenge, and make what the submission writes (the visit, the
    consent, the care relationship, the audit rows, the outcome under the key) and the view answered from
    it: nothing is written here but the spent challenge, and nothing is read back."""
    now = rt.clock()
    _check_challenge(challenge, actor, now)
    form, method = Form(challenge.form), IdentityMethod(challenge.method)
    institution = _institution(ledger, actor)  # the challenge is the caller's institution's
    rt.policy.require(institution.facility_kind, form)  # the policy may have changed since start
    certificate = card_checks.trusted_certificate(rt, req.certificate)
    confirmed_by = _identify(rt, actor, challenge, certificate, method, req)
    standing = card_checks.standing_of(rt, certificate, now)
    choice = _consent_for(form, req.consent)
    requested = consent_rules.may_request_medical_information(form, standing, choice)
    result = rt.oqs.confirm(ConfirmationRequest(
        institution_code=institution.code, certificate=certificate, care_type=CareType(challenge.care_type),
        form=form, method=method, consent_kinds=choice.kinds if requested and choice else frozenset(), at=now))
    granted = consent_rules.medical_information_granted(requested, person_resolved=result.person_ref is not None,
                                                        data_withheld=result.data_withheld)
    if not ledger.claim(challenge.id, now):
        raise ChallengeUsed()
    visit = _visit(actor, challenge, req, result, standing, confirmed_by, granted, now,
                   certificate_not_after=certificate.not_valid_after_utc)  # renewal alert (docs/rules.md §2.4)
    rows = [audit.row(at=now, action="verification.submit", actor=actor, target_type="visit",
                      target_id=visit.id, method=challenge.method, form=challenge.form,
                      eligibility_status=int(result.status), certificate_standing=standing.value,
                      visual_confirmed_by=confirmed_by)]
    consent = _consent(rt, actor, visit, choice, now, rows) if granted and choice is not None else None
    care = None
    if consent_rules.opens_care_relationship(form=form, care_type=CareType(challenge.care_type),
                                             person_resolved=result.person_ref is not None):
        assert visit.person_ref is not None
        care = relationship_for_card_visit(rt, actor, visit, consent,
                                           ledger.open_relationship(actor.institution_id, visit.person_ref), now)
        rows.append(care.audit_row)
    relationship = care.relationship if care else None
    verified = Verified(
        visit=visit, consent=consent, relationship=relationship, relationship_is_new=bool(care and care.is_new),
        ended_idle=care.ended_idle if care else None, audit=tuple(rows),
        idempotency=idempotency.record_of(actor, SUBMIT_SCOPE, key, request_hash, status=201,
                                          response={"visit_id": visit.id}, now=now))
    return verified, VisitView(visit, consent, now, relationship, relationship_status(rt, relationship, now))


def _check_challenge(challenge: orm.Challenge, actor: Principal, now: datetime) -> None:
    """The challenge is bound to the device AND the staff member who started it, single use and short-lived."""
    if challenge.device_id != actor.device_id:
        raise ChallengeInvalid("この確認手続きは別の端末で開始されました。", rule="challenge-device")
    if challenge.user_id != actor.user_id:
        raise ChallengeInvalid("この確認手続きは別のスタッフが開始しました。最初からやり直してください。",
                               rule="challenge-user")
    card_checks.challenge_usable(challenge, now)


def _identify(rt: Runtime, actor: Principal, challenge: orm.Challenge, certificate: x509.Certificate,
              method: IdentityMethod, req: SubmitRequest) -> str | None:
    """The person behind the card: the card's PIN signature, or a staff member's visual check."""
    if method is not IdentityMethod.PIN:
        return _check_visual(rt, actor, req)
    if req.signature and req.visual_password is not None:
        raise ValidationFailed("暗証番号による確認に目視確認のパスワードは不要です。", field="visual_password")
    card_checks.verify_pin_signature(challenge, certificate, req.signature)
    return None


def _visit(actor: Principal, challenge: orm.Challenge, req: SubmitRequest, result: QualificationResult,
           standing: CertificateStanding, confirmed_by: str | None, granted: bool, now: datetime,
           certificate_not_after: datetime | None = None) -> orm.Visit:
    """Made with everything known now, so the row is written once (no UPDATE after its INSERT)."""
    return orm.Visit.plain(
        institution_id=challenge.institution_id, challenge_id=challenge.id, device_id=actor.device_id,
        user_id=actor.user_id, visual_confirmed_by=confirmed_by, care_type=challenge.care_type, form=challenge.form,
        method=challenge.method, patient_reference=challenge.patient_reference,
        certificate_standing=standing.value, certificate_kind=req.certificate_kind,
        eligibility_status=int(result.status), medical_info_allowed=granted, person_ref=result.person_ref,
        result=result.to_dict(), created_at=now, certificate_not_after=certificate_not_after,
        care_relationship_id=None, requery_of=None)


def _consent(rt: Runtime, actor: Principal, visit: orm.Visit, choice: ConsentChoice, now: datetime,
             rows: list[dict[str, Any]]) -> orm.Consent:
    """The consent the card registered, and its audit row (appended to ``rows``)."""
    assert visit.person_ref is not None
    window = ViewingWindow.after_registration(now, rt.rules.viewing_window)
    registered = orm.Consent.plain(
        institution_id=visit.institution_id, visit_id=visit.id, person_ref=visit.person_ref, source="card",
        blanket=choice.blanket, kinds=sorted(k.value for k in choice.kinds), registered_at=window.opens_at,
        expires_at=window.closes_at, withdrawn_at=None, renews_id=None)
    rows.append(audit.row(at=now, action="consent.register", actor=actor, target_type="consent",
                          target_id=registered.id, visit_id=visit.id, kinds=registered.kinds,
                          blanket=choice.blanket, expires_at=registered.expires_at.isoformat()))
    return registered


def _check_visual(rt: Runtime, actor: Principal, req: SubmitRequest) -> str:
    if req.signature:
        raise ValidationFailed("目視確認ではカードの署名は送りません。", field="signature")
    with rt.uow() as uow:  # the visual check is not on the hot path: its reads use the unit of work
        institution = uow.institutions.get(actor.institution_id)
        assert institution is not None
        confirmed_by = req.visual_confirmed_by or actor.user_id
        assert confirmed_by is not None
        staff = uow.users.get(confirmed_by)
    visual_password.check(rt, actor, institution, req.visual_password)  # counted, and locked after too many
    if staff is None or staff.institution_id != actor.institution_id or staff.revoked_at is not None:
        raise Forbidden("目視確認を行ったスタッフを確認できません。", field="visual_confirmed_by")
    return staff.id


def _consent_for(form: Form, choice: ConsentChoice | None) -> ConsentChoice | None:
    if form is Form.QUALIFICATION_ONLY and choice is not None and choice.consents_to_anything:
        raise ConsentNotApplicable(
            "資格確認限定型では診療／薬剤情報の同意は取得できません（資格情報のみ確認します）。", field="consent")
    return choice if form is Form.HOME_CONSENT else None


def _refuse(rt: Runtime, actor: Principal, challenge_id: str, key: str, request_hash: str,
            refusal: DomainError) -> VisitView:
    """Answer a refused submission, unless a concurrent request with the same key already has an outcome.

    Concurrent retries of one submission race for the challenge: the losers see it spent
    (``challenge-used``) only because the winner spent it, and the winner recorded its outcome
    under the key in the same transaction. So a loser answers with the winner's outcome;
    only a request that has no winner is refused, and the refusal is remembered under the key.
    """
    winner = _replayed(rt, actor, key, request_hash)
    if winner is not None:
        return winner
    if not _spend_and_remember(rt, actor, challenge_id, key, request_hash, refusal):
        winner = _replayed(rt, actor, key, request_hash)
        if winner is not None:
            return winner
    raise refusal


def _spend_and_remember(rt: Runtime, actor: Principal, challenge_id: str, key: str, request_hash: str,
                        refusal: DomainError) -> bool:
    """A refused submission spends the challenge (no guessing) and is answered the same way on retry.

    False when a concurrent request with the same key remembered its outcome first.
    """
    now = rt.clock()
    with rt.ledger() as ledger:
        try:
            ledger.claim(challenge_id, now)
            ledger.remember(idempotency.refusal_record(actor, SUBMIT_SCOPE, key, request_hash, refusal, now=now))
            audit.record(ledger, at=now, action="verification.submit", outcome="refused", actor=actor,
                         target_type="challenge", target_id=challenge_id, reason=refusal.slug)
            ledger.commit()
        except DuplicateRecord:
            return False
        return True
