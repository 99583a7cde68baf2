"""Reading visits, and medical information inside the consent's viewing window.

Every view of medical information is audited, and so is every refusal.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..adapters import orm
from ..domain.codes import Form, InfoKind
from ..domain.consent import ViewingWindow, authorize_medical_view
from ..domain.errors import DomainError, NotFound
from ..runtime import Runtime
from . import audit
from .principal import Principal


@dataclass(frozen=True)
class VisitView:
    visit: orm.Visit
    consent: orm.Consent | None


@dataclass(frozen=True)
class MedicalView:
    visit_id: str
    kind: InfoKind
    records: list[dict[str, Any]]
    window_closes_at: datetime
    remaining: timedelta


def get_visit(rt: Runtime, actor: Principal, visit_id: str) -> VisitView:
    """One visit (patient data: read by an admin or staff on a registered device, and audited)."""
    actor.require_patient_data_reader()
    with rt.uow() as uow:
        visit = uow.visits.get(visit_id)
        if visit is None or visit.institution_id != actor.institution_id:
            raise NotFound("訪問記録が見つかりません。")
        view = VisitView(visit, uow.consents.one_by(visit_id=visit.id))
        audit.record(uow, at=rt.clock(), action="visit.read", institution_id=actor.institution_id,
                     user_id=actor.user_id, device_id=actor.device_id, target_type="visit", target_id=visit.id)
        uow.commit()
        return view


def list_visits(rt: Runtime, actor: Principal, *, limit: int, offset: int,
                patient_reference: str | None = None) -> list[VisitView]:
    """A page of visits (patient data): one audit row per request, with the ids returned."""
    actor.require_patient_data_reader()
    with rt.uow() as uow:
        visits = uow.visits.recent(actor.institution_id, limit=limit, offset=offset,
                                   patient_reference=patient_reference)
        views = [VisitView(v, uow.consents.one_by(visit_id=v.id)) for v in visits]
        audit.record(uow, at=rt.clock(), action="visit.list", institution_id=actor.institution_id,
                     user_id=actor.user_id, device_id=actor.device_id, target_type="visit",
                     count=len(views), ids=[v.visit.id for v in views])
        uow.commit()
        return views


def window_of(consent: orm.Consent | None) -> ViewingWindow | None:
    if consent is None:
        return None
    return ViewingWindow.of_consent(registered_at=consent.registered_at, expires_at=consent.expires_at,
                                    withdrawn_at=consent.withdrawn_at)


def view_medical_information(rt: Runtime, actor: Principal, visit_id: str, kind: InfoKind) -> MedicalView:
    actor.require_staff_on_device()
    now = rt.clock()
    with rt.uow() as uow:
        visit = uow.visits.get_owned(visit_id, actor.institution_id)
        if visit is None:
            raise NotFound("訪問記録が見つかりません。")
        consent = uow.consents.one_by(visit_id=visit.id)
        window = window_of(consent)
        audit_view = dict(target_type="visit", target_id=visit.id, kind=kind.value)
        try:
            authorize_medical_view(
                form=Form(visit.form), medical_info_allowed=visit.medical_info_allowed,
                consented_kinds=frozenset(InfoKind(k) for k in consent.kinds) if window and consent else frozenset(),
                window=window, kind=kind, now=now)
            assert window is not None and visit.person_ref is not None
            institution = uow.institutions.get(visit.institution_id)
            assert institution is not None
            records = rt.oqs.medical_information(institution_code=institution.code, person_ref=visit.person_ref,
                                                 kind=kind, at=now)
        except DomainError as refusal:
            uow.rollback()
            audit.record_refusal(rt, actor, "medical_info.view", refusal, **audit_view)
            raise
        audit.record(uow, at=now, action="medical_info.view", institution_id=actor.institution_id,
                     user_id=actor.user_id, device_id=actor.device_id, records=len(records), **audit_view)
        uow.commit()
        return MedicalView(visit.id, kind, records, window.closes_at, window.remaining(now))
