"""Dates as Japan counts them (docs/rules.md §2.4, §5): the day in JST, and the era calendar (和暦).

Every date rule of the domain (the paper card's last day, the 2025-12-02..2026-03-31 interim,
the certificate's grace "through the end of the third month") is a day in Japan. The server keeps
instants in UTC, so 2026-01-31T15:00Z is already February 1st for these rules.
"""
from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta, timezone

from .errors import ValidationFailed

JST = timezone(timedelta(hours=9), "JST")

# Era name → first day (the day the era began). 明治 is counted from its adoption of the
# Gregorian calendar (明治6年 = 1873); earlier 明治 dates are outside any living patient.
ERAS: dict[str, tuple[str, date]] = {
    "meiji": ("明治", date(1868, 10, 23)),
    "taisho": ("大正", date(1912, 7, 30)),
    "showa": ("昭和", date(1926, 12, 25)),
    "heisei": ("平成", date(1989, 1, 8)),
    "reiwa": ("令和", date(2019, 5, 1)),
}
_ORDER = list(ERAS)


def jst_text(moment: datetime) -> str:
    """An instant as people in Japan read it: 2026年12月01日 09:00 (JST)."""
    return moment.astimezone(JST).strftime("%Y年%m月%d日 %H:%M")


def hours_ja(span: timedelta) -> str:
    """A configured length in words: 24時間, 1.5時間 (messages follow the settings)."""
    return f"{span.total_seconds() / 3600:g}時間"


def jst_date(moment: datetime) -> date:
    """The calendar day in Japan at this instant."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(JST).date()


def end_of_jst_day(day: date) -> datetime:
    """The last instant of a day in Japan (23:59:59.999999 JST), as an aware datetime."""
    return datetime(day.year, day.month, day.day, tzinfo=JST) + timedelta(days=1) - timedelta(microseconds=1)


def last_day_of_month_after(day: date, months: int) -> date:
    """The last day of the month ``months`` after the month of ``day`` (0 = its own month)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, calendar.monthrange(year, month)[1])


def shift_months(day: date, months: int) -> date:
    """Calendar months, clamped to the month's last day (Jan 31 − 1 month = Dec 31; May 31 − 3 = Feb 28)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def era_to_date(era: str, year: int, month: int, day: int, *, field: str = "birth_date") -> date:
    """明治/大正/昭和/平成/令和 + year/month/day → a Gregorian date; refuses a day outside the era
    (e.g. 昭和65年, 平成31年5月1日, 令和1年4月30日) with a Japanese message."""
    if era not in ERAS:
        raise ValidationFailed("元号は明治・大正・昭和・平成・令和のいずれかです。", field=f"{field}/era")
    label, starts = ERAS[era]
    try:
        result = date(starts.year + year - 1, month, day)
    except ValueError:
        raise ValidationFailed(f"{label}{year}年{month}月{day}日という日付はありません。", field=field) from None
    following = _ORDER.index(era) + 1
    ends = ERAS[_ORDER[following]][1] if following < len(_ORDER) else None
    if year < 1 or result < starts or (ends is not None and result >= ends):
        raise ValidationFailed(f"{label}{year}年{month}月{day}日は{label}の期間にありません。元号を確認してください。",
                               field=field)
    return result
