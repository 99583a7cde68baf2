"""Visits recorded from fallback evidence, synced from the device's outbox when the signal returns."""
from typing import Any


from ...services import fallback
from ..core import Blueprint, principal, request_json, runtime
from ..verifications.schemas import IdempotencyHeaderSchema
from .schemas import EvidenceSchema, FallbackQuerySchema, FallbackRecordRequestSchema, FallbackRecordSchema

blp = Blueprint("fallback", __name__, url_prefix="/api/v1/fallback-records",
                description="オンライン資格確認ができないときの記録（事後確認）")


@blp.post("")
@blp.authenticated(staff_on_device=True)
@blp.arguments(IdempotencyHeaderSchema, location="headers")
@blp.arguments(FallbackRecordRequestSchema)
@blp.response(201, FallbackRecordSchema)
@blp.problems(422)
def record(headers: dict[str, Any], body: dict[str, Any]) -> Any:
    """Record a visit from fallback evidence; it waits for post-hoc confirmation (事後確認).

    The device's outbox sends its record id as the Idempotency-Key, so a resend
    returns the same record (201) and nothing is recorded twice.
    """
    req = fallback.RecordRequest(
        care_type=body["care_type"], form=body["form"], method=body["method"], reason=body["reason"],
        device_recorded_at=body["device_recorded_at"], patient_reference=body["patient_reference"],
        evidence=EvidenceSchema().dump(body["evidence"]), raw=request_json())
    return fallback.record(runtime(), principal(), headers["idempotency_key"], req)


@blp.get("")
@blp.authenticated(patient_data=True)
@blp.arguments(FallbackQuerySchema, location="query")
@blp.response(200, FallbackRecordSchema(many=True))
@blp.problems(422)
def list_records(query: dict[str, Any]) -> Any:
    """The institution's fallback records, newest first; filter by ``status``."""
    return fallback.list_records(runtime(), principal(), **query)
