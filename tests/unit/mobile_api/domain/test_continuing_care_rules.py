"""The continuing-care, withdrawal and window-report rules of domain/consent.py (docs/rules.md §3.1-3.4)."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from mobile_api.domain import consent as rules
from mobile_api.domain.codes import CareType, Form, InfoKind
from mobile_api.domain.errors import ConsentWithdrawn, ConsentWouldWiden, RequeryNotAllowed

T0 = datetime(2026, 12, 1, tzinfo=UTC)
M, C, S = InfoKind.MEDICATION, InfoKind.CLINICAL, InfoKind.SURGERY


def test_only_a_form_two_home_visit_with_a_resolved_person_opens_continuing_care() -> None:
    assert rules.opens_care_relationship(form=Form.HOME_CONSENT, care_type=CareType.HOME_VISIT, person_resolved=True)
    for form, care, resolved in ((Form.QUALIFICATION_ONLY, CareType.HOME_VISIT, True),
                                 (Form.HOME_CONSENT, CareType.OUTPATIENT, True),
                                 (Form.HOME_CONSENT, CareType.ONLINE, True),
                                 (Form.HOME_CONSENT, CareType.HOME_VISIT, False)):
        assert not rules.opens_care_relationship(form=form, care_type=care, person_resolved=resolved)


@pytest.mark.parametrize("idle_days", [90, 30])
def test_the_idle_limit_is_the_configured_one_and_ends_exactly_at_it(idle_days: int) -> None:
    idle = timedelta(days=idle_days)
    just_before = rules.care_relationship_status(ended_at=None, end_reason=None, last_visit_at=T0, idle_limit=idle,
                                                 now=T0 + idle - timedelta(seconds=1))
    assert just_before.active
    at_limit = rules.care_relationship_status(ended_at=None, end_reason=None, last_visit_at=T0, idle_limit=idle,
                                              now=T0 + idle)
    assert not at_limit.active and at_limit.end_reason == "idle" and at_limit.ended_at == T0 + idle
    with pytest.raises(RequeryNotAllowed) as refused:
        rules.authorize_requery(at_limit, idle_limit=idle)
    assert refused.value.extra["rule"] == "idle" and f"{idle_days}日間" in refused.value.detail


def test_discharge_withdrawal_and_no_relationship_refuse_requery_with_a_card_hint() -> None:
    for reason in ("discharged", "withdrawn"):
        status = rules.care_relationship_status(ended_at=T0, end_reason=reason, last_visit_at=T0,
                                                idle_limit=timedelta(days=90), now=T0)
        with pytest.raises(RequeryNotAllowed) as refused:
            rules.authorize_requery(status, idle_limit=timedelta(days=90))
        assert refused.value.extra["rule"] == reason and "マイナンバーカード" in refused.value.detail
    with pytest.raises(RequeryNotAllowed) as none:
        rules.authorize_requery(None, idle_limit=timedelta(days=90))
    assert none.value.extra["rule"] == "no-relationship"


def test_requery_kinds_never_widen() -> None:
    assert rules.requery_kinds(frozenset({M, C}), None) == {M, C}
    assert rules.requery_kinds(frozenset({M, C}), frozenset({M})) == {M}
    with pytest.raises(ConsentWouldWiden) as wider:
        rules.requery_kinds(frozenset({M}), frozenset({M, S}))
    assert "手術情報" in wider.value.detail
    assert rules.requery_kinds(frozenset(), None) == frozenset()  # no card consent: qualification only


def test_a_withdrawn_consent_is_refused_as_withdrawn_not_as_never_given() -> None:
    with pytest.raises(ConsentWithdrawn) as refused:
        rules.authorize_medical_view(form=Form.HOME_CONSENT, medical_info_allowed=True, consented_kinds=frozenset({M}),
                                     window=None, kind=M, now=T0 + timedelta(seconds=1), withdrawn_at=T0)
    assert refused.value.extra["how_to_reopen"] == "new-card-verification"


def test_the_window_report_says_open_then_closed_then_how_to_reopen() -> None:
    common = dict(form=Form.HOME_CONSENT, medical_info_allowed=True, registered_at=T0,
                  expires_at=T0 + timedelta(hours=24), withdrawn_at=None)
    open_ = rules.report_window(**common, now=T0 + timedelta(hours=23, minutes=59, seconds=59))
    assert open_.viewable_now and open_.state == "open" and "まで" in open_.message
    closed = rules.report_window(**common, now=T0 + timedelta(hours=24), requery_possible=True)
    assert not closed.viewable_now and closed.state == "closed" and closed.closed_at == T0 + timedelta(hours=24)
    assert closed.how_to_reopen == "requery" and "再照会" in closed.message and "まで）" not in closed.message
    card = rules.report_window(**common, now=T0 + timedelta(hours=25))
    assert card.how_to_reopen == "new-card-verification"
    withdrawn = rules.report_window(**{**common, "withdrawn_at": T0 + timedelta(hours=1)}, now=T0 + timedelta(hours=2))
    assert withdrawn.state == "withdrawn" and withdrawn.closed_at == T0 + timedelta(hours=1)
    assert rules.report_window(**{**common, "form": Form.QUALIFICATION_ONLY}, now=T0).state == "none"


def test_an_appointment_link_ends_with_its_planned_date_in_japan() -> None:
    ttl = timedelta(days=30)
    assert rules.consent_link_expiry(created_at=T0, ttl=ttl, planned_date=None) == T0 + ttl
    assert rules.consent_link_expiry(created_at=T0, ttl=ttl, planned_date=date(2026, 12, 3)) == datetime(
        2026, 12, 3, 15, 0, tzinfo=UTC)  # 2026-12-04 00:00 JST
    assert rules.consent_link_expiry(created_at=T0, ttl=timedelta(days=1), planned_date=date(2026, 12, 3)) == (
        T0 + timedelta(days=1))
