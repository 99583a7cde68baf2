import base64

import marshmallow as ma

from ...adapters.jpki import MAX_CERTIFICATE_BYTES
from ...domain.codes import InfoKind
from ...services.patient_phone import CARD_ERRORS
from ..fields import Base64Bytes, Boolean
from ..visits.schemas import WindowSchema

_WINDOW = WindowSchema()  # one instance: a Schema() per dump deep-copies its fields


class KindSchema(ma.Schema):
    kind = ma.fields.String()
    label = ma.fields.String()


class LinkInfoSchema(ma.Schema):
    institution_name = ma.fields.String()
    purpose = ma.fields.String(metadata={"description": "general | appointment"})
    planned_date = ma.fields.Date(allow_none=True)
    care_type = ma.fields.Integer()
    expires_at = ma.fields.AwareDateTime()
    kinds = ma.fields.List(ma.fields.Nested(KindSchema))


class SessionStartSchema(ma.Schema):
    purpose = ma.fields.String(load_default="register", validate=ma.validate.OneOf(["register", "manage"]),
                               metadata={"description": "register (a new consent) | manage (see and withdraw)"})
    blanket = Boolean(load_default=False, metadata={"description": "包括同意: every kind"})
    kinds = ma.fields.List(ma.fields.Enum(InfoKind, by_value=True), load_default=list,
                           validate=ma.validate.Length(max=4))


class PatientConsentSchema(ma.Schema):
    """A ``ConsentEntry`` (queries/consents.py), without the patient's name."""

    id = ma.fields.String()
    source = ma.fields.String()
    blanket = Boolean()
    kinds = ma.fields.List(ma.fields.String())
    registered_at = ma.fields.AwareDateTime()
    planned_date = ma.fields.Date(allow_none=True)
    withdrawn_at = ma.fields.AwareDateTime(allow_none=True)
    window = ma.fields.Function(lambda entry: _WINDOW.dump(entry.window), metadata={"type": "object"})


class SessionSchema(ma.Schema):
    status = ma.fields.String(metadata={"description": "pending | authenticated | refused"})
    purpose = ma.fields.String()
    expires_at = ma.fields.AwareDateTime(metadata={"description": "the challenge's expiry"})
    challenge = ma.fields.String(allow_none=True, metadata={
        "format": "byte", "description": "base64, while pending: the card signs SHA-256 DigestInfo of these bytes"})
    answer_url = ma.fields.String(allow_none=True, metadata={"description": "where the JPKI client posts its answer"})
    consent_id = ma.fields.String(allow_none=True, metadata={"description": "the consent registered"})
    problem = ma.fields.Dict(allow_none=True, metadata={"description": "why it was refused, or a note (Japanese)"})
    manage_until = ma.fields.AwareDateTime(allow_none=True, metadata={
        "description": "until when this page may list and withdraw the patient's consents"})
    consents = ma.fields.List(ma.fields.Nested(PatientConsentSchema), allow_none=True)


class StartedSessionSchema(SessionSchema):
    session_token = ma.fields.String(metadata={"description": "the page's handle on this session (shown once)"})
    status_url = ma.fields.String()
    handoff_uri = ma.fields.String(metadata={
        "description": "mobileoqs-jpki://sign?session=<status_url>: opens the JPKI client on the phone"})


class AnswerSchema(ma.Schema):
    certificate = Base64Bytes(max_bytes=MAX_CERTIFICATE_BYTES, required=True,
                              metadata={"description": "The card's user-auth certificate (DER, base64)"})
    signature = Base64Bytes(max_bytes=512, required=True,
                            metadata={"description": "RSA PKCS#1 v1.5 SHA-256 over the challenge (PIN)"})
    certificate_kind = ma.fields.String(load_default=None, validate=ma.validate.OneOf(["card", "android", "iphone"]))


class CardErrorSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=ma.validate.OneOf(CARD_ERRORS), metadata={
        "description": "wrong-pin (the card refused the PIN; tries may remain) | locked (no tries left)"})
    tries_left = ma.fields.Integer(load_default=None, allow_none=True, validate=ma.validate.Range(min=0, max=15),
                                   metadata={"description": "as the card said (63Cx); shown to the patient only"})


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()
