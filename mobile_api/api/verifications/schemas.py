import base64
from typing import Any

import marshmallow as ma

from ...adapters.jpki import MAX_CERTIFICATE_BYTES
from ...domain.codes import Form, IdentityMethod, InfoKind
from ..fields import Base64Bytes, Boolean, mobile_care_type, outside_text


class StartSchema(ma.Schema):
    care_type = mobile_care_type("1 外来・往診, 2 訪問診療等, 3 オンライン診療等")
    form = ma.fields.Enum(Form, by_value=True, required=True,
                          metadata={"description": "home_consent = ② 居宅同意取得型, qualification_only = ③ 資格確認限定型"})
    method = ma.fields.Enum(IdentityMethod, by_value=True, required=True,
                            validate=ma.validate.OneOf([IdentityMethod.PIN, IdentityMethod.VISUAL]),
                            metadata={"description": "pin = 暗証番号 (the card signs), visual = 目視確認"})
    patient_reference = outside_text(64, "The provider's own patient/examinee reference", load_default=None)


class CardChallengeSchema(ma.Schema):
    """A challenge for the card to sign: a device's verification, or a machine client's card check."""

    challenge_id = ma.fields.String(attribute="id")
    challenge = ma.fields.Method("_nonce", metadata={
        "type": "string", "format": "byte",
        "description": "base64; the card signs SHA-256 DigestInfo of these bytes (PKCS#1 v1.5)"})
    expires_at = ma.fields.AwareDateTime()

    def _nonce(self, challenge: Any) -> str:
        return base64.b64encode(challenge.nonce).decode()


class ChallengeSchema(CardChallengeSchema):
    form = ma.fields.String()
    method = ma.fields.String()
    care_type = ma.fields.Integer()


class ConsentChoiceSchema(ma.Schema):
    blanket = Boolean(load_default=False, metadata={"description": "包括同意: every kind"})
    kinds = ma.fields.List(ma.fields.Enum(InfoKind, by_value=True), load_default=list,
                           validate=ma.validate.Length(max=4))


class SubmitSchema(ma.Schema):
    certificate = Base64Bytes(max_bytes=MAX_CERTIFICATE_BYTES, required=True,
                              metadata={"description": "The card's user-auth certificate (DER, base64)"})
    signature = Base64Bytes(max_bytes=512, load_default=None,
                            metadata={"description": "method=pin: RSA PKCS#1 v1.5 SHA-256 over the challenge"})
    certificate_kind = ma.fields.String(load_default=None, validate=ma.validate.OneOf(["card", "android", "iphone"]))
    visual_password = ma.fields.String(load_default=None, load_only=True, validate=ma.validate.Length(max=128),
                                       metadata={"description": "method=visual: the institution's visual-mode "
                                                                "password (never the card PIN)"})
    visual_confirmed_by = ma.fields.String(load_default=None, validate=ma.validate.Length(max=36),
                                           metadata={"description": "Staff id who compared the photo (default: "
                                                                    "the signed-in staff member)"})
    consent = ma.fields.Nested(ConsentChoiceSchema, load_default=None)


class IdempotencyHeaderSchema(ma.Schema):
    idempotency_key = ma.fields.String(required=True, data_key="Idempotency-Key",
                                       validate=ma.validate.Length(min=8, max=128))
