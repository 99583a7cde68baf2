"""Visits as the API writes them: the schemas serialise read models (queries/visits.py) and compute nothing."""
from typing import Any

import marshmallow as ma

from ...domain.codes import InfoKind
from ...queries.visits import VisitRead
from ..fields import Boolean, Paging, outside_text


class ElderlyCertificateSchema(ma.Schema):
    valid_from = ma.fields.String()
    valid_until = ma.fields.String(allow_none=True)
    copayment_ratio = ma.fields.String()


class SpecifiedDiseaseSchema(ma.Schema):
    category = ma.fields.String()
    monthly_limit_yen = ma.fields.Integer()


class QualificationSchema(ma.Schema):
    insurance_card_kind = ma.fields.String()
    insurer_number = ma.fields.String()
    insurer_name = ma.fields.String()
    symbol = ma.fields.String(allow_none=True)
    number = ma.fields.String()
    branch_number = ma.fields.String(allow_none=True)
    relationship = ma.fields.String(metadata={"description": "insured 本人 | dependant 家族"})
    head_of_household_name = ma.fields.String(allow_none=True)
    name = ma.fields.String()
    name_kana = ma.fields.String()
    sex = ma.fields.String()
    birth_date = ma.fields.String()
    address = ma.fields.String(allow_none=True)
    postcode = ma.fields.String(allow_none=True)
    acquired_on = ma.fields.String(allow_none=True)
    lost_on = ma.fields.String(allow_none=True)
    loss_reason = ma.fields.String(allow_none=True)
    issued_on = ma.fields.String(allow_none=True)
    valid_from = ma.fields.String(allow_none=True)
    valid_until = ma.fields.String(allow_none=True)
    copayment_ratio = ma.fields.String(metadata={"description": "\"030\" = 30 %"})
    preschool = Boolean()
    elderly_certificate = ma.fields.Nested(ElderlyCertificateSchema, allow_none=True)
    limit_category = ma.fields.String(allow_none=True)
    specified_diseases = ma.fields.List(ma.fields.Nested(SpecifiedDiseaseSchema))


class ConsentSchema(ma.Schema):
    id = ma.fields.String()
    blanket = Boolean()
    kinds = ma.fields.List(ma.fields.String())
    registered_at = ma.fields.AwareDateTime()
    window_closes_at = ma.fields.AwareDateTime(attribute="expires_at")
    withdrawn_at = ma.fields.AwareDateTime(allow_none=True)
    source = ma.fields.String(metadata={"description": "card | requery | patient_phone"})
    renews_id = ma.fields.String(allow_none=True, metadata={"description": "requery: the card consent it renews"})


class WindowSchema(ma.Schema):
    """Whether medical information can be viewed *now*, or when and why the window closed."""

    state = ma.fields.String(metadata={"description": "open | not_open | closed | withdrawn | none"})
    viewable_now = Boolean()
    opens_at = ma.fields.AwareDateTime(allow_none=True)
    closes_at = ma.fields.AwareDateTime(allow_none=True)
    closed_at = ma.fields.AwareDateTime(allow_none=True, metadata={"description": "when it closed (closed, withdrawn)"})
    how_to_reopen = ma.fields.String(allow_none=True, metadata={
        "description": "requery (continuing care is active: no card needed) | new-card-verification"})
    message = ma.fields.String(metadata={"description": "Japanese, for the person at the device"})


class CareRelationshipRefSchema(ma.Schema):
    id = ma.fields.String()
    opened_by_visit_id = ma.fields.String()
    active = Boolean()
    ended_at = ma.fields.AwareDateTime(allow_none=True)
    end_reason = ma.fields.String(allow_none=True, metadata={"description": "discharged | withdrawn | idle"})


# Instances made once, for the nested parts VisitSchema dumps by hand (a Schema() per dump deep-copies its fields).
_WINDOW, _QUALIFICATION, _RELATIONSHIP_REF = WindowSchema(), QualificationSchema(), CareRelationshipRefSchema()


def _renewal(read: VisitRead) -> dict[str, Any] | None:
    alert = read.renewal
    if alert is None:
        return None
    return {"expires_on": alert.expires_on.isoformat(), "usable_until": alert.usable_until.isoformat(),
            "expired": alert.expired, "message": alert.message}


