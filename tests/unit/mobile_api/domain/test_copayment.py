"""Boundaries of the co-payment rule (docs/rules.md §4)."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from mobile_api.domain.copayment import (
    copayment_ratio,
    elderly_bracket_starts,
    is_preschool,
    preschool_ends,
)


def ratio(birth: date, on: date, *, latter_stage: bool = False, income: str = "general") -> str:
    return copayment_ratio(birth, on, latter_stage=latter_stage, income=income)  # type: ignore[arg-type]


def test_working_age_pays_30_percent() -> None:
    assert ratio(date(1984, 5, 12), date(2026, 12, 1)) == "030"


@pytest.mark.parametrize(
    "birth, last_preschool_day",
    [
        (date(2020, 9, 15), date(2027, 3, 31)),  # 6 in September: pre-school until the next April
        (date(2020, 4, 2), date(2027, 3, 31)),  # April 2: the oldest of the next school year
        (date(2020, 4, 1), date(2026, 3, 31)),  # April 1: legally 6 on March 31, starts school at once
        (date(2020, 1, 1), date(2026, 3, 31)),
        (date(2020, 2, 29), date(2026, 3, 31)),  # leap-day birth
    ],
)
def test_preschool_until_the_april_after_the_sixth_birthday(birth: date, last_preschool_day: date) -> None:
    assert preschool_ends(birth) == last_preschool_day + timedelta(days=1)
    assert is_preschool(birth, last_preschool_day)
    assert not is_preschool(birth, last_preschool_day + timedelta(days=1))
    assert ratio(birth, last_preschool_day, income="working") == "020"
    assert ratio(birth, last_preschool_day + timedelta(days=1), income="working") == "030"


def test_newborn_is_preschool_but_not_before_birth() -> None:
    assert is_preschool(date(2026, 11, 1), date(2026, 11, 1))
    assert not is_preschool(date(2026, 11, 1), date(2026, 10, 31))
    with pytest.raises(ValueError):
        ratio(date(2026, 11, 1), date(2026, 10, 31))


@pytest.mark.parametrize(
    "birth, first_day",
    [
        (date(1956, 11, 20), date(2026, 12, 1)),  # month after the 70th birthday
        (date(1956, 12, 1), date(2026, 12, 1)),  # born on the 1st: that month
        (date(1956, 12, 2), date(2027, 1, 1)),
        (date(1956, 12, 15), date(2027, 1, 1)),  # year rollover
        (date(1957, 1, 1), date(2027, 1, 1)),
        (date(1956, 2, 29), date(2026, 3, 1)),  # leap day: legally 70 at the end of Feb 28
    ],
)
def test_70_to_74_from_the_month_after_the_70th_birthday(birth: date, first_day: date) -> None:
    assert elderly_bracket_starts(birth) == first_day
    day_before = first_day - timedelta(days=1)
    assert ratio(birth, day_before) == "030"
    assert ratio(birth, first_day) == "020"
    assert ratio(birth, first_day, income="high") == "020"
    assert ratio(birth, first_day, income="low") == "020"
    assert ratio(birth, first_day, income="working") == "030"


def test_70_to_74_holds_until_the_latter_stage_scheme_takes_over() -> None:
    birth = date(1952, 1, 10)  # 74 on 2026-12-01
    assert ratio(birth, date(2026, 12, 1)) == "020"
    assert ratio(birth, date(2027, 1, 10), latter_stage=True) == "010"


@pytest.mark.parametrize(
    "income, expected", [("low", "010"), ("general", "010"), ("high", "020"), ("working", "030")]
)
def test_latter_stage_by_income(income: str, expected: str) -> None:
    assert ratio(date(1945, 2, 14), date(2026, 12, 1), latter_stage=True, income=income) == expected


def test_latter_stage_under_75_by_disability_certification() -> None:
    assert ratio(date(1960, 6, 1), date(2026, 12, 1), latter_stage=True) == "010"


def test_unknown_income_is_refused() -> None:
    with pytest.raises(ValueError):
        ratio(date(1984, 5, 12), date(2026, 12, 1), income="rich")


def test_checkups_are_listed_as_unavailable_until_the_40th_birthday():
    """seed 002: 特定健診等情報 from 40 (docs/rules.md §3.6); a 29 February birthday counts from 1 March."""
    from mobile_api.domain.availability import age_on, unavailable_kinds
    from mobile_api.domain.codes import InfoKind

    birth = date(1986, 12, 2)
    assert age_on(birth, date(2026, 12, 1)) == 39 and age_on(birth, date(2026, 12, 2)) == 40
    assert InfoKind.CHECKUPS in unavailable_kinds(birth, date(2026, 12, 1))
    assert unavailable_kinds(birth, date(2026, 12, 2)) == {}
    assert unavailable_kinds(None, date(2026, 12, 1)) == {}  # no qualification shown: nothing to judge
    assert age_on(date(1988, 2, 29), date(2028, 2, 28)) == 39 and age_on(date(1988, 2, 29), date(2028, 3, 1)) == 40
