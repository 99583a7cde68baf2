"""Logins, refresh rotation, staff accounts and device enrolment against the fake unit of work."""
from __future__ import annotations

import pytest

from device_agent.device_key import generate_key, make_assertion, public_key_pem
from mobile_api.adapters import orm
from mobile_api.clock import FrozenClock
from mobile_api.domain.errors import ActivationCodeUsed, Conflict, DuplicateRecord, Unauthenticated
from mobile_api.runtime import Runtime
from mobile_api.services import devices, identity
from tests.unit.mobile_api.services.fakes import STAFF_PASSWORD, FakeDatabase, FakeDevices, Tenant


def _login(rt: Runtime, tenant: Tenant, password: str = STAFF_PASSWORD) -> identity.TokenPair:
    return identity.login(rt, institution_code=tenant.code, login=tenant.nurse_login, password=password)


def test_a_wrong_password_is_refused_and_the_refusal_is_audited(rt: Runtime, db: FakeDatabase,
                                                                tenant: Tenant) -> None:
    with pytest.raises(Unauthenticated):
        _login(rt, tenant, password="wrong-password")
    (refusal,) = db.audit(action="auth.login")
    assert (refusal.outcome, refusal.detail["reason"]) == ("refused", "bad-credentials")
    assert db.rows(orm.RefreshToken) == []


def test_a_second_use_of_a_spent_refresh_token_revokes_the_whole_family(rt: Runtime, db: FakeDatabase,
                                                                       tenant: Tenant) -> None:
    first = _login(rt, tenant)
    rotated = identity.refresh(rt, first.refresh_token)
    with pytest.raises(Unauthenticated) as reuse:
        identity.refresh(rt, first.refresh_token)  # what a thief holding the old token would do
    assert reuse.value.extra["reason"] == "reused"
    with pytest.raises(Unauthenticated) as after:
        identity.refresh(rt, rotated.refresh_token)  # the legitimate holder's token died with the family
    assert after.value.extra["reason"] == "revoked"
    assert all(t.revoked_at is not None for t in db.rows(orm.RefreshToken))
    assert [e.detail["reason"] for e in db.audit(action="auth.refresh", outcome="refused")] == ["reused", "revoked"]


def test_a_duplicate_login_is_a_duplicate_record_naming_the_field(rt: Runtime, db: FakeDatabase,
                                                                  tenant: Tenant) -> None:
    with pytest.raises(DuplicateRecord) as caught:
        identity.create_user(rt, tenant.admin, login=tenant.nurse_login, display_name="同名", role="staff",
                             password="another-password-1")
    assert caught.value.extra["field"] == "login"
    assert db.audit(action="user.create") == []


def test_the_last_active_admin_cannot_be_revoked(rt: Runtime, db: FakeDatabase, tenant: Tenant) -> None:
    with pytest.raises(Conflict) as caught:
        identity.revoke_user(rt, tenant.admin, tenant.admin.user_id or "")
    assert caught.value.extra["rule"] == "last-admin"
    assert all(u.revoked_at is None for u in db.rows(orm.User))


def test_a_used_activation_code_cannot_enrol_a_second_key(rt: Runtime, db: FakeDatabase, tenant: Tenant) -> None:
    new = devices.create_device(rt, tenant.admin, "2台目")
    enrolled = devices.enrol_device(rt, activation_code=new.activation_code, public_key_pem=public_key_pem(
        generate_key()))
    with pytest.raises(ActivationCodeUsed):
        devices.enrol_device(rt, activation_code=new.activation_code, public_key_pem=public_key_pem(generate_key()))
    (row,) = db.rows(orm.Device, id=new.device.id)
    assert row.public_key_pem == enrolled.device.public_key_pem and row.activation_expires_at is None


def test_of_two_enrolments_racing_for_one_code_the_loser_is_refused(rt: Runtime, db: FakeDatabase, tenant: Tenant,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    new = devices.create_device(rt, tenant.admin, "2台目")
    winner_key = public_key_pem(generate_key())
    one_by = FakeDevices.one_by

    def found_then_overtaken(self: FakeDevices, **filters: object) -> orm.Device | None:
        device = one_by(self, **filters)
        monkeypatch.setattr(FakeDevices, "one_by", one_by)
        devices.enrol_device(rt, activation_code=new.activation_code, public_key_pem=winner_key)  # commits first
        return device

    monkeypatch.setattr(FakeDevices, "one_by", found_then_overtaken)
    with pytest.raises(ActivationCodeUsed):
        devices.enrol_device(rt, activation_code=new.activation_code, public_key_pem=public_key_pem(generate_key()))
    assert db.rows(orm.Device, id=new.device.id)[0].public_key_pem == winner_key
    assert [e.detail["reason"] for e in db.audit(action="device.enrol", outcome="refused")] == ["code-already-used"]


def test_a_device_assertion_works_once(rt: Runtime, db: FakeDatabase, clock: FrozenClock, tenant: Tenant) -> None:
    new = devices.create_device(rt, tenant.admin, "2台目")
    key = generate_key()
    devices.enrol_device(rt, activation_code=new.activation_code, public_key_pem=public_key_pem(key))
    assertion = make_assertion(key, device_id=new.device.id, audience=rt.tokens.audience, now=clock())
    token, _, device = devices.device_token(rt, assertion)
    assert rt.tokens.decode_access(token).subject == device.id
    with pytest.raises(Unauthenticated):
        devices.device_token(rt, assertion)
    assert len(db.rows(orm.UsedAssertion)) == 1


def test_a_revoked_devices_assertion_is_audited_without_committing_the_callers_work(
        rt: Runtime, db: FakeDatabase, clock: FrozenClock, tenant: Tenant) -> None:
    new = devices.create_device(rt, tenant.admin, "2台目")
    key = generate_key()
    devices.enrol_device(rt, activation_code=new.activation_code, public_key_pem=public_key_pem(key))
    devices.revoke_device(rt, tenant.admin, new.device.id)
    assertion = make_assertion(key, device_id=new.device.id, audience=rt.tokens.audience, now=clock())
    with rt.uow() as uow:
        uow.used_assertions.add(orm.UsedAssertion(jti="the-callers-own-work", device_id=new.device.id,
                                                  expires_at=clock()))
        with pytest.raises(Unauthenticated):
            devices.check_assertion(rt, uow, assertion)
    assert db.rows(orm.UsedAssertion) == []  # the caller's pending row was not committed by the refusal
    (refusal,) = db.audit(action="device.assert")
    assert (refusal.outcome, refusal.detail["reason"], refusal.actor_device_id) == ("refused", "revoked",
                                                                                    new.device.id)
