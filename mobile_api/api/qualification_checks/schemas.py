from typing import Any

import marshmallow as ma

from ...adapters.jpki import MAX_CERTIFICATE_BYTES
from ..fields import Base64Bytes, Boolean, no_individual_number, outside_text
from ..verifications.schemas import CardChallengeSchema, IdempotencyHeaderSchema  # noqa: F401  (shared)

QUALIFICATION_EXAMPLE: dict[str, Any] = {
    "insurance_card_kind": "被保険者証", "insurer_number": "01130012", "insurer_name": "全国健康保険協会 東京支部",
    "symbol": "44100021", "number": "1287", "branch_number": "00", "relationship": "insured",
    "head_of_household_name": None, "name": "佐藤 健一", "name_kana": "サトウ ケンイチ", "sex": "1",
    "birth_date": "1984-05-12", "address": "東京都世田谷区三軒茶屋九丁目9番9号", "postcode": "154-0024",
    "acquired_on": "2006-04-01", "lost_on": None, "loss_reason": None, "issued_on": "2024-12-02",
    "valid_from": "2006-04-01", "valid_until": None, "copayment_ratio": "030", "preschool": False,
    "elderly_certificate": None, "limit_category": "ウ", "specified_diseases": []}


class CardAnswerSchema(ma.Schema):
    """The card's answer to a challenge from ``POST /qualification-checks/challenges`` (PIN only)."""

    challenge_id = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=36))
    certificate = Base64Bytes(max_bytes=MAX_CERTIFICATE_BYTES, required=True,
                              metadata={"description": "The card's user-auth certificate (DER, base64)"})
    signature = Base64Bytes(max_bytes=512, required=True,
                            metadata={"description": "RSA PKCS#1 v1.5 SHA-256 over the challenge (after the PIN)"})


IDENTIFIERS_REQUIRED = ("insurer_number", "number", "birth_date")
IDENTIFIERS = (*IDENTIFIERS_REQUIRED, "symbol", "branch_number")


class ExamineeSchema(ma.Schema):
    """Identifiers as the reservation system holds them (full-width characters and a missing 枝番 are fine),
    or instead ``card``: the answer of the card on the institution's own reader. insurer_number, number and
    birth_date are required unless ``card`` is sent; with ``card`` no identifier is sent."""

    reference = outside_text(64, "your own examinee reference (echoed back)", load_default=None,
                             metadata={"example": "R-20261201-0001"})
    card = ma.fields.Nested(CardAnswerSchema, load_default=None,
                            metadata={"description": "instead of the identifiers: the card's answer to a challenge"})
    insurer_number = ma.fields.String(validate=ma.validate.Length(max=16),
                                      metadata={"description": "保険者番号 (8 digits, 6 for 国保; check digit verified)",
                                                "example": "01130012"})
    symbol = ma.fields.String(load_default=None, allow_none=True, validate=[ma.validate.Length(max=40), no_individual_number],
                              metadata={"description": "記号", "example": "44100021"})
    number = ma.fields.String(validate=[ma.validate.Length(max=40), no_individual_number],
                              metadata={"description": "番号", "example": "1287"})
    branch_number = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=4),
                                     metadata={"description": "枝番 (2 digits; omit if unknown)", "example": "00"})
    birth_date = ma.fields.Date(metadata={"example": "1984-05-12"})

    @ma.validates_schema
    def _identifiers_or_card(self, data, **kwargs) -> None:
        if data.get("card") is not None:
            sent = [name for name in IDENTIFIERS if data.get(name) is not None]
            if sent:
                raise ma.ValidationError({name: ["カードで確認するときは記号番号等を送らないでください。"]
                                          for name in sent})
            return
        missing = [name for name in IDENTIFIERS_REQUIRED if data.get(name) is None]
        if missing:
            required = ma.fields.Field.default_error_messages["required"]  # 必須の項目です。 (api/messages_ja.py)
            raise ma.ValidationError({name: [required] for name in missing})


class RowErrorSchema(ma.Schema):
    type = ma.fields.String(metadata={"example": "insurer-number-invalid"})
    title = ma.fields.String()
    detail = ma.fields.String()
    field = ma.fields.String()
    likely_wrong_positions = ma.fields.List(ma.fields.Integer(), metadata={"description": "1-based digits"})


class OutcomeSchema(ma.Schema):
    reference = ma.fields.String(allow_none=True)
    outcome = ma.fields.String(metadata={"enum": ["checked", "error", "pending"]})
    eligibility_status = ma.fields.Integer(allow_none=True, metadata={
        "description": "資格有効性 1 valid, 2 lost, 3 newer exists, 4 no match, 5 several matches, "
                       "6 valid (医療扶助, not registered)"})
    valid = Boolean(allow_none=True)
    qualification = ma.fields.Dict(allow_none=True, metadata={"description": "the qualification OQS holds "
                                                                             "(docs/rules.md §4); no medical information"})
    candidates = ma.fields.Integer()
    data_withheld = Boolean(metadata={"description": "the insurer withheld the data (DV protection): "
                                                                "資格情報なし, status 4 (docs/rules.md §4)"})
    name_has_unencodable = Boolean(load_default=False, metadata={
        "description": "the name shows 「●」 (a character that cannot be encoded, seed 001): confirm the person "
                       "by the kana name (docs/rules.md §4)"})
    messages = ma.fields.List(ma.fields.String())
    error = ma.fields.Nested(RowErrorSchema, allow_none=True)


CHECK_EXAMPLE = {"reference": "R-20261201-0001", "outcome": "checked", "eligibility_status": 1, "valid": True,
                 "qualification": QUALIFICATION_EXAMPLE, "candidates": 0, "data_withheld": False,
                 "name_has_unencodable": False, "messages": [],
                 "error": None}
