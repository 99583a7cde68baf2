from datetime import date

import marshmallow as ma

from ...domain.availability import unavailable_kinds
from ...domain.codes import EligibilityStatus, InfoKind
from ...domain.japanese_dates import jst_date
from ...domain.qualification import name_has_unencodable
from ..fields import Boolean, Paging, no_individual_number
from .notices import notices_for, renewal_for

ELIGIBILITY_LABELS_JA = {
    EligibilityStatus.VALID: "有効",
    EligibilityStatus.INVALID_LOST: "無効（資格喪失）",
    EligibilityStatus.INVALID_NEWER_EXISTS: "無効（新しい資格あり）",
    EligibilityStatus.NO_MATCH: "該当資格なし",
    EligibilityStatus.MULTIPLE_MATCHES: "複数該当",
    EligibilityStatus.VALID_UNREGISTERED: "有効（医療扶助・未登録）",
}

WITHHELD_LABEL_JA = "資格情報なし（保険者が表示を停止）"


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
    id = ma.fields.String(attribute="relationship.id")
    opened_by_visit_id = ma.fields.String(attribute="relationship.opened_by_visit_id")
    active = Boolean(attribute="relationship_status.active")
    ended_at = ma.fields.AwareDateTime(attribute="relationship_status.ended_at", allow_none=True)
    end_reason = ma.fields.String(attribute="relationship_status.end_reason", allow_none=True,
                                  metadata={"description": "discharged | withdrawn | idle"})


# Instances made once, for the nested parts VisitSchema dumps by hand (a Schema() per dump deep-copies its fields).
_WINDOW, _QUALIFICATION, _RELATIONSHIP_REF = WindowSchema(), QualificationSchema(), CareRelationshipRefSchema()


