from datetime import datetime, timezone

import pytest

from mobile_api.domain.certificate import CertificateStanding, add_months, assess_certificate
from mobile_api.domain.errors import CertificateExpired, CertificateNotYetValid

NB = datetime(2021, 9, 1, tzinfo=timezone.utc)
NA = datetime(2026, 8, 31, 14, 59, 59, tzinfo=timezone.utc)


def standing(now, months=3):
    return assess_certificate(not_before=NB, not_after=NA, now=now, grace_months=months)


def test_valid_until_not_after_inclusive():
    assert standing(NA) is CertificateStanding.VALID


def test_expired_within_three_months_is_qualification_only():
    assert standing(datetime(2026, 9, 30, tzinfo=timezone.utc)) is CertificateStanding.EXPIRED_IN_GRACE
    assert standing(add_months(NA, 3)) is CertificateStanding.EXPIRED_IN_GRACE


def test_expired_past_three_months_refused_with_guidance():
    with pytest.raises(CertificateExpired) as refused:
        standing(datetime(2026, 12, 1, tzinfo=timezone.utc))
    assert refused.value.extra["guidance"] == "qualification-certificate"
    assert "資格確認書" in refused.value.detail


def test_grace_is_configurable():
    with pytest.raises(CertificateExpired):
        standing(datetime(2026, 9, 30, tzinfo=timezone.utc), months=0)


def test_not_yet_valid():
    with pytest.raises(CertificateNotYetValid):
        standing(datetime(2021, 8, 1, tzinfo=timezone.utc))


@pytest.mark.parametrize("start,months,end", [
    ((2026, 1, 31), 1, (2026, 2, 28)),
    ((2024, 1, 31), 1, (2024, 2, 29)),
    ((2026, 11, 30), 3, (2027, 2, 28)),
    ((2026, 8, 15), 3, (2026, 11, 15)),
])
def test_calendar_months(start, months, end):
    assert add_months(datetime(*start, tzinfo=timezone.utc), months) == datetime(*end, tzinfo=timezone.utc)
