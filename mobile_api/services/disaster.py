"""Disaster-time viewing without the card (災害時の閲覧, docs/rules.md §3.5, seed 004).

An admin declares a disaster's days and prefectures (the sandbox's ``flask sandbox declare-disaster``, as
OQS would announce it). Inside them, staff of an institution in the area find a patient by identifiers,
with the patient's oral consent recorded by the staff member (who is the visit's and the audit row's user),
for medication and checkup information only. The lookup becomes a visit (method ``disaster``) with a consent
(source ``disaster_oral``) whose window is the usual one, closed early when the period ends; the records are
then read like any visit's (``GET /api/v1/visits/{id}/medical-information/{kind}``: the same rule, the same
audit). Every lookup and every refusal is audited.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from ..adapters import orm
from ..adapters.oqs import IdentifierQuery
from ..adapters.repository import UnitOfWork
from ..domain import consent as consent_rules
from ..domain import disaster as rules
from ..domain.certificate import CertificateStanding
from ..domain.codes import CareType, Form, IdentityMethod, InfoKind
from ..domain.errors import DomainError, ValidationFailed
from ..domain.identifiers import Identifiers
from ..domain.japanese_dates import jst_date
from ..queries.visits import VisitRead
from ..runtime import Runtime
from . import audit, idempotency
from .principal import Principal, institution_of
from .visits import VisitView, replayed_view

LOOKUP_SCOPE = "disaster.lookup"
ORAL_CONSENT = "disaster_oral"  # Consent.source of a consent taken orally under a disaster declaration
# How far around today a lookup reads declarations: enough to tell "out of period" from "out of area".
_NEARBY = timedelta(days=366)


def declaration_of(row: orm.DisasterDeclaration) -> rules.Declaration:
    return rules.Declaration(name=row.name, starts_on=row.starts_on, ends_on=row.ends_on,
                             prefectures=tuple(row.prefectures))


def declare(rt: Runtime, *, name: str, starts_on: date, ends_on: date, prefectures: list[str],
            declared_by: str) -> orm.DisasterDeclaration:
    """Record a declaration (the sandbox's admin command); audited without an institution."""
    declared = rules.Declaration(name=name, starts_on=starts_on, ends_on=ends_on,
                                 prefectures=rules.parse_prefectures(prefectures))
    now = rt.clock()
    with rt.uow() as uow:
        row = uow.disaster_declarations.add(orm.DisasterDeclaration(
            name=declared.name, starts_on=declared.starts_on, ends_on=declared.ends_on,
            prefectures=list(declared.prefectures), declared_by=declared_by, created_at=now))
        audit.record(uow, at=now, action="disaster.declare", target_type="disaster_declaration", target_id=row.id,
                     name=name, starts_on=starts_on.isoformat(), ends_on=ends_on.isoformat(),
                     prefectures=list(declared.prefectures), declared_by=declared_by)
        uow.commit()
        return row


@dataclass(frozen=True)
class DeclarationView:
    row: orm.DisasterDeclaration
    in_force: bool
    covers_institution: bool


def all_declarations(rt: Runtime, *, limit: int = 100, offset: int = 0) -> list[orm.DisasterDeclaration]:
    """Every declaration, the latest start first (the sandbox's listing)."""
    with rt.uow() as uow:
        return list(uow.disaster_declarations.recent(limit=limit, offset=offset))


def list_declarations(rt: Runtime, actor: Principal, *, limit: int, offset: int) -> list[DeclarationView]:
    """Declarations, each with whether it is in force now and covers the caller's institution."""
    now = rt.clock()
    with rt.uow() as uow:
        prefecture = rules.prefecture_of(institution_of(uow, actor).code)
        rows = uow.disaster_declarations.recent(limit=limit, offset=offset)
    return [DeclarationView(r, declaration_of(r).in_force(now), declaration_of(r).covers(prefecture)) for r in rows]


@dataclass(frozen=True)
class DisasterLookup:
    """What staff enter: the patient's identifiers, the kinds the patient consented to orally, and that the
    consent was given (``oral_consent`` must be true)."""

    insurer_number: str
    symbol: str | None
    number: str
    branch_number: str | None
    birth_date: date
    kinds: frozenset[InfoKind]
    oral_consent: bool
    care_type: CareType = CareType.OUTPATIENT
    patient_reference: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)  # the request as sent, for the idempotency hash


