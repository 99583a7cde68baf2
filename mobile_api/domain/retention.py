"""Months of the audit log and how long it is kept (docs/rules.md §7.1).

The audit log is cut into months as Japan counts them (JST), so a legal period ("keep for N years") maps to
whole months, and retention drops whole months at once. A month is kept until ``AUDIT_RETENTION_MONTHS`` full
months have passed after it; the current month is never touched.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .japanese_dates import JST

# The shortest retention the server accepts: 療担規則 第9条 keeps the records of insured care for 3 years
# (docs/rules.md §7.1); a shorter setting is refused when the app starts.
MIN_RETENTION_MONTHS = 36


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month in Japan: [start, end) as instants."""

    year: int
    month: int

    @classmethod
    def of(cls, at: datetime) -> Month:
        local = at.astimezone(JST)
        return cls(local.year, local.month)

    def plus(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=JST)

    @property
    def end(self) -> datetime:
        return self.plus(1).start

    @property
    def label(self) -> str:
        """``y2026m12``: the suffix of its partition's name."""
        return f"y{self.year:04d}m{self.month:02d}"


def months_to_prepare(now: datetime, ahead: int) -> list[Month]:
    """The current month and ``ahead`` months after it: what must have a partition before rows arrive."""
    current = Month.of(now)
    return [current.plus(i) for i in range(max(0, ahead) + 1)]


def retention_cutoff(now: datetime, months: int) -> datetime:
    """Rows before this instant are past retention: the start of the month ``months`` before the current one.

    So the current month and the ``months`` full months before it are kept (each row at least ``months``
    months), and a month is dropped whole."""
    if months < MIN_RETENTION_MONTHS:
        raise ValueError(f"AUDIT_RETENTION_MONTHS must be at least {MIN_RETENTION_MONTHS} (docs/rules.md §7.1)")
    return Month.of(now).plus(-months).start
