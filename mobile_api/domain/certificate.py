"""Standing of the card's user-auth certificate on a given day (docs/rules.md §2.4).

From 2024-12-02 a card whose electronic certificate has expired still works for
qualification confirmation for 3 months after the expiry, qualification only;
after that the patient needs a 資格確認書. MHLW counts the 3 months from the last
day of the month of expiry, by the date in Japan: a certificate that expired on
January 31st (JST) is usable through April 30th, one that expired on February
28th through May 31st. Within 3 months before the expiry the reader shows a
renewal alert. Both lengths are configurable.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum

from .errors import CertificateExpired, CertificateNotYetValid
from .japanese_dates import end_of_jst_day, jst_date, last_day_of_month_after, shift_months


class CertificateStanding(StrEnum):
    VALID = "valid"
    EXPIRED_IN_GRACE = "expired_in_grace"  # qualification only, never medical information
    NOT_PRESENTED = "not_presented"  # a re-query (再照会): no card was read on this visit (docs/rules.md §3.2)


def add_months(moment: datetime, months: int) -> datetime:
    """Calendar months, clamped to the month's last day (Jan 31 + 1 month = Feb 28/29); the time is kept."""
    day = shift_months(moment.date(), months)
    return moment.replace(year=day.year, month=day.month, day=day.day)


def assess_certificate(
    *, not_before: datetime, not_after: datetime, now: datetime, grace_months: int = 3, smartphone: bool = False
) -> CertificateStanding:
    """``smartphone``: the certificate is a phone's (スマホ用電子証明書), which gets no grace after expiry (the grace
    covers the plastic card only; public docs, the マイナポータル FAQ; docs/rules.md §2.4)."""
    if now < not_before:
        raise CertificateNotYetValid(valid_from=not_before.isoformat())
    if now <= not_after:
        return CertificateStanding.VALID
    if smartphone:
        raise CertificateExpired(
            f"スマートフォンの電子証明書は有効期限（{jst_date(not_after).isoformat()}）を過ぎているため使えません。"
            "有効期限後3か月間の猶予はマイナンバーカード（カード本体）の電子証明書だけが対象です。"
            "マイナンバーカードで資格確認するか、資格確認書の提示を受けてください。"
            "スマートフォンの電子証明書は、マイナンバーカードで再発行（更新）できます。",
            expired_at=not_after.isoformat(), grace_ended_at=not_after.isoformat(), medium="smartphone",
            guidance="card")
    usable_until = grace_last_day(not_after, grace_months)
    if jst_date(now) <= usable_until:
        return CertificateStanding.EXPIRED_IN_GRACE
    grace_ends = end_of_jst_day(usable_until).astimezone(UTC)
    raise CertificateExpired(
        f"電子証明書の有効期限（{jst_date(not_after).isoformat()}）の月末から{grace_months}か月"
        f"（{usable_until.isoformat()}まで）を過ぎているため、"
        "マイナンバーカードでは資格確認できません。資格確認書の提示を受けるか、"
        "電子証明書の更新（市区町村窓口）を案内してください。",
        expired_at=not_after.isoformat(),
        grace_ended_at=grace_ends.isoformat(),
        guidance="qualification-certificate",
    )


def grace_last_day(not_after: datetime, grace_months: int = 3) -> date:
    """The last day (in Japan) the card still works after its certificate expired: the end of the
    ``grace_months``-th month after the month of expiry (MHLW's counting, docs/rules.md §2.4)."""
    return last_day_of_month_after(jst_date(not_after), grace_months)


@dataclass(frozen=True)
class RenewalAlert:
    """What the device shows so the patient renews in time (seed 001: 有効期限の3か月前からアラート)."""

    expires_on: date  # the certificate's last valid day, in Japan
    usable_until: date  # the last day of the grace
    expired: bool

    @property
    def message(self) -> str:
        if self.expired:
            return (f"電子証明書の有効期限（{self.expires_on:%Y年%m月%d日}）が切れています。"
                    f"{self.usable_until:%Y年%m月%d日}まで資格確認のみ利用できます。"
                    "お住まいの市区町村窓口で電子証明書を更新するよう案内してください。")
        return (f"電子証明書の有効期限は{self.expires_on:%Y年%m月%d日}です。"
                "お住まいの市区町村窓口で早めに更新するよう案内してください。")


def renewal_alert(*, not_after: datetime, now: datetime, alert_months: int = 3,
                  grace_months: int = 3) -> RenewalAlert | None:
    """An alert from ``alert_months`` calendar months before the expiry day (in Japan) and through the
    grace; ``None`` before that. ``alert_months`` 0 turns it off (but an expired card still alerts)."""
    expires_on = jst_date(not_after)
    usable_until = grace_last_day(not_after, grace_months)
    today = jst_date(now)
    if now > not_after:
        return RenewalAlert(expires_on, usable_until, expired=True) if today <= usable_until else None
    if alert_months > 0 and today >= shift_months(expires_on, -alert_months):  # from that day itself
        return RenewalAlert(expires_on, usable_until, expired=False)
    return None
