"""What to do when the card cannot be confirmed online (docs/rules.md §5).

The codes are the ones a fallback record carries (``/api/v1/fallback-records``)
and the Japanese labels the ones the device shows, so the guidance sent with an
outage (``fallback_guidance``) and the record the nurse then makes agree.
"""
from __future__ import annotations

from enum import Enum
from typing import Any


class FallbackMethod(str, Enum):
    """What was shown instead (docs/rules.md §5), in the seed's order, which is not an order of preference."""

    NOTICE_WITH_CARD = "notice_with_card"  # 資格情報のお知らせ＋カード
    PORTAL_WITH_CARD = "portal_with_card"  # マイナポータル画面＋カード
    ORAL_REVISIT = "oral_revisit"  # 再来時の口頭確認
    DECLARATION = "declaration"  # 被保険者資格申立書
    QUALIFICATION_CERTIFICATE = "qualification_certificate"  # 資格確認書


class FallbackReason(str, Enum):
    """Why online confirmation was not possible."""

    OFFLINE = "offline"
    CARD_UNREADABLE = "card_unreadable"
    CERTIFICATE_EXPIRED = "certificate_expired"
    SYSTEM_DOWN = "system_down"
    OTHER = "other"


METHOD_LABELS_JA: dict[FallbackMethod, str] = {
    FallbackMethod.NOTICE_WITH_CARD: "資格情報のお知らせ＋マイナンバーカード",
    FallbackMethod.PORTAL_WITH_CARD: "マイナポータルの資格情報画面＋マイナンバーカード",
    FallbackMethod.ORAL_REVISIT: "再来時の口頭確認",
    FallbackMethod.DECLARATION: "被保険者資格申立書",
    FallbackMethod.QUALIFICATION_CERTIFICATE: "資格確認書",
}

# When each method applies (a notice or the portal screen alone is never enough: it comes with the card).
METHOD_CONDITIONS_JA: dict[FallbackMethod, str] = {
    FallbackMethod.NOTICE_WITH_CARD: "マイナンバーカードと一緒に提示された場合",
    FallbackMethod.PORTAL_WITH_CARD: "マイナンバーカードと一緒に提示された場合",
    FallbackMethod.ORAL_REVISIT: "再来の患者で、資格情報をすでに把握している場合のみ",
    FallbackMethod.DECLARATION: "初診の患者が記入し、マイナンバーカードを提示した場合",
    FallbackMethod.QUALIFICATION_CERTIFICATE: "マイナ保険証をお持ちでない患者の場合",
}

OUTAGE_NEXT_STEP_JA = (
    "オンラインで資格を確認できません。少し待って再度お試しいただくか、"
    "次のいずれかの方法で資格を確認して記録してください（後で事後確認を行います）。"
    "患者負担は通常の割合です。"
)


def fallback_guidance(reason: FallbackReason = FallbackReason.SYSTEM_DOWN) -> dict[str, Any]:
    """Machine-readable guidance for the device: the methods, when each applies, and what to do next."""
    return {
        "reason": reason.value,
        "methods": [{"method": m.value, "label": METHOD_LABELS_JA[m], "condition": METHOD_CONDITIONS_JA[m]}
                    for m in FallbackMethod],
        "next_step": OUTAGE_NEXT_STEP_JA,
    }
