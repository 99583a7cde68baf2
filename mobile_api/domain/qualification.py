"""The qualification result OQS returns (docs/rules.md §4), as plain values.

An invalid result still carries the lost qualification so the provider can bill
the former insurer; a result whose data the insurer withheld (e.g. DV
protection) carries none and is 資格情報なし, whatever status came with it
(docs/rules.md §4, seed 001).
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from datetime import date
from typing import Any

from .codes import ConsentFlag, EligibilityStatus


@dataclass(frozen=True)
class ElderlyCertificate:
    """高齢受給者証."""

    valid_from: date
    valid_until: date | None
    copayment_ratio: str  # "020" = 20 %


@dataclass(frozen=True)
class SpecifiedDisease:
    """特定疾病療養受療証."""

    category: str  # e.g. "人工透析を要する慢性腎不全"
    monthly_limit_yen: int  # 10000 or 20000


@dataclass(frozen=True)
class Qualification:
    insurance_card_kind: str  # 保険証種別 e.g. "被保険者証", "後期高齢者被保険者証"
    insurer_number: str  # 保険者番号 (8 digits, 6 for NHI)
    insurer_name: str
    symbol: str | None  # 記号
    number: str  # 番号
    branch_number: str | None  # 枝番 (2 digits)
    relationship: str  # "insured" 本人 | "dependant" 家族
    head_of_household_name: str | None
    name: str
    name_kana: str
    sex: str  # "1" male, "2" female (OQS codes)
    birth_date: date
    address: str | None
    postcode: str | None
    acquired_on: date | None
    lost_on: date | None
    loss_reason: str | None
    issued_on: date | None
    valid_from: date | None
    valid_until: date | None
    copayment_ratio: str  # 一部負担金割合 "030" = 30 %
    preschool: bool
    elderly_certificate: ElderlyCertificate | None = None
    limit_category: str | None = None  # 限度額適用区分 (ア–オ, 現役並みⅠ–Ⅲ, 一般, 低所得Ⅰ/Ⅱ)
    specified_diseases: tuple[SpecifiedDisease, ...] = ()

    @property
    def copayment_percent(self) -> int:
        return int(self.copayment_ratio)


UNENCODABLE_MARK = "●"  # OQS shows a character the systems cannot encode as ● (seed 001)
KANA_CHECK_JA = ("氏名に「●」があります（文字コードで表せない文字）。カナ氏名「{kana}」で本人であることを確認してください。"
                 "「●」のままでもレセプト請求でき、返戻されません。")


def name_has_unencodable(qualification: dict[str, Any] | None) -> bool:
    """The name (or the head of household's) shows ●: staff confirm the person by the kana (docs/rules.md §4)."""
    if not qualification:
        return False
    names = (qualification.get("name"), qualification.get("head_of_household_name"))
    return any(UNENCODABLE_MARK in (n or "") for n in names)


def kana_check_notice(qualification: dict[str, Any] | None) -> str | None:
    """The prompt to confirm by the kana, or None when no name shows ●."""
    if not name_has_unencodable(qualification):
        return None
    assert qualification is not None
    return KANA_CHECK_JA.format(kana=qualification.get("name_kana") or "")


WITHHELD_MESSAGE = (
    "保険者がこの方の資格情報の表示を停止しています（DV等の支援措置）。資格確認ができなかった（資格情報なし）"
    "ものとして扱ってください。マイナンバーカードと資格情報のお知らせ（またはマイナポータルの資格情報画面）、"
    "資格確認書、再診なら口頭での確認、初診なら被保険者資格申立書で確認できます。"
)


@dataclass(frozen=True)
class QualificationResult:
    status: EligibilityStatus
    qualification: Qualification | None
    person_ref: str | None  # OQS's opaque handle for later queries (never the individual number)
    consent_flag: ConsentFlag = ConsentFlag.NONE
    data_withheld: bool = False  # the insurer hid this person's data
    candidates: int = 0  # for MULTIPLE_MATCHES
    messages: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        """A withheld result is 資格情報なし (seed 001: DV等により資格情報の表示を停止している場合 is filed under
        資格確認ができなかった), never status 1 with ``valid: true``: status 4, no data, no handle, no consent,
        and the fallback guidance (docs/rules.md §4). Judged here so every gateway's answer obeys it."""
        if not self.data_withheld:
            return
        object.__setattr__(self, "status", EligibilityStatus.NO_MATCH)
        object.__setattr__(self, "qualification", None)
        object.__setattr__(self, "person_ref", None)
        object.__setattr__(self, "consent_flag", ConsentFlag.NONE)
        if WITHHELD_MESSAGE not in self.messages:
            object.__setattr__(self, "messages", (WITHHELD_MESSAGE, *self.messages))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, used to keep the result with the visit."""
        raw = _isoformat_dates(self)
        raw["status"] = int(self.status)
        raw["consent_flag"] = int(self.consent_flag)
        return raw


def _isoformat_dates(value: Any) -> Any:
    """Like ``asdict`` then dates as ISO strings, without ``asdict``'s deep copies (a 10,000-row batch spent
    half its time in them)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _isoformat_dates(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, dict):
        return {k: _isoformat_dates(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_isoformat_dates(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value
