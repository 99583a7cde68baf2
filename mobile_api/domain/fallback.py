"""What to do when the card cannot be confirmed online (docs/rules.md §5).

The codes are the ones a fallback record carries (``/api/v1/fallback-records``)
and the Japanese labels the ones the device shows, so the guidance sent with an
outage (``fallback_guidance``) and the record the nurse then makes agree.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from .errors import DeviceTimeRefused, ValidationFailed
from .japanese_dates import jst_date, jst_text, shift_months


class FallbackMethod(StrEnum):
    """What was shown instead (docs/rules.md §5), in the seed's order, which is not an order of preference."""

    NOTICE_WITH_CARD = "notice_with_card"  # 資格情報のお知らせ＋カード
    PORTAL_WITH_CARD = "portal_with_card"  # マイナポータル画面＋カード
    ORAL_REVISIT = "oral_revisit"  # 再来時の口頭確認
    DECLARATION = "declaration"  # 被保険者資格申立書
    QUALIFICATION_CERTIFICATE = "qualification_certificate"  # 資格確認書
    PAPER_CARD = "paper_card"  # 従来の健康保険証 (until 2025-12-01; 後期高齢者 until 2025-07-31)
    NOTICE_ALONE = "notice_alone"  # 資格情報のお知らせのみ (2025-12-02..2026-03-31, with a lookup)
    EXPIRED_PAPER_CARD = "expired_paper_card"  # 期限切れの健康保険証のみ (2025-12-02..2026-03-31, with a lookup)


class FallbackReason(StrEnum):
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
    FallbackMethod.PAPER_CARD: "健康保険証（従来の保険証）",
    FallbackMethod.NOTICE_ALONE: "資格情報のお知らせのみ（経過措置）",
    FallbackMethod.EXPIRED_PAPER_CARD: "有効期限切れの健康保険証のみ（経過措置）",
}

# When each method applies (a notice or the portal screen alone is never enough: it comes with the card).
METHOD_CONDITIONS_JA: dict[FallbackMethod, str] = {
    FallbackMethod.NOTICE_WITH_CARD: "マイナンバーカードと一緒に提示された場合",
    FallbackMethod.PORTAL_WITH_CARD: "マイナンバーカードと一緒に提示された場合",
    FallbackMethod.ORAL_REVISIT: "再来の患者で、資格情報をすでに把握している場合のみ",
    FallbackMethod.DECLARATION: "初診の患者が記入し、マイナンバーカードを提示した場合",
    FallbackMethod.QUALIFICATION_CERTIFICATE: "マイナ保険証をお持ちでない患者の場合",
    FallbackMethod.PAPER_CARD: "2025年12月1日まで（後期高齢者は2025年7月31日まで）",
    FallbackMethod.NOTICE_ALONE: "2025年12月2日から2026年3月31日まで、被保険者番号等によるオンライン照会で資格を確認できた場合のみ",
    FallbackMethod.EXPIRED_PAPER_CARD: "2025年12月2日から2026年3月31日まで、被保険者番号等によるオンライン照会で資格を確認できた場合のみ",
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
        "methods": [{"method": m.value, "label": METHOD_LABELS_JA[m], "condition": METHOD_CONDITIONS_JA[m],
                     "valid_from": _iso(METHOD_DATES[m][0]), "valid_until": _iso(METHOD_DATES[m][1])}
                    for m in FallbackMethod],
        "next_step": OUTAGE_NEXT_STEP_JA,
    }


# --- Which method is valid on which day (docs/rules.md §5), judged by the visit's date in Japan. ---

MYNA_BASIS_FROM = date(2024, 12, 2)  # seed 001: the fallbacks of マイナ保険証 apply from this day
PAPER_CARD_LAST_DAY = date(2025, 12, 1)  # seed 001: every paper card expired by then
PAPER_CARD_LAST_DAY_LATTER_STAGE = date(2025, 7, 31)  # seed 001: 後期高齢者's paper cards ended earlier
INTERIM_FROM, INTERIM_UNTIL = date(2025, 12, 2), date(2026, 3, 31)  # seed 003: the transitional measure

