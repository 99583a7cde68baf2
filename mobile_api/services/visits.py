"""Reading visits, and medical information inside the consent's viewing window.

Every view of medical information is audited, and so is every refusal.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from ..adapters import orm
from ..adapters.repository import UnitOfWork
from ..domain import availability
from ..domain import consent as consent_rules
from ..domain.codes import Form, InfoKind
from ..domain.consent import ViewingWindow, WindowReport, authorize_medical_view
from ..domain.errors import DomainError, NotFound, ValidationFailed
from ..domain.japanese_dates import jst_date
from ..queries import visits as visit_queries
from ..queries.visits import RelationshipRef, VisitRead, consent_read, read_visit
from ..runtime import Rules, Runtime
from . import audit, idempotency
from .principal import Principal, institution_of


@dataclass(frozen=True)
class VisitView:
    """A visit as its representation shows it *now* (``now`` from the injected clock): its consent, and
    the continuing-care relationship it belongs to, so the window report tells the truth."""

    visit: orm.Visit
    consent: orm.Consent | None
    now: datetime | None = None
    relationship: orm.CareRelationship | None = None
    relationship_status: consent_rules.CareRelationshipStatus | None = None

    @property
    def window(self) -> WindowReport:
        consent = self.consent
        now = self.now if self.now is not None else self.visit.created_at
        return consent_rules.report_window(
            form=Form(self.visit.form), medical_info_allowed=self.visit.medical_info_allowed,
            registered_at=consent.registered_at if consent else None,
            expires_at=consent.expires_at if consent else None,
            withdrawn_at=consent.withdrawn_at if consent else None, now=now,
            requery_possible=self.relationship_status is not None and self.relationship_status.active)

    def read(self, rules: Rules) -> VisitRead:
        """The read model of what a write just made (a verification, a re-query, a disaster lookup), so its
        response is serialised like a read (queries/visits.py) without reading the rows back."""
        rel, status = self.relationship, self.relationship_status
        ref = None if rel is None or status is None else RelationshipRef(
            rel.id, rel.opened_by_visit_id, status.active, status.ended_at, status.end_reason)
        now = self.now if self.now is not None else self.visit.created_at
        return read_visit(self.visit, consent_read(self.consent), ref, now, rules)


def relationship_status(rt: Runtime, rel: orm.CareRelationship | None,
                        now: datetime) -> consent_rules.CareRelationshipStatus | None:
    if rel is None:
        return None
    return consent_rules.care_relationship_status(ended_at=rel.ended_at, end_reason=rel.end_reason,
                                                  last_visit_at=rel.last_visit_at,
                                                  idle_limit=rt.rules.care_relationship_idle, now=now)


def view_of(rt: Runtime, uow: UnitOfWork, visit: orm.Visit, now: datetime) -> VisitView:
    """The visit with its consent and its relationship, as of ``now``."""
    rel = uow.care_relationships.get(visit.care_relationship_id) if visit.care_relationship_id else None
    return VisitView(visit, uow.consents.one_by(visit_id=visit.id), now, rel, relationship_status(rt, rel, now))


def replayed_view(rt: Runtime, uow: UnitOfWork, actor: Principal, scope: str, key: str,
                  hashed: str) -> VisitView | None:
    """The outcome already given under this Idempotency-Key (a visit-creating ``scope``): the same visit, or
    the same refusal raised again; None when the key is new."""
    record = idempotency.find(uow, actor, scope, key, hashed)
    if record is None:
        return None
    if "problem" in record.response:
        raise idempotency.stored_refusal(record)
    visit = uow.visits.get(record.response["visit_id"])
    assert visit is not None
    return view_of(rt, uow, visit, rt.clock())


@dataclass(frozen=True)
class MedicalView:
    visit_id: str
    kind: InfoKind
    records: list[dict[str, Any]]
    window_closes_at: datetime
    remaining: timedelta


def get_visit(rt: Runtime, actor: Principal, visit_id: str) -> VisitRead:
    """One visit (patient data: read by an admin or staff on a registered device, and audited), read in one
    statement with its consent and relationship (queries/visits.py)."""
    actor.require_patient_data_reader()
    now = rt.clock()
    with rt.uow() as uow:
        read = visit_queries.visit(uow.session, actor.institution_id, visit_id, now=now, rules=rt.rules)
        if read is None:
            raise NotFound("訪問記録が見つかりません。")
        audit.record(uow, at=now, action="visit.read", institution_id=actor.institution_id,
                     user_id=actor.user_id, device_id=actor.device_id, target_type="visit", target_id=read.id)
        uow.commit()
        return read


def list_visits(rt: Runtime, actor: Principal, *, limit: int, offset: int,
                patient_reference: str | None = None) -> list[VisitRead]:
    """A page of visits (patient data) in one statement: one audit row per request, with the ids returned."""
    actor.require_patient_data_reader()
    now = rt.clock()
    with rt.uow() as uow:
        reads = visit_queries.visits(uow.session, actor.institution_id,
                                     visit_queries.VisitCriteria(patient_reference=patient_reference or None),
                                     limit=limit, offset=offset, now=now, rules=rt.rules)
        audit.record(uow, at=now, action="visit.list", institution_id=actor.institution_id,
                     user_id=actor.user_id, device_id=actor.device_id, target_type="visit",
                     count=len(reads), ids=[r.id for r in reads])
        uow.commit()
        return reads


@dataclass(frozen=True)
class VisitPage:
    views: list[VisitRead]
    offset: int
    has_more: bool


def search_visits(rt: Runtime, actor: Principal, wanted: visit_queries.VisitCriteria, *, limit: int,
                  offset: int) -> VisitPage:
    """A page of visits matching ``wanted``, filtered in the database (patient data). The audit row names
    exactly the visits on the page, and the filters asked for, as ``list_visits`` does for the API."""
    actor.require_patient_data_reader()
    if wanted.form is not None and wanted.form not in {f.value for f in Form}:
        raise ValidationFailed("方式の指定が正しくありません。", field="form")
    if wanted.outcome not in (None, "valid", "invalid"):
        raise ValidationFailed("結果の指定が正しくありません。", field="outcome")
    now = rt.clock()
    with rt.uow() as uow:
        found = visit_queries.visits(uow.session, actor.institution_id, wanted, limit=limit + 1, offset=offset,
                                     now=now, rules=rt.rules)
        shown = found[:limit]
        asked = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(wanted).items()
                 if v is not None}
        audit.record(uow, at=now, action="visit.list", institution_id=actor.institution_id,
                     user_id=actor.user_id, device_id=actor.device_id, target_type="visit",
                     count=len(shown), ids=[r.id for r in shown], filters=asked, offset=offset)
        uow.commit()
        return VisitPage(shown, offset, len(found) > limit)


def window_of(consent: orm.Consent | None) -> ViewingWindow | None:
    if consent is None:
        return None
    return ViewingWindow.of_consent(registered_at=consent.registered_at, expires_at=consent.expires_at,
                                    withdrawn_at=consent.withdrawn_at)


def view_medical_information(rt: Runtime, actor: Principal, visit_id: str, kind: InfoKind) -> MedicalView:
    """On the hot path's ledger (adapters/ledger.py): the visit with its consent and relationship in one
    statement, then the audit row with the commit; no ORM unit of work."""
    actor.require_staff_on_device("医療情報の閲覧")
    now = rt.clock()
    with rt.ledger() as ledger:
        found = ledger.visit_with_consent_and_relationship(visit_id, actor.institution_id)
        if found is None:
            raise NotFound("訪問記録が見つかりません。")
        visit, consent, rel = found
        view = VisitView(visit, consent, now, rel, relationship_status(rt, rel, now))
        window = window_of(consent)

        def authorize() -> str:
            authorize_medical_view(
                form=Form(visit.form), medical_info_allowed=visit.medical_info_allowed,
                consented_kinds=frozenset(InfoKind(k) for k in consent.kinds) if window and consent else frozenset(),
                window=window, kind=kind, now=now, withdrawn_at=consent.withdrawn_at if consent else None,
                requery_possible=view.window.how_to_reopen == consent_rules.REOPEN_BY_REQUERY)
            birth = (visit.result.get("qualification") or {}).get("birth_date")  # 特定健診等情報 from 40 (seed 002)
            availability.require_available(kind, date.fromisoformat(birth) if birth else None, jst_date(now))
            assert visit.person_ref is not None
            return visit.person_ref

        code = actor.institution.code if actor.institution else ledger.institution_facts(actor.institution_id).code
        records = _fetch_audited(rt, ledger, actor, kind, now, authorize, code, target_type="visit",
                                 target_id=visit.id, kind=kind.value, consent_id=consent and consent.id,
                                 requery_of=visit.requery_of)
        assert window is not None
        return MedicalView(visit.id, kind, records, window.closes_at, window.remaining(now))


def view_consented_information(rt: Runtime, actor: Principal, consent_id: str, kind: InfoKind) -> MedicalView:
    """Medical information under a consent given on the patient's own phone (no visit): the same rule,
    the same audit (docs/rules.md §3.4)."""
    actor.require_staff_on_device("医療情報の閲覧")
    now = rt.clock()
    with rt.uow() as uow:
        consent = uow.consents.owned(consent_id, actor.institution_id, "同意の記録が見つかりません。")
        window = window_of(consent)

        def authorize() -> str:
            authorize_medical_view(
                form=Form.HOME_CONSENT, medical_info_allowed=True,
                consented_kinds=frozenset(InfoKind(k) for k in consent.kinds) if window else frozenset(),
                window=window, kind=kind, now=now, withdrawn_at=consent.withdrawn_at)
            return consent.person_ref

        records = _fetch_audited(rt, uow, actor, kind, now, authorize, institution_of(uow, actor).code,
                                 target_type="consent", target_id=consent.id, kind=kind.value, source=consent.source)
        assert window is not None
        return MedicalView(consent.id, kind, records, window.closes_at, window.remaining(now))


class _Transaction(audit.Audited, Protocol):
    """The unit of work, or the hot path's ledger."""

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


def _fetch_audited(rt: Runtime, uow: _Transaction, actor: Principal, info_kind: InfoKind, now: datetime,
                   authorize: Callable[[], str], institution_code: str, **audit_view: Any) -> list[dict[str, Any]]:
    """Authorise a view (which names the person), fetch the records from OQS, and audit the view or its
    refusal (an outage included): the one way every medical-information view is served."""
    try:
        person_ref = authorize()
        records = rt.oqs.medical_information(institution_code=institution_code, person_ref=person_ref,
                                             kind=info_kind, at=now)
    except DomainError as refusal:
        uow.rollback()
        audit.record_refusal(rt, actor, "medical_info.view", refusal, **audit_view)
        raise
    audit.record(uow, at=now, action="medical_info.view", actor=actor, records=len(records), **audit_view)
    uow.commit()
    return records
