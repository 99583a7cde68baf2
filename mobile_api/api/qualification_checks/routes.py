"""Single qualification checks for machine clients (health-check institutions), by identifiers."""
from typing import Any

from ...services import qualification
from ..core import Blueprint, principal, request_json, runtime
from .schemas import CHECK_EXAMPLE, ExamineeSchema, IdempotencyHeaderSchema, OutcomeSchema

blp = Blueprint("qualification_checks", __name__, url_prefix="/api/v1/qualification-checks",
                description="資格確認（APIクライアント・記号番号）")


@blp.post("")
@blp.authenticated(client_scope="qualification:check")
@blp.arguments(IdempotencyHeaderSchema, location="headers")
@blp.arguments(ExamineeSchema, example={"reference": "R-20261201-0001", "insurer_number": "01130012",
                                        "symbol": "44100021", "number": "1287", "branch_number": "00",
                                        "birth_date": "1984-05-12"})
@blp.response(200, OutcomeSchema, example=CHECK_EXAMPLE)
@blp.problems(422, 429, 503)
def check(headers: dict[str, Any], body: dict[str, Any]) -> Any:
    """Check one examinee's qualification by insurance identifiers (form ③: qualification only).

    The insurer number's check digit is verified first: a wrong one is 422 ``insurer-number-invalid`` with
    ``likely_wrong_positions``. Never opens a consent. Retrying with the same Idempotency-Key returns the same
    answer.
    """
    return qualification.check(runtime(), principal(), body, headers["idempotency_key"], request_json())
