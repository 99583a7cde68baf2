"""Visits recorded from fallback evidence, synced from the device's outbox when the signal returns; their
numbers updated later, their claims settled (declarations destroyed)."""
from typing import Any

from ...services import fallback
from .. import examples as ex
from ..core import Blueprint, principal, request_json, runtime
from ..verifications.schemas import IdempotencyHeaderSchema
from .schemas import (
    EvidenceSchema,
    FallbackQuerySchema,
    FallbackRecordRequestSchema,
    FallbackRecordSchema,
    IdentifiersUpdateSchema,
    SettleSchema,
)

blp = Blueprint("fallback", __name__, url_prefix="/api/v1/fallback-records",
                description="オンライン資格確認ができないときの記録（事後確認・請求）")


@blp.post("")
@blp.authenticated(staff_on_device=True)
@blp.arguments(IdempotencyHeaderSchema, location="headers")
@blp.arguments(FallbackRecordRequestSchema, example=ex.FALLBACK_REQUEST)
@blp.response(201, FallbackRecordSchema, example=ex.FALLBACK_RECORD)
@blp.problems(422, examples=ex.FALLBACK_REFUSALS)
def record(headers: dict[str, Any], body: dict[str, Any]) -> Any:
    """Record a visit from fallback evidence; it waits for post-hoc confirmation (事後確認).

    The device's time is a claim: more than FALLBACK_FUTURE_SKEW_MINUTES ahead of the server's clock, or a
    visit day more than FALLBACK_MAX_AGE_DAYS before the day of receipt, is refused (422
    ``device-time-refused``). Each method is valid only on its dates (judged by that visit day in Japan) and
    needs its own evidence; oral confirmation only on a revisit (known here, or from the provider's own
    records with ``from_provider_records``), the declaration only on a first visit. No typed field may hold
    an individual number (422). The notice or an
    expired paper card alone (2025-12-02..2026-03-31 only) is looked up online at once and refused unless
    a valid qualification is found. The device's outbox sends its record id as the Idempotency-Key, so a
    resend returns the same record (201) and nothing is recorded twice.
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


@blp.get("/<record_id>")
@blp.authenticated(patient_data=True)
@blp.response(200, FallbackRecordSchema)
@blp.problems(404)
def get_record(record_id: str) -> Any:
    """One record with its claim guidance (①②③)."""
    return fallback.get_record(runtime(), principal(), record_id)


@blp.patch("/<record_id>/identifiers")
@blp.authenticated(patient_data=True)
@blp.arguments(IdentifiersUpdateSchema, example={"insurer_number": "01130012", "symbol": "44100021",
                                                 "number": "1287", "branch_number": "00"})
@blp.response(200, FallbackRecordSchema)
@blp.problems(404, 409, 422)
def update_identifiers(body: dict[str, Any], record_id: str) -> Any:
    """Add the numbers learned later; the record waits for post-hoc confirmation again.

    Only while the record is open (pending or needs attention). The insurer number must pass its check
    digit: the unknown-claim 77777777 is accepted only when settling a claim with route ③.
    """
    return fallback.update_identifiers(runtime(), principal(), record_id, IdentifiersUpdateSchema().dump(body))


@blp.post("/<record_id>/settle")
@blp.authenticated(patient_data=True)
@blp.arguments(SettleSchema, example={"route": 3, "billed": {"insurer_number": "77777777", "number": "77777777"}})
@blp.response(200, FallbackRecordSchema)
@blp.problems(404, 409, 422)
def settle(body: dict[str, Any], record_id: str) -> Any:
    """Mark the claim settled (請求確定): the declaration's personal data is destroyed, and audited.

    Only after post-hoc confirmation (confirmed or needs attention). ``route`` 3 (不詳レセプト) bills with
    every digit "7" (77777777); those numbers are refused with routes 1 and 2. ``route`` 1 bills the current
    numbers: without ``billed`` the record's own guidance must be ① (422 ``current-numbers-needed`` otherwise).
    """
    billed = body.get("billed")
    return fallback.settle(runtime(), principal(), record_id, route=body["route"], billed=billed)
