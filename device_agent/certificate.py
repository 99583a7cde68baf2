"""The card's certificate dates, read before the PIN is asked (docs/rules.md §2).

A card whose user-auth certificate expired still confirms qualification for a
grace of 3 months, counted from the last day of the month it expired in, by the
date in Japan. After that the card cannot be used at all: the patient shows a
資格確認書 (or the card with the 資格情報のお知らせ / マイナポータル screen). Saying so
before the patient types a PIN saves a try and a server round trip. The server
decides in the end; this check only refuses what is past the most generous
reading of the grace, so it never blocks a card the server would accept.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime

from cryptography import x509

from device_agent.labels import JST

GRACE_MONTHS = 3
RENEWAL_NOTICE_MONTHS = 3


class CertificateUnusable(Exception):
    """The certificate expired and its grace is over: the card cannot be used for this visit."""

    def __init__(self, expired_on: date, usable_until: date) -> None:
        super().__init__(f"certificate expired {expired_on}, grace ended {usable_until}")
        self.expired_on, self.usable_until = expired_on, usable_until


@dataclass(frozen=True)
class CertificateDates:
    valid_from: datetime
    valid_until: datetime

    @property
    def expires_on(self) -> date:
        return self.valid_until.astimezone(JST).date()

    @property
    def usable_until(self) -> date:
        """The last day (JST) of the third month after the month of expiry."""
        return _month_end(self.expires_on, GRACE_MONTHS)

    def standing(self, now: datetime) -> str:
        """"valid", "renew-soon" (from the day exactly 3 calendar months before the expiry day, as the server's
        alert, docs/rules.md §2.4), "expired-in-grace" (qualification only);
        raises CertificateUnusable after the grace."""
        today = now.astimezone(JST).date()
        if now <= self.valid_until:
            return "renew-soon" if today >= shift_months(self.expires_on, -RENEWAL_NOTICE_MONTHS) else "valid"
        if today <= self.usable_until:
            return "expired-in-grace"
        raise CertificateUnusable(self.expires_on, self.usable_until)


def dates_of(certificate_der: bytes) -> CertificateDates | None:
    """The validity of a DER certificate, or None when it cannot be parsed (the server will say why)."""
    try:
        cert = x509.load_der_x509_certificate(certificate_der)
    except ValueError:
        return None
    return CertificateDates(cert.not_valid_before_utc, cert.not_valid_after_utc)


def _month_end(day: date, months_after: int) -> date:
    index = day.month - 1 + months_after
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, calendar.monthrange(year, month)[1])


def shift_months(day: date, months: int) -> date:
    """The same day ``months`` calendar months later (earlier when negative), clamped to the month's end
    (08-15 − 3 → 05-15; 2024-02-29 + 60 → 2029-02-28): the server's ``japanese_dates.shift_months``."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
