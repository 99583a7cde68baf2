from datetime import UTC, datetime, timedelta

import pytest

from mobile_api.domain.codes import ALL_INFO_KINDS, Form, InfoKind
from mobile_api.domain.consent import ConsentChoice, ViewingWindow, authorize_medical_view
from mobile_api.domain.errors import (
    ConsentWindowClosed,
    FormNeverServesMedicalInfo,
    NoConsentForKind,
    ValidationFailed,
)

REGISTERED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
WINDOW = ViewingWindow.after_registration(REGISTERED)


def view(now, *, form=Form.HOME_CONSENT, kinds=frozenset({InfoKind.MEDICATION}), kind=InfoKind.MEDICATION,
         allowed=True, window=WINDOW):
    authorize_medical_view(form=form, medical_info_allowed=allowed, consented_kinds=kinds, window=window,
                           kind=kind, now=now)


def test_window_is_exactly_24_hours_after_registration():
    assert WINDOW.closes_at - WINDOW.opens_at == timedelta(hours=24)


@pytest.mark.parametrize("offset", [timedelta(0), timedelta(hours=23, minutes=59, seconds=59)])
def test_inside_window_allowed(offset):
    view(REGISTERED + offset)


@pytest.mark.parametrize("offset", [timedelta(hours=24), timedelta(hours=24, microseconds=1), timedelta(days=3)])
def test_at_and_after_24_hours_refused_with_closing_time(offset):
    with pytest.raises(ConsentWindowClosed) as refused:
        view(REGISTERED + offset)
    assert refused.value.extra["window_closed_at"] == (REGISTERED + timedelta(hours=24)).isoformat()
    assert refused.value.extra["how_to_reopen"] == "new-card-verification"


def test_form_three_never_serves_whatever_was_consented():
    with pytest.raises(FormNeverServesMedicalInfo):
        view(REGISTERED, form=Form.QUALIFICATION_ONLY, kinds=ALL_INFO_KINDS)


def test_unconsented_kind_refused_even_inside_window():
    with pytest.raises(NoConsentForKind) as refused:
        view(REGISTERED, kind=InfoKind.SURGERY)
    assert refused.value.extra["rule"] == "consent-kind"


def test_qualification_only_visit_refused():
    with pytest.raises(NoConsentForKind):
        view(REGISTERED, allowed=False, window=None)


def test_blanket_consent_covers_every_kind():
    assert ConsentChoice.of(blanket=True).kinds == ALL_INFO_KINDS
    assert ConsentChoice.of(kinds=["medication"]).kinds == {InfoKind.MEDICATION}


def test_blanket_with_partial_kinds_is_contradictory():
    with pytest.raises(ValidationFailed):
        ConsentChoice.of(blanket=True, kinds=["medication"])
