"""Reading visits and medical information, the audit log, and the date of a withdrawal, against the fake unit of work."""
from __future__ import annotations

from datetime import timedelta

import pytest

from mobile_api.clock import FrozenClock
from mobile_api.domain.codes import CareType, Form, IdentityMethod, InfoKind
from mobile_api.domain.consent import ConsentChoice
from mobile_api.domain.errors import ConsentWindowClosed, Forbidden, NoConsentForKind
from mobile_api.queries.visits import VisitRead
from mobile_api.runtime import Runtime
from mobile_api.services import audit, care, verification, visits
from mobile_api.services.principal import Principal
from tests.unit.mobile_api.services.fakes import FakeDatabase, Tenant, TestCA


def _visit(rt: Runtime, tenant: Tenant, ca: TestCA, *, key: str, patient_reference: str | None = None,
           kinds: tuple[InfoKind, ...] = (InfoKind.MEDICATION,)) -> VisitRead:
    challenge = verification.start(rt, tenant.nurse, verification.StartRequest(
        care_type=CareType.HOME_VISIT, form=Form.HOME_CONSENT, method=IdentityMethod.PIN,
        patient_reference=patient_reference))
    card = ca.issue()
    signature = card.sign(challenge.nonce)
    consent = ConsentChoice.of(kinds=kinds)
    return verification.submit(rt, tenant.nurse, challenge.id, key, verification.SubmitRequest(
        certificate=card.certificate_der, signature=signature, consent=consent, raw={"key": key}))


def test_medical_information_inside_the_window_is_returned_and_outside_it_refused_both_audited(
        rt: Runtime, db: FakeDatabase, clock: FrozenClock, tenant: Tenant, ca: TestCA) -> None:
    visit = _visit(rt, tenant, ca, key="k1")
    clock.advance(seconds=rt.rules.viewing_window.total_seconds() - 1)
    view = visits.view_medical_information(rt, tenant.nurse, visit.id, InfoKind.MEDICATION)
    assert view.records and view.remaining == timedelta(seconds=1)
    (ok,) = db.audit(action="medical_info.view", outcome="ok")
    assert (ok.target_id, ok.detail["records"]) == (visit.id, len(view.records))
    clock.advance(seconds=1)  # the window closes exactly the configured length after registration
    with pytest.raises(ConsentWindowClosed):
        visits.view_medical_information(rt, tenant.nurse, visit.id, InfoKind.MEDICATION)
    (refused,) = db.audit(action="medical_info.view", outcome="refused")
    assert (refused.target_id, refused.detail["reason"]) == (visit.id, ConsentWindowClosed.slug)


def test_a_kind_without_consent_is_refused_and_audited(rt: Runtime, db: FakeDatabase, tenant: Tenant,
                                                       ca: TestCA) -> None:
    visit = _visit(rt, tenant, ca, key="k1", kinds=(InfoKind.MEDICATION,))
    with pytest.raises(NoConsentForKind):
        visits.view_medical_information(rt, tenant.nurse, visit.id, InfoKind.SURGERY)
    assert db.audit(action="medical_info.view", outcome="refused")[0].detail["kind"] == InfoKind.SURGERY.value


def test_a_device_only_token_reads_no_patient_data(rt: Runtime, tenant: Tenant) -> None:
    device_only = Principal(institution_id=tenant.institution_id, user_id=None, role=None,
                            device_id=tenant.device_id)
    with pytest.raises(Forbidden):
        visits.list_visits(rt, device_only, limit=10, offset=0)


def test_the_audit_log_filters_by_time_newest_first(rt: Runtime, clock: FrozenClock, tenant: Tenant,
                                                    ca: TestCA) -> None:
    start = clock()
    _visit(rt, tenant, ca, key="k1")
    clock.advance(hours=1)
    middle = clock()
    _visit(rt, tenant, ca, key="k2")
    events = audit.list_audit(rt, tenant.admin, action="verification.submit", outcome=None, user_id=None,
                              device_id=None, since=middle, until=None, limit=10, offset=0)
    assert [e.at for e in events] == [middle]
    both = audit.list_audit(rt, tenant.admin, action="verification.submit", outcome="ok",
                            user_id=tenant.nurse.user_id, device_id=None, since=start, until=middle + timedelta(
                                microseconds=1), limit=10, offset=0)
    assert [e.at for e in both] == [middle, start]
    assert audit.list_audit(rt, tenant.admin, action="verification.submit", outcome=None, user_id=None,
                            device_id=None, since=None, until=middle, limit=10, offset=0)[0].at == start


def test_a_withdrawal_is_never_dated_before_the_visit_of_a_requery_it_waited_for(
        rt: Runtime, db: FakeDatabase, clock: FrozenClock, tenant: Tenant, ca: TestCA) -> None:
    """docs/rules.md §3.3: the withdrawal ends the relationship first; a re-query that held it and dated its visit
    later than the withdrawal's clock reading committed first, so the withdrawal is dated at that visit."""
    visit = _visit(rt, tenant, ca, key="k1")  # card-verified home visit: opens the care relationship
    later = clock() + timedelta(seconds=5)
    with rt.uow() as uow:
        first = uow.visits.get(visit.id)
        assert first is not None and first.person_ref is not None and first.care_relationship_id is not None
        assert uow.care_relationships.record_visit(first.care_relationship_id, later)
        done = care.withdraw_all(uow, institution_id=tenant.institution_id, person_ref=first.person_ref, now=clock(),
                                 via=care.VIA_STAFF_ON_REQUEST, user_id=None, device_id=None)
        uow.commit()
    assert (done.withdrawn_at, done.consents_withdrawn, done.relationships_ended) == (later, 1, 1)
    with rt.uow() as uow:
        rel = uow.care_relationships.get(first.care_relationship_id)
        assert rel is not None and (rel.ended_at, rel.end_reason) == (later, "withdrawn")
        assert [c.withdrawn_at for c in uow.consents.of_person(tenant.institution_id, first.person_ref)] == [later]
    (event,) = db.audit(action="consent.withdraw")
    assert event.at == later
