"""The two round trips of a card verification: start (challenge) and submit."""
from typing import Any

from ...domain.consent import ConsentChoice
from ...services import verification
from .. import examples as ex
from ..core import Blueprint, principal, request_json, runtime
from ..visits.schemas import VisitSchema
from .schemas import ChallengeSchema, IdempotencyHeaderSchema, StartSchema, SubmitSchema

blp = Blueprint("verifications", __name__, url_prefix="/api/v1/verifications", description="資格確認")


@blp.post("")
@blp.authenticated(staff_on_device=True)
@blp.arguments(StartSchema, examples=ex.START_REQUEST)
@blp.response(201, ChallengeSchema, example=ex.CHALLENGE)
@blp.problems(422)
def start(body: dict[str, Any]) -> Any:
    """Start a verification: a single-use challenge that expires after 2 minutes."""
    return verification.start(runtime(), principal(), verification.StartRequest(**body))


@blp.post("/<challenge_id>/submit")
@blp.authenticated(staff_on_device=True)
@blp.arguments(IdempotencyHeaderSchema, location="headers")
@blp.arguments(SubmitSchema, examples=ex.SUBMIT_REQUEST)
@blp.response(201, VisitSchema, example=ex.VISIT)
@blp.problems(404, 409, 503)
@blp.problems(422, examples=ex.CARD_REFUSALS)
def submit(headers: dict[str, Any], body: dict[str, Any], challenge_id: str) -> Any:
    """Submit the card's answer; returns the qualification result and the registered consent.

    Retrying with the same Idempotency-Key returns the same visit (or the same refusal).
    """
    consent = body.get("consent")
    request = verification.SubmitRequest(
        certificate=body["certificate"], signature=body.get("signature"),
        visual_password=body.get("visual_password"), visual_confirmed_by=body.get("visual_confirmed_by"),
        consent=ConsentChoice.of(**consent) if consent is not None else None,
        certificate_kind=body.get("certificate_kind"), raw=request_json())
    return verification.submit(runtime(), principal(), challenge_id, headers["idempotency_key"], request)
