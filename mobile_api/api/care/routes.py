"""Continuing home care: re-query without the card (再照会), discharge, and withdrawal at the patient's request."""
from typing import Any

from ...services import care
from ..core import Blueprint, principal, request_json, runtime
from ..verifications.schemas import IdempotencyHeaderSchema
from ..visits.schemas import VisitSchema
from .schemas import (
    CareRelationshipSchema,
    DischargeSchema,
    RelationshipQuerySchema,
    RequerySchema,
    WithdrawalRequestSchema,
    WithdrawalSchema,
)

blp = Blueprint("care", __name__, url_prefix="/api/v1", description="継続的な訪問診療等（再照会）・同意の取消")

_WINDOW_EXAMPLE = {"state": "open", "viewable_now": True, "opens_at": "2026-12-08T00:00:00+00:00",
                   "closes_at": "2026-12-09T00:00:00+00:00", "closed_at": None, "how_to_reopen": None,
                   "message": "同意登録から24時間（2026年12月09日 09:00〈日本時間〉まで）診療／薬剤情報を閲覧できます。"}


@blp.post("/visits/<visit_id>/requery")
@blp.authenticated(staff_on_device=True)
@blp.arguments(IdempotencyHeaderSchema, location="headers")
@blp.arguments(RequerySchema, example={"kinds": ["medication", "clinical"]})
@blp.response(201, VisitSchema, example={
    "id": "5a0c3f7e-0d0e-4b53-a1f5-2f3c9a0c1b11", "created_at": "2026-12-08T00:00:00+00:00", "care_type": 2,
    "form": "home_consent", "method": "requery", "certificate_standing": "not_presented", "eligibility_status": 1,
    "eligibility_label": "有効", "medical_info_allowed": True, "medical_info_window": _WINDOW_EXAMPLE,
    "requery_of": "0b8e6a2c-9a4e-4d4f-8d7e-3c1f0e5d2a90",
    "consent": {"id": "c6f1…", "blanket": False, "kinds": ["clinical", "medication"], "source": "requery",
                "renews_id": "7d2e…", "registered_at": "2026-12-08T00:00:00+00:00",
                "window_closes_at": "2026-12-09T00:00:00+00:00", "withdrawn_at": None},
    "care_relationship": {"id": "3f9a…", "opened_by_visit_id": "0b8e6a2c-9a4e-4d4f-8d7e-3c1f0e5d2a90",
                          "active": True, "ended_at": None, "end_reason": None}})
@blp.problems(404, 409, 422, 503)
def requery(headers: dict[str, Any], body: dict[str, Any], visit_id: str) -> Any:
    """Re-query (再照会) a patient in continuing home care, without the card.

    ``visit_id`` is any visit of the patient at this institution. Allowed only while the care relationship
    opened by a card-verified form ② home-visit visit is active (not discharged, not withdrawn, not idle
    for CARE_RELATIONSHIP_IDLE_DAYS); otherwise 403 ``requery-not-allowed``: only a card verification works.
    Returns a new visit with a fresh qualification and a fresh 24-hour window for the kinds consented at the
    card-verified visit, or the narrower ``kinds`` asked (a wider set is 422 ``consent-would-widen``).
    Retrying with the same Idempotency-Key returns the same visit.
    """
    kinds = body.get("kinds")
    cmd = care.RequeryCommand(kinds=frozenset(kinds) if kinds is not None else None, raw=request_json())
    return care.requery(runtime(), principal(), visit_id, headers["idempotency_key"], cmd)


@blp.get("/care-relationships")
@blp.authenticated(patient_data=True)
@blp.arguments(RelationshipQuerySchema, location="query")
@blp.response(200, CareRelationshipSchema(many=True))
@blp.problems(422)
def list_relationships(query: dict[str, Any]) -> Any:
    """Continuing-care relationships, most recent visit first (active, or when and why they ended)."""
    return care.list_relationships(runtime(), principal(), **query)


@blp.post("/care-relationships/<relationship_id>/discharge")
@blp.authenticated(patient_data=True)
@blp.arguments(DischargeSchema, example={"reason": "入院のため訪問診療を終了"})
@blp.response(200, CareRelationshipSchema, example={
    "id": "3f9a…", "opened_by_visit_id": "0b8e…", "card_visit_id": "0b8e…",
    "opened_at": "2026-12-01T00:00:00+00:00", "last_visit_at": "2026-12-08T00:00:00+00:00", "active": False,
    "ended_at": "2026-12-10T00:00:00+00:00", "end_reason": "discharged", "end_note": "入院のため訪問診療を終了"})
@blp.problems(404, 409, 422)
def discharge(body: dict[str, Any], relationship_id: str) -> Any:
    """End continuing care (discharge): later visits need the card again. Audited with the reason."""
    return care.discharge(runtime(), principal(), relationship_id, body["reason"])


@blp.post("/visits/<visit_id>/consent-withdrawal")
@blp.authenticated(patient_data=True)
@blp.arguments(WithdrawalRequestSchema, example={"note": "訪問時に患者本人から口頭で申し出"})
@blp.response(200, WithdrawalSchema, example={"withdrawn_at": "2026-12-08T01:00:00+00:00",
                                              "consents_withdrawn": 2, "relationships_ended": 1,
                                              "via": "staff_on_request"})
@blp.problems(404, 422)
def withdraw(body: dict[str, Any], visit_id: str) -> Any:
    """Withdraw all of the patient's consents at this institution, at the patient's request (すべての同意を取消す).

    Every open window of that patient here closes at once; a later view is refused with 403
    ``consent-withdrawn``; the continuing-care relationship ends. Recorded as done by staff on request.
    """
    return care.withdraw_on_request(runtime(), principal(), visit_id, body.get("note"))
