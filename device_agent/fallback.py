"""Fallback records on the device (docs/rules.md §5): the methods, the evidence each needs, and the server's
refusals in the nurse's words.

The device checks what it can before the patient is gone (a missing field, a method outside its dates, the
insurer number's check digit, a 資格確認書's expiry and issue day), so a record is complete when it is made; what only the server can judge
(whether this is a revisit, the visit day it vouches for) comes back as a refusal that ``describe_problem``
turns into Japanese with the field's label, and the nurse fixes the record under the same id. The tables
mirror the server's (mobile_api/domain/fallback.py); tests/unit/device_agent/test_device_fallback.py fails when they drift
apart. ``form_rules`` hands the same checks and messages to the touch UI's script, which says each error next
to its field as it is typed (tests/e2e/test_offline_evidence.py compares the script's answers with ``build``).

One flat field namespace serves the CLI's options and the touch UI's form: the evidence fields by their
API names, the declaration's as ``decl_<name>`` (its birth date as era/year/month/day).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from device_agent import insurer
from device_agent.certificate import shift_months
from device_agent.labels import ERAS, JST, short_date

METHODS = {
    "notice_with_card": "資格情報のお知らせ＋マイナンバーカード",
    "portal_with_card": "マイナポータルの資格情報画面＋マイナンバーカード",
    "oral_revisit": "再来時の口頭確認",
    "declaration": "被保険者資格申立書",
    "qualification_certificate": "資格確認書",
    "paper_card": "健康保険証（従来の保険証）",
    "notice_alone": "資格情報のお知らせのみ（経過措置）",
    "expired_paper_card": "有効期限切れの健康保険証のみ（経過措置）",
}
CONDITIONS = {
    "notice_with_card": "マイナンバーカードと一緒に提示された場合",
    "portal_with_card": "マイナンバーカードと一緒に提示された場合（画面またはPDF）",
    "oral_revisit": "再来の患者で、資格情報をすでに把握している場合のみ（初診では使えません）",
    "declaration": "初診の患者が記入し、マイナンバーカードを提示した場合",
    "qualification_certificate": "マイナ保険証をお持ちでない患者、または電子証明書の期限切れ（猶予後）の場合",
    "paper_card": "2025年12月1日まで（後期高齢者は2025年7月31日まで）",
    "notice_alone": "2025年12月2日から2026年3月31日まで、被保険者番号等によるオンライン照会で資格を確認できた場合のみ",
    "expired_paper_card": "2025年12月2日から2026年3月31日まで、被保険者番号等によるオンライン照会で資格を確認できた場合のみ",
}
REASONS = {
    "offline": "電波がない・サーバーに接続できない", "card_unreadable": "カードを読み取れない",
    "certificate_expired": "電子証明書の期限切れ（猶予期間後）", "system_down": "オンライン資格確認等システムの障害",
    "other": "その他",
}
_MYNA_FROM = date(2024, 12, 2)
# (first valid day, last valid day) of each method, judged by the visit's date in Japan; None = open.
DATES: dict[str, tuple[date | None, date | None]] = {
    "notice_with_card": (_MYNA_FROM, None), "portal_with_card": (_MYNA_FROM, None),
    "oral_revisit": (_MYNA_FROM, None), "declaration": (_MYNA_FROM, None),
    "qualification_certificate": (_MYNA_FROM, None), "paper_card": (None, date(2025, 12, 1)),
    "notice_alone": (date(2025, 12, 2), date(2026, 3, 31)),
    "expired_paper_card": (date(2025, 12, 2), date(2026, 3, 31)),
}
LATTER_STAGE_PAPER_CARD_UNTIL = date(2025, 7, 31)  # 後期高齢者's paper cards (insurer law code 39) ended earlier

_COMMON = ("name", "name_kana", "free_text")
_IDENTIFIERS = ("insurer_number", "insurer_name", "symbol", "number", "branch_number", "birth_date", "copayment_ratio")
_NUMBERS = ("insurer_number", "number", "birth_date")
# method: (required, allowed) evidence fields, as the server checks them.
EVIDENCE: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {
    "notice_with_card": (("card_presented", *_NUMBERS), frozenset({*_COMMON, *_IDENTIFIERS, "card_presented"})),
    "portal_with_card": (("card_presented", *_NUMBERS),
                         frozenset({*_COMMON, *_IDENTIFIERS, "card_presented", "portal_view"})),
    "oral_revisit": (("nothing_changed",), frozenset({*_COMMON, *_IDENTIFIERS, "nothing_changed",
                                                     "from_provider_records"})),
    "declaration": (("card_presented", "declaration"),
                    frozenset({*_COMMON, *_IDENTIFIERS, "card_presented", "declaration"})),
    "qualification_certificate": (_NUMBERS, frozenset({*_COMMON, *_IDENTIFIERS, "valid_until", "issued_on"})),
    "paper_card": (_NUMBERS, frozenset({*_COMMON, *_IDENTIFIERS})),
    "notice_alone": (_NUMBERS, frozenset({*_COMMON, *_IDENTIFIERS})),
    "expired_paper_card": (_NUMBERS, frozenset({*_COMMON, *_IDENTIFIERS})),
}
FLAGS = ("card_presented", "nothing_changed", "from_provider_records")  # checkboxes: true or absent
EVIDENCE_FIELDS = ("card_presented", "nothing_changed", "from_provider_records", "insurer_number", "insurer_name", "symbol", "number",
                   "branch_number", "name", "name_kana", "birth_date", "copayment_ratio", "portal_view",
                   "valid_until", "issued_on", "free_text")
LABELS = {
    "card_presented": "マイナンバーカードの提示", "nothing_changed": "資格に変更がないことの口頭確認",
    "from_provider_records": "施設の記録（カルテ・レセコン等）から転記した番号",
    "insurer_number": "保険者番号", "insurer_name": "保険者名", "symbol": "記号", "number": "番号",
    "branch_number": "枝番", "name": "氏名", "name_kana": "フリガナ", "birth_date": "生年月日",
    "copayment_ratio": "一部負担金割合", "portal_view": "マイナポータルの表示（画面・PDF）",
    "valid_until": "資格確認書の有効期限", "issued_on": "資格確認書の交付日", "free_text": "補足", "declaration": "被保険者資格申立書",
    "method": "確認した方法", "reason": "確認できなかった理由", "form": "確認方式", "care_type": "診療の種類",
    "patient_reference": "患者番号", "device_recorded_at": "記録した時刻", "evidence": "確認した内容",
}
# A 資格確認書's dates (docs/rules.md §5; seed 001: 有効期限は最大5年): the server's checks in its order
# (check_evidence, check_certificate_term), each with its words; ``{name}`` is filled in by ``certificate_error``
# here and by the touch UI's script from the same table (form_rules).
CERTIFICATE_MAX_YEARS = 5
CERTIFICATE_CHECKS = (
    ("expired", "valid_until", "資格確認書の有効期限（{until_iso}）が受診日より前です。"),
    ("issued_later", "issued_on", "資格確認書の交付日（{issued}）が受診日（{day}）より後です。"),
    ("before_issue", "valid_until", "資格確認書の有効期限（{until}）が交付日（{issued}）より前です。"),
    ("over_term", "valid_until", f"資格確認書の有効期限は最長{CERTIFICATE_MAX_YEARS}年です。有効期限（{{until}}）が"
     f"{{since}}（{{start}}）から{CERTIFICATE_MAX_YEARS}年（{{latest}}）を超えています。有効期限を確認してください。"),
)
CERTIFICATE_SINCE = {"issued": "交付日", "visit": "受診日"}
# The server tells a first visit from a revisit by the patient reference: these methods need it.
NEEDS_PATIENT_REFERENCE = ("oral_revisit", "declaration")
RATIOS = {"030": "3割", "020": "2割", "010": "1割"}

# The declaration (被保険者資格申立書), compact: what the server requires, and the conditional items.
INSURANCE_KINDS = {"shaho": "社保（健保組合・協会けんぽ・共済）", "kokuho": "国保（市町村）", "kokuho_union": "国保組合",
                   "kouki": "後期高齢者医療", "other": "その他", "unknown": "わからない"}
ERA_CODES = {"令和": "reiwa", "平成": "heisei", "昭和": "showa", "大正": "taisho", "明治": "meiji"}
ERA_LETTERS = {"R": "reiwa", "H": "heisei", "S": "showa", "T": "taisho", "M": "meiji"}
DECLARATION_LABELS = {
    "has_valid_qualification": "「有効な保険資格を有している」の確認", "insurance_kind": "保険種別", "insurer_name": "保険者名",
    "employer_name": "事業所名（※1）", "copayment_ratio": "一部負担金の割合（※2 70歳以上・後期）",
    "name": "氏名", "name_kana": "フリガナ", "birth_date": "生年月日（和暦）", "sex": "性別", "address": "住所",
    "residence_address": "居所（住所と異なるとき）", "phone": "連絡先電話番号", "declared_on": "申立日",
    "signed": "署名", "signed_by": "署名者（本人・代理人）", "guardian_relationship": "患者との関係（代理人のとき）",
}
DECLARATION_TEXT = ("insurance_kind", "insurer_name", "employer_name", "copayment_ratio", "sex", "address",
                    "residence_address", "phone", "declared_on", "signed_by", "guardian_relationship")
DECLARATION_FLAGS = ("has_valid_qualification", "signed")
DECLARATION_REQUIRED = ("has_valid_qualification", "insurance_kind", "name", "name_kana", "birth_date", "sex",
                        "address", "declared_on", "signed", "signed_by", "phone")
BIRTH_PARTS = ("decl_birth_era", "decl_birth_year", "decl_birth_month", "decl_birth_day")


def methods_on(day: date) -> dict[str, bool]:
    """Each method, and whether it is valid on this day (in Japan)."""
    return {method: (first is None or day >= first) and (last is None or day <= last)
            for method, (first, last) in DATES.items()}


def date_rule(method: str) -> str:
    first, last = DATES[method]
    if first and last:
        return f"{short_date(first)}〜{short_date(last)}"
    if last:
        return f"{short_date(last)}まで"
    return f"{short_date(first)}から" if first else ""


def date_error(method: str, day: date) -> str | None:
    """Why a method cannot be used on the visit's day (in Japan), or None."""
    if methods_on(day)[method]:
        return None
    return (f"「{METHODS[method]}」は{date_rule(method)}の方法です（受診日 {short_date(day)}）。"
            "ほかの方法で確認してください。")