class VisitSchema(ma.Schema):
    id = ma.fields.String(attribute="visit.id")
    created_at = ma.fields.AwareDateTime(attribute="visit.created_at")
    care_type = ma.fields.Integer(attribute="visit.care_type")
    form = ma.fields.String(attribute="visit.form")
    method = ma.fields.String(attribute="visit.method")
    staff_id = ma.fields.String(attribute="visit.user_id")
    device_id = ma.fields.String(attribute="visit.device_id")
    visual_confirmed_by = ma.fields.String(attribute="visit.visual_confirmed_by", allow_none=True)
    patient_reference = ma.fields.String(attribute="visit.patient_reference", allow_none=True)
    certificate_standing = ma.fields.String(attribute="visit.certificate_standing", metadata={
        "description": "valid | expired_in_grace (qualification only) | not_presented (re-query: no card read)"})
    certificate_kind = ma.fields.String(attribute="visit.certificate_kind", allow_none=True)
    eligibility_status = ma.fields.Integer(attribute="visit.eligibility_status")
    eligibility_label = ma.fields.Method("_eligibility_label", metadata={"type": "string"})
    qualification = ma.fields.Method("_qualification", metadata={
        "type": "object", "nullable": True, "description": "The qualification (see QualificationSchema) or null"})
    data_withheld = ma.fields.Method("_withheld", metadata={
        "type": "boolean", "description": "the insurer withheld the data (DV protection): 資格情報なし, status 4 "
                                          "(docs/rules.md §4)"})
    name_has_unencodable = ma.fields.Method("_unencodable", metadata={
        "type": "boolean", "description": "the name shows 「●」 (a character that cannot be encoded, seed 001): "
                                          "confirm the person by the kana name; the notices say so"})
    unavailable_kinds = ma.fields.Method("_unavailable_kinds", metadata={
        "type": "array", "description": "Kinds that cannot hold data for this patient today, with the Japanese "
                                        "reason (特定健診等情報 under 40, seed 002; docs/rules.md §3.6)",
        "items": {"type": "object", "properties": {"kind": {"type": "string", "enum": [k.value for k in InfoKind]},
                                                   "reason": {"type": "string"}}}})
    candidates = ma.fields.Method("_candidates", metadata={"type": "integer"})
    medical_info_allowed = ma.fields.Method("_viewable_now", metadata={
        "type": "boolean", "description": "Medical information can be viewed NOW (the window is open); see window"})
    medical_info_window = ma.fields.Function(lambda view: _WINDOW.dump(view.window),
                                             metadata={"type": "object", "description": "See WindowSchema"})
    consent = ma.fields.Nested(ConsentSchema, allow_none=True)
    requery_of = ma.fields.String(attribute="visit.requery_of", allow_none=True, metadata={
        "description": "A re-query (method=requery): the card-verified visit that opened the relationship"})
    care_relationship = ma.fields.Method("_relationship", metadata={
        "type": "object", "nullable": True, "description": "Continuing home care (see CareRelationshipRefSchema)"})
    notices = ma.fields.Method("_notices", metadata={"type": "array", "items": {"type": "string"},
                                                     "description": "Japanese notes for the person at the device"})
    certificate_renewal = ma.fields.Method("_renewal", metadata={
        "type": "object", "nullable": True,
        "description": "Renewal alert (docs/rules.md §2.4): from CERTIFICATE_RENEWAL_ALERT_MONTHS (3) months before "
                       "the card certificate expires and "
                       "through the grace: {expires_on, usable_until, expired, message}; null otherwise",
        "properties": {"expires_on": {"type": "string", "format": "date"},
                       "usable_until": {"type": "string", "format": "date"},
                       "expired": {"type": "boolean"}, "message": {"type": "string"}}})

    def _renewal(self, view):  # type: ignore[no-untyped-def]
        alert = renewal_for(view.visit)
        if alert is None:
            return None
        return {"expires_on": alert.expires_on.isoformat(), "usable_until": alert.usable_until.isoformat(),
                "expired": alert.expired, "message": alert.message}

    def _eligibility_label(self, view) -> str:  # type: ignore[no-untyped-def]
        if view.visit.result.get("data_withheld"):
            return WITHHELD_LABEL_JA
        return ELIGIBILITY_LABELS_JA[EligibilityStatus(view.visit.eligibility_status)]

    def _qualification(self, view):  # type: ignore[no-untyped-def]
        raw = view.visit.result.get("qualification")
        return _QUALIFICATION.dump(raw) if raw else None

    def _withheld(self, view) -> bool:  # type: ignore[no-untyped-def]
        return bool(view.visit.result.get("data_withheld"))

    def _unencodable(self, view) -> bool:  # type: ignore[no-untyped-def]
        return name_has_unencodable(view.visit.result.get("qualification"))

    def _unavailable_kinds(self, view) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
        raw = (view.visit.result.get("qualification") or {}).get("birth_date")
        today = jst_date(view.now if view.now is not None else view.visit.created_at)  # the server's date in Japan
        kinds = unavailable_kinds(date.fromisoformat(raw) if raw else None, today)
        return [{"kind": kind.value, "reason": reason} for kind, reason in kinds.items()]

    def _candidates(self, view) -> int:  # type: ignore[no-untyped-def]
        return int(view.visit.result.get("candidates") or 0)

    def _notices(self, view) -> list[str]:  # type: ignore[no-untyped-def]
        return notices_for(view.visit, view.consent, view.window)

    def _viewable_now(self, view) -> bool:  # type: ignore[no-untyped-def]
        return view.window.viewable_now

    def _relationship(self, view):  # type: ignore[no-untyped-def]
        return _RELATIONSHIP_REF.dump(view) if view.relationship is not None else None


class MedicalInformationSchema(ma.Schema):
    visit_id = ma.fields.String()
    kind = ma.fields.Function(lambda view: view.kind.value,
                              metadata={"type": "string", "enum": [k.value for k in InfoKind]})
    records = ma.fields.List(ma.fields.Dict())
    window_closes_at = ma.fields.AwareDateTime()
    seconds_left = ma.fields.Function(lambda view: int(view.remaining.total_seconds()), metadata={"type": "integer"})


class VisitQuerySchema(Paging):
    patient_reference = ma.fields.String(load_default=None, validate=[ma.validate.Length(max=64), no_individual_number])
