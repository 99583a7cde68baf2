"""Consent on the patient's own phone (like マイナ在宅受付Web, docs/rules.md §3.4).

An institution (form ②) creates a consent link: general, or for one appointment with a planned
consultation date. The link opens a page that needs no login; the patient chooses blanket consent or
kind by kind, and authenticates with the card's PIN only: the page starts a *patient session* (a
single-use challenge), hands it to the JPKI client on the phone, and the client answers with the card's
certificate and its signature. Then the consent is registered (``source`` "patient_phone") and, for a
while (``PATIENT_PAGE_SESSION_MINUTES``), the page can list and withdraw the patient's consents.

Only SHA-256 hashes of link and session tokens are kept. A link is the institution's: another
institution cannot list, revoke or see what came through it.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ..adapters import jpki, orm
from ..adapters.oqs import ConfirmationRequest
from ..adapters.repository import UnitOfWork
from ..domain import consent as consent_rules
from ..domain.certificate import CertificateStanding
from ..domain.codes import CareType, Form, IdentityMethod, InfoKind
from ..domain.consent import ConsentChoice, ViewingWindow
from ..domain.errors import (
    ConsentLinkGone,
    ConsentLinkUnknown,
    DomainError,
    NotFound,
    PatientSessionInvalid,
    QualificationUnavailable,
    ValidationFailed,
)
from ..domain.facility import FacilityKind
from ..domain.japanese_dates import jst_date
from ..domain.statuses import PatientSessionStatus
from ..queries import consents as consent_queries
from ..queries.consents import ConsentEntry
from ..runtime import Runtime
from . import audit, card_checks
from .care import VIA_PATIENT_PHONE, Withdrawal, withdraw_all
from .principal import Principal, institution_of

PURPOSES = ("general", "appointment")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- the institution's side ---------------------------------------------------------------------------

@dataclass(frozen=True)
class CreatedLink:
    link: orm.ConsentLink
    token: str  # shown once: only its hash is kept


def create_link(rt: Runtime, actor: Principal, *, purpose: str, care_type: CareType,
                planned_date: date | None = None, note: str | None = None) -> CreatedLink:
    """A new link. Form ③ institutions never get one (they never take consent)."""
    actor.require_patient_data_reader()
    now = rt.clock()
    if care_type not in (CareType.HOME_VISIT, CareType.ONLINE):
        raise ValidationFailed("患者のスマートフォンでの同意は、訪問診療等（2）またはオンライン診療等（3）です。",
                               field="care_type")
    if purpose == "appointment":
        if planned_date is None:
            raise ValidationFailed("予約用のリンクには診療予定日が必要です。", field="planned_date")
        if planned_date < jst_date(now):
            raise ValidationFailed("診療予定日が過去の日付です。", field="planned_date")
    elif planned_date is not None:
        raise ValidationFailed("診療予定日は予約用のリンク（appointment）にだけ指定できます。", field="planned_date")
    with rt.uow() as uow:
        try:
            rt.policy.require(institution_of(uow, actor).facility_kind, Form.HOME_CONSENT)
        except DomainError as refusal:
            audit.record_refusal(rt, actor, "consent_link.create", refusal)
            raise
        token = secrets.token_urlsafe(32)
        link = uow.consent_links.add(orm.ConsentLink(
            institution_id=actor.institution_id, token_hash=_hash(token), purpose=purpose, planned_date=planned_date,
            care_type=int(care_type), note=note, created_by=actor.user_id or "", created_at=now,
            expires_at=consent_rules.consent_link_expiry(created_at=now, ttl=rt.rules.consent_link_ttl,
                                                         planned_date=planned_date)))
        audit.record(uow, at=now, action="consent_link.create", institution_id=actor.institution_id,
                     user_id=actor.user_id, device_id=actor.device_id, target_type="consent_link", target_id=link.id,
                     purpose=purpose, planned_date=planned_date.isoformat() if planned_date else None,
                     expires_at=link.expires_at.isoformat())
        uow.commit()
        return CreatedLink(link, token)


def list_links(rt: Runtime, actor: Principal, *, limit: int, offset: int) -> list[orm.ConsentLink]:
    actor.require_patient_data_reader()
    with rt.uow() as uow:
        return list(uow.consent_links.of_institution(actor.institution_id, limit=limit, offset=offset))


def revoke_link(rt: Runtime, actor: Principal, link_id: str) -> orm.ConsentLink:
    """Revoke a link; revoking it again is not an error. One conditional update decides: of concurrent
    revocations one is audited, and every caller gets the link as the first revocation left it."""
    actor.require_patient_data_reader()
    now = rt.clock()
    with rt.uow() as uow:
        link = uow.consent_links.owned(link_id, actor.institution_id, "同意登録用リンクが見つかりません。")
        if link.revoked_at is None:
            revoked = uow.consent_links.revoke(link.id, now=now, revoked_by=actor.user_id)
            uow.consent_links.reload(link)
            if revoked:
                audit.record(uow, at=now, action="consent_link.revoke", institution_id=actor.institution_id,
                             user_id=actor.user_id, device_id=actor.device_id, target_type="consent_link",
                             target_id=link.id)
            uow.commit()
        return link


def list_consents(rt: Runtime, actor: Principal, *, by_planned_date: bool, source: str | None, limit: int,
                  offset: int) -> list[ConsentEntry]:
    """The institution's registered consents, by registration time or by planned date, each with its
    window as of now, read in one statement (queries/consents.py); audited (patient data)."""
    actor.require_patient_data_reader()
    now = rt.clock()
    with rt.uow() as uow:
        entries = consent_queries.consents(uow.session, actor.institution_id, source=source,
                                           by_planned_date=by_planned_date, limit=limit, offset=offset, now=now)
        audit.record(uow, at=now, action="consent.list", institution_id=actor.institution_id,
                     user_id=actor.user_id, device_id=actor.device_id, target_type="consent", count=len(entries),
                     ids=[e.id for e in entries])
        uow.commit()
        return entries


# --- the patient's side (no login: the link, then the PIN) --------------------------------------------

@dataclass(frozen=True)
class OpenLink:
    link: orm.ConsentLink
    institution: orm.Institution


def _open(rt: Runtime, uow: UnitOfWork, token: str, now: datetime) -> OpenLink:
    link = uow.consent_links.by_token_hash(_hash(token))
    if link is None:
        raise ConsentLinkUnknown()
    if link.revoked_at is not None:
        raise ConsentLinkGone("このリンクは医療機関によって取り消されています。医療機関に新しいリンクを依頼してください。",
                              reason="revoked")
    if now >= link.expires_at:
        raise ConsentLinkGone("このリンクは有効期限が切れています。医療機関に新しいリンクを依頼してください。",
                              reason="expired", expired_at=link.expires_at.isoformat())
    institution = uow.institutions.get(link.institution_id)
    assert institution is not None
    rt.policy.require(FacilityKind(institution.facility_kind), Form.HOME_CONSENT)  # the policy may have changed
    return OpenLink(link, institution)


def open_link(rt: Runtime, token: str) -> OpenLink:
    with rt.uow() as uow:
        return _open(rt, uow, token, rt.clock())


@dataclass(frozen=True)
class StartedSession:
    session: orm.PatientSession
    link: orm.ConsentLink
    token: str


def start_session(rt: Runtime, link_token: str, *, purpose: str, choice: ConsentChoice) -> StartedSession:
    """A single-use challenge for the JPKI client; ``purpose`` "register" (with a choice) or "manage"
    (see and withdraw consents: no new consent)."""
    now = rt.clock()
    if purpose == "register" and not choice.consents_to_anything:
        raise ValidationFailed("同意する情報を1つ以上選んでください。", field="kinds")
    if purpose == "manage" and choice.consents_to_anything:
        raise ValidationFailed("同意の確認・取消では、新しい同意は選べません。", field="kinds")
    with rt.uow() as uow:
        opened = _open(rt, uow, link_token, now)
        token = secrets.token_urlsafe(32)
        session = uow.patient_sessions.add(orm.PatientSession(
            link_id=opened.link.id, institution_id=opened.link.institution_id, token_hash=_hash(token),
            nonce=secrets.token_bytes(32), purpose=purpose, blanket=choice.blanket,
            kinds=sorted(k.value for k in choice.kinds), created_at=now, expires_at=now + rt.rules.challenge_ttl,
            status="pending"))
        audit.record(uow, at=now, action="patient.session_start", institution_id=opened.link.institution_id,
                     target_type="patient_session", target_id=session.id, link_id=opened.link.id, purpose=purpose,
                     via=VIA_PATIENT_PHONE)
        uow.commit()
        return StartedSession(session, opened.link, token)


@dataclass(frozen=True)
class SessionView:
    session: orm.PatientSession
    link: orm.ConsentLink
    consents: list[ConsentEntry] | None  # while the page may manage them


def _session(uow: UnitOfWork, link: orm.ConsentLink, session_token: str) -> orm.PatientSession:
    session = uow.patient_sessions.by_token_hash(_hash(session_token))
    if session is None or session.link_id != link.id:
        raise NotFound("本人確認の手続きが見つかりません。")
    return session


def session_status(rt: Runtime, link_token: str, session_token: str) -> SessionView:
    now = rt.clock()
    with rt.uow() as uow:
        opened = _open(rt, uow, link_token, now)
        session = _session(uow, opened.link, session_token)
        consents = None
        if _may_manage(session, now):
            assert session.person_ref is not None
            consents = [consent_queries.entry_of(c, now=now)
                        for c in uow.consents.of_person(session.institution_id, session.person_ref)]
        return SessionView(session, opened.link, consents)


def _may_manage(session: orm.PatientSession, now: datetime) -> bool:
    return (session.status == "authenticated" and session.authenticated_until is not None
            and now < session.authenticated_until)


@dataclass(frozen=True)
class Answer:
    certificate: bytes
    signature: bytes
    certificate_kind: str | None = None


def answer(rt: Runtime, link_token: str, session_token: str, ans: Answer) -> SessionView:
    """The JPKI client's answer: the card's certificate and its PIN signature over the challenge.

    PIN only (no visual check on the patient's phone). A refusal spends the session and is kept on it
    for the page to show; an OQS outage does not, so the client can retry."""
    now = rt.clock()
    with rt.uow() as uow:
        opened = _open(rt, uow, link_token, now)
        session = _session(uow, opened.link, session_token)
        try:
            _authenticate(rt, uow, opened, session, ans, now)
        except QualificationUnavailable:
            uow.rollback()
            raise
        except DomainError as refusal:
            uow.rollback()
            _refuse(rt, session.id, opened.link, refusal)
            raise
        uow.commit()
    return session_status(rt, link_token, session_token)


def _authenticate(rt: Runtime, uow: UnitOfWork, opened: OpenLink, session: orm.PatientSession, ans: Answer,
                  now: datetime) -> None:
    if session.status != "pending":
        raise PatientSessionInvalid("この本人確認はすでに使われています。最初からやり直してください。", rule="used")
    if now >= session.expires_at:
        raise PatientSessionInvalid("本人確認の有効時間を過ぎました。最初からやり直してください。", rule="expired")
    certificate = card_checks.trusted_certificate(rt, ans.certificate)  # the cards the device flow trusts
    jpki.verify_signature(certificate, ans.signature, session.nonce)
    standing = card_checks.standing_of(rt, certificate, now)
    choice = ConsentChoice.of(blanket=session.blanket, kinds=[InfoKind(k) for k in session.kinds])
    requested = (session.purpose == "register"
                 and consent_rules.may_request_medical_information(Form.HOME_CONSENT, standing, choice))
    result = rt.oqs.confirm(ConfirmationRequest(
        institution_code=opened.institution.code, certificate=certificate, care_type=CareType(opened.link.care_type),
        form=Form.HOME_CONSENT, method=IdentityMethod.PIN, consent_kinds=choice.kinds if requested else frozenset(),
        at=now))
    if result.person_ref is None:
        raise PatientSessionInvalid("オンライン資格確認で該当する資格が見つかりませんでした。医療機関にお問い合わせください。",
                                    rule="no-match", eligibility_status=int(result.status))
    if not uow.patient_sessions.claim(session.id, now):
        raise PatientSessionInvalid("この本人確認はすでに使われています。最初からやり直してください。", rule="used")
    granted = consent_rules.medical_information_granted(requested, person_resolved=True,
                                                        data_withheld=result.data_withheld)
    consent = None
    if granted:
        window = ViewingWindow.after_registration(now, rt.rules.viewing_window)
        consent = uow.consents.add(orm.Consent(
            institution_id=opened.link.institution_id, visit_id=None, person_ref=result.person_ref,
            source=consent_rules.PATIENT_PHONE, blanket=choice.blanket, kinds=sorted(k.value for k in choice.kinds),
            registered_at=window.opens_at, expires_at=window.closes_at, link_id=opened.link.id,
            planned_date=opened.link.planned_date))
        uow.flush()  # the consent's row before the session's UPDATE that references it (patient_sessions.consent_id)
        audit.record(uow, at=now, action="consent.register", institution_id=opened.link.institution_id,
                     target_type="consent", target_id=consent.id, via=VIA_PATIENT_PHONE, link_id=opened.link.id,
                     kinds=consent.kinds, blanket=choice.blanket, expires_at=consent.expires_at.isoformat(),
                     planned_date=opened.link.planned_date.isoformat() if opened.link.planned_date else None)
    session.status, session.person_ref = PatientSessionStatus.AUTHENTICATED, result.person_ref
    session.consent_id = consent.id if consent else None
    session.result = result.to_dict()
    session.authenticated_until = now + rt.rules.patient_page_session
    session.problem = None  # a wrong PIN reported earlier (report_card_error) is no longer the news
    if session.purpose == "register" and not granted:
        why = ("電子証明書の有効期限切れ（猶予期間中）のため" if standing is CertificateStanding.EXPIRED_IN_GRACE
               else "保険者の設定により")
        session.problem = {"detail": f"{why}、同意は登録されませんでした（資格確認のみ行いました）。"}
    audit.record(uow, at=now, action="patient.authenticate", institution_id=opened.link.institution_id,
                 target_type="patient_session", target_id=session.id, link_id=opened.link.id, via=VIA_PATIENT_PHONE,
                 purpose=session.purpose, eligibility_status=int(result.status))


def _refuse(rt: Runtime, session_id: str, link: orm.ConsentLink, refusal: DomainError) -> None:
    now = rt.clock()
    with rt.uow() as uow:
        if uow.patient_sessions.claim(session_id, now):
            session = uow.patient_sessions.get(session_id)
            assert session is not None
            session.status = PatientSessionStatus.REFUSED
            session.problem = {"slug": refusal.slug, "title": refusal.title, "detail": refusal.detail}
        audit.record(uow, at=now, action="patient.authenticate", outcome="refused", institution_id=link.institution_id,
                     target_type="patient_session", target_id=session_id, link_id=link.id, via=VIA_PATIENT_PHONE,
                     reason=refusal.slug, rule=refusal.extra.get("rule"))
        uow.commit()


CARD_ERRORS = ("wrong-pin", "locked")


def card_error_problem(reason: str, tries_left: int | None) -> dict[str, Any]:
    """What the page tells the patient after the card refused the PIN (docs/rules.md §3.4)."""
    if reason == "locked":
        return {"slug": "pin-locked", "detail": "暗証番号を続けて間違えたため、カードの暗証番号がロックされました。"
                "お住まいの市区町村の窓口でロックを解除してから、もう一度お試しください。"}
    left = f"あと{tries_left}回間違えるとロックされます。" if tries_left else ""
    return {"slug": "wrong-pin", "tries_left": tries_left,
            "detail": f"暗証番号が違います。{left}本人確認アプリでもう一度入力してください。"}


def report_card_error(rt: Runtime, link_token: str, session_token: str, *, reason: str,
                      tries_left: int | None) -> SessionView:
    """The JPKI client says the card refused the PIN, so the page can say so instead of waiting.

    Only the card knows the PIN and counts the tries: the client's report is a claim, shown to the patient and
    never trusted for anything else. A wrong PIN keeps the session pending (the patient may try again with the
    same challenge); a lock refuses it."""
    now = rt.clock()
    with rt.uow() as uow:
        opened = _open(rt, uow, link_token, now)
        session = _session(uow, opened.link, session_token)
        if session.status != "pending" or now >= session.expires_at:
            raise PatientSessionInvalid("この本人確認はすでに終わっているか、有効時間を過ぎました。最初からやり直してください。",
                                        rule="not-pending")
        session.problem = card_error_problem(reason, tries_left)
        if reason == "locked":
            session.status = PatientSessionStatus.REFUSED
        audit.record(uow, at=now, action="patient.card_error", institution_id=opened.link.institution_id,
                     target_type="patient_session", target_id=session.id, link_id=opened.link.id,
                     via=VIA_PATIENT_PHONE, reason=reason, tries_left=tries_left)
        uow.commit()
    return session_status(rt, link_token, session_token)


def withdraw(rt: Runtime, link_token: str, session_token: str) -> Withdrawal:
    """すべての同意を取消す: every consent of the authenticated patient at the link's institution."""
    now = rt.clock()
    with rt.uow() as uow:
        opened = _open(rt, uow, link_token, now)
        session = _session(uow, opened.link, session_token)
        if not _may_manage(session, now):
            raise PatientSessionInvalid("同意を取り消すには、もう一度暗証番号で本人確認してください。", rule="not-authenticated")
        assert session.person_ref is not None
        done = withdraw_all(uow, institution_id=opened.link.institution_id, person_ref=session.person_ref, now=now,
                            via=VIA_PATIENT_PHONE, user_id=None, device_id=None, link_id=opened.link.id,
                            patient_session_id=session.id)
        uow.commit()
        return done
