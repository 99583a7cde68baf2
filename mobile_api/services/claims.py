"""Claim guidance for a month (docs/rules.md §5): every visit and fallback record of the month, with the
identifiers to bill and the route (① current, ② former, ③ unknown claim), as JSON or as a CSV file.

The month is the visit's month in Japan. The CSV is UTF-8 with a BOM (so spreadsheet software opens the
Japanese text correctly), CRLF line ends, and cells that a spreadsheet would run as a formula are quoted
with a leading apostrophe (the one writer, ``adapters/spreadsheet.py``). Patient data: read by an admin or staff on a registered device, and audited.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from ..adapters import spreadsheet
from ..domain.claims import ClaimGuidance
from ..domain.codes import IdentityMethod
from ..domain.errors import ValidationFailed
from ..domain.fallback import METHOD_LABELS_JA, FallbackMethod
from ..domain.japanese_dates import JST, jst_date, last_day_of_month_after
from ..queries import fallback as fallback_queries
from ..runtime import Runtime
from . import audit
from .fallback import guidance_for_visit
from .principal import Principal

_MONTH = re.compile(r"^(19|20|21)\d{2}-(0[1-9]|1[0-2])$")
CSV_COLUMNS = ("受診日", "区分", "確認方法", "記録ID", "患者参照", "請求ルート", "保険者番号", "記号", "番号", "枝番",
               "一部負担金割合", "摘要", "根拠", "状態", "氏名", "氏名カナ")  # the names last: readers by position still work


@dataclass(frozen=True)
class ClaimRow:
    visit_on: date
    kind: str  # "visit" (card-verified) | "fallback"
    method: str
    id: str
    patient_reference: str | None
    guidance: ClaimGuidance
    copayment_ratio: str | None
    status: str
    name: str | None = None  # 氏名 as the record knows it (OQS, the declaration or the evidence); None if unknown
    name_kana: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"visit_on": self.visit_on.isoformat(), "kind": self.kind, "method": self.method, "id": self.id,
                "patient_reference": self.patient_reference, "name": self.name, "name_kana": self.name_kana,
                "copayment_ratio": self.copayment_ratio, "status": self.status,
                "claim_guidance": self.guidance.to_dict()}


def patient_name(*sources: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """The name and kana of the first source that has a name: for a visit its OQS qualification; for a fallback
    record the qualification its lookup found, then the declaration, then the evidence staff typed (docs/rules.md
    §5, the claims CSV). A settled record's declaration is destroyed, so its name may be gone too."""
    for source in sources:
        if source and source.get("name"):
            return source["name"], source.get("name_kana") or None
    return None, None


def _qualification_of(result: dict[str, Any] | None) -> dict[str, Any] | None:
    return (result or {}).get("qualification")


def month_bounds(month: str) -> tuple[date, date]:
    if not _MONTH.match(month or ""):
        raise ValidationFailed("月は YYYY-MM の形式で指定してください（例: 2026-12）。", field="month")
    first = date(int(month[:4]), int(month[5:]), 1)
    return first, last_day_of_month_after(first, 0)


def for_month(rt: Runtime, actor: Principal, month: str) -> list[ClaimRow]:
    actor.require_patient_data_reader()
    first, last = month_bounds(month)
    since = datetime(first.year, first.month, first.day, tzinfo=JST)
    until = datetime(last.year, last.month, last.day, tzinfo=JST) + timedelta(days=1)
    rows: list[ClaimRow] = []
    with rt.uow() as uow:
        for visit in uow.visits.between(actor.institution_id, since, until):
            qualification = _qualification_of(visit.result)
            ratio = (qualification or {}).get("copayment_ratio")
            rows.append(ClaimRow(jst_date(visit.created_at), "visit", str(visit.method), visit.id,
                                 visit.patient_reference, guidance_for_visit(uow, visit), ratio,
                                 f"eligibility_{visit.eligibility_status}", *patient_name(qualification)))
        for record in fallback_queries.of_visit_days(uow.session, actor.institution_id, first, last):
            assert record.visit_on is not None
            evidence = record.evidence or {}
            name = patient_name(_qualification_of((record.lookup or {}).get("result")),
                                evidence.get("declaration"), evidence)
            rows.append(ClaimRow(record.visit_on, "fallback", record.method, record.id, record.patient_reference,
                                 record.claim_guidance, record.copayment_ratio, record.status, *name))
        rows.sort(key=lambda r: (r.visit_on, r.kind, r.id))
        audit.record(uow, at=rt.clock(), action="claims.export", institution_id=actor.institution_id,
                     user_id=actor.user_id, device_id=actor.device_id, target_type="claims", target_id=month,
                     count=len(rows))
        uow.commit()
    return rows


_KIND_JA = {"visit": "オンライン資格確認", "fallback": "代替確認"}
_METHOD_JA: dict[str, str] = {IdentityMethod.PIN: "暗証番号", IdentityMethod.VISUAL: "目視確認", IdentityMethod.REQUERY: "再照会",
              IdentityMethod.DISASTER: "災害時の閲覧"}
_STATUS_JA = {"pending_post_hoc": "事後確認待ち", "confirmed": "確認済み", "needs_attention": "要確認",
              "claim_settled": "請求確定", "eligibility_1": "有効", "eligibility_2": "無効（喪失）",
              "eligibility_3": "無効（新しい資格あり）", "eligibility_4": "該当なし", "eligibility_5": "複数該当",
              "eligibility_6": "有効（医療扶助）"}
_SOURCE_JA = {"oqs": "オンライン資格確認", "lookup": "事後確認の照会", "evidence": "提示書類",
              "past_visit": "過去の受診", "invalid_result": "資格（無効）画面", "unknown": "不詳"}


def to_csv(rows: list[ClaimRow]) -> bytes:
    return spreadsheet.csv_text(CSV_COLUMNS, (_line(row) for row in rows)).encode("utf-8")


def _line(row: ClaimRow) -> tuple[Any, ...]:
    """One claim row as the CSV's values, in CSV_COLUMNS order."""
    ids = row.guidance.identifiers
    try:
        method = METHOD_LABELS_JA[FallbackMethod(row.method)]
    except ValueError:
        method = _METHOD_JA.get(row.method, row.method)
    ratio = f"{int(row.copayment_ratio) // 10}割" if row.copayment_ratio and row.copayment_ratio.isdigit() \
        and row.copayment_ratio != "000" else ""
    return (row.visit_on.isoformat(), _KIND_JA[row.kind], method, row.id, row.patient_reference, row.guidance.mark,
            ids.insurer_number, ids.symbol, ids.number, ids.branch_number, ratio, row.guidance.remarks,
            _SOURCE_JA.get(row.guidance.source, row.guidance.source), _STATUS_JA.get(row.status, row.status),
            row.name, row.name_kana)
