"""Dates as offices write them (domain/written_dates.py): every form Excel and Japanese forms produce."""
from __future__ import annotations

from datetime import date

import pytest

from mobile_api.domain.errors import ValidationFailed
from mobile_api.domain.written_dates import parse_written_date


@pytest.mark.parametrize("text", [
    "1984-05-12", "1984-5-12", "1984/05/12", "1984/5/12", "1984.5.12", "19840512", "1984年5月12日",
    "S59.5.12", "s59.5.12", "S59/5/12", "S59-05-12", "昭和59年5月12日", "昭和59.5.12", " 昭和 59年 5月 12日 ",
    "１９８４／５／１２", "Ｓ５９．５．１２", "昭和５９年５月１２日",
])
def test_every_office_form_names_the_same_day(text: str) -> None:
    assert parse_written_date(text) == date(1984, 5, 12)


@pytest.mark.parametrize(("text", "day"), [
    ("昭和64年1月7日", date(1989, 1, 7)), ("平成元年1月8日", date(1989, 1, 8)), ("H1.1.8", date(1989, 1, 8)),
    ("平成31年4月30日", date(2019, 4, 30)), ("令和元年5月1日", date(2019, 5, 1)), ("R1.5.1", date(2019, 5, 1)),
    ("大正15年12月24日", date(1926, 12, 24)), ("昭和元年12月25日", date(1926, 12, 25)), ("M45.7.29", date(1912, 7, 29)),
    ("T1.7.30", date(1912, 7, 30)), ("2000/2/29", date(2000, 2, 29)),
])
def test_era_boundaries_are_the_eras_own(text: str, day: date) -> None:
    assert parse_written_date(text) == day


@pytest.mark.parametrize(("text", "says"), [
    ("昭和64年1月8日", "昭和の期間にありません"), ("H31.5.1", "平成の期間にありません"), ("令和1年4月30日", "令和の期間にありません"),
    ("1984/2/30", "1984年2月30日という日付はありません"), ("1900/2/29", "日付はありません"), ("S59.13.1", "という日付はありません"),
    ("12/5/1984", "日付を読み取れません"), ("1984512", "日付を読み取れません"), ("X59.5.12", "日付を読み取れません"),
    ("", "日付を読み取れません"), ("=1984/5/12", "日付を読み取れません"),
])
def test_a_date_that_is_not_one_is_refused_in_japanese_with_the_forms(text: str, says: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_written_date(text)
    assert says in refused.value.detail
    assert refused.value.extra["field"] == "birth_date"
