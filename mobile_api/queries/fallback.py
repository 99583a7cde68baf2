"""Fallback records as the API shows them (docs/rules.md §5): a frozen read model whose notes, method label
and qualification source are computed once from the stored row, beside its claim guidance (①②③).

The guidance may need two earlier rows: the visit or record an oral check relied on (``prior_ref``) and the
patient's latest earlier visit (by ``patient_reference``). A page reads them with the records in ONE select
(correlated scalar subqueries, the visit's on the index ``ix_visits_patient_history``), not a read per record;
a single record's use case reads them only if the guidance needs them (``record_guidance``'s callables).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from ..adapters import orm
from ..domain.claims import BillingIdentifiers, ClaimGuidance, guide
from ..domain.codes import HOLDING_STATUSES
from ..domain.fallback import METHOD_LABELS_JA, NEXT_TIME_NOTICE_JA, FallbackMethod
from ..domain.statuses import FallbackStatus

NOTICE_POST_HOC = "オンライン資格確認ができなかったため、後で資格を確認してください（事後確認）。"
NOTICE_SHARE = "患者負担は通常の割合（3割等）です。10割を求めないでください。"
NOTICE_DESTROY = "被保険者資格申立書の情報は請求のためにだけ使い、請求が確定したら廃棄してください。"
NOTICE_DESTROYED = "請求が確定したため、被保険者資格申立書の情報は廃棄しました。"
NOTICE_CONFIRMED = "事後確認で資格を確認しました。"
NOTICE_OUTCOMES = {
    "lost": "事後確認の結果、資格は喪失していました。喪失前の資格で旧保険者に請求してください（②）。",
    "different_qualification": "事後確認の結果、新しい資格があります。患者に現在の保険を確認してください。",
    "not_found": "事後確認で該当する資格が見つかりません。番号を確認して記録を更新してください。",
    "multiple": "事後確認で複数の資格が該当しました。枝番を確認して記録を更新してください。",
    "no_identifiers": "照会に必要な保険者番号・番号・生年月日がありません。分かったら記録を更新してください。",
}
RATIO_LABELS = {"010": "1割", "020": "2割", "030": "3割"}
BASIS_JA = {"age": "年齢から", "stated": "提示された書類・申立書から", "provisional": "仮（割合不明のため一般所得の割合）",
            "past_visit": "以前の受診時の資格から"}


@dataclass(frozen=True, slots=True)
class FallbackRead:
    id: str
    care_type: int
    form: str
    patient_reference: str | None
    method: str
    method_label: str
    reason: str
    evidence: dict[str, Any]
    device_recorded_at: datetime
    received_at: datetime
    visit_on: date | None
    qualification_source: str | None
    status: str
    post_hoc_outcome: str | None
    lookup: dict[str, Any] | None
    confirmed_at: datetime | None
    copayment_ratio: str | None
    copayment_basis: str | None
    destroy_after_claim: bool
    settled_at: datetime | None
    claim_route: int | None
    staff_id: str
    device_id: str
    claim_guidance: ClaimGuidance
    notices: tuple[str, ...]


def qualification_source(row: Any) -> str | None:
    """Where an oral revisit check's qualification comes from: an earlier visit or record in this system
    (``past_visit``), or the numbers staff copied from the provider's own records (``provider_records``)."""
    if (row.evidence or {}).get("from_provider_records"):
        return "provider_records"
    return "past_visit" if row.prior_ref else None


def fallback_notices(row: Any) -> tuple[str, ...]:
    """What to do next: the post-hoc check, its outcome, the patient's share (never 100 %), the declaration's
    destruction, and to bring マイナ保険証 or the 資格確認書 next time (seed 003)."""
    notes = [NOTICE_POST_HOC] if _value(row.status) == FallbackStatus.PENDING_POST_HOC else []
    if row.post_hoc_outcome == "confirmed":
        notes.append(NOTICE_CONFIRMED)
    elif row.post_hoc_outcome in NOTICE_OUTCOMES:
        notes.append(NOTICE_OUTCOMES[row.post_hoc_outcome])
    if row.copayment_ratio in RATIO_LABELS:
        notes.append(f"患者負担は{RATIO_LABELS[row.copayment_ratio]}です"
                     f"（{BASIS_JA.get(row.copayment_basis or '', '')}）。10割を求めないでください。")
    else:
        notes.append(NOTICE_SHARE)
    declaration = (row.evidence or {}).get("declaration") or {}
    if declaration.get("destroyed"):
        notes.append(NOTICE_DESTROYED)
    elif row.destroy_after_claim:
        notes.append(NOTICE_DESTROY)
    notes.append(NEXT_TIME_NOTICE_JA)
    return tuple(notes)


def fallback_read(row: Any, guidance: ClaimGuidance) -> FallbackRead:
    """A fallback record row (just written or read) with its claim guidance, everything shown computed once."""
    method = _value(row.method)
    return FallbackRead(
        id=row.id, care_type=row.care_type, form=_value(row.form), patient_reference=row.patient_reference,
        method=method, method_label=METHOD_LABELS_JA[FallbackMethod(method)], reason=_value(row.reason),
        evidence=row.evidence, device_recorded_at=row.device_recorded_at, received_at=row.received_at,
        visit_on=row.visit_on, qualification_source=qualification_source(row), status=_value(row.status),
        post_hoc_outcome=row.post_hoc_outcome, lookup=row.lookup, confirmed_at=row.confirmed_at,
        copayment_ratio=row.copayment_ratio, copayment_basis=row.copayment_basis,
        destroy_after_claim=row.destroy_after_claim, settled_at=row.settled_at, claim_route=row.claim_route,
        staff_id=row.user_id, device_id=row.device_id, claim_guidance=guidance, notices=fallback_notices(row))