def latter_stage_error(day: date) -> str | None:
    """A 後期高齢者's paper card after its earlier end (the server's rule, judged by the insurer's law code 39)."""
    if day <= LATTER_STAGE_PAPER_CARD_UNTIL:
        return None
    return (f"後期高齢者医療の健康保険証は{short_date(LATTER_STAGE_PAPER_CARD_UNTIL)}で使えなくなりました"
            f"（受診日 {short_date(day)}）。マイナ保険証または資格確認書で確認してください。")


def _is_latter_stage(insurer_number: str) -> bool:
    return len(insurer_number) == 8 and insurer_number.startswith("39")


def required_message(method: str, name: str) -> str:
    what, label = LABELS[name], METHODS[method]
    return (f"「{label}」では{what}が必要です（チェックしてください）。" if name in FLAGS
            else f"「{label}」では{what}の入力が必要です。")


def reference_message(method: str) -> str:
    return f"「{METHODS[method]}」では患者番号が必要です（初診か再来かを確かめるため）。"


def _declaration_field(item: str) -> str:
    return item if item in ("name", "name_kana") else f"decl_{item}"


def _declaration_message(item: str) -> str:
    return f"申立書の{DECLARATION_LABELS[item]}が必要です。"


CHOOSE_METHOD = "確認した方法を選んでください。"
BIRTH_INVALID = "申立書の生年月日は和暦（例: 昭和59年5月12日）で入力してください。"


