"""Claim guidance for a month: which identifiers to bill each visit and fallback record with (①②③)."""
from typing import Any

import marshmallow as ma

from ...services import claims
from ..core import Blueprint, download, principal, runtime
from ..fallback.schemas import ClaimGuidanceSchema

blp = Blueprint("claims", __name__, url_prefix="/api/v1/claims", description="請求の案内（月別・CSV）")


class MonthQuerySchema(ma.Schema):
    month = ma.fields.String(required=True, validate=ma.validate.Regexp(r"^(19|20|21)\d{2}-(0[1-9]|1[0-2])$"),
                             metadata={"description": "The visits' month in Japan (YYYY-MM)", "example": "2026-12"})


class ClaimRowSchema(ma.Schema):
    visit_on = ma.fields.String(metadata={"description": "受診日 (Japan)"})
    kind = ma.fields.String(metadata={"enum": ["visit", "fallback"]})
    method = ma.fields.String()
    id = ma.fields.String()
    patient_reference = ma.fields.String(allow_none=True)
    name = ma.fields.String(allow_none=True, metadata={
        "description": "氏名 as the record knows it: a visit's qualification (OQS); a fallback record's lookup, "
                       "declaration or evidence. null when unknown or destroyed with a settled declaration."})
    name_kana = ma.fields.String(allow_none=True, metadata={"description": "氏名カナ, from the same source as name"})
    copayment_ratio = ma.fields.String(allow_none=True)
    status = ma.fields.String()
    claim_guidance = ma.fields.Nested(ClaimGuidanceSchema)


@blp.get("")
@blp.authenticated(patient_data=True)
@blp.arguments(MonthQuerySchema, location="query")
@blp.response(200, ClaimRowSchema(many=True))
@blp.problems(422)
def month(query: dict[str, Any]) -> Any:
    """Every visit and fallback record of the month with the identifiers to bill and the route (①②③)."""
    return [row.to_dict() for row in claims.for_month(runtime(), principal(), query["month"])]


@blp.get("/csv")
@blp.authenticated(patient_data=True)
@blp.arguments(MonthQuerySchema, location="query")
@blp.response(200, {"type": "string", "format": "binary"}, content_type="text/csv",
              description="UTF-8 with BOM, CRLF; columns: 受診日, 区分, 確認方法, 記録ID, 患者参照, 請求ルート, 保険者番号, "
                          "記号, 番号, 枝番, 一部負担金割合, 摘要, 根拠, 状態, 氏名, 氏名カナ")
@blp.problems(422)
def month_csv(query: dict[str, Any]) -> Any:
    """The month's claim guidance as a CSV file, one row per visit or record."""
    body = claims.to_csv(claims.for_month(runtime(), principal(), query["month"]))
    return download(body, f'claims-{query["month"]}.csv')
