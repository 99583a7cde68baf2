"""Disaster-time viewing without the card (災害時の閲覧, docs/rules.md §3.5, seed 004)."""
from typing import Any

from ...services import disaster
from ..core import Blueprint, principal, request_json, runtime
from ..verifications.schemas import IdempotencyHeaderSchema
from ..visits.schemas import VisitSchema
from .schemas import (
    DECLARATION_EXAMPLE,
    LOOKUP_EXAMPLE,
    REFUSED_EXAMPLES,
    VISIT_EXAMPLE,
    DisasterDeclarationQuerySchema,
    DisasterDeclarationSchema,
    DisasterLookupSchema,
)

blp = Blueprint("disaster", __name__, url_prefix="/api/v1/disaster", description="災害時の閲覧（カードなし）")


@blp.get("/declarations")
@blp.authenticated()
@blp.arguments(DisasterDeclarationQuerySchema, location="query")
@blp.response(200, DisasterDeclarationSchema(many=True), example=[DECLARATION_EXAMPLE])
@blp.problems(422)
def declarations(query: dict[str, Any]) -> Any:
    """Declared disasters (as OQS announces them; in the sandbox, ``flask sandbox declare-disaster``), the latest
    start first, each saying whether it is in force today and whether it covers the caller's institution."""
    return disaster.list_declarations(runtime(), principal(), **query)


@blp.post("/lookups")
@blp.authenticated(staff_on_device=True)
@blp.arguments(IdempotencyHeaderSchema, location="headers")
@blp.arguments(DisasterLookupSchema, example=LOOKUP_EXAMPLE)
@blp.response(201, VisitSchema, example=VISIT_EXAMPLE)
@blp.problems(404, 422, 503)
@blp.problems(403, examples=REFUSED_EXAMPLES)
def lookup(headers: dict[str, Any], body: dict[str, Any]) -> Any:
    """Find a patient without the card during a declared disaster, with the patient's oral consent.

    Allowed only while a declaration is in force (its JST days, by the server's clock) for the institution's
    prefecture (the first two digits of its 医療機関等コード), for medication and checkups only; otherwise 403
    ``disaster-viewing-not-allowed`` (``rule``: period, area or kind). Returns a visit (method ``disaster``)
    whose consent (source ``disaster_oral``, recorded by the signed-in staff member) opens the usual 24-hour
    window, closed early when the declared period ends. Read the records with
    ``GET /api/v1/visits/{visit_id}/medical-information/{kind}``. Every lookup, view and refusal is audited.
    Retrying with the same Idempotency-Key returns the same visit.
    """
    cmd = disaster.DisasterLookup(
        insurer_number=body["insurer_number"], symbol=body.get("symbol"), number=body["number"],
        branch_number=body.get("branch_number"), birth_date=body["birth_date"], kinds=frozenset(body["kinds"]),
        oral_consent=body["oral_consent"], care_type=body["care_type"],
        patient_reference=body.get("patient_reference"), raw=request_json())
    return disaster.lookup(runtime(), principal(), headers["idempotency_key"], cmd)
