"""Single qualification checks for machine clients (health-check institutions), by identifiers or by a card
answer from the institution's own reader (challenge, then the check)."""
from typing import Any

from ...services import qualification
from ..core import Blueprint, principal, request_json, runtime
from ..examples import IDENTIFIER_LOOKUP_NOT_ALLOWED
from .schemas import CHECK_EXAMPLE, CardChallengeSchema, ExamineeSchema, IdempotencyHeaderSchema, OutcomeSchema

blp = Blueprint("qualification_checks", __name__, url_prefix="/api/v1/qualification-checks",
                description="資格確認（APIクライアント・記号番号）")


@blp.post("")
@blp.authenticated(client_scope="qualification:check")
@blp.arguments(IdempotencyHeaderSchema, location="headers")
@blp.arguments(ExamineeSchema, example={"reference": "R-20261201-0001", "insurer_number": "01130012",
                                        "symbol": "44100021", "number": "1287", "branch_number": "00",
                                        "birth_date": "1984-05-12"})
@blp.response(200, OutcomeSchema, example=CHECK_EXAMPLE)
@blp.problems(404, 409, 422, 429, 503)
@blp.problems(403, examples=IDENTIFIER_LOOKUP_NOT_ALLOWED)
def check(headers: dict[str, Any], body: dict[str, Any]) -> Any:
    """Check one examinee's qualification by insurance identifiers, or by ``card`` (form ③: qualification only).

    A lookup by identifiers alone is for the facility kinds ``IDENTIFIER_LOOKUP_FACILITY_KINDS`` names
    (health-check institutions); any other institution gets 403 ``identifier-lookup-not-allowed`` and confirms
    with the card (docs/rules.md §1.1). The insurer number's check digit is verified first: a wrong one is 422 ``insurer-number-invalid`` with
    ``likely_wrong_positions``. With ``card``, the challenge must be this client's, unused and unexpired, and
    the card's certificate and PIN signature valid; a refused answer spends the challenge. Never opens a
    consent. Retrying with the same Idempotency-Key returns the same answer.
    """
    return qualification.check(runtime(), principal(), body, headers["idempotency_key"], request_json())


@blp.post("/challenges")
@blp.authenticated(client_scope="qualification:check")
@blp.response(201, CardChallengeSchema, example={"challenge_id": "5b0e6c1e-2f7a-4c38-9d55-0f3a1f0c2b7e",
                                                 "challenge": "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=",
                                                 "expires_at": "2026-12-01T09:02:00+09:00"})
@blp.problems(429)
def start_card_check() -> Any:
    """Start a card check on the institution's own reader: a single-use challenge for this client that
    expires after 2 minutes. The card signs it after the holder's PIN; send the answer as ``card`` to
    ``POST /qualification-checks``. Qualification only: never a consent or medical information."""
    return qualification.start_card_check(runtime(), principal())
