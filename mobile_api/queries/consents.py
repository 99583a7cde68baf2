"""Registered consents as the institution's list shows them (docs/rules.md §3.4): a page in one select, each
with the patient's name from the qualification OQS returned (the visit's result, or the patient-phone
session's) and its window's report as of now, computed once."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..adapters import orm
from ..domain import consent as consent_rules
from ..domain.codes import Form
from ..domain.consent import WindowReport

_C, _V, _S = orm.Consent.__table__.c, orm.Visit.__table__.c, orm.PatientSession.__table__.c
_COLUMNS = ("id", "source", "visit_id", "link_id", "planned_date", "blanket", "kinds", "registered_at", "expires_at",
            "withdrawn_at", "withdrawn_via")
PATIENT_FIELDS = ("name", "name_kana", "birth_date")


@dataclass(frozen=True, slots=True)
class PatientSummary:
    name: str | None
    name_kana: str | None
    birth_date: str | None


@dataclass(frozen=True, slots=True)
class ConsentEntry:
    id: str
    source: str  # card | requery | patient_phone
    visit_id: str | None
    link_id: str | None
    planned_date: date | None
    blanket: bool
    kinds: tuple[str, ...]
    registered_at: datetime
    withdrawn_at: datetime | None
    withdrawn_via: str | None
    window: WindowReport
    patient: PatientSummary | None


def consents(session: Session, institution_id: str, *, source: str | None, by_planned_date: bool, limit: int,
             offset: int, now: datetime) -> list[ConsentEntry]:
    """Newest registration first, or by planned consultation date (soonest first, those without one last,
    then newest registration). The name comes from the consent's visit, or from the patient-phone session that
    registered it (a scalar subquery: at most one session registers a consent)."""
    session_result = (select(_S.result).where(_S.consent_id == _C.id).order_by(_S.created_at).limit(1)
                      .correlate(orm.Consent.__table__).scalar_subquery())
    stmt = (select(*(_C[name] for name in _COLUMNS), _V.result.label("visit_result"),
                   session_result.label("session_result"))
            .select_from(orm.Consent.__table__).outerjoin(orm.Visit.__table__, _V.id == _C.visit_id)
            .where(_C.institution_id == institution_id))
    if source:
        stmt = stmt.where(_C.source == source)
    order = ((_C.planned_date.is_(None), _C.planned_date, _C.registered_at.desc()) if by_planned_date
             else (_C.registered_at.desc(),))
    rows = session.execute(stmt.order_by(*order, _C.id).limit(limit).offset(offset))
    return [_entry(row, now) for row in rows]


def window_now(*, registered_at: datetime, expires_at: datetime, withdrawn_at: datetime | None,
               now: datetime) -> WindowReport:
    """A consent's window as of ``now``: a consent exists, so medical information was granted (form ②)."""
    return consent_rules.report_window(form=Form.HOME_CONSENT, medical_info_allowed=True,
                                       registered_at=registered_at, expires_at=expires_at,
                                       withdrawn_at=withdrawn_at, now=now)


def patient_summary(result: dict[str, Any] | None) -> PatientSummary | None:
    qualification = (result or {}).get("qualification") or {}
    if not qualification:
        return None
    return PatientSummary(*(qualification.get(k) for k in PATIENT_FIELDS))


def entry_of(consent: Any, *, now: datetime, patient: PatientSummary | None = None) -> ConsentEntry:
    """A consent row (selected, or an ORM row the patient's page read) with its window as of ``now``."""
    return ConsentEntry(
        id=consent.id, source=consent.source, visit_id=consent.visit_id, link_id=consent.link_id,
        planned_date=consent.planned_date, blanket=consent.blanket, kinds=tuple(consent.kinds),
        registered_at=consent.registered_at, withdrawn_at=consent.withdrawn_at, withdrawn_via=consent.withdrawn_via,
        window=window_now(registered_at=consent.registered_at, expires_at=consent.expires_at,
                          withdrawn_at=consent.withdrawn_at, now=now),
        patient=patient)


def _entry(row: Any, now: datetime) -> ConsentEntry:
    result = row.visit_result if row.visit_id is not None else row.session_result
    return entry_of(row, now=now, patient=patient_summary(result))