def form_rules(day: date) -> dict[str, Any]:
    """The checks of ``build`` for a visit on ``day``, as data for the touch UI's script (JSON): each method's
    date and required evidence with the very messages ``build`` gives, the declaration's items, the insurer
    number's lengths, the 資格確認書's checks in the server's order with their words. The script adds only the
    arithmetic: the check digit (insurer.py's) and calendar months (certificate.shift_months), pinned by a test."""
    return {
        "chooseMethod": CHOOSE_METHOD, "birthInvalid": BIRTH_INVALID, "flags": list(FLAGS),
        "methods": {method: {"dateError": date_error(method, day), "allowed": sorted(EVIDENCE[method][1]),
                             "required": [[name, required_message(method, name)] for name in EVIDENCE[method][0]
                                          if name != "declaration"],
                             "needsReference": reference_message(method) if method in NEEDS_PATIENT_REFERENCE
                             else None}
                    for method in METHODS},
        "providerRecords": [[name, required_message("oral_revisit", name)] for name in _NUMBERS],
        "declaration": [[_declaration_field(item), _declaration_message(item)] for item in DECLARATION_REQUIRED],
        "latterStageError": latter_stage_error(day),
        "certificate": {"day": day.isoformat(), "maxMonths": 12 * CERTIFICATE_MAX_YEARS, "since": CERTIFICATE_SINCE,
                        "checks": [list(check) for check in CERTIFICATE_CHECKS]},
        "insurer": {"lengths": list(insurer.LENGTHS), "error": insurer.WRONG},
    }