class VisitSchema(ma.Schema):
    """A ``VisitRead``: the services answer a read (GET) and a write (verification, re-query, disaster lookup)
    alike with one, so the schema only serialises."""

    id = ma.fields.String()
    created_at = ma.fields.AwareDateTime()
    care_type = ma.fields.Integer()
    form = ma.fields.String()
    method = ma.fields.String()
    staff_id = ma.fields.String()
    device_id = ma.fields.String()
    visual_confirmed_by = ma.fields.String(allow_none=True)
    patient_reference = ma.fields.String(allow_none=True)
    certificate_standing = ma.fields.String(metadata={
        "description": "valid | expired_in_grace (qualification only) | not_presented (re-query: no card read)"})
    certificate_kind = ma.fields.String(allow_none=True)
    eligibility_status = ma.fields.Integer()
    eligibility_label = ma.fields.Function(lambda read: read.eligibility_label, metadata={"type": "string"})
    qualification = ma.fields.Function(
        lambda read: _QUALIFICATION.dump(read.qualification) if read.qualification else None, metadata={
            "type": "object", "nullable": True, "description": "The qualification (see QualificationSchema) or null"})
    data_withheld = ma.fields.Function(lambda read: read.data_withheld, metadata={
        "type": "boolean", "description": "the insurer withheld the data (DV protection): 資格情報なし, status 4 "
                                          "(docs/rules.md §4)"})
    name_has_unencodable = ma.fields.Function(lambda read: read.name_has_unencodable, metadata={
        "type": "boolean", "description": "the name shows 「●」 (a character that cannot be encoded, seed 001): "
                                          "confirm the person by the kana name; the notices say so"})
    unavailable_kinds = ma.fields.Function(
        lambda read: [{"kind": u.kind, "reason": u.reason} for u in read.unavailable_kinds], metadata={
            "type": "array", "description": "Kinds that cannot hold data for this patient today, with the Japanese "
                                            "reason (特定健診等情報 under 40, seed 002; docs/rules.md §3.6)",
            "items": {"type": "object", "properties": {"kind": {"type": "string",
                                                                "enum": [k.value for k in InfoKind]},
                                                       "reason": {"type": "string"}}}})
    candidates = ma.fields.Function(lambda read: read.candidates, metadata={"type": "integer"})
    medical_info_allowed = ma.fields.Function(lambda read: read.window.viewable_now, metadata={
        "type": "boolean", "description": "Medical information can be viewed NOW (the window is open); see window"})
    medical_info_window = ma.fields.Function(lambda read: _WINDOW.dump(read.window),
                                             metadata={"type": "object", "description": "See WindowSchema"})
    consent = ma.fields.Nested(ConsentSchema, allow_none=True)
    requery_of = ma.fields.String(allow_none=True, metadata={
        "description": "A re-query (method=requery): the card-verified visit that opened the relationship"})
    care_relationship = ma.fields.Function(
        lambda read: _RELATIONSHIP_REF.dump(read.care_relationship) if read.care_relationship else None, metadata={
            "type": "object", "nullable": True, "description": "Continuing home care (see CareRelationshipRefSchema)"})
    notices = ma.fields.Function(lambda read: list(read.notices), metadata={
        "type": "array", "items": {"type": "string"}, "description": "Japanese notes for the person at the device"})
    certificate_renewal = ma.fields.Function(_renewal, metadata={
        "type": "object", "nullable": True,
        "description": "Renewal alert (docs/rules.md §2.4): from CERTIFICATE_RENEWAL_ALERT_MONTHS (3) months before "
                       "the card certificate expires and "
                       "through the grace: {expires_on, usable_until, expired, message}; null otherwise",
        "properties": {"expires_on": {"type": "string", "format": "date"},
                       "usable_until": {"type": "string", "format": "date"},
                       "expired": {"type": "boolean"}, "message": {"type": "string"}}})


class MedicalInformationSchema(ma.Schema):
    visit_id = ma.fields.String()
    kind = ma.fields.Function(lambda view: view.kind.value,
                              metadata={"type": "string", "enum": [k.value for k in InfoKind]})
    records = ma.fields.List(ma.fields.Dict())
    window_closes_at = ma.fields.AwareDateTime()
    seconds_left = ma.fields.Function(lambda view: int(view.remaining.total_seconds()), metadata={"type": "integer"})


class VisitQuerySchema(Paging):
    patient_reference = outside_text(64, load_default=None)