def lookup(rt: Runtime, actor: Principal, idempotency_key: str, cmd: DisasterLookup) -> VisitRead:
    """The visit a disaster-time lookup made (or the one a retry gets back), as its response shows it."""
    return _lookup_visit(rt, actor, idempotency_key, cmd).read(rt.rules)


def _lookup_visit(rt: Runtime, actor: Principal, idempotency_key: str, cmd: DisasterLookup) -> VisitView:
    """Find the patient by identifiers under a declaration in force for the institution's area, and record the
    oral consent: a visit and a consent whose window closes 24 h later or when the period ends. A retry with the
    same Idempotency-Key gets the same visit (one lookup, one consent)."""
    actor.require_staff_on_device()
    hashed = idempotency.request_hash(cmd.raw)
    now = rt.clock()
    with rt.uow() as uow:
        replay = replayed_view(rt, uow, actor, LOOKUP_SCOPE, idempotency_key, hashed)
        if replay is not None:
            return replay
        try:
            visit, consent, declaration_id = _lookup(rt, uow, actor, cmd, now)
        except DomainError as refusal:
            uow.rollback()
            audit.record_refusal(rt, actor, "disaster.lookup", refusal,
                                 kinds=sorted(k.value for k in cmd.kinds))
            raise
        audit.record(uow, at=now, action="disaster.lookup", institution_id=actor.institution_id,
                     user_id=actor.user_id, device_id=actor.device_id, target_type="visit", target_id=visit.id,
                     declaration_id=declaration_id, consent_id=consent.id if consent else None,
                     consent_recorded_by=actor.user_id, kinds=sorted(k.value for k in cmd.kinds),
                     eligibility_status=visit.eligibility_status)
        idempotency.remember(uow, actor, LOOKUP_SCOPE, idempotency_key, hashed, status=201,
                             response={"visit_id": visit.id}, now=now)
        return idempotency.commit_or_replay(
            uow, VisitView(visit, consent, now),
            lambda: replayed_view(rt, uow, actor, LOOKUP_SCOPE, idempotency_key, hashed))


def _lookup(rt: Runtime, uow: UnitOfWork, actor: Principal, cmd: DisasterLookup,
            now: datetime) -> tuple[orm.Visit, orm.Consent | None, str]:
    institution = institution_of(uow, actor)
    rt.policy.require(institution.facility_kind, Form.HOME_CONSENT)  # medical information: form ② kinds only
    today = jst_date(now)
    rows = {r.id: r for r in uow.disaster_declarations.touching(today - _NEARBY, today + _NEARBY)}
    declared = {declaration_of(r): rid for rid, r in rows.items()}
    declaration = rules.declaration_for(declared, institution_code=institution.code, now=now)
    kinds = rules.disaster_kinds(cmd.kinds)
    if not cmd.oral_consent:
        raise ValidationFailed("患者本人から口頭で同意を得たことを確認してください。", field="oral_consent")
    ids = Identifiers.parse(insurer_number=cmd.insurer_number, symbol=cmd.symbol, number=cmd.number,
                            branch_number=cmd.branch_number, birth_date=cmd.birth_date)
    result = rt.oqs.lookup(IdentifierQuery(
        institution_code=institution.code, insurer_number=ids.insurer_number, symbol=ids.symbol, number=ids.number,
        branch_number=ids.branch_number, birth_date=ids.birth_date, at=now, purpose="disaster_viewing"))
    granted = consent_rules.medical_information_granted(True, person_resolved=result.person_ref is not None,
                                                        data_withheld=result.data_withheld)
    visit = uow.visits.add(orm.Visit(
        institution_id=actor.institution_id, challenge_id=None, device_id=actor.device_id, user_id=actor.user_id,
        visual_confirmed_by=None, care_type=int(cmd.care_type), form=Form.HOME_CONSENT,
        method=IdentityMethod.DISASTER, patient_reference=cmd.patient_reference,
        certificate_standing=CertificateStanding.NOT_PRESENTED, certificate_kind=None,
        eligibility_status=int(result.status), medical_info_allowed=granted, person_ref=result.person_ref,
        result=result.to_dict(), created_at=now))
    consent = None
    if granted and result.person_ref is not None:
        window = rules.disaster_window(now, rt.rules.viewing_window, declaration)
        consent = uow.consents.add(orm.Consent(
            institution_id=actor.institution_id, visit_id=visit.id, person_ref=result.person_ref,
            source=ORAL_CONSENT, blanket=False, kinds=sorted(k.value for k in kinds),
            registered_at=window.opens_at, expires_at=window.closes_at))
    return visit, consent, declared[declaration]
