"""Consent to medical information and the 24-hour viewing window (docs/rules.md §3).

This module is the one home of the rule, in three parts:
- who may be asked for consent at all (form ②, a valid certificate, something chosen):
  ``may_request_medical_information``, and whether OQS let it stand:
  ``medical_information_granted``;
- the window: it opens when the consent is registered and closes exactly the
  configured length later (24 h by default): ``opens_at <= now < closes_at``
  (``ViewingWindow.after_registration``); a withdrawn consent has no window
  (``ViewingWindow.of_consent``);
- each view: ``authorize_medical_view`` raises the refusal that applies.
Later ways of opening a window (re-query on a continuing-care visit, the
patient's own phone) create new windows for the same kinds; none widens the kinds.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from .certificate import CertificateStanding
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

    @classmethod
    def of_consent(cls, *, registered_at: datetime, expires_at: datetime,
                   withdrawn_at: datetime | None) -> "ViewingWindow | None":
        """The window a stored consent still gives: none once the patient has withdrawn it."""
        if withdrawn_at is not None:
            return None
        return cls(opens_at=registered_at, closes_at=expires_at)

    @property
    def length(self) -> timedelta:
        return self.closes_at - self.opens_at

    def contains(self, now: datetime) -> bool:
        return self.opens_at <= now < self.closes_at

    def remaining(self, now: datetime) -> timedelta:
        return max(self.closes_at - now, timedelta(0)) if now >= self.opens_at else self.closes_at - self.opens_at


def may_request_medical_information(form: Form, standing: CertificateStanding,
                                    choice: ConsentChoice | None) -> bool:
    """Consent is asked of OQS only on form ②, with a certificate in date (not in the expiry grace),
    and when the patient chose at least one kind."""
    return (form is Form.HOME_CONSENT and standing is CertificateStanding.VALID
            and choice is not None and choice.consents_to_anything)


def medical_information_granted(requested: bool, *, person_resolved: bool, data_withheld: bool) -> bool:
    """OQS must have resolved the person, and the insurer must not have withheld their data."""
    return requested and person_resolved and not data_withheld


def _hours(span: timedelta) -> str:
    return f"{span.total_seconds() / 3600:g}時間"


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
            f"同意登録から{_hours(window.length)}を過ぎました（{window.closes_at.isoformat()} に閲覧期間が終了）。"
            "閲覧するには、マイナンバーカードで改めて資格確認と同意登録を行ってください。",
            rule="window",
            window_closed_at=window.closes_at.isoformat(),
            how_to_reopen="new-card-verification",
        )
