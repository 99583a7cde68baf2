"""Visits recorded from fallback evidence when the card cannot be confirmed online (docs/rules.md §5).

A card verification needs the server's challenge, so at a patient's home without
signal the nurse records what was shown instead (the notice or portal screen
with the card, an oral revisit check, a declaration, a qualification
certificate) in the device's outbox. It reaches the server later, each record
exactly once: the device's record id is the Idempotency-Key, so a resend after
a lost answer returns the record already made. Every record starts as
"pending_post_hoc" (事後確認 is still to be done) and is audited.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from ..adapters import orm
from ..adapters.repository import UnitOfWork
from ..domain.codes import CareType, Form
from ..domain.errors import DomainError, ValidationFailed
from ..domain.facility import FacilityKind
from ..domain.fallback import FallbackMethod, FallbackReason  # noqa: F401 - re-exported
from ..domain.insurer import is_valid_insurer_number
from ..runtime import Runtime
from . import audit, idempotency
from .principal import Principal

SCOPE = "fallback.record"
ACTION = "fallback.record"
CLOCK_SKEW_TOLERANCE = timedelta(minutes=5)


class FallbackStatus(str, Enum):
    PENDING_POST_HOC = "pending_post_hoc"  # 事後確認待ち
    CONFIRMED = "confirmed"  # later: confirmed afterwards
    CLAIM_SETTLED = "claim_settled"  # later: declaration data destroyed


@dataclass(frozen=True)
class RecordRequest:
    care_type: CareType
    form: Form
    method: FallbackMethod
    reason: FallbackReason
    device_recorded_at: datetime
    evidence: dict[str, Any] = field(default_factory=dict)  # JSON-ready (dates as ISO strings)
    patient_reference: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)  # the body as sent, for the idempotency hash


def record(rt: Runtime, actor: Principal, idempotency_key: str, request: RecordRequest) -> orm.FallbackRecord:
    actor.require_staff_on_device()
    request_hash = idempotency.request_hash(request.raw)
    now = rt.clock()
    with rt.uow() as uow:
        replay = _replay(uow, actor, idempotency_key, request_hash)
        if replay is not None:
            return replay
        try:
            _check(rt, uow, actor, request)
        except DomainError as refusal:
            uow.rollback()
            # Not remembered under the key: the same body is refused the same way anyway, and a
            # corrected record may still be sent under its own id.
            audit.record_refusal(rt, actor, ACTION, refusal, method=request.method.value,
                                 fallback_reason=request.reason.value)
            raise
        destroy = bool(request.evidence.get("declaration")) or request.method is FallbackMethod.DECLARATION
        row = uow.fallback_records.add(orm.FallbackRecord(
            institution_id=actor.institution_id, device_id=actor.device_id, user_id=actor.user_id,
            care_type=int(request.care_type), form=request.form.value, patient_reference=request.patient_reference,
            method=request.method.value, reason=request.reason.value, evidence=request.evidence,
            device_recorded_at=request.device_recorded_at, received_at=now,
            status=FallbackStatus.PENDING_POST_HOC.value, destroy_after_claim=destroy, created_at=now))
        uow.flush()
        skew = (request.device_recorded_at - now).total_seconds()
        audit.record(uow, at=now, action=ACTION, institution_id=actor.institution_id, user_id=actor.user_id,
                     device_id=actor.device_id, target_type="fallback_record", target_id=row.id,
                     method=row.method, fallback_reason=row.reason, form=row.form, care_type=row.care_type,
                     destroy_after_claim=destroy,
                     device_clock_skew_seconds=int(skew) if skew > CLOCK_SKEW_TOLERANCE.total_seconds() else None)
        idempotency.remember(uow, actor, SCOPE, idempotency_key, request_hash, status=201,
                             response={"fallback_record_id": row.id}, now=now)
        return idempotency.commit_or_replay(uow, row, lambda: _replay(uow, actor, idempotency_key, request_hash))


def list_records(rt: Runtime, actor: Principal, *, status: str | None = None, limit: int = 50,
                 offset: int = 0) -> list[orm.FallbackRecord]:
    """The institution's fallback records, newest first (by the server's clock).

    Patient data: read by an admin or staff on a registered device, one audit row per request
    with the ids returned."""
    actor.require_patient_data_reader()
    with rt.uow() as uow:
        rows = list(uow.fallback_records.recent(actor.institution_id, limit=limit, offset=offset, status=status))
        audit.record(uow, at=rt.clock(), action="fallback.list", institution_id=actor.institution_id,
                     user_id=actor.user_id, device_id=actor.device_id, target_type="fallback_record",
                     count=len(rows), ids=[row.id for row in rows])
        uow.commit()
        return rows


def _check(rt: Runtime, uow: UnitOfWork, actor: Principal, request: RecordRequest) -> None:
    institution = uow.institutions.get(actor.institution_id)
    assert institution is not None
    rt.policy.require(FacilityKind(institution.facility_kind), request.form)
    if request.care_type is CareType.EMERGENCY:
        raise ValidationFailed("救急の資格確認はモバイル端末では行えません。", field="care_type")
    insurer_number = request.evidence.get("insurer_number")
    if insurer_number is not None and not is_valid_insurer_number(insurer_number):
        # A mistyped insurer number is the commonest reason a claim comes back: catch it now.
        raise ValidationFailed("保険者番号に誤りがあります（6桁または8桁で、検証番号が一致する必要があります）。"
                               "お知らせ・資格確認書の番号をもう一度確認してください。",
                               field="evidence/insurer_number")
    if request.evidence.get("declaration") and request.method is not FallbackMethod.DECLARATION:
        raise ValidationFailed("被保険者資格申立書の内容は、確認方法が「申立書」の場合だけ記録できます。",
                               field="evidence/declaration")


def _replay(uow: UnitOfWork, actor: Principal, key: str, request_hash: str) -> orm.FallbackRecord | None:
    stored = idempotency.find(uow, actor, SCOPE, key, request_hash)
    if stored is None:
        return None
    row = uow.fallback_records.get(stored.response["fallback_record_id"])
    assert row is not None
    return row
