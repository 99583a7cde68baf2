"""Disaster-time viewing (seed 004) and the usage rate (seed 000) as pure rules (docs/rules.md §3.5 and §4)."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import pytest

from mobile_api.domain import disaster as rules
from mobile_api.domain.codes import InfoKind
from mobile_api.domain.errors import DisasterViewingNotAllowed, ValidationFailed
from mobile_api.domain.japanese_dates import JST
from mobile_api.domain.usage import UsageCounts, percent_text, usage_rate

QUAKE = rules.Declaration(name="地震", starts_on=date(2026, 12, 1), ends_on=date(2026, 12, 3), prefectures=("13",))


def test_the_period_is_the_jst_days_both_included():
    assert not QUAKE.in_force(datetime(2026, 11, 30, 14, 59, 59, tzinfo=UTC))  # 11-30 23:59:59 JST
    assert QUAKE.in_force(datetime(2026, 11, 30, 15, 0, tzinfo=UTC))  # 12-01 00:00 JST
    assert QUAKE.in_force(datetime(2026, 12, 3, 23, 59, 59, tzinfo=JST))
    assert not QUAKE.in_force(datetime(2026, 12, 4, tzinfo=JST))
    assert QUAKE.closes_at == datetime(2026, 12, 4, tzinfo=JST)


def test_the_refusal_names_what_is_missing_period_or_area():
    now = datetime(2026, 12, 2, 12, tzinfo=JST)
    assert rules.declaration_for([QUAKE], institution_code="1310000001", now=now) is QUAKE
    with pytest.raises(DisasterViewingNotAllowed) as area:
        rules.declaration_for([QUAKE], institution_code="2710000001", now=now)
    assert area.value.extra["rule"] == "area" and area.value.status == 403
    with pytest.raises(DisasterViewingNotAllowed) as period:
        rules.declaration_for([QUAKE], institution_code="1310000001", now=now + timedelta(days=2))
    assert period.value.extra["rule"] == "period"


def test_only_medication_and_checkups_and_at_least_one():
    assert rules.disaster_kinds(["medication"]) == {InfoKind.MEDICATION}
    with pytest.raises(DisasterViewingNotAllowed, match="手術情報"):
        rules.disaster_kinds(["checkups", "surgery"])
    with pytest.raises(ValidationFailed):
        rules.disaster_kinds([])


def test_prefectures_are_checked_and_the_window_never_outlasts_the_period():
    assert rules.parse_prefectures(["17", "1", "13", "13"]) == ("01", "13", "17")
    for wrong in (["48"], ["00"], []):
        with pytest.raises(ValidationFailed):
            rules.parse_prefectures(wrong)
    with pytest.raises(ValidationFailed):
        rules.Declaration(name="x", starts_on=date(2026, 12, 2), ends_on=date(2026, 12, 1), prefectures=("13",))
    early = datetime(2026, 12, 1, 9, tzinfo=JST)
    assert rules.disaster_window(early, timedelta(hours=24), QUAKE).closes_at == early + timedelta(hours=24)
    late = datetime(2026, 12, 3, 20, tzinfo=JST)
    assert rules.disaster_window(late, timedelta(hours=24), QUAKE).closes_at == QUAKE.closes_at


def test_usage_rate_is_card_uses_over_online_confirmations_and_none_for_an_empty_month():
    counts = UsageCounts(card_visits=3, card_checks=1, requeries=2, disaster_lookups=1, identifier_checks=2,
                         fallback_confirmed=1)
    assert counts.online_confirmations == 10
    assert usage_rate(counts) == Fraction(4, 10) and percent_text(usage_rate(counts)) == "40.00%"
    assert usage_rate(counts, requery_is_card=True) == Fraction(6, 10)
    assert usage_rate(UsageCounts()) is None and percent_text(None) == "—"
