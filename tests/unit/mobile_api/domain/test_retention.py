"""Months of the audit log in Japan, and the retention cutoff (domain/retention.py, docs/rules.md §7.1)."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mobile_api.domain.retention import Month, months_to_prepare, retention_cutoff


def test_a_month_is_counted_in_japan() -> None:
    assert Month.of(datetime(2026, 12, 31, 14, 59, tzinfo=UTC)) == Month(2026, 12)
    assert Month.of(datetime(2026, 12, 31, 15, 0, tzinfo=UTC)) == Month(2027, 1)  # 00:00 on New Year's Day, JST
    assert Month(2027, 1).start == datetime(2026, 12, 31, 15, 0, tzinfo=UTC)
    assert Month(2026, 12).end == Month(2027, 1).start and Month(2026, 12).label == "y2026m12"


def test_months_to_prepare_cross_the_year() -> None:
    now = datetime(2026, 11, 20, tzinfo=UTC)
    assert months_to_prepare(now, 3) == [Month(2026, 11), Month(2026, 12), Month(2027, 1), Month(2027, 2)]


def test_the_cutoff_keeps_the_current_month_and_the_set_number_of_full_months_before_it() -> None:
    now = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
    assert retention_cutoff(now, 72) == Month(2020, 12).start
    assert retention_cutoff(now, 36) == Month(2023, 12).start
    with pytest.raises(ValueError, match="at least 36"):
        retention_cutoff(now, 35)
