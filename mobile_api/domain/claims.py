"""Which identifiers to bill with when the qualification is unclear (seed 001; docs/rules.md §5).

In this order, the first that is possible:
① the *current* insurer number etc., learned from the patient (what was shown), from OQS, or from past visits;
② the *former* qualification, shown by an "invalid" result (status 2 or 3) or by past visits: bill the former
   insurer;
③ the unknown claim (不詳レセプト): every digit of the insurer number etc. filled with "7", and the
   declaration's address and contact written in the claim's remarks (摘要欄).

The 7-fill is the one place where an insurer number without a valid check digit is accepted
(``is_unknown_claim_identifiers``); everywhere else the check digit holds.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import IntEnum
from typing import Any

from .errors import ValidationFailed
from .insurer import is_unknown_claim_number, is_valid_insurer_number


class ClaimRoute(IntEnum):
    CURRENT = 1  # ① 現在の被保険者番号等
    FORMER = 2  # ② 過去（喪失した）資格で旧保険者に請求
    UNKNOWN = 3  # ③ 不詳レセプト


ROUTE_MARKS = {ClaimRoute.CURRENT: "①", ClaimRoute.FORMER: "②", ClaimRoute.UNKNOWN: "③"}


@dataclass(frozen=True)
class BillingIdentifiers:
    insurer_number: str
    symbol: str | None
    number: str
    branch_number: str | None

    @classmethod
    def of(cls, raw: dict[str, Any] | None) -> BillingIdentifiers | None:
        """From a qualification or evidence dict; None unless it holds an insurer number and a number."""
        if not raw or not raw.get("insurer_number") or not raw.get("number"):
            return None
        return cls(raw["insurer_number"], raw.get("symbol"), raw["number"], raw.get("branch_number"))


# OUR RULE (fixed here): "7" in every digit "as many as needed" (seed 001: 「7」を必要な桁数分入力する).
# The insurer number has 8 digits; 記号 and 番号 have no fixed length, so 4 and 8 digits are used.
UNKNOWN_CLAIM_IDENTIFIERS = BillingIdentifiers("77777777", "7777", "77777777", None)


def is_unknown_claim_identifiers(ids: BillingIdentifiers) -> bool:
    """Every digit "7": the insurer number (8, or 6 for 国保) and the 記号・番号 when given."""
    return is_unknown_claim_number(ids.insurer_number) and all(
        part is None or (part != "" and set(part) == {"7"}) for part in (ids.symbol, ids.number))


@dataclass(frozen=True)
class ClaimGuidance:
    route: ClaimRoute
    identifiers: BillingIdentifiers
    source: str  # oqs | lookup | evidence | provider_records | past_visit | invalid_result | unknown
    remarks: str | None  # 摘要欄 (route ③: the declaration's address and phone)
    message: str  # Japanese, for the person preparing the claim

    @property
    def mark(self) -> str:
        return ROUTE_MARKS[self.route]

    def to_dict(self) -> dict[str, Any]:
        return {"route": int(self.route), "route_mark": self.mark, "source": self.source,
                "identifiers": asdict(self.identifiers), "remarks": self.remarks, "message": self.message}


SOURCE_JA = {"oqs": "オンライン資格確認の結果", "lookup": "事後確認（被保険者番号等による照会）の結果",
             "evidence": "患者が提示した書類", "past_visit": "過去の受診時の資格情報",
             "provider_records": "施設の記録（カルテ・レセコン等）",
             "invalid_result": "「資格（無効）」として表示された喪失済みの資格"}


def guide(*, current: BillingIdentifiers | None, current_source: str = "evidence",
          former: BillingIdentifiers | None = None, former_source: str = "invalid_result",
          declaration: dict[str, Any] | None = None, declaration_destroyed: bool = False) -> ClaimGuidance:
    """The first possible route of ①②③ for one visit or record."""
    if current is not None and is_valid_insurer_number(current.insurer_number):
        return ClaimGuidance(ClaimRoute.CURRENT, current, current_source, None,
                             f"①{SOURCE_JA.get(current_source, current_source)}の現在の被保険者番号等で請求してください。")
    if former is not None and is_valid_insurer_number(former.insurer_number):
        return ClaimGuidance(ClaimRoute.FORMER, former, former_source, None,
                             f"②{SOURCE_JA.get(former_source, former_source)}で、旧保険者に請求してください。")
    return ClaimGuidance(ClaimRoute.UNKNOWN, UNKNOWN_CLAIM_IDENTIFIERS, "unknown",
                         unknown_claim_remarks(declaration, destroyed=declaration_destroyed),
                         "③不詳レセプトとして、被保険者番号等をすべて「7」で埋め、摘要欄に申立書の住所・連絡先を"
                         "記載して請求してください。")


def unknown_claim_remarks(declaration: dict[str, Any] | None, *, destroyed: bool = False) -> str:
    """摘要欄: the declaration's address (and residence) and phone."""
    if destroyed:
        return "（請求確定により申立書の情報は廃棄済み）"
    if not declaration:
        return "被保険者資格申立書なし：患者の住所・連絡先を確認して記載してください"
    parts = [f"住所 {declaration['address']}"] if declaration.get("address") else []
    if declaration.get("residence_address"):
        parts.append(f"居所 {declaration['residence_address']}")
    if declaration.get("phone"):
        parts.append(f"連絡先 {declaration['phone']}")
    return "被保険者資格申立書による：" + "／".join(parts)


def check_current_route(route: ClaimRoute, billed: BillingIdentifiers | None, guidance: ClaimGuidance) -> None:
    """① bills the *current* insurer number etc. (seed 001), so they must be known: given with the settlement, or
    the record's own guidance is ① (a valid lookup, the numbers shown, the provider's records, an earlier visit)."""
    if route is ClaimRoute.CURRENT and billed is None and guidance.route is not ClaimRoute.CURRENT:
        raise ValidationFailed("①で請求するには現在の被保険者番号等が必要ですが、この記録にはありません。請求に使う"
                               "保険者番号・番号を入力するか、②（旧保険者への請求）または③（不詳レセプト）で請求してください。",
                               field="billed", rule="current-numbers-needed", guided_route=int(guidance.route))