# (first valid day, last valid day); None = open. The paper card's end for 後期高齢者 is in ``check_method_date``.
METHOD_DATES: dict[FallbackMethod, tuple[date | None, date | None]] = {
    FallbackMethod.NOTICE_WITH_CARD: (MYNA_BASIS_FROM, None),
    FallbackMethod.PORTAL_WITH_CARD: (MYNA_BASIS_FROM, None),
    FallbackMethod.ORAL_REVISIT: (MYNA_BASIS_FROM, None),
    FallbackMethod.DECLARATION: (MYNA_BASIS_FROM, None),
    FallbackMethod.QUALIFICATION_CERTIFICATE: (MYNA_BASIS_FROM, None),
    FallbackMethod.PAPER_CARD: (None, PAPER_CARD_LAST_DAY),
    FallbackMethod.NOTICE_ALONE: (INTERIM_FROM, INTERIM_UNTIL),
    FallbackMethod.EXPIRED_PAPER_CARD: (INTERIM_FROM, INTERIM_UNTIL),
}

# Methods that the server accepts only after it found the person by an online lookup by identifiers.
NEEDS_LOOKUP = frozenset({FallbackMethod.NOTICE_ALONE, FallbackMethod.EXPIRED_PAPER_CARD})
# Methods a patient shows together with the My Number card (the card body, even with an expired certificate).
WITH_CARD = frozenset({FallbackMethod.NOTICE_WITH_CARD, FallbackMethod.PORTAL_WITH_CARD, FallbackMethod.DECLARATION})
# After the certificate's grace the card still works with the notice or the portal screen (seed 001), or the
# patient shows a 資格確認書; the oral check and the declaration answer other situations.
AFTER_CERTIFICATE_GRACE = frozenset({FallbackMethod.NOTICE_WITH_CARD, FallbackMethod.PORTAL_WITH_CARD,
                                     FallbackMethod.QUALIFICATION_CERTIFICATE, FallbackMethod.PAPER_CARD,
                                     *NEEDS_LOOKUP})

