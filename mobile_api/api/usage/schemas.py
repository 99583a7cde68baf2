import marshmallow as ma

from ..claims.routes import MonthQuerySchema  # noqa: F401  (the same YYYY-MM month in Japan)
from ..fields import Boolean


class UsageCountsSchema(ma.Schema):
    card_visits = ma.fields.Integer(metadata={"description": "Visits verified with the card (PIN or 目視確認)"})
    card_checks = ma.fields.Integer(metadata={"description": "Machine clients' checks with the card"})
    requeries = ma.fields.Integer(metadata={"description": "再照会 in continuing home care (no card)"})
    disaster_lookups = ma.fields.Integer(metadata={"description": "災害時の閲覧 lookups by identifiers (no card)"})
    identifier_checks = ma.fields.Integer(metadata={
        "description": "Machine clients' lookups by identifiers: single checks and batch rows OQS answered"})
    fallback_confirmed = ma.fields.Integer(metadata={
        "description": "Fallback records confirmed online by an identifier lookup (at record time or post hoc)"})


class UsageRateSchema(ma.Schema):
    month = ma.fields.String(metadata={"description": "YYYY-MM (Japan)"})
    institution_code = ma.fields.String()
    card_uses = ma.fields.Integer(metadata={"description": "マイナ保険証利用件数 (numerator)"})
    online_confirmations = ma.fields.Integer(metadata={"description": "オンライン資格確認利用件数 (denominator)"})
    rate = ma.fields.Method("_rate", allow_none=True, metadata={
        "type": "number", "nullable": True,
        "description": "card_uses ÷ online_confirmations (0..1); null for a month with no confirmation"})
    rate_percent = ma.fields.Float(allow_none=True, metadata={"description": "The rate in %, 2 decimals"})
    requery_is_card = Boolean(metadata={
        "description": "Whether re-queries count as card uses (setting USAGE_RATE_REQUERY_IS_CARD)"})
    counts = ma.fields.Nested(UsageCountsSchema)

    def _rate(self, usage):
        return None if usage.rate is None else float(usage.rate)


USAGE_EXAMPLE = {
    "month": "2026-12", "institution_code": "1312345678", "card_uses": 2, "online_confirmations": 5, "rate": 0.4,
    "rate_percent": 40.0, "requery_is_card": False,
    "counts": {"card_visits": 2, "card_checks": 0, "requeries": 1, "disaster_lookups": 0, "identifier_checks": 1,
               "fallback_confirmed": 1}}
