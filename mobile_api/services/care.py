"""Continuing home care (訪問診療等, docs/rules.md §3.2): the care relationship, re-query without the card
(再照会), discharge, and withdrawal of consent (§3.3).

A card-verified form ② home-visit visit opens (or renews) the relationship between the institution and
the patient. While it is active, staff on a registered device re-query: a fresh qualification from OQS
and a fresh viewing window for the kinds the card-verified visit's consent covered, or fewer. Discharge,
the patient's withdrawal and the idle limit end it; after that only a card verification works.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..adapters import orm
from ..adapters.oqs import RequeryRequest
from ..adapters.repository import UnitOfWork
from ..domain import consent as consent_rules
from ..domain.certificate import CertificateStanding
from ..domain.codes import ALL_INFO_KINDS, CareType, Form, IdentityMethod, InfoKind
from ..domain.consent import ViewingWindow
from ..domain.errors import CareRelationshipEnded, DomainError, NotFound
from ..domain.statuses import CareEndReason
from ..queries import care as care_queries
from ..queries.care import RelationshipRead
from ..queries.visits import VisitRead
from ..runtime import Runtime
from . import audit, idempotency
from .principal import Principal, institution_of
from .visits import VisitView, relationship_status, replayed_view

REQUERY_SCOPE = "visit.requery"
VIA_PATIENT_PHONE = "patient_phone"
VIA_STAFF_ON_REQUEST = "staff_on_request"


@dataclass(frozen=True)
class CardVisitRelationship:
    """What a card-verified form ② home-visit visit does to the patient's continuing care: the relationship
    it renews or opens, the idle one it ends first (if any), and the audit row saying which."""

    relationship: orm.CareRelationship
    is_new: bool
    ended_idle: orm.CareRelationship | None
    audit_row: dict[str, Any]


def relationship_for_card_visit(rt: Runtime, actor: Principal, visit: orm.Visit, consent: orm.Consent | None,
                                open_rel: orm.CareRelationship | None, now: datetime) -> CardVisitRelationship:
    """Renew the patient's active relationship (``open_rel``, read by the caller; this visit's consent now caps
    re-queries), or open one. A relationship gone idle is not renewed: it is ended and a new one opens. The
    visit is linked to the relationship before it is written (docs/performance.md); nothing is written here."""
    assert visit.person_ref is not None
    status = relationship_status(rt, open_rel, now)
    ended_idle = None
    if open_rel is not None and status is not None and status.active:
        rel, is_new = open_rel, False
        rel.card_visit_id, rel.last_visit_at = visit.id, now
        action = "care.renew"
    else:
        if open_rel is not None and status is not None:  # gone idle: record its end before a new one opens
            open_rel.ended_at = status.ended_at
            open_rel.end_reason = CareEndReason(status.end_reason) if status.end_reason else None
            ended_idle = open_rel
        rel, is_new = orm.CareRelationship.plain(
            institution_id=visit.institution_id, person_ref=visit.person_ref, opened_by_visit_id=visit.id,
            card_visit_id=visit.id, opened_at=now, last_visit_at=now), True
        action = "care.open"
    visit.care_relationship_id = rel.id
    return CardVisitRelationship(rel, is_new, ended_idle, audit.row(
        at=now, action=action, actor=actor, target_type="care_relationship", target_id=rel.id,
        visit_id=visit.id, consent_id=consent.id if consent else None))


@dataclass(frozen=True)
class RequeryCommand:
    kinds: frozenset[InfoKind] | None = None  # None: every kind the card-verified visit's consent covered
    raw: dict[str, Any] = field(default_factory=dict)  # the request as sent, for the idempotency hash


def requery(rt: Runtime, actor: Principal, visit_id: str, idempotency_key: str, cmd: RequeryCommand) -> VisitRead:
    """The visit a re-query made (or the one a retry gets back), as its response shows it."""
    return _requery_visit(rt, actor, visit_id, idempotency_key, cmd).read(rt.rules)


def _requery_visit(rt: Runtime, actor: Principal, visit_id: str, idempotency_key: str, cmd: RequeryCommand) -> VisitView:
    """A later visit without the card: a fresh qualification and a fresh window, audited as a re-query
    linked to the visit that opened the relationship. A retry with the same key gets the same visit."""
    actor.require_staff_on_device()
    hashed = idempotency.request_hash({"visit_id": visit_id, "body": cmd.raw})
    now = rt.clock()
    with rt.uow() as uow:
        replay = replayed_view(rt, uow, actor, REQUERY_SCOPE, idempotency_key, hashed)
        if replay is not None:
            return replay
        visit = uow.visits.owned(visit_id, actor.institution_id, "訪問記録が見つかりません。")
        audit_detail: dict[str, Any] = {"target_type": "visit", "target_id": visit.id}
        try:
            new_visit, consent, rel = _requery(rt, uow, actor, visit, cmd, now, audit_detail)
        except DomainError as refusal:
            uow.rollback()
            audit.record_refusal(rt, actor, "visit.requery", refusal, **audit_detail)
            raise
        # the view is made of what was just written: nothing is read back (as verification.submit)
        view = VisitView(new_visit, consent, now, rel, relationship_status(rt, rel, now))
        idempotency.remember(uow, actor, REQUERY_SCOPE, idempotency_key, hashed, status=201,
                             response={"visit_id": new_visit.id}, now=now)
        return idempotency.commit_or_replay(
            uow, view, lambda: replayed_view(rt, uow, actor, REQUERY_SCOPE, idempotency_key, hashed))


def _requery(rt: Runtime, uow: UnitOfWork, actor: Principal, visit: orm.Visit, cmd: RequeryCommand,
             now: datetime, audit_detail: dict[str, Any]
             ) -> tuple[orm.Visit, orm.Consent | None, orm.CareRelationship]:
    """Nothing is flushed here: the rows carry their ids from construction and are written together when
    the unit commits (docs/performance.md). The one statement before that is the conditional update that dates
    the visit on the relationship, so a concurrent discharge either came first (refused here) or waits for us."""
    rel = None
    if visit.person_ref:  # the one not discharged or withdrawn, else the one seen last (to say why it ended)
        rel = (uow.care_relationships.open_for(actor.institution_id, visit.person_ref)
               or uow.care_relationships.latest_for(actor.institution_id, visit.person_ref))
    if rel is not None:
        audit_detail.update(relationship_id=rel.id, opened_by_visit_id=rel.opened_by_visit_id)
    consent_rules.authorize_requery(relationship_status(rt, rel, now), idle_limit=rt.rules.care_relationship_idle)
    assert rel is not None
    institution = institution_of(uow, actor)
    rt.policy.require(institution.facility_kind, Form.HOME_CONSENT)
    card_consent = uow.consents.one_by(visit_id=rel.card_visit_id)
    card_kinds = (frozenset(InfoKind(k) for k in card_consent.kinds)
                  if card_consent is not None and card_consent.withdrawn_at is None else frozenset())
    kinds = consent_rules.requery_kinds(card_kinds, cmd.kinds)
    result = rt.oqs.requery(RequeryRequest(institution_code=institution.code, person_ref=rel.person_ref,
                                           care_type=CareType.HOME_VISIT, consent_kinds=kinds, at=now))
    granted = consent_rules.medical_information_granted(bool(kinds), person_resolved=result.person_ref is not None,
                                                        data_withheld=result.data_withheld)
    recorded = uow.care_relationships.record_visit(rel.id, now)  # locks the row until commit (§3.2)
    uow.care_relationships.reload(rel)
    if not recorded:  # discharged or withdrawn since we looked: refused as it would be now
        consent_rules.authorize_requery(relationship_status(rt, rel, now),
                                        idle_limit=rt.rules.care_relationship_idle)
    opening = uow.visits.get(rel.opened_by_visit_id)
    new_visit = uow.visits.add(orm.Visit(
        institution_id=actor.institution_id, challenge_id=None, device_id=actor.device_id, user_id=actor.user_id,
        visual_confirmed_by=None, care_type=int(CareType.HOME_VISIT), form=Form.HOME_CONSENT, method=IdentityMethod.REQUERY,
        patient_reference=opening.patient_reference if opening else None, certificate_standing=CertificateStanding.NOT_PRESENTED,
        certificate_kind=None, eligibility_status=int(result.status), medical_info_allowed=granted,
        person_ref=result.person_ref or rel.person_ref, result=result.to_dict(), created_at=now,
        care_relationship_id=rel.id, requery_of=rel.opened_by_visit_id))
    renewed = None
    if granted and card_consent is not None:
        window = ViewingWindow.after_registration(now, rt.rules.viewing_window)
        renewed = uow.consents.add(orm.Consent(
            institution_id=actor.institution_id, visit_id=new_visit.id, person_ref=rel.person_ref, source="requery",
            blanket=card_consent.blanket and kinds == ALL_INFO_KINDS, kinds=sorted(k.value for k in kinds),
            registered_at=window.opens_at, expires_at=window.closes_at, renews_id=card_consent.id))
    consent_id = renewed.id if renewed else None
    audit.record(uow, at=now, action="visit.requery", institution_id=actor.institution_id, user_id=actor.user_id,
                 device_id=actor.device_id, target_type="visit", target_id=new_visit.id,
                 opened_by_visit_id=rel.opened_by_visit_id, relationship_id=rel.id, requested_from=visit.id,
                 consent_id=consent_id, renews_id=card_consent.id if consent_id and card_consent else None,
                 kinds=sorted(k.value for k in kinds) if granted else [],
                 eligibility_status=int(result.status))
    return new_visit, renewed, rel


def list_relationships(rt: Runtime, actor: Principal, *, limit: int, offset: int) -> list[RelationshipRead]:
    """A page of relationships read in one statement (queries/care.py); audited (patient data)."""
    actor.require_patient_data_reader()
    now = rt.clock()
    with rt.uow() as uow:
        reads = care_queries.relationships(uow.session, actor.institution_id, limit=limit, offset=offset, now=now,
                                           rules=rt.rules)
        audit.record(uow, at=now, action="care.list", institution_id=actor.institution_id, user_id=actor.user_id,
                     device_id=actor.device_id, target_type="care_relationship", count=len(reads))
        uow.commit()
        return reads


def _status(rt: Runtime, rel: orm.CareRelationship, now: datetime) -> consent_rules.CareRelationshipStatus:
    status = relationship_status(rt, rel, now)
    assert status is not None
    return status


def discharge(rt: Runtime, actor: Principal, relationship_id: str, reason: str) -> RelationshipRead:
    """The provider ends continuing care (退院・終診・転医 …), with a reason; audited.

    One conditional update decides (docs/rules.md §3.2): of concurrent discharges one wins and is audited,
    the others get 409 ``care-relationship-ended`` with the winner's date and reason, as a later one would."""
    actor.require_patient_data_reader()
    now = rt.clock()
    with rt.uow() as uow:
        rel = uow.care_relationships.owned(relationship_id, actor.institution_id, "継続的な訪問診療等の記録が見つかりません。")
        while True:
            _require_active(rt, rel, now)
            if uow.care_relationships.discharge(rel.id, now=now, note=reason, ended_by=actor.user_id):
                break
            uow.care_relationships.reload(rel)  # ended by another caller, or a visit dated after our clock
            now = max(rt.clock(), rel.last_visit_at)
        uow.care_relationships.reload(rel)
        audit.record(uow, at=now, action="care.discharge", institution_id=actor.institution_id,
                     user_id=actor.user_id, device_id=actor.device_id, target_type="care_relationship",
                     target_id=rel.id, opened_by_visit_id=rel.opened_by_visit_id, reason=reason)
        uow.commit()
        return care_queries.relationship_read(rel, now=now, rules=rt.rules)


