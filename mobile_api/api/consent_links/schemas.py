import base64

import marshmallow as ma

from ...domain.codes import CareType
from ..fields import Boolean, Paging, outside_text
from ..visits.schemas import WindowSchema

_WINDOW = WindowSchema()  # one instance: a Schema() per dump deep-copies its fields


class LinkCreateSchema(ma.Schema):
    purpose = ma.fields.String(required=True, validate=ma.validate.OneOf(["general", "appointment"]), metadata={
        "description": "general, or appointment (one appointment: planned_date required)"})
    planned_date = ma.fields.Date(load_default=None, metadata={"description": "診療予定日 (appointment only)"})
    care_type = ma.fields.Enum(CareType, by_value=True, load_default=CareType.ONLINE,
                               validate=ma.validate.OneOf([CareType.HOME_VISIT, CareType.ONLINE]),
                               metadata={"description": "2 訪問診療等, 3 オンライン診療等 (default)"})
    note = outside_text(100, "For the institution's own list (not shown to the patient)", load_default=None)


class LinkSchema(ma.Schema):
    id = ma.fields.String()
    purpose = ma.fields.String()
    planned_date = ma.fields.Date(allow_none=True)
    care_type = ma.fields.Integer()
    note = ma.fields.String(allow_none=True)
    created_at = ma.fields.AwareDateTime()
    expires_at = ma.fields.AwareDateTime()
    revoked_at = ma.fields.AwareDateTime(allow_none=True)


class NewLinkSchema(ma.Schema):
    link = ma.fields.Nested(LinkSchema)
    url = ma.fields.String(metadata={"description": "The patient's page (shown once: only a hash is kept)"})
    qr_svg = ma.fields.String(metadata={"description": "The URL as a QR code (SVG), to print for the patient"})
    qr_png = ma.fields.Method("_png", metadata={"type": "string", "format": "byte",
                                                "description": "The same QR code as PNG, base64"})

    def _png(self, obj) -> str:
        return base64.b64encode(obj["qr_png"]).decode()


class LinkQuerySchema(Paging):
    pass


class ConsentQuerySchema(Paging):
    order = ma.fields.String(load_default="registered", validate=ma.validate.OneOf(["registered", "planned_date"]),
                             metadata={"description": "registered (newest first) | planned_date (soonest first)"})
    source = ma.fields.String(load_default=None, validate=ma.validate.OneOf(["card", "requery", "patient_phone"]))


class PatientSummarySchema(ma.Schema):
    name = ma.fields.String(allow_none=True)
    name_kana = ma.fields.String(allow_none=True)
    birth_date = ma.fields.String(allow_none=True)


class RegisteredConsentSchema(ma.Schema):
    """A ``ConsentEntry`` (queries/consents.py)."""

    id = ma.fields.String()
    source = ma.fields.String(metadata={"description": "card | requery | patient_phone"})
    visit_id = ma.fields.String(allow_none=True)
    link_id = ma.fields.String(allow_none=True)
    planned_date = ma.fields.Date(allow_none=True)
    blanket = Boolean()
    kinds = ma.fields.List(ma.fields.String())
    registered_at = ma.fields.AwareDateTime()
    withdrawn_at = ma.fields.AwareDateTime(allow_none=True)
    withdrawn_via = ma.fields.String(allow_none=True)
    window = ma.fields.Function(lambda entry: _WINDOW.dump(entry.window),
                                metadata={"type": "object", "description": "See WindowSchema"})
    patient = ma.fields.Nested(PatientSummarySchema, allow_none=True)