NEXT_TIME_NOTICE_JA = "次回の受診時は、マイナ保険証（マイナンバーカード）または資格確認書をお持ちいただくよう患者に伝えてください。"


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _ja(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def is_latter_stage_insurer(insurer_number: str | None) -> bool:
    """後期高齢者医療広域連合: law code (法別番号) 39."""
    return bool(insurer_number) and len(insurer_number) == 8 and insurer_number.startswith("39")


def judged_visit_day(stated: datetime, received: datetime, *, future_skew: timedelta, max_age_days: int) -> date:
    """The visit's day in Japan, from the device's stated time bounded by the server's receipt (docs/rules.md §5).

    The device's clock is a claim: a time ahead of the server's by more than ``future_skew`` cannot be a visit,
    and a day more than ``max_age_days`` before the day of receipt is past what the monthly claim still needs,
    so neither can choose which methods were valid."""
    if stated - received > future_skew:
        raise DeviceTimeRefused(
            f"記録した時刻（{jst_text(stated)}）がサーバーの受付時刻（{jst_text(received)}）より先になっています。"
            "端末の日付と時刻を確かめて、正しい受診時刻で記録し直してください。",
            field="device_recorded_at", rule="recorded-in-future", received_at=received.isoformat())
    earliest = jst_date(received) - timedelta(days=max_age_days)
    if jst_date(stated) < earliest:
        raise DeviceTimeRefused(
            f"受診日（{_ja(jst_date(stated))}）が古すぎます。代替確認の記録は受付日の{max_age_days}日前"
            f"（{_ja(earliest)}）以降の受診だけ受け付けます。端末の日付を確かめるか、管理者に相談してください。",
            field="device_recorded_at", rule="recorded-too-long-ago", earliest_visit_on=earliest.isoformat())
    return jst_date(min(stated, received))  # a visit cannot have happened after the server received its record


def check_method_date(method: FallbackMethod, visit_on: date, *, latter_stage: bool) -> None:
    """Refuse a method outside its dates (``visit_on`` is the visit's day in Japan)."""
    first, last = METHOD_DATES[method]
    label = METHOD_LABELS_JA[method]
    if method is FallbackMethod.PAPER_CARD and latter_stage and visit_on > PAPER_CARD_LAST_DAY_LATTER_STAGE:
        raise ValidationFailed(
            f"後期高齢者医療の健康保険証は{_ja(PAPER_CARD_LAST_DAY_LATTER_STAGE)}で使えなくなりました"
            f"（受診日 {_ja(visit_on)}）。マイナ保険証または資格確認書で確認してください。", field="method",
            rule="method-date", valid_until=PAPER_CARD_LAST_DAY_LATTER_STAGE.isoformat())
    if last is not None and visit_on > last:
        raise ValidationFailed(
            f"「{label}」は{_ja(last)}までの方法です（受診日 {_ja(visit_on)}）。"
            "マイナ保険証、資格確認書、または資格情報のお知らせ等とマイナンバーカードで確認してください。",
            field="method", rule="method-date", valid_until=last.isoformat())
    if first is not None and visit_on < first:
        raise ValidationFailed(f"「{label}」は{_ja(first)}からの方法です（受診日 {_ja(visit_on)}）。",
                               field="method", rule="method-date", valid_from=first.isoformat())


def check_method_for_reason(method: FallbackMethod, reason: FallbackReason) -> None:
    """An expired certificate past its grace: the card works only with the notice or the portal screen."""
    if reason is FallbackReason.CERTIFICATE_EXPIRED and method not in AFTER_CERTIFICATE_GRACE:
        raise ValidationFailed(
            "電子証明書の有効期限が切れて猶予期間も過ぎている場合は、マイナンバーカードと資格情報のお知らせ、"
            "またはマイナポータルの資格情報画面（PDF）、あるいは資格確認書で確認してください。",
            field="method", rule="method-reason")


# --- What each method must carry (OUR RULE, docs/rules.md §5): the identifiers needed to bill. ---

_COMMON = frozenset({"name", "name_kana", "free_text"})
_IDENTIFIERS = frozenset({"insurer_number", "insurer_name", "symbol", "number", "branch_number", "birth_date",
                          "copayment_ratio"})
_NUMBERS = ("insurer_number", "number", "birth_date")
EVIDENCE_RULES: dict[FallbackMethod, tuple[tuple[str, ...], frozenset[str]]] = {
    # method: (required, allowed)
    FallbackMethod.NOTICE_WITH_CARD: (("card_presented", *_NUMBERS), _COMMON | _IDENTIFIERS | {"card_presented"}),
    FallbackMethod.PORTAL_WITH_CARD: (("card_presented", *_NUMBERS),
                                      _COMMON | _IDENTIFIERS | {"card_presented", "portal_view"}),
    FallbackMethod.ORAL_REVISIT: (("nothing_changed",),
                                  _COMMON | _IDENTIFIERS | {"nothing_changed", "from_provider_records"}),
    FallbackMethod.DECLARATION: (("card_presented", "declaration"),
                                 _COMMON | _IDENTIFIERS | {"card_presented", "declaration"}),
    FallbackMethod.QUALIFICATION_CERTIFICATE: (_NUMBERS, _COMMON | _IDENTIFIERS | {"valid_until", "issued_on"}),
    FallbackMethod.PAPER_CARD: (_NUMBERS, _COMMON | _IDENTIFIERS),
    FallbackMethod.NOTICE_ALONE: (_NUMBERS, _COMMON | _IDENTIFIERS),
    FallbackMethod.EXPIRED_PAPER_CARD: (_NUMBERS, _COMMON | _IDENTIFIERS),
}
EVIDENCE_LABELS_JA = {
    "card_presented": "マイナンバーカードの提示", "insurer_number": "保険者番号", "number": "番号",
    "birth_date": "生年月日", "nothing_changed": "資格に変更がないことの口頭確認", "declaration": "被保険者資格申立書",
    "copayment_ratio": "一部負担金割合", "portal_view": "マイナポータルの表示（画面・PDF）",
    "valid_until": "資格確認書の有効期限", "issued_on": "資格確認書の交付日（有効開始日）", "insurer_name": "保険者名", "symbol": "記号", "branch_number": "枝番",
    "name": "氏名", "name_kana": "フリガナ", "free_text": "自由記述",
    "from_provider_records": "施設の記録（カルテ・レセコン等）から転記した番号であること",
}


def numbers_from_provider_records(method: FallbackMethod, evidence: dict[str, Any]) -> bool:
    """An oral revisit check with the numbers the provider already holds in its own records (カルテ, レセコン):
    the patient has been seen before this system was used, so the numbers are copied from those records and
    marked as such (docs/rules.md §5). True when the record carries them; refuses numbers not so marked and a
    mark without the numbers a post-hoc lookup needs."""
    if method is not FallbackMethod.ORAL_REVISIT:
        return False
    marked = bool(evidence.get("from_provider_records"))
    if not marked and any(evidence.get(name) is not None for name in _IDENTIFIERS):
        raise ValidationFailed("口頭確認で番号を記録するのは、施設の記録（カルテ・レセコン等）で資格情報を把握している"
                               "場合です。その記録から転記したことをチェックしてください。",
                               field="evidence/from_provider_records", rule="oral-numbers-from-records")
    for name in _NUMBERS if marked else ():
        if not evidence.get(name):
            raise ValidationFailed(f"施設の記録による口頭確認では、記録にある{EVIDENCE_LABELS_JA[name]}の入力が必要です。",
                                   field=f"evidence/{name}", rule="evidence-required")
    return marked


def check_evidence(method: FallbackMethod, evidence: dict[str, Any], visit_on: date) -> None:
    """Each method requires its own fields and refuses what belongs to another one."""
    required, allowed = EVIDENCE_RULES[method]
    label = METHOD_LABELS_JA[method]
    for name in sorted(evidence):
        if name not in allowed:
            raise ValidationFailed(f"「{EVIDENCE_LABELS_JA.get(name, name)}」は「{label}」の記録には入力できません。",
                                   field=f"evidence/{name}", rule="evidence-not-for-method")
    for name in required:
        if evidence.get(name) in (None, "", False):
            what = EVIDENCE_LABELS_JA[name]
            detail = (f"「{label}」では{what}が必要です（チェックしてください）。" if name in ("card_presented", "nothing_changed")
                      else f"「{label}」では{what}の入力が必要です。")
            raise ValidationFailed(detail, field=f"evidence/{name}", rule="evidence-required")
    valid_until = evidence.get("valid_until")
    if valid_until is not None and date.fromisoformat(valid_until) < visit_on:
        raise ValidationFailed(f"資格確認書の有効期限（{valid_until}）が受診日より前です。",
                               field="evidence/valid_until", rule="certificate-expired")
    check_certificate_term(evidence, visit_on)


CERTIFICATE_MAX_YEARS = 5  # seed 001: 資格確認書の有効期限は最大5年で保険者が定める範囲


def check_certificate_term(evidence: dict[str, Any], visit_on: date) -> None:
    """A 資格確認書 is valid for at most 5 years (seed 001): from its issue day when given, and in any case from the
    visit (it was issued on or before it), so an expiry further out was misread or is not a 資格確認書."""
    issued = date.fromisoformat(evidence["issued_on"]) if evidence.get("issued_on") else None
    until = date.fromisoformat(evidence["valid_until"]) if evidence.get("valid_until") else None
    if issued is not None and issued > visit_on:
        raise ValidationFailed(f"資格確認書の交付日（{_ja(issued)}）が受診日（{_ja(visit_on)}）より後です。",
                               field="evidence/issued_on", rule="certificate-issued-later")
    if until is None:
        return
    if issued is not None and until < issued:
        raise ValidationFailed(f"資格確認書の有効期限（{_ja(until)}）が交付日（{_ja(issued)}）より前です。",
                               field="evidence/valid_until", rule="certificate-term")
    start = issued or visit_on
    latest = shift_months(start, 12 * CERTIFICATE_MAX_YEARS)
    if until > latest:
        since = "交付日" if issued is not None else "受診日"
        raise ValidationFailed(
            f"資格確認書の有効期限は最長{CERTIFICATE_MAX_YEARS}年です。有効期限（{_ja(until)}）が{since}（{_ja(start)}）から"
            f"{CERTIFICATE_MAX_YEARS}年（{_ja(latest)}）を超えています。有効期限を確認してください。",
            field="evidence/valid_until", rule="certificate-over-5-years", latest_valid_until=latest.isoformat())
