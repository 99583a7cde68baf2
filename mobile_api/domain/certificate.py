"""Standing of the card's user-auth certificate on a given day (docs/rules.md §2.4).

From 2024-12-02 a card whose electronic certificate has expired still works for
qualification confirmation for 3 months after the expiry, qualification only;
after that the patient needs a 資格確認書. The grace length is configurable.
"""
from __future__ import annotations

import calendar
from datetime import datetime
from enum import Enum

from .errors import CertificateExpired, CertificateNotYetValid


class CertificateStanding(str, Enum):
    VALID = "valid"
    EXPIRED_IN_GRACE = "expired_in_grace"  # qualification only, never medical information


def add_months(moment: datetime, months: int) -> datetime:
    """Calendar months, clamped to the month's last day (Jan 31 + 1 month = Feb 28/29)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def assess_certificate(
    *, not_before: datetime, not_after: datetime, now: datetime, grace_months: int = 3
) -> CertificateStanding:
    if now < not_before:
        raise CertificateNotYetValid(valid_from=not_before.isoformat())
    if now <= not_after:
        return CertificateStanding.VALID
    grace_ends = add_months(not_after, grace_months)
    if now <= grace_ends:
        return CertificateStanding.EXPIRED_IN_GRACE
    raise CertificateExpired(
        f"電子証明書の有効期限（{not_after.date().isoformat()}）から{grace_months}か月を過ぎているため、"
        "マイナンバーカードでは資格確認できません。資格確認書の提示を受けるか、"
        "電子証明書の更新（市区町村窓口）を案内してください。",
        expired_at=not_after.isoformat(),
        grace_ended_at=grace_ends.isoformat(),
        guidance="qualification-certificate",
    )
