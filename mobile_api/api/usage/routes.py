"""The usage rate (マイナ保険証利用率, seed 000) per month, with the counts behind it, as JSON or CSV."""
from typing import Any

from ...services import usage
from ..core import Blueprint, download, principal, runtime
from .schemas import USAGE_EXAMPLE, MonthQuerySchema, UsageRateSchema

blp = Blueprint("usage", __name__, url_prefix="/api/v1/usage-rate", description="マイナ保険証利用率（月別）")


@blp.get("")
@blp.authenticated()
@blp.arguments(MonthQuerySchema, location="query")
@blp.response(200, UsageRateSchema, example=USAGE_EXAMPLE)
@blp.problems(422)
def month(query: dict[str, Any]) -> Any:
    """利用率 = マイナ保険証利用件数 ÷ オンライン資格確認利用件数 (seed 000) for the month, with the counts.

    What counts as what is in docs/rules.md §4, the usage rate: card uses are visits verified with the card (PIN or 目視確認)
    and machine clients' card checks; online confirmations add re-queries, disaster-time lookups, identifier
    lookups and fallback records confirmed online. A month with no confirmation has ``rate`` null.
    """
    return usage.for_month(runtime(), principal(), query["month"])


@blp.get("/csv")
@blp.authenticated()
@blp.arguments(MonthQuerySchema, location="query")
@blp.response(200, {"type": "string", "format": "binary"}, content_type="text/csv",
              description="UTF-8 with BOM, CRLF; columns: " + ", ".join(usage.CSV_COLUMNS))
@blp.problems(422)
def month_csv(query: dict[str, Any]) -> Any:
    """The month's rate and counts as a one-row CSV file."""
    body = usage.to_csv(usage.for_month(runtime(), principal(), query["month"]))
    return download(body, f'usage-rate-{query["month"]}.csv')