def _require_active(rt: Runtime, rel: orm.CareRelationship, now: datetime) -> None:
    """409 with the end's date and reason once the relationship has ended (discharged, withdrawn or idle)."""
    status = _status(rt, rel, now)
    if not status.active:
        assert status.ended_at is not None
        raise CareRelationshipEnded(end_reason=status.end_reason, ended_at=status.ended_at.isoformat())


@dataclass(frozen=True)
class Withdrawal:
    withdrawn_at: datetime
    consents_withdrawn: int
    relationships_ended: int
    via: str


def withdraw_all(uow: UnitOfWork, *, institution_id: str, person_ref: str, now: datetime, via: str,
                 user_id: str | None, device_id: str | None, **detail: Any) -> Withdrawal:
    """End the continuing-care relationship, then withdraw every consent of the patient at the institution
    at once (every open window closes); audited with who asked and how. The caller commits.

    In that order (docs/rules.md §3.3): ending the relationship takes its row lock, which a re-query holds
    from dating its visit until it commits its consent. So a re-query either committed first, and its consent
    is among those withdrawn (the consents are read after the lock), or it finds the relationship ended and
    is refused. The withdrawal is dated no earlier than the visit of a re-query it waited for."""
    ended = uow.care_relationships.end_open(institution_id, person_ref, now=now, reason="withdrawn",
                                            ended_by=user_id)
    now = max([now, *ended])
    count = uow.consents.withdraw_all(institution_id, person_ref, now=now, via=via)
    audit.record(uow, at=now, action="consent.withdraw", institution_id=institution_id, user_id=user_id,
                 device_id=device_id, target_type="person", target_id=person_ref, via=via, consents=count,
                 relationships_ended=len(ended), **detail)
    return Withdrawal(now, count, len(ended), via)


def withdraw_on_request(rt: Runtime, actor: Principal, visit_id: str, note: str | None) -> Withdrawal:
    """Staff withdraw the patient's consents at the patient's request (recorded as such)."""
    actor.require_patient_data_reader()
    now = rt.clock()
    with rt.uow() as uow:
        visit = uow.visits.owned(visit_id, actor.institution_id, "訪問記録が見つかりません。")
        if visit.person_ref is None:
            raise NotFound("訪問記録が見つかりません。")
        done = withdraw_all(uow, institution_id=actor.institution_id, person_ref=visit.person_ref, now=now,
                            via=VIA_STAFF_ON_REQUEST, user_id=actor.user_id, device_id=actor.device_id,
                            visit_id=visit.id, note=note)
        uow.commit()
        return done
