"""The co-payment ratio (一部負担金割合) rule of docs/rules.md §4.

OQS returns the ratio the insurer holds; this rule lets the server (and the
sandbox's tests) check it and explain it. Ages follow Japanese law (年齢計算ニ
関スル法律): a person reaches an age at the end of the day before the birthday,
which is why someone born on the 1st reaches the 70–74 bracket in their birth
month and a child born on April 1 starts school a year earlier than one born on
April 2.

- pre-school children (義務教育就学前): 20 %, until the March 31 after the
  child reaches 6;
- 70–74 (高齢受給者): 20 %, 30 % with working-level income (現役並み所得), from
  the 1st of the month after the person reaches 70;
- 後期高齢者 (75 and over, or 65–74 certified for a disability): 10 %, 20 %
  with a certain level of income (一定以上所得), 30 % with working-level income;
- everyone else 30 %.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

Income = Literal["low", "general", "high", "working"]
"""Income level as the insurer classifies it.

low: 低所得 (住民税非課税); general: 一般; high: 一定以上所得 (後期高齢者 20 %,
treated as general before 75); working: 現役並み所得.
"""

RATIO_10, RATIO_20, RATIO_30 = "010", "020", "030"
INCOMES: tuple[str, ...] = ("low", "general", "high", "working")


def anniversary(birth_date: date, years: int) -> date:
    """The calendar birthday in a given year; Feb 29 falls on Mar 1 in common years."""
    try:
        return birth_date.replace(year=birth_date.year + years)
    except ValueError:
        return date(birth_date.year + years, 3, 1)


def reaches_age_on(birth_date: date, years: int) -> date:
    """The day at whose end the person legally reaches the age: the day before the birthday."""
    return anniversary(birth_date, years) - timedelta(days=1)


def preschool_ends(birth_date: date) -> date:
    """The April 1 on which the child starts compulsory school (the first day not pre-school)."""
    reached_six = reaches_age_on(birth_date, 6)
    april_first = date(reached_six.year, 4, 1)
    return april_first if reached_six < april_first else date(reached_six.year + 1, 4, 1)


def is_preschool(birth_date: date, on: date) -> bool:
    """True before the April 1 following the child's 6th (legal) birthday."""
    return birth_date <= on < preschool_ends(birth_date)


def elderly_bracket_starts(birth_date: date) -> date:
    """1st of the month after the person reaches 70 (birth month when born on the 1st)."""
    reached = reaches_age_on(birth_date, 70)
    return date(reached.year + reached.month // 12, reached.month % 12 + 1, 1)


def copayment_ratio(
    birth_date: date, on: date, *, latter_stage: bool, income: Income
) -> str:
    """OQS code of the co-payment ratio: "030", "020" or "010"."""
    if income not in INCOMES:
        raise ValueError(f"unknown income level: {income!r}")
    if on < birth_date:
        raise ValueError("the date is before the birth date")
    if latter_stage:
        return {"working": RATIO_30, "high": RATIO_20}.get(income, RATIO_10)
    if on >= elderly_bracket_starts(birth_date):
        return RATIO_30 if income == "working" else RATIO_20
    if is_preschool(birth_date, on):
        return RATIO_20
    return RATIO_30


# --- The share a patient pays on a fallback visit (docs/rules.md §5): never 100 %. ---

UNKNOWN = "unknown"


def fallback_copayment(birth_date: date | None, on: date, *, latter_stage: bool,
                       stated: str | None) -> tuple[str, str]:
    """(ratio, basis) for a visit confirmed without OQS.

    Under 70 and not 後期高齢者, the age decides (30 %, 20 % before school), whatever was shown. From 70
    (and for every 後期高齢者) the ratio depends on income, which only the insurer knows: it comes from
    what the patient showed (the 資格情報のお知らせ prints it only for 70 and over; the declaration asks
    for it, ※2). A stated ratio that this age cannot have is refused (``ValueError`` with a Japanese
    message). When the patient does not know it, OUR RULE: charge the general-income ratio (20 % at
    70–74, 10 % for 後期高齢者) as provisional; the insurer settles any difference with the patient
    later (the declaration form says so).

    ``basis`` is "age", "stated" or "provisional"; with no birth date, the stated ratio, else 30 %.
    """
    if stated is not None and stated not in (RATIO_10, RATIO_20, RATIO_30, UNKNOWN):
        raise ValueError(f"一部負担金割合「{stated}」は使えません（3割・2割・1割のいずれか）。")
    if birth_date is None:
        if stated in (RATIO_10, RATIO_20, RATIO_30):
            return stated, "stated"
        return (RATIO_10, "provisional") if latter_stage else (RATIO_30, "provisional")
    if latter_stage:
        if stated in (RATIO_10, RATIO_20, RATIO_30):
            return stated, "stated"
        return RATIO_10, "provisional"
    if on >= elderly_bracket_starts(birth_date):
        if stated == RATIO_10:
            raise ValueError("70～74歳の方の一部負担金割合は2割または3割です（1割は後期高齢者の割合です）。")
        if stated in (RATIO_20, RATIO_30):
            return stated, "stated"
        return RATIO_20, "provisional"
    by_age = copayment_ratio(birth_date, on, latter_stage=False, income="general")
    if stated not in (None, UNKNOWN, by_age):
        age_note = "未就学児は2割" if by_age == RATIO_20 else "70歳未満の方は3割（未就学児は2割）"
        raise ValueError(f"一部負担金割合「{int(stated) // 10}割」はこの方の年齢に合いません（{age_note}）。")
    return by_age, "age"


def needs_stated_ratio(birth_date: date | None, on: date, *, latter_stage: bool) -> bool:
    """True when only the insurer's record can tell the ratio (70 and over, or 後期高齢者)."""
    return latter_stage or (birth_date is not None and on >= elderly_bracket_starts(birth_date))
