"""Fallback records as the API shows them (docs/rules.md §5): a frozen read model whose notes, method label
and qualification source are computed once from the stored row, beside the claim guidance the service works
out (①②③, which may read earlier visits)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ..domain.claims import ClaimGuidance
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


def _value(code: Any) -> str:
    return str(getattr(code, "value", code))
