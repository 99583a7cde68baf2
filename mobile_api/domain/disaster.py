"""Disaster-time viewing without the card (災害時の閲覧, docs/rules.md §3.5, seed 004).

Seed 004: 「災害時には、マイナンバーカードを持っていない患者であっても、薬剤情報、特定健診情報等を閲覧することが
可能となります。（患者の同意は必要です。）」. OQS opens this for a declared disaster, in its area, for a period.
OUR RULE (docs/rules.md §3.5):
- a declaration names JST calendar days (``starts_on`` .. ``ends_on``, both included) and prefectures;
  the server's clock decides whether a day is inside it;
- an institution's prefecture is the first two digits of its 医療機関等コード (都道府県番号);
- only medication and checkup information (``DISASTER_KINDS``), after the patient's oral consent recorded by
  a staff member, under the usual viewing window, which never outlasts the declared period.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from .codes import InfoKind
from .consent import INFO_KIND_LABELS_JA, ViewingWindow
from .errors import DisasterViewingNotAllowed, ValidationFailed
from .insurer import PREFECTURES
from .japanese_dates import JST, jst_date

DISASTER_KINDS = frozenset({InfoKind.MEDICATION, InfoKind.CHECKUPS})


def prefecture_of(institution_code: str) -> str:
    """The 都道府県番号 of a 10-digit 医療機関等コード: its first two digits (OUR RULE, docs/rules.md §3.5)."""
    return institution_code[:2]


def parse_prefectures(values: Iterable[str]) -> tuple[str, ...]:
    """Two-digit prefecture codes 01-47, sorted and without repeats; at least one."""
    codes = sorted({str(v).strip().zfill(2) for v in values})
    wrong = [c for c in codes if c not in PREFECTURES]
    if not codes or wrong:
        raise ValidationFailed("対象地域は都道府県番号（01〜47）で指定してください。", field="prefectures")
    return tuple(codes)


@dataclass(frozen=True)
class Declaration:
    """A declared disaster: its name, its JST days (both included) and its prefectures."""

    name: str
    starts_on: date
    ends_on: date
    prefectures: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.ends_on < self.starts_on:
            raise ValidationFailed("終了日は開始日以降の日付にしてください。", field="ends_on")

    @property
    def closes_at(self) -> datetime:
        """The first instant after the period: midnight JST after ``ends_on``."""
        return datetime(self.ends_on.year, self.ends_on.month, self.ends_on.day, tzinfo=JST) + timedelta(days=1)

    def in_force(self, now: datetime) -> bool:
        return self.starts_on <= jst_date(now) <= self.ends_on

    def covers(self, prefecture: str) -> bool:
        return prefecture in self.prefectures


def declaration_for(declarations: Iterable[Declaration], *, institution_code: str, now: datetime) -> Declaration:
    """The declaration in force now for the institution's prefecture; the refusal says whether the period or the
    area is what is missing."""
    prefecture = prefecture_of(institution_code)
    known = list(declarations)
    for declaration in known:
        if declaration.in_force(now) and declaration.covers(prefecture):
            return declaration
    in_area = [d for d in known if d.covers(prefecture)]
    if in_area:
        raise DisasterViewingNotAllowed(
            f"この地域（都道府県番号 {prefecture}）の災害の宣言期間外です（本日 {jst_date(now).isoformat()}）。"
            "マイナンバーカードで資格確認を行ってください。", rule="period", prefecture=prefecture)
    raise DisasterViewingNotAllowed(
        f"この施設の地域（都道府県番号 {prefecture}）は、宣言された災害の対象地域ではありません。"
        "マイナンバーカードで資格確認を行ってください。", rule="area", prefecture=prefecture)


def disaster_kinds(asked: Iterable[InfoKind | str]) -> frozenset[InfoKind]:
    """The kinds the oral consent covers: medication and/or checkups only (seed 004); none is a mistake."""
    kinds = frozenset(InfoKind(k) for k in asked)
    if not kinds:
        raise ValidationFailed("同意を得た情報の種類を選んでください（薬剤情報・特定健診等情報）。", field="kinds")
    other = kinds - DISASTER_KINDS
    if other:
        labels = "、".join(INFO_KIND_LABELS_JA[k] for k in sorted(other, key=lambda k: k.value))
        raise DisasterViewingNotAllowed(
            f"{labels}は災害時の閲覧の対象外です（対象は薬剤情報と特定健診等情報）。", rule="kind",
            asked_kinds=sorted(k.value for k in kinds))
    return kinds


def disaster_window(registered_at: datetime, length: timedelta, declaration: Declaration) -> ViewingWindow:
    """The usual window from the oral consent's registration, closed early when the declared period ends."""
    window = ViewingWindow.after_registration(registered_at, length)
    return ViewingWindow(window.opens_at, min(window.closes_at, declaration.closes_at))
