import marshmallow as ma

from ...domain.codes import InfoKind
from ..fields import Boolean, Paging, outside_text


class RequerySchema(ma.Schema):
    kinds = ma.fields.List(ma.fields.Enum(InfoKind, by_value=True), load_default=None,
                           validate=ma.validate.Length(max=4), metadata={
                               "description": "A narrower set of the kinds the card-verified visit's consent "
                                              "covered (default: all of them); never wider"})


class DischargeSchema(ma.Schema):
    reason = outside_text(200, "Why continuing care ends (退院・終診・転医 …)", min_length=1, required=True,
                          metadata={"example": "入院のため訪問診療を終了"})


class WithdrawalRequestSchema(ma.Schema):
    note = outside_text(200, "How the patient asked (recorded in the audit log)", load_default=None,
                        metadata={"example": "訪問時に患者本人から口頭で申し出"})


class WithdrawalSchema(ma.Schema):
    withdrawn_at = ma.fields.AwareDateTime()
    consents_withdrawn = ma.fields.Integer()
    relationships_ended = ma.fields.Integer()
    via = ma.fields.String(metadata={"description": "staff_on_request | patient_phone"})


class CareRelationshipSchema(ma.Schema):
    """A ``RelationshipRead`` (queries/care.py)."""

    id = ma.fields.String()
    opened_by_visit_id = ma.fields.String()
    card_visit_id = ma.fields.String(metadata={
        "description": "The latest card-verified visit: its consent caps what re-queries open"})
    opened_at = ma.fields.AwareDateTime()
    last_visit_at = ma.fields.AwareDateTime()
    active = Boolean()
    ended_at = ma.fields.AwareDateTime(allow_none=True)
    end_reason = ma.fields.String(allow_none=True, metadata={"description": "discharged | withdrawn | idle"})
    end_note = ma.fields.String(allow_none=True)


class RelationshipQuerySchema(Paging):
    pass
