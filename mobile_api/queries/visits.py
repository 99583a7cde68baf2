"""Visits as the API and the console show them: one select per page or visit, into frozen read models.

A visit's row, its consent and its care relationship come back in ONE statement (visits LEFT JOIN consents
LEFT JOIN care_relationships, so a page is not N+1), and everything a response says about them *now* (the
consent window's report, the notices, the renewal alert, the patient's unavailable kinds) is computed here
once, by the server's clock (docs/rules.md §2.4, §3, §4).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from ..adapters import orm
from ..domain import consent as consent_rules
from ..domain.availability import unavailable_kinds
from ..domain.certificate import RenewalAlert, renewal_alert
from ..domain.codes import VALID_STATUSES, EligibilityStatus, Form
from ..domain.consent import WindowReport
from ..domain.japanese_dates import jst_date
from ..domain.qualification import name_has_unencodable
from ..runtime import Rules
from .notices import visit_notices

ELIGIBILITY_LABELS_JA = {
    EligibilityStatus.VALID: "有効",
    EligibilityStatus.INVALID_LOST: "無効（資格喪失）",
    EligibilityStatus.INVALID_NEWER_EXISTS: "無効（新しい資格あり）",
    EligibilityStatus.NO_MATCH: "該当資格なし",
    EligibilityStatus.MULTIPLE_MATCHES: "複数該当",
    EligibilityStatus.VALID_UNREGISTERED: "有効（医療扶助・未登録）",
}
WITHHELD_LABEL_JA = "資格情報なし（保険者が表示を停止）"


@dataclass(frozen=True, slots=True)
class ConsentRead:
    id: str
    blanket: bool
    kinds: tuple[str, ...]
    registered_at: datetime
    expires_at: datetime
    withdrawn_at: datetime | None
    source: str
    renews_id: str | None


@dataclass(frozen=True, slots=True)
class RelationshipRef:
    """The continuing-care relationship a visit belongs to, and whether it is active now."""

    id: str
    opened_by_visit_id: str
    active: bool
    ended_at: datetime | None
    end_reason: str | None


@dataclass(frozen=True, slots=True)
class UnavailableKind:
    """A kind that cannot hold data for this patient today, with the Japanese reason (§3.6, seed 002)."""

    kind: str
    reason: str


@dataclass(frozen=True, slots=True)
class VisitRead:
    """A visit as its representation shows it *now*: every value the schema writes, computed once."""

    id: str
    created_at: datetime
    care_type: int
    form: str
    method: str
    staff_id: str
    device_id: str
    visual_confirmed_by: str | None
    patient_reference: str | None
    certificate_standing: str
    certificate_kind: str | None
    eligibility_status: int
    eligibility_label: str
    qualification: dict[str, Any] | None
    data_withheld: bool
    name_has_unencodable: bool
    unavailable_kinds: tuple[UnavailableKind, ...]
    candidates: int
    window: WindowReport
    consent: ConsentRead | None
    requery_of: str | None
    care_relationship: RelationshipRef | None
    notices: tuple[str, ...]
    renewal: RenewalAlert | None

    @property
    def outcome(self) -> str:
        """"valid" (statuses 1 and 6) or "invalid": the console's filter and badge."""
        return "valid" if self.eligibility_status in VALID_STATUSES else "invalid"


