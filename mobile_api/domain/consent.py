"""Consent to medical information and the 24-hour viewing window (domain.md §3).

A consent names the kinds the patient agreed to. Viewing is allowed only inside
a window that opens when the consent is registered and closes exactly
``window_length`` (24 h) later: ``opens_at <= now < closes_at``. Later ways of
opening a window (re-query on a continuing-care visit, the patient's own phone)
create new windows for the same kinds; none widens the kinds.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from .codes import ALL_INFO_KINDS, Form, InfoKind
from .errors import (
    ConsentWindowClosed,
    ConsentWindowNotOpen,
    FormNeverServesMedicalInfo,
    NoConsentForKind,
    ValidationFailed,
)

VIEWING_WINDOW = timedelta(hours=24)

INFO_KIND_LABELS_JA = {
    InfoKind.MEDICATION: "薬剤情報",
    InfoKind.CHECKUPS: "特定健診等情報",
    InfoKind.CLINICAL: "診療情報",
    InfoKind.SURGERY: "手術情報",
}


@dataclass(frozen=True)
class ConsentChoice:
    """What the patient chose: blanket consent (包括同意) or kind by kind."""

    blanket: bool
    kinds: frozenset[InfoKind]

    @classmethod
    def of(cls, *, blanket: bool = False, kinds: Iterable[InfoKind | str] = ()) -> "ConsentChoice":
        chosen = frozenset(InfoKind(k) for k in kinds)
        if blanket:
            if chosen and chosen != ALL_INFO_KINDS:
                raise ValidationFailed(
                    "包括同意と個別の同意を同時に指定することはできません。", field="consent"
                )
            return cls(blanket=True, kinds=ALL_INFO_KINDS)
        return cls(blanket=False, kinds=chosen)

    @property
    def consents_to_anything(self) -> bool:
        return bool(self.kinds)


@dataclass(frozen=True)
class ViewingWindow:
    opens_at: datetime
    closes_at: datetime

    @classmethod
    def after_registration(
        cls, registered_at: datetime, length: timedelta = VIEWING_WINDOW
    ) -> "ViewingWindow":
        return cls(opens_at=registered_at, closes_at=registered_at + length)

    def contains(self, now: datetime) -> bool:
        return self.opens_at <= now < self.closes_at

    def remaining(self, now: datetime) -> timedelta:
        return max(self.closes_at - now, timedelta(0)) if now >= self.opens_at else self.closes_at - self.opens_at


def authorize_medical_view(
    *,
    form: Form,
    medical_info_allowed: bool,
    consented_kinds: frozenset[InfoKind],
    window: ViewingWindow | None,
    kind: InfoKind,
    now: datetime,
) -> None:
    """Raise the refusal that applies, in the order a person would want to hear it."""
    if form is not Form.HOME_CONSENT:
        raise FormNeverServesMedicalInfo(
            "資格確認限定型の確認では、診療／薬剤情報は一切提供されません。", rule="form"
        )
    if not medical_info_allowed or window is None:
        raise NoConsentForKind(
            "この確認では診療／薬剤情報の閲覧は認められていません（資格情報のみの確認です）。",
            rule="qualification-only",
        )
    if kind not in consented_kinds:
        raise NoConsentForKind(
            f"{INFO_KIND_LABELS_JA[kind]}の閲覧には患者の同意がありません。",
            rule="consent-kind",
            kind=kind.value,
            consented_kinds=sorted(k.value for k in consented_kinds),
        )
    if now < window.opens_at:
        raise ConsentWindowNotOpen(rule="window", window_opens_at=window.opens_at.isoformat())
    if not window.contains(now):
        raise ConsentWindowClosed(
            f"同意登録から24時間を過ぎました（{window.closes_at.isoformat()} に閲覧期間が終了）。"
            "閲覧するには、マイナンバーカードで改めて資格確認と同意登録を行ってください。",
            rule="window",
            window_closed_at=window.closes_at.isoformat(),
            how_to_reopen="new-card-verification",
        )
