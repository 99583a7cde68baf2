from datetime import UTC, datetime

import pytest

from mobile_api.domain.certificate import CertificateStanding, add_months, assess_certificate
from mobile_api.domain.errors import CertificateExpired, CertificateNotYetValid

NB = datetime(2021, 9, 1, tzinfo=UTC)
NA = datetime(2026, 8, 31, 14, 59, 59, tzinfo=UTC)


def standing(now, months=3):
    return assess_certificate(not_before=NB, not_after=NA, now=now, grace_months=months)


def test_valid_until_not_after_inclusive():
    assert standing(NA) is CertificateStanding.VALID


def test_expired_within_three_months_is_qualification_only():
    assert standing(datetime(2026, 9, 30, tzinfo=UTC)) is CertificateStanding.EXPIRED_IN_GRACE
    assert standing(add_months(NA, 3)) is CertificateStanding.EXPIRED_IN_GRACE


def test_expired_past_three_months_refused_with_guidance():
    with pytest.raises(CertificateExpired) as refused:
        standing(datetime(2026, 12, 1, tzinfo=UTC))
    assert refused.value.extra["guidance"] == "qualification-certificate"
    assert "資格確認書" in refused.value.detail


def test_grace_is_configurable():
    with pytest.raises(CertificateExpired):
        standing(datetime(2026, 9, 30, tzinfo=UTC), months=0)


def test_not_yet_valid():
    with pytest.raises(CertificateNotYetValid):
        standing(datetime(2021, 8, 1, tzinfo=UTC))


@pytest.mark.parametrize("start,months,end", [
    ((2026, 1, 31), 1, (2026, 2, 28)),
    ((2024, 1, 31), 1, (2024, 2, 29)),
    ((2026, 11, 30), 3, (2027, 2, 28)),
    ((2026, 8, 15), 3, (2026, 11, 15)),
])
def test_calendar_months(start, months, end):
    assert add_months(datetime(*start, tzinfo=UTC), months) == datetime(*end, tzinfo=UTC)


# --- MHLW's counting (docs/rules.md §2.4): through the end of the third month after the month of
# --- expiry, by the date in Japan.

from datetime import UTC, timedelta  # noqa: E402

from mobile_api.domain.certificate import grace_last_day, renewal_alert  # noqa: E402
from mobile_api.domain.japanese_dates import JST  # noqa: E402


def jst(*args):
    return datetime(*args, tzinfo=JST)


@pytest.mark.parametrize("expiry_day,last_usable", [
    ((2026, 1, 31), (2026, 4, 30)),  # a 31-day month: counted calendar months would end on 04-30 too,
    ((2026, 2, 28), (2026, 5, 31)),  # but here they would end on 05-28; MHLW: the end of May
    ((2026, 11, 30), (2027, 2, 28)),
    ((2026, 8, 1), (2026, 11, 30)),  # expired on the 1st: still the whole third month after
])
def test_grace_runs_to_the_end_of_the_third_month_after_the_month_of_expiry(expiry_day, last_usable):
    not_after = jst(*expiry_day, 23, 59, 59)
    assert grace_last_day(not_after) == datetime(*last_usable).date()
    nb = not_after - timedelta(days=5 * 365)
    last = jst(*last_usable, 23, 59, 59)
    assert assess_certificate(not_before=nb, not_after=not_after, now=last) is CertificateStanding.EXPIRED_IN_GRACE
    with pytest.raises(CertificateExpired) as refused:
        assess_certificate(not_before=nb, not_after=not_after, now=last + timedelta(seconds=1))
    assert refused.value.extra["grace_ended_at"] == (last + timedelta(seconds=1) - timedelta(microseconds=1)).astimezone(
        UTC).isoformat()