def _iso_day(text: Any) -> date | None:
    """A date as the form's date field gives it (YYYY-MM-DD), or None."""
    if not isinstance(text, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def certificate_error(evidence: Mapping[str, Any], day: date) -> tuple[str, str] | None:
    """The server's first refusal of a 資格確認書's expiry and issue day on a visit on ``day`` (in Japan), as
    (field, message), or None: an expiry before the visit, an issue day after it, an expiry before the issue
    day, or an expiry more than 5 years (calendar months, the end day included) after the issue day, or after
    the visit when the issue day is not given. Dates that are not dates are left to the format check."""
    until, issued = _iso_day(evidence.get("valid_until")), _iso_day(evidence.get("issued_on"))
    if (until is None and evidence.get("valid_until")) or (issued is None and evidence.get("issued_on")):
        return None
    start = issued or day
    latest = shift_months(start, 12 * CERTIFICATE_MAX_YEARS)
    failed = {"expired": until is not None and until < day, "issued_later": issued is not None and issued > day,
              "before_issue": until is not None and issued is not None and until < issued,
              "over_term": until is not None and until > latest}
    words = {"until_iso": until.isoformat() if until else "", "until": short_date(until), "issued": short_date(issued),
             "day": short_date(day), "since": CERTIFICATE_SINCE["issued" if issued else "visit"],
             "start": short_date(start), "latest": short_date(latest)}
    for name, field, message in CERTIFICATE_CHECKS:
        if failed[name]:
            return field, message.format(**words)
    return None


def visit_day(recorded_at: str | datetime) -> date:
    moment = datetime.fromisoformat(recorded_at) if isinstance(recorded_at, str) else recorded_at
    return moment.astimezone(JST).date()


def _truthy(raw: Any) -> bool:
    return raw is True or str(raw).strip().lower() in ("on", "true", "1", "yes", "はい")


def _text(fields: Mapping[str, Any], name: str) -> str:
    raw = fields.get(name)
    return "" if raw is None or isinstance(raw, bool) else str(raw).strip()


def era_date(text: str) -> dict[str, Any] | None:
    """"昭和59年5月12日", "S59.5.12", "showa 59 5 12" or a western "1984-05-12" → the declaration's era date."""
    text = text.strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        for start, era in ERAS:
            if day >= start:
                return {"era": ERA_CODES[era], "year": day.year - start.year + 1, "month": day.month, "day": day.day}
        return None
    found = re.match(r"^(令和|平成|昭和|大正|明治|[RHSTMrhstm]|reiwa|heisei|showa|taisho|meiji)\s*[.\s]*"
                     r"(元|\d{1,2})\s*[年.\-/\s]\s*(\d{1,2})\s*[月.\-/\s]\s*(\d{1,2})\s*日?$", text)
    if not found:
        return None
    era = found.group(1)
    code = ERA_CODES.get(era) or ERA_LETTERS.get(era.upper()) or era.lower()
    year = 1 if found.group(2) == "元" else int(found.group(2))
    return {"era": code, "year": year, "month": int(found.group(3)), "day": int(found.group(4))}


def _declaration(fields: Mapping[str, Any]) -> dict[str, Any]:
    decl: dict[str, Any] = {}
    for name in DECLARATION_FLAGS:
        if _truthy(fields.get(f"decl_{name}")):
            decl[name] = True
    for name in DECLARATION_TEXT:
        if _text(fields, f"decl_{name}"):
            decl[name] = _text(fields, f"decl_{name}")
    for name in ("name", "name_kana"):  # the patient's name is written once, on the declaration
        if _text(fields, name):
            decl[name] = _text(fields, name)
    if _text(fields, "decl_birth_date"):
        birth = era_date(_text(fields, "decl_birth_date"))
        decl["birth_date"] = birth if birth else {"invalid": _text(fields, "decl_birth_date")}
    elif all(_text(fields, part) for part in BIRTH_PARTS):
        year, month, day = (_text(fields, part) for part in BIRTH_PARTS[1:])
        if year.isdigit() and month.isdigit() and day.isdigit():
            decl["birth_date"] = {"era": _text(fields, "decl_birth_era"), "year": int(year), "month": int(month),
                                  "day": int(day)}
        else:
            decl["birth_date"] = {"invalid": f"{year}/{month}/{day}"}
    return decl


Errors = list[tuple[str, str]]


def build(fields: Mapping[str, Any], *, recorded_at: datetime | str, care_type: int, form: str
          ) -> tuple[dict[str, Any], Errors]:
    """The record to keep from flat fields, and what is wrong with it as (field, Japanese message).

    Only the evidence the chosen method takes is kept (a field typed for another method is dropped, as the
    server would refuse it)."""
    method, reason = _text(fields, "method"), _text(fields, "reason") or "offline"
    recorded = recorded_at if isinstance(recorded_at, str) else recorded_at.isoformat()
    payload: dict[str, Any] = {"care_type": care_type, "form": form, "method": method, "reason": reason,
                               "device_recorded_at": recorded, "evidence": {}}
    if _text(fields, "patient_reference"):
        payload["patient_reference"] = _text(fields, "patient_reference")
    if method not in METHODS:
        return payload, [("method", CHOOSE_METHOD)]
    day = visit_day(recorded)
    errors = _choice_errors(payload, method, reason, day)
    evidence, required = _evidence(fields, method)
    errors += _missing(evidence, required, method)
    errors += _malformed(evidence, method, day)
    payload["evidence"] = evidence
    return payload, errors


def _choice_errors(payload: Mapping[str, Any], method: str, reason: str, day: date) -> Errors:
    """The reason, whether the method may be used on the visit day, and the patient number some methods need."""
    errors: Errors = []
    if reason not in REASONS:
        errors.append(("reason", "確認できなかった理由を選んでください。"))
    if date_error(method, day):
        errors.append(("method", str(date_error(method, day))))
    if method in NEEDS_PATIENT_REFERENCE and "patient_reference" not in payload:
        errors.append(("patient_reference", reference_message(method)))
    return errors


def _evidence(fields: Mapping[str, Any], method: str) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The evidence the method takes, and which of it is required."""
    required, allowed = EVIDENCE[method]
    evidence = _kept_fields(fields, method, allowed)
    if method == "declaration":
        evidence["declaration"] = _declaration(fields)
    if method == "oral_revisit":  # numbers only when copied from the provider's own records (the server's rule)
        if evidence.get("from_provider_records"):
            required = (*required, *_NUMBERS)
        else:
            evidence = {k: v for k, v in evidence.items() if k not in _IDENTIFIERS}
    return evidence, required


def _kept_fields(fields: Mapping[str, Any], method: str, allowed: frozenset[str]) -> dict[str, Any]:
    """The filled-in fields the method allows: a checkbox as True, text as typed (trimmed)."""
    kept: dict[str, Any] = {}
    for name in EVIDENCE_FIELDS:
        if name not in allowed or (method == "declaration" and name in ("name", "name_kana")):
            continue
        if name in FLAGS:
            if _truthy(fields.get(name)):
                kept[name] = True
        elif _text(fields, name):
            kept[name] = _text(fields, name)
    return kept


def _missing(evidence: Mapping[str, Any], required: tuple[str, ...], method: str) -> Errors:
    errors: Errors = []
    for name in required:
        if name == "declaration":
            errors.extend((_declaration_field(item), _declaration_message(item)) for item in DECLARATION_REQUIRED
                          if not evidence["declaration"].get(item))
        elif not evidence.get(name):
            errors.append((name, required_message(method, name)))
    return errors


def _malformed(evidence: dict[str, Any], method: str, day: date) -> Errors:
    """Dates and the insurer number that cannot be right, a latter-stage paper card past its last day and a
    資格確認書 whose dates the server would refuse; a declaration's unreadable birth date is dropped."""
    errors: Errors = []
    birth = (evidence.get("declaration") or {}).get("birth_date")
    if isinstance(birth, dict) and "invalid" in birth:
        errors.append(("decl_birth_date", BIRTH_INVALID))
        del evidence["declaration"]["birth_date"]
    for name in ("birth_date", "valid_until", "issued_on"):
        if name in evidence:
            try:
                date.fromisoformat(evidence[name])
            except ValueError:
                errors.append((name, f"{LABELS[name]}は 2026-04-01 の形で入力してください。"))
    number = str(evidence.get("insurer_number") or "")
    if number and not insurer.is_valid(number):  # before saving: the patient is still there to ask
        errors.append(("insurer_number", insurer.WRONG))
    if method == "paper_card" and _is_latter_stage(number) and latter_stage_error(day):
        errors.append(("method", str(latter_stage_error(day))))
    certificate = certificate_error(evidence, day)
    if certificate:  # before saving, as the insurer number: the patient still holds the 資格確認書
        errors.append(certificate)
    return errors


def patient_name(payload: Mapping[str, Any]) -> str:
    """The patient's name on a kept record (a declaration keeps it on the declaration), or ""."""
    evidence = payload.get("evidence") or {}
    return str(evidence.get("name") or (evidence.get("declaration") or {}).get("name") or "")


def flatten(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A kept record back into flat fields, to fill the form when the nurse fixes it."""
    evidence = dict(payload.get("evidence") or {})
    flat: dict[str, Any] = {k: payload.get(k) for k in ("method", "reason", "form", "care_type", "patient_reference")
                            if payload.get(k) is not None}
    decl = evidence.pop("declaration", None) or {}
    flat.update({k: v for k, v in evidence.items()})
    for name, value in decl.items():
        if name in ("name", "name_kana"):
            flat[name] = value
        elif name == "birth_date" and isinstance(value, dict):
            flat.update({"decl_birth_era": value.get("era"), "decl_birth_year": value.get("year"),
                         "decl_birth_month": value.get("month"), "decl_birth_day": value.get("day")})
        else:
            flat[f"decl_{name}"] = value
    return flat


def field_of(pointer: str) -> str:
    """"/evidence/declaration/phone" → "decl_phone"; "/evidence/insurer_number" → "insurer_number"."""
    parts = [p for p in pointer.split("/") if p]
    if parts[:2] == ["evidence", "declaration"] and len(parts) > 2:
        return "decl_birth_date" if parts[2] == "birth_date" else (
            parts[2] if parts[2] in ("name", "name_kana") else f"decl_{parts[2]}")
    if parts[:1] == ["evidence"] and len(parts) > 1:
        return parts[1]
    return parts[0] if parts else ""


def field_label(field: str) -> str:
    if field.startswith("decl_birth"):
        return "申立書の生年月日"
    if field.startswith("decl_"):
        return "申立書の" + DECLARATION_LABELS.get(field[5:], field[5:])
    return LABELS.get(field, field)


def _japanese(text: str) -> bool:
    return any(ord(ch) > 0x2E7F for ch in text)


def describe_problem(problem: Mapping[str, Any] | None) -> list[str]:
    """The server's refusal as lines in Japanese: its detail, then each field it names with its label.

    The schema's own messages are English (marshmallow); those are replaced by a plain Japanese one."""
    if not problem:
        return []
    if "network" in problem:
        return ["サーバーに接続できませんでした。電波が戻ったら送信してください。"]
    detail = str(problem.get("detail") or problem.get("title") or "")
    lines = [detail] if detail and _japanese(detail) else []
    for error in problem.get("errors") or []:
        if not isinstance(error, Mapping):
            continue
        field = field_of(str(error.get("pointer", "")))
        text = str(error.get("detail") or "")
        if text == detail and lines:
            lines[0] = f"{field_label(field)}: {detail}"
            continue
        lines.append(f"{field_label(field)}: {text if _japanese(text) else '入力の形式が正しくありません。'}")
    if not lines:
        status = problem.get("status")
        lines.append(f"サーバーが受け付けませんでした（{status}）。" if status else "サーバーが受け付けませんでした。")
    return lines


def problem_fields(problem: Mapping[str, Any] | None) -> set[str]:
    """The flat fields a refusal names, to mark them on the form."""
    return {field_of(str(e.get("pointer", ""))) for e in (problem or {}).get("errors") or [] if isinstance(e, Mapping)}


def result_lines(answer: Mapping[str, Any] | None) -> list[str]:
    """What the server said about a record it accepted: the co-payment, how to bill, the notices."""
    if not answer:
        return []
    lines = []
    ratio = answer.get("copayment_ratio")
    if ratio in RATIOS:
        lines.append(f"患者負担: {RATIOS[ratio]}")
    guidance = answer.get("claim_guidance") or {}
    if guidance.get("message"):
        mark, message = guidance.get("route_mark") or "", str(guidance["message"])
        lines.append(f"請求: {message}" if not mark or message.startswith(mark) else f"請求: {mark} {message}")
        ids = guidance.get("identifiers") or {}
        if ids.get("insurer_number"):
            lines.append("請求に使う番号: " + "  ".join(
                f"{LABELS[k]} {ids[k]}" for k in ("insurer_number", "symbol", "number", "branch_number") if ids.get(k)))
        if guidance.get("remarks"):
            lines.append(f"摘要欄: {guidance['remarks']}")
    lines.extend(str(n) for n in answer.get("notices") or [])
    return lines