class VisitFacts(Protocol):
    """The visit's stored columns a read model is made of: an ORM row just written, or a selected row."""

    @property
    def id(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def care_type(self) -> int: ...
    @property
    def form(self) -> Any: ...
    @property
    def method(self) -> Any: ...
    @property
    def user_id(self) -> str: ...
    @property
    def device_id(self) -> str: ...
    @property
    def visual_confirmed_by(self) -> str | None: ...
    @property
    def patient_reference(self) -> str | None: ...
    @property
    def certificate_standing(self) -> Any: ...
    @property
    def certificate_kind(self) -> str | None: ...
    @property
    def certificate_not_after(self) -> datetime | None: ...
    @property
    def eligibility_status(self) -> int: ...
    @property
    def medical_info_allowed(self) -> bool: ...
    @property
    def result(self) -> dict[str, Any]: ...
    @property
    def requery_of(self) -> str | None: ...


def read_visit(visit: VisitFacts, consent: ConsentRead | None, relationship: RelationshipRef | None,
               now: datetime, rules: Rules) -> VisitRead:
    """The read model of a visit as of ``now`` (the server's clock): the window report once, the notices
    from it, the renewal alert as of the visit (§2.4), the kinds the patient's age rules out today (§3.6)."""
    form, method, standing = _value(visit.form), _value(visit.method), _value(visit.certificate_standing)
    result = visit.result or {}
    window = consent_rules.report_window(
        form=Form(form), medical_info_allowed=visit.medical_info_allowed,
        registered_at=consent.registered_at if consent else None,
        expires_at=consent.expires_at if consent else None,
        withdrawn_at=consent.withdrawn_at if consent else None, now=now,
        requery_possible=relationship is not None and relationship.active)
    renewal = _renewal(visit.certificate_not_after, visit.created_at, rules)
    qualification = result.get("qualification")
    return VisitRead(
        id=visit.id, created_at=visit.created_at, care_type=visit.care_type, form=form, method=method,
        staff_id=visit.user_id, device_id=visit.device_id, visual_confirmed_by=visit.visual_confirmed_by,
        patient_reference=visit.patient_reference, certificate_standing=standing,
        certificate_kind=visit.certificate_kind, eligibility_status=visit.eligibility_status,
        eligibility_label=_eligibility_label(visit.eligibility_status, result), qualification=qualification or None,
        data_withheld=bool(result.get("data_withheld")), name_has_unencodable=name_has_unencodable(qualification),
        unavailable_kinds=_unavailable(qualification, now), candidates=int(result.get("candidates") or 0),
        window=window, consent=consent, requery_of=visit.requery_of, care_relationship=relationship,
        notices=visit_notices(form=form, method=method, certificate_standing=standing,
                              eligibility_status=visit.eligibility_status, result=result,
                              has_consent=consent is not None, window=window, renewal=renewal),
        renewal=renewal)


def consent_read(consent: Any) -> ConsentRead | None:
    """A consent row (ORM or selected) as the read model holds it."""
    if consent is None:
        return None
    return ConsentRead(consent.id, consent.blanket, tuple(consent.kinds), consent.registered_at, consent.expires_at,
                       consent.withdrawn_at, consent.source, consent.renews_id)


def relationship_ref(*, id: str, opened_by_visit_id: str, last_visit_at: datetime, ended_at: datetime | None,
                     end_reason: str | None, now: datetime, rules: Rules) -> RelationshipRef:
    """The relationship as of ``now``: ended when recorded, or by itself after the idle limit (§3.2)."""
    status = consent_rules.care_relationship_status(ended_at=ended_at, end_reason=end_reason,
                                                    last_visit_at=last_visit_at,
                                                    idle_limit=rules.care_relationship_idle, now=now)
    return RelationshipRef(id, opened_by_visit_id, status.active, status.ended_at, status.end_reason)


def _value(code: Any) -> str:
    return str(getattr(code, "value", code))


def _renewal(not_after: datetime | None, created_at: datetime, rules: Rules) -> RenewalAlert | None:
    """As of the visit: from ``CERTIFICATE_RENEWAL_ALERT_MONTHS`` before the expiry and through the grace."""
    if not_after is None:
        return None
    return renewal_alert(not_after=not_after, now=created_at, alert_months=rules.renewal_alert_months,
                         grace_months=rules.certificate_grace_months)


def _eligibility_label(status: int, result: dict[str, Any]) -> str:
    if result.get("data_withheld"):
        return WITHHELD_LABEL_JA
    return ELIGIBILITY_LABELS_JA[EligibilityStatus(status)]


def _unavailable(qualification: dict[str, Any] | None, now: datetime) -> tuple[UnavailableKind, ...]:
    raw = (qualification or {}).get("birth_date")
    kinds = unavailable_kinds(date.fromisoformat(raw) if raw else None, jst_date(now))  # the date in Japan
    return tuple(UnavailableKind(kind.value, reason) for kind, reason in kinds.items())


# --- the one statement ---------------------------------------------------------------------------------------

_V, _C, _R = orm.Visit.__table__.c, orm.Consent.__table__.c, orm.CareRelationship.__table__.c
_CONSENT_COLUMNS = ("id", "blanket", "kinds", "registered_at", "expires_at", "withdrawn_at", "source", "renews_id")
_RELATIONSHIP_COLUMNS = ("id", "opened_by_visit_id", "last_visit_at", "ended_at", "end_reason")
_VISIT_COLUMNS = ("id", "created_at", "care_type", "form", "method", "user_id", "device_id", "visual_confirmed_by",
                  "patient_reference", "certificate_standing", "certificate_kind", "certificate_not_after",
                  "eligibility_status", "medical_info_allowed", "result", "requery_of")


def _visits_select() -> Select[Any]:
    """Visits with their consent (at most one per visit) and their relationship, in one statement."""
    return (select(*(_V[name] for name in _VISIT_COLUMNS),
                   *(_C[name].label(f"consent_{name}") for name in _CONSENT_COLUMNS),
                   *(_R[name].label(f"rel_{name}") for name in _RELATIONSHIP_COLUMNS))
            .select_from(orm.Visit.__table__)
            .outerjoin(orm.Consent.__table__, _C.visit_id == _V.id)
            .outerjoin(orm.CareRelationship.__table__, _R.id == _V.care_relationship_id))


def _read_row(row: Any, now: datetime, rules: Rules) -> VisitRead:
    consent = None
    if row.consent_id is not None:
        consent = ConsentRead(row.consent_id, row.consent_blanket, tuple(row.consent_kinds),
                              row.consent_registered_at, row.consent_expires_at, row.consent_withdrawn_at,
                              row.consent_source, row.consent_renews_id)
    relationship = None
    if row.rel_id is not None:
        relationship = relationship_ref(id=row.rel_id, opened_by_visit_id=row.rel_opened_by_visit_id,
                                        last_visit_at=row.rel_last_visit_at, ended_at=row.rel_ended_at,
                                        end_reason=row.rel_end_reason, now=now, rules=rules)
    return read_visit(row, consent, relationship, now, rules)


def visit(session: Session, institution_id: str, visit_id: str, *, now: datetime,
          rules: Rules) -> VisitRead | None:
    """The institution's visit; None for a missing id or another institution's (the caller says 404)."""
    row = session.execute(_visits_select().where(_V.id == visit_id, _V.institution_id == institution_id)).first()
    return None if row is None else _read_row(row, now, rules)


@dataclass(frozen=True, slots=True)
class VisitCriteria:
    """What a visit list or search asks for; None does not filter. ``since`` inclusive, ``until`` exclusive;
    ``outcome`` "valid" (statuses 1 and 6) or "invalid" (the others)."""

    since: datetime | None = None
    until: datetime | None = None
    user_id: str | None = None
    form: str | None = None
    care_type: int | None = None
    outcome: str | None = None
    patient_reference: str | None = None


def visits(session: Session, institution_id: str, criteria: VisitCriteria, *, limit: int, offset: int,
           now: datetime, rules: Rules) -> list[VisitRead]:
    """A page of the institution's visits matching ``criteria``, newest first, in one statement: filtered
    in the database, so an old date range is found however many visits came after it."""
    where: list[Any] = [_V.institution_id == institution_id]
    if criteria.since is not None:
        where.append(_V.created_at >= criteria.since)
    if criteria.until is not None:
        where.append(_V.created_at < criteria.until)
    if criteria.outcome is not None:
        statuses = [int(s) for s in VALID_STATUSES]
        where.append(_V.eligibility_status.in_(statuses) if criteria.outcome == "valid"
                     else _V.eligibility_status.not_in(statuses))
    for name in ("user_id", "form", "care_type", "patient_reference"):
        value = getattr(criteria, name)
        if value is not None and value != "":
            where.append(_V[name] == value)
    rows = session.execute(_visits_select().where(*where).order_by(_V.created_at.desc(), _V.id.desc())
                           .limit(limit).offset(offset))
    return [_read_row(row, now, rules) for row in rows]