def test_the_month_of_expiry_is_the_month_in_japan_not_in_utc():
    # 2026-01-31T15:30Z is February 1st in Japan: the certificate expired in February (JST),
    # so the grace runs to May 31st, not April 30th as the UTC date would say.
    not_after = datetime(2026, 1, 31, 15, 30, tzinfo=UTC)
    nb = datetime(2021, 1, 1, tzinfo=UTC)
    assert grace_last_day(not_after).isoformat() == "2026-05-31"
    may_31_jst = jst(2026, 5, 31, 12, 0)
    assert assess_certificate(not_before=nb, not_after=not_after, now=may_31_jst) is CertificateStanding.EXPIRED_IN_GRACE
    # and "now" is judged in Japan too: 2026-05-31T15:00Z is June 1st there.
    with pytest.raises(CertificateExpired):
        assess_certificate(not_before=nb, not_after=not_after, now=datetime(2026, 5, 31, 15, 0, tzinfo=UTC))
    # one expiring at the end of January 31st in Japan (14:59:59Z) is a January expiry: April 30th.
    january = datetime(2026, 1, 31, 14, 59, 59, tzinfo=UTC)
    assert grace_last_day(january).isoformat() == "2026-04-30"
    with pytest.raises(CertificateExpired):
        assess_certificate(not_before=nb, not_after=january, now=jst(2026, 5, 1, 0, 0))


def test_renewal_alert_from_three_months_before_expiry_and_through_the_grace():
    not_after = jst(2026, 8, 31, 23, 59, 59)
    assert renewal_alert(not_after=not_after, now=jst(2026, 5, 30, 23, 59)) is None
    before = renewal_alert(not_after=not_after, now=jst(2026, 5, 31, 0, 0))  # exactly 3 calendar months before
    assert before is not None and not before.expired and before.expires_on.isoformat() == "2026-08-31"
    assert "2026年08月31日" in before.message and "更新" in before.message
    during = renewal_alert(not_after=not_after, now=jst(2026, 9, 15, 9, 0))
    assert during is not None and during.expired and during.usable_until.isoformat() == "2026-11-30"
    assert renewal_alert(not_after=not_after, now=jst(2026, 12, 1, 0, 0)) is None  # past the grace: refused anyway
    assert renewal_alert(not_after=not_after, now=jst(2026, 7, 1), alert_months=0) is None
    assert renewal_alert(not_after=not_after, now=jst(2026, 7, 1), alert_months=2) is not None


def test_the_renewal_alert_starts_on_the_day_exactly_three_months_before_not_the_day_after():
    """Issue 17: a certificate expiring 2026-08-15 alerts from 2026-05-15 (JST), not from 05-16."""
    not_after = jst(2026, 8, 15, 23, 59, 59)
    assert renewal_alert(not_after=not_after, now=jst(2026, 5, 14, 23, 59, 59)) is None
    assert renewal_alert(not_after=not_after, now=jst(2026, 5, 15, 0, 0)) is not None


def test_a_smartphone_certificate_has_no_grace_after_its_expiry_day_in_japan():
    not_after = jst(2026, 8, 31, 23, 59, 59)
    nb = not_after - timedelta(days=5 * 365)
    assert assess_certificate(not_before=nb, not_after=not_after, now=not_after,
                              smartphone=True) is CertificateStanding.VALID
    with pytest.raises(CertificateExpired) as refused:
        assess_certificate(not_before=nb, not_after=not_after, now=jst(2026, 9, 1, 0, 0), smartphone=True)
    assert refused.value.extra["medium"] == "smartphone" and "スマートフォン" in refused.value.detail
    assert assess_certificate(not_before=nb, not_after=not_after,
                              now=jst(2026, 9, 1, 0, 0)) is CertificateStanding.EXPIRED_IN_GRACE


def test_the_device_says_renew_soon_from_the_same_day_as_the_servers_alert():
    """device_agent/certificate.py agrees with renewal_alert: expiry 2026-08-15 (JST) → from 2026-05-15."""
    from device_agent.certificate import CertificateDates

    dates = CertificateDates(jst(2021, 8, 15), jst(2026, 8, 15, 23, 59, 59))
    assert dates.standing(jst(2026, 5, 14, 23, 59)) == "valid"
    assert dates.standing(jst(2026, 5, 15, 0, 0)) == "renew-soon"
    for day in ((2026, 5, 14, 23, 59), (2026, 5, 15, 0, 0)):
        server = renewal_alert(not_after=dates.valid_until, now=jst(*day)) is not None
        assert server is (dates.standing(jst(*day)) == "renew-soon")