Qualification = Mapping[str, Any] | None
#: ``prior_ref``: the visit or record an oral check relied on, as services/fallback.py writes it.
PRIOR_VISIT, PRIOR_RECORD = "visit:", "fallback:"


def record_guidance(row: Any, *, prior: Callable[[], Qualification],
                    earlier: Callable[[], Qualification]) -> ClaimGuidance:
    """① the current numbers (a valid lookup, the numbers shown, or the qualification held from the visit or
    record an oral check relied on: ``prior``), ② the former ones (a lost or superseded lookup result, or the
    patient's latest earlier visit: ``earlier``), ③ the unknown claim. ``prior`` and ``earlier`` are called
    only when the guidance gets that far."""
    evidence = row.evidence or {}
    declaration = evidence.get("declaration") or None
    destroyed = bool(declaration and declaration.get("destroyed"))
    result = (row.lookup or {}).get("result") or {}
    status = result.get("status")
    current = former = None
    current_source = "provider_records" if evidence.get("from_provider_records") else "evidence"
    former_source = "invalid_result"
    if status in (1, 6):
        current, current_source = BillingIdentifiers.of(result.get("qualification")), "lookup"
    elif status in (2, 3):
        former = BillingIdentifiers.of(result.get("qualification"))
    if current is None and status not in (2, 3, 4, 5):  # numbers a lookup did not contradict
        current = BillingIdentifiers.of(evidence)
    if current is None and status is None:
        current, current_source = BillingIdentifiers.of(_as_dict(prior())), "past_visit"
    if former is None and row.patient_reference and row.visit_on is not None:
        held = earlier()
        if held is not None:
            former, former_source = BillingIdentifiers.of(_as_dict(held)), "past_visit"
    return guide(current=current, current_source=current_source, former=former, former_source=former_source,
                 declaration=None if destroyed else declaration, declaration_destroyed=destroyed)


_F = orm.FallbackRecord.__table__
_V = orm.Visit.__table__.c


def _prior_visit_result() -> ColumnElement[Any]:
    """The result of the visit ``prior_ref`` names ("visit:<id>"), by its primary key."""
    return (select(_V.result).where(_F.c.prior_ref.startswith(PRIOR_VISIT),
                                    _V.id == func.substr(_F.c.prior_ref, len(PRIOR_VISIT) + 1))
            .correlate(_F).scalar_subquery())


def _prior_record_lookup() -> ColumnElement[Any]:
    """The lookup of the record ``prior_ref`` names ("fallback:<id>"), by its primary key."""
    prior = orm.FallbackRecord.__table__.alias("prior_record")
    return (select(prior.c.lookup).where(_F.c.prior_ref.startswith(PRIOR_RECORD),
                                         prior.c.id == func.substr(_F.c.prior_ref, len(PRIOR_RECORD) + 1))
            .correlate(_F).scalar_subquery())


def _earlier_visit_result() -> ColumnElement[Any]:
    """The result of the patient's latest visit received before the record that holds a qualification (what
    ``Visits.earlier_of_patient(valid_only=False)`` reads for one record)."""
    return (select(_V.result).where(_V.institution_id == _F.c.institution_id,
                                    _V.patient_reference == _F.c.patient_reference,
                                    _V.created_at < _F.c.received_at, _V.eligibility_status.in_([int(s) for s in HOLDING_STATUSES]))
            .order_by(_V.created_at.desc()).limit(1).correlate(_F).scalar_subquery())


def _with_earlier_rows(*criteria: ColumnElement[bool]) -> Select[Any]:
    """The records matching ``criteria``, each with the earlier rows its guidance may read."""
    return (select(_F, _prior_visit_result().label("prior_visit_result"),
                   _prior_record_lookup().label("prior_record_lookup"),
                   _earlier_visit_result().label("earlier_visit_result"))
            .where(*criteria))


def records(session: Session, institution_id: str, *, status: str | None, limit: int,
            offset: int) -> list[FallbackRead]:
    """A page of the institution's records, newest received first, each with its claim guidance: one select,
    the earlier rows the guidance needs as scalar subqueries."""
    criteria = [_F.c.institution_id == institution_id] + ([_F.c.status == status] if status else [])
    rows = session.execute(_with_earlier_rows(*criteria).order_by(_F.c.received_at.desc(), _F.c.id)
                           .limit(limit).offset(offset))
    return [_listed(row) for row in rows]


def of_visit_days(session: Session, institution_id: str, first: date, last: date) -> list[FallbackRead]:
    """The institution's records visited from ``first`` to ``last`` (days in Japan, inclusive), oldest first,
    with their guidance: the claims of a month (services/claims.py) in one select."""
    rows = session.execute(_with_earlier_rows(_F.c.institution_id == institution_id, _F.c.visit_on >= first,
                                              _F.c.visit_on <= last).order_by(_F.c.visit_on, _F.c.id))
    return [_listed(row) for row in rows]


def _listed(row: Any) -> FallbackRead:
    guidance = record_guidance(row, prior=lambda: _prior_of(row),
                               earlier=lambda: _qualification(row.earlier_visit_result))
    return fallback_read(row, guidance)


def _prior_of(row: Any) -> Qualification:
    if row.prior_visit_result is not None:
        return _qualification(row.prior_visit_result)
    return _qualification(((row.prior_record_lookup or {}).get("result")) or {})


def _qualification(result: Mapping[str, Any] | None) -> Qualification:
    """A visit's or lookup's qualification; a visit without one still counts as held (an empty one)."""
    if result is None:
        return None
    return result.get("qualification")


def _as_dict(qualification: Qualification) -> dict[str, Any] | None:
    return dict(qualification) if qualification is not None else None


def _value(code: Any) -> str:
    return str(getattr(code, "value", code))
