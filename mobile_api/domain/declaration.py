"""The insured-status declaration (被保険者資格申立書, seed 001's form; docs/rules.md §5).

A first-visit patient whose card cannot be confirmed online fills it in and shows the card. Its data may be
used only for the claim and is destroyed once the claim is settled (``PERSONAL_FIELDS`` are what goes).
The API schema checks each field's shape; this module checks the form as a whole: what is required, the
era date, the kana, the phone number, and the form's two conditional items:
- ※1 the employer name (事業所名) for 社保 (健康保険組合・共済組合・協会けんぽ), 国保 only when the insurer is a
  国民健康保険組合, その他, and わからない;
- ※2 the co-payment ratio for patients aged 70 and over and for 後期高齢者 (10/20/30 % or "unknown").
"""
from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Any

from .copayment import needs_stated_ratio
from .errors import ValidationFailed
from .japanese_dates import era_to_date

INSURANCE_KINDS = ("shaho", "kokuho", "kokuho_union", "kouki", "other", "unknown")
EMPLOYER_REQUIRED = frozenset({"shaho", "kokuho_union", "other", "unknown"})  # ※1
# Everything on the form that identifies the person: removed from the database when the claim is settled.
PERSONAL_FIELDS = ("name", "name_kana", "birth_date", "sex", "address", "residence_address", "phone",
                   "employer_name", "insurer_name", "guardian_relationship", "signed_by", "declared_on")
REQUIRED = ("has_valid_qualification", "insurance_kind", "name", "name_kana", "birth_date", "sex", "address",
            "declared_on", "signed", "signed_by", "phone")
LABELS_JA = {
    "has_valid_qualification": "「有効な保険資格を有している」の確認", "insurance_kind": "保険種別",
    "name": "氏名", "name_kana": "フリガナ", "birth_date": "生年月日", "sex": "性別", "address": "住所",
    "declared_on": "申立日", "signed": "署名", "signed_by": "署名者（本人・代理人）", "phone": "連絡先電話番号",
    "employer_name": "事業所名", "copayment_ratio": "一部負担金の割合", "guardian_relationship": "患者との関係",
}
_KANA = re.compile(r"^[\u30A1-\u30FA\u30FC\u30FB\u3000 ]+$")  # katakana, ー, ・, spaces
_PHONE_DIGITS = re.compile(r"\d")


def field(name: str) -> str:
    return f"evidence/declaration/{name}"


def check(declaration: dict[str, Any], *, visit_on: date) -> date:
    """Refuse an incomplete or inconsistent declaration with a Japanese message; return the birth date."""
    _check_complete(declaration)
    birth = _birth_date(declaration, visit_on)
    _check_writing(declaration)
    _check_conditional_items(declaration, birth, visit_on)
    declared_on = date.fromisoformat(declaration["declared_on"])
    if declared_on < birth:
        raise ValidationFailed("申立日が生年月日より前です。", field=field("declared_on"), rule="declaration")
    return birth


def _check_complete(declaration: dict[str, Any]) -> None:
    """Every required item written, the qualification affirmed and the form signed."""
    for name in REQUIRED:
        if declaration.get(name) in (None, ""):
            raise ValidationFailed(f"申立書の{LABELS_JA[name]}が必要です。", field=field(name), rule="declaration")
    if declaration["has_valid_qualification"] is not True:
        raise ValidationFailed("申立書は、有効な保険資格を有している方が記入するものです（チェックが必要です）。",
                               field=field("has_valid_qualification"), rule="declaration")
    if declaration["signed"] is not True:
        raise ValidationFailed("申立書に署名が必要です。", field=field("signed"), rule="declaration")


def _birth_date(declaration: dict[str, Any], visit_on: date) -> date:
    era = declaration["birth_date"]
    birth = era_to_date(era["era"], era["year"], era["month"], era["day"], field=field("birth_date"))
    if birth > visit_on:
        raise ValidationFailed("生年月日が受診日より後になっています。", field=field("birth_date"), rule="declaration")
    return birth


def _check_writing(declaration: dict[str, Any]) -> None:
    """The kana in katakana; a Japanese phone number with its area code (10 digits) or a mobile one (11)."""
    kana = unicodedata.normalize("NFKC", declaration["name_kana"])
    if not _KANA.match(kana):
        raise ValidationFailed("フリガナはカタカナで記入してください。", field=field("name_kana"), rule="declaration")
    digits = len(_PHONE_DIGITS.findall(declaration["phone"]))
    if not declaration["phone"].lstrip("+").startswith(("0", "81")) or digits not in (10, 11, 12):
        raise ValidationFailed("連絡先電話番号は市外局番からの10桁または携帯電話の11桁で記入してください。",
                               field=field("phone"), rule="declaration")


def _check_conditional_items(declaration: dict[str, Any], birth: date, visit_on: date) -> None:
    """The form's conditional items: ※1 the employer, ※5 the guardian's relationship, ※2 the co-payment ratio."""
    kind = declaration["insurance_kind"]
    if kind in EMPLOYER_REQUIRED and not declaration.get("employer_name"):
        raise ValidationFailed("この保険種別では事業所名（お勤め先）の記入が必要です（申立書※1）。",
                               field=field("employer_name"), rule="declaration-employer")
    if declaration["signed_by"] == "guardian" and not declaration.get("guardian_relationship"):
        raise ValidationFailed("代理人が署名したときは患者との関係の記入が必要です（申立書※5）。",
                               field=field("guardian_relationship"), rule="declaration")
    latter_stage = kind == "kouki"
    if needs_stated_ratio(birth, visit_on, latter_stage=latter_stage) and not declaration.get("copayment_ratio"):
        raise ValidationFailed("70歳以上の方・後期高齢者医療の方は一部負担金の割合（わからない場合は「わからない」）の"
                               "記入が必要です（申立書※2）。", field=field("copayment_ratio"),
                               rule="declaration-ratio")


def destroyed(at: str, by: str | None) -> dict[str, Any]:
    """What is left of a declaration after the claim is settled: that it existed, when and by whom it went."""
    return {"destroyed": True, "destroyed_at": at, "destroyed_by": by}
