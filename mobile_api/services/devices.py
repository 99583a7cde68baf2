"""Registered devices (OUR RULE, docs/rules.md §2.3): a one-time 12-digit activation code,
then the device's own EC P-256 key; every later call is bound to that device."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ..adapters import orm
from ..adapters.repository import UnitOfWork
from ..adapters.tokens import sha256_hex, unverified_issuer
from ..domain.errors import ActivationCodeUsed, Conflict, DuplicateRecord, Unauthenticated, ValidationFailed
from ..domain.japanese_dates import hours_ja
from ..runtime import Runtime
from . import audit
from .principal import Principal


@dataclass(frozen=True)
class NewDevice:
    device: orm.Device
    activation_code: str  # shown once; only its hash is kept


def new_activation_code() -> str:
    return f"{secrets.randbelow(10**12):012d}"


def create_device(rt: Runtime, actor: Principal, label: str) -> NewDevice:
    actor.require_admin()
    now = rt.clock()
    code = new_activation_code()
    with rt.uow() as uow:
        device = uow.devices.add(orm.Device(
            institution_id=actor.institution_id, label=label, activation_code_hash=sha256_hex(code),
            activation_expires_at=now + rt.rules.activation_code_ttl, created_by=actor.user_id, created_at=now))
        uow.flush()
        audit.record(uow, at=now, action="device.create", institution_id=actor.institution_id,
                     user_id=actor.user_id, device_id=actor.device_id, target_type="device", target_id=device.id)
        uow.commit()
        return NewDevice(device, code)


def _load_p256_public_key(pem: str) -> str:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError) as exc:
        raise ValidationFailed("公開鍵を読み取れません（PEM形式のEC P-256公開鍵が必要です）。", field="public_key_pem") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ValidationFailed("公開鍵はEC P-256である必要があります。", field="public_key_pem")
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@dataclass(frozen=True)
class Enrolled:
    device: orm.Device
    institution: orm.Institution


def enrol_device(rt: Runtime, *, activation_code: str, public_key_pem: str) -> Enrolled:
    """Single use: once a device enrolled with the code, it can never enrol a second key (409 on a second use,
    which the device tells apart from a wrong or expired code)."""
    key_pem = _load_p256_public_key(public_key_pem)
    now = rt.clock()
    with rt.uow() as uow:
        device = uow.devices.one_by(activation_code_hash=sha256_hex(activation_code))
        if device is not None and device.enrolled_at is not None and device.revoked_at is None:
            audit.record(uow, at=now, action="device.enrol", outcome="refused", institution_id=device.institution_id,
                         target_type="device", target_id=device.id, reason="code-already-used")
            uow.commit()
            raise ActivationCodeUsed()
        if (device is None or device.revoked_at is not None or device.activation_expires_at is None
                or now >= device.activation_expires_at):
            audit.record(uow, at=now, action="device.enrol", outcome="refused",
                         institution_id=device.institution_id if device else None,
                         target_type="device", target_id=device.id if device else None,
                         reason="unknown-code" if device is None else "expired-or-revoked")
            uow.commit()
            raise Unauthenticated(f"アクティベーションコードが無効か、有効期限（{hours_ja(rt.rules.activation_code_ttl)}）"
                                  "が切れています。")
        institution_id, device_id = device.institution_id, device.id
        if not uow.devices.claim_activation(device_id, device.activation_code_hash or "", public_key_pem=key_pem,
                                            now=now):
            # Another enrolment with the same code won the conditional update a moment ago.
            uow.rollback()
            _audit_enrol_refusal(rt, institution_id, device_id, "code-already-used")
            raise ActivationCodeUsed()
        uow.devices.reload(device)
        audit.record(uow, at=now, action="device.enrol", institution_id=device.institution_id,
                     device_id=device.id, target_type="device", target_id=device.id)
        institution = uow.institutions.get(device.institution_id)
        assert institution is not None
        uow.commit()
        return Enrolled(device, institution)


def _audit_enrol_refusal(rt: Runtime, institution_id: str, device_id: str, reason: str) -> None:
    with rt.uow() as uow:
        audit.record(uow, at=rt.clock(), action="device.enrol", outcome="refused", institution_id=institution_id,
                     target_type="device", target_id=device_id, reason=reason)
        uow.commit()


def check_assertion(rt: Runtime, uow: UnitOfWork, assertion: str) -> orm.Device:
    """Verify a device's signed assertion and spend its ``jti`` (no replay)."""
    now = rt.clock()
    device_id = unverified_issuer(assertion)
    device = uow.devices.get(device_id) if device_id else None
    if device is None or device.public_key_pem is None:
        raise Unauthenticated("端末が登録されていません。")
    if device.revoked_at is not None:
        # The caller's unit of work is the caller's: it is rolled back with the refusal, never committed here.
        # The refusal is audited in a unit of its own, as every refusal is (audit.record_refusal).
        uow.rollback()
        _audit_revoked_assertion(rt, device)
        raise Unauthenticated("この端末は登録が取り消されています。管理者に連絡してください。")
    claims = rt.tokens.decode_device_assertion(assertion, public_key_pem=device.public_key_pem, device_id=device.id,
                                               max_age=rt.rules.device_assertion_max_age)
    uow.used_assertions.add(orm.UsedAssertion(jti=claims["jti"], device_id=device.id,
                                              expires_at=datetime.fromtimestamp(claims["exp"], now.tzinfo)))
    try:
        uow.flush()
    except DuplicateRecord as exc:  # the jti was spent, perhaps by a concurrent request a moment ago
        uow.rollback()
        raise Unauthenticated("この端末署名はすでに使われています。") from exc
    return device


def _audit_revoked_assertion(rt: Runtime, device: orm.Device) -> None:
    with rt.uow() as uow:
        audit.record(uow, at=rt.clock(), action="device.assert", outcome="refused",
                     institution_id=device.institution_id, device_id=device.id, reason="revoked")
        uow.commit()


def device_token(rt: Runtime, assertion: str) -> tuple[str, datetime, orm.Device]:
    with rt.uow() as uow:
        device = check_assertion(rt, uow, assertion)
        token, expires = rt.tokens.issue_access(subject=device.id, kind="device", institution_id=device.institution_id)
        audit.record(uow, at=rt.clock(), action="auth.device_token", institution_id=device.institution_id,
                     device_id=device.id)
        uow.commit()
        return token, expires, device


def list_devices(rt: Runtime, actor: Principal) -> list[orm.Device]:
    actor.require_admin()
    with rt.uow() as uow:
        return list(uow.devices.of_institution(actor.institution_id))


def revoke_device(rt: Runtime, actor: Principal, device_id: str) -> orm.Device:
    actor.require_admin()
    now = rt.clock()
    with rt.uow() as uow:
        device = uow.devices.owned(device_id, actor.institution_id, "端末が見つかりません。")
        if device.revoked_at is not None:
            raise Conflict("この端末はすでに取り消されています。")
        device.revoked_at = now
        device.activation_code_hash = None
        uow.refresh_tokens.revoke_where(now, device_id=device.id)
        uow.console_sessions.end_where(now, "device-revoked", device_id=device.id)
        audit.record(uow, at=now, action="device.revoke", institution_id=actor.institution_id,
                     user_id=actor.user_id, device_id=actor.device_id, target_type="device", target_id=device.id)
        uow.commit()
        return device
