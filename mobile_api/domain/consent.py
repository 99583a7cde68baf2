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
Later ways of opening a window create new windows, each from its own registration:
- re-query on a continuing-care visit (再照会): only inside an active care relationship
  (``care_relationship_status``, ``authorize_requery``), for the kinds the card-verified visit's
  consent covered or fewer (``requery_kinds``);
- the patient's own phone (``PATIENT_PHONE``): PIN only, like any card consent.
A withdrawal closes every window at once (``ConsentWithdrawn``), and ``report_window`` says
truthfully whether a window is open *now*, or when and why it closed and how to reopen it.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from .certificate import CertificateStanding
from .codes import ALL_INFO_KINDS, CareType, Form, InfoKind
from .errors import (
    ConsentWindowClosed,
    ConsentWindowNotOpen,
    ConsentWithdrawn,
    ConsentWouldWiden,
    FormNeverServesMedicalInfo,
    NoConsentForKind,
    RequeryNotAllowed,
    ValidationFailed,
)
from .japanese_dates import JST, hours_ja, jst_text

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
    def of(cls, *, blanket: bool = False, kinds: Iterable[InfoKind | str] = ()) -> ConsentChoice:
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
    ) -> ViewingWindow:
        return cls(opens_at=registered_at, closes_at=registered_at + length)

    @classmethod
    def of_consent(cls, *, registered_at: datetime, expires_at: datetime,
                   withdrawn_at: datetime | None) -> ViewingWindow | None:
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


def authorize_medical_view(
    *,
    form: Form,
    medical_info_allowed: bool,
    consented_kinds: frozenset[InfoKind],
    window: ViewingWindow | None,
    kind: InfoKind,
    now: datetime,
    withdrawn_at: datetime | None = None,
    requery_possible: bool = False,
) -> None:
    """Raise the refusal that applies, in the order a person would want to hear it.

    ``withdrawn_at``: when the patient withdrew the consent (then ``window`` is None); the
    refusal says so, rather than that there never was a consent."""
    if form is not Form.HOME_CONSENT:
        raise FormNeverServesMedicalInfo(
            "資格確認限定型の確認では、診療／薬剤情報は一切提供されません。", rule="form"
        )
    if withdrawn_at is not None and withdrawn_at <= now:
        raise ConsentWithdrawn(
            f"患者が {jst_text(withdrawn_at)}（日本時間）に同意を取り消しました。閲覧するには、"
            "マイナンバーカードで改めて資格確認と同意登録を行ってください。",
            rule="withdrawn", withdrawn_at=withdrawn_at.isoformat(), how_to_reopen=REOPEN_BY_CARD,
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
        reopen, how = _how_to_reopen(requery_possible)
        raise ConsentWindowClosed(
            f"同意登録から{hours_ja(window.length)}を過ぎました（{window.closes_at.isoformat()} に閲覧期間が終了）。" + how,
            rule="window",
            window_closed_at=window.closes_at.isoformat(),
            how_to_reopen=reopen,
        )


# --- how a window reopens, and what a visit says about its window now ---------------------------

REOPEN_BY_CARD = "new-card-verification"
REOPEN_BY_REQUERY = "requery"
PATIENT_PHONE = "patient_phone"  # Consent.source of a consent given on the patient's own phone


def _how_to_reopen(requery_possible: bool) -> tuple[str, str]:
    """How a closed window reopens: its ``how_to_reopen`` value and the sentence that tells staff."""
    if requery_possible:
        return REOPEN_BY_REQUERY, "訪問時の再照会（カード不要）で新しい閲覧期間を開けます。"
    return REOPEN_BY_CARD, "閲覧するには、マイナンバーカードで改めて資格確認と同意登録を行ってください。"


@dataclass(frozen=True)
class WindowReport:
    """What a visit (or a consent) truthfully says about medical information *now*.

    ``state``: ``open`` (viewable until ``closes_at``), ``not_open`` (opens later), ``closed``
    (closed at ``closes_at``), ``withdrawn`` (closed at ``closed_at`` by the patient), ``none``
    (never any: form ③, no consent, or OQS did not grant it). ``how_to_reopen``: ``requery`` while a
    continuing-care relationship is active, else ``new-card-verification``; None while open or never
    applicable."""

    state: str
    viewable_now: bool
    opens_at: datetime | None
    closes_at: datetime | None
    closed_at: datetime | None
    how_to_reopen: str | None
    message: str


def report_window(*, form: Form, medical_info_allowed: bool, registered_at: datetime | None,
                  expires_at: datetime | None, withdrawn_at: datetime | None, now: datetime,
                  requery_possible: bool = False) -> WindowReport:
    reopen, how = _how_to_reopen(requery_possible)
    if form is not Form.HOME_CONSENT:
        return WindowReport("none", False, None, None, None, None,
                            "資格確認限定型のため、診療／薬剤情報は提供されません。")
    if not medical_info_allowed or registered_at is None or expires_at is None:
        return WindowReport("none", False, None, None, None, None,
                            "この確認では診療／薬剤情報の閲覧は認められていません（資格情報のみの確認です）。")
    if withdrawn_at is not None and withdrawn_at <= now:
        return WindowReport("withdrawn", False, registered_at, expires_at, min(withdrawn_at, expires_at), reopen,
                            f"患者が {jst_text(withdrawn_at)}（日本時間）に同意を取り消したため、閲覧できません。{how}")
    window = ViewingWindow.after_registration(registered_at, expires_at - registered_at)
    if now < window.opens_at:
        return WindowReport("not_open", False, window.opens_at, window.closes_at, None, None,
                            f"{jst_text(window.opens_at)}（日本時間）から閲覧できます。")
    if window.contains(now):
        return WindowReport("open", True, window.opens_at, window.closes_at, None, None,
                            f"同意登録から{hours_ja(window.length)}（{jst_text(window.closes_at)}〈日本時間〉まで）"
                            "診療／薬剤情報を閲覧できます。")
    return WindowReport("closed", False, window.opens_at, window.closes_at, window.closes_at, reopen,
                        f"同意登録から{hours_ja(window.length)}が過ぎ、{jst_text(window.closes_at)}（日本時間）に"
                        f"閲覧期間が終了しました。{how}")


# --- continuing home care: the care relationship and re-query (再照会) -----------------------------

def opens_care_relationship(*, form: Form, care_type: CareType, person_resolved: bool) -> bool:
    """A card-verified form ② home-visit visit (care type 2) whose person OQS resolved opens (or renews)
    the institution's continuing-care relationship with the patient."""
    return form is Form.HOME_CONSENT and care_type is CareType.HOME_VISIT and person_resolved


@dataclass(frozen=True)
class CareRelationshipStatus:
    active: bool
    ended_at: datetime | None
    end_reason: str | None  # "discharged" | "withdrawn" | "idle"


def care_relationship_status(*, ended_at: datetime | None, end_reason: str | None, last_visit_at: datetime,
                             idle_limit: timedelta, now: datetime) -> CareRelationshipStatus:
    """Ended by discharge or withdrawal when recorded; otherwise ended by itself once ``idle_limit``
    passes with no visit (OUR RULE, ``CARE_RELATIONSHIP_IDLE_DAYS``)."""
    if ended_at is not None:
        return CareRelationshipStatus(False, ended_at, end_reason)
    idle_end = last_visit_at + idle_limit
    if now >= idle_end:
        return CareRelationshipStatus(False, idle_end, "idle")
    return CareRelationshipStatus(True, None, None)


_END_REASONS_JA = {
    "discharged": "医療機関が継続的な訪問診療等の終了（退院・終診等）を登録しました",
    "withdrawn": "患者が同意を取り消しました",
}


def authorize_requery(status: CareRelationshipStatus | None, *, idle_limit: timedelta) -> None:
    """Raise unless the relationship is active; the refusal says why and that a card verification works."""
    card = "マイナンバーカードで資格確認を行ってください（カードでの確認から再び再照会できるようになります）。"
    if status is None:
        raise RequeryNotAllowed(
            "この患者とは、カードで確認した訪問診療等（診療区分2）の継続的な関係がありません。" + card,
            rule="no-relationship", how_to_reopen=REOPEN_BY_CARD)
    if status.active:
        return
    assert status.ended_at is not None
    if status.end_reason == "idle":
        why = f"最後の訪問から{idle_limit.days}日間訪問がなかったため、継続的な関係は終了しました"
    else:
        why = _END_REASONS_JA.get(status.end_reason or "", "継続的な関係は終了しました")
    raise RequeryNotAllowed(f"{why}（{jst_text(status.ended_at)}〈日本時間〉）。再照会はできません。" + card,
                            rule=status.end_reason or "ended", ended_at=status.ended_at.isoformat(),
                            how_to_reopen=REOPEN_BY_CARD)


def requery_kinds(card_kinds: frozenset[InfoKind], asked: frozenset[InfoKind] | None) -> frozenset[InfoKind]:
    """The kinds a re-query opens a window for: those the card-verified visit's consent covered, or a
    narrower set the staff ask for; never a kind outside it."""
    if asked is None:
        return card_kinds
    wider = asked - card_kinds
    if wider:
        labels = "、".join(INFO_KIND_LABELS_JA[k] for k in sorted(wider, key=lambda k: k.value))
        raise ConsentWouldWiden(
            f"{labels}は、カードで確認したときに同意されていないため、再照会では閲覧できません。",
            field="kinds", consented_kinds=sorted(k.value for k in card_kinds),
            asked_kinds=sorted(k.value for k in asked))
    return asked


# --- the patient's own phone: consent links ---------------------------------------------------------

def consent_link_expiry(*, created_at: datetime, ttl: timedelta, planned_date: date | None) -> datetime:
    """A link lives ``CONSENT_LINK_TTL_DAYS`` (OUR RULE), and an appointment link no longer than the end
    of its planned consultation date in Japan: the consent is found up to that date (public docs)."""
    expires = created_at + ttl
    if planned_date is not None:
        end_of_day = datetime.combine(planned_date + timedelta(days=1), datetime.min.time(), JST)
        expires = min(expires, end_of_day.astimezone(UTC))
    return expires
