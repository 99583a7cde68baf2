import marshmallow as ma

from ..fields import outside_text


class DeviceCreateSchema(ma.Schema):
    label = outside_text(100, min_length=1, required=True, metadata={"example": "訪問看護タブレット1"})


class DeviceSchema(ma.Schema):
    id = ma.fields.String()
    label = ma.fields.String()
    state = ma.fields.Method("_state", metadata={"type": "string",
                                                 "enum": ["awaiting_enrolment", "enrolled", "revoked"]})
    activation_expires_at = ma.fields.AwareDateTime(allow_none=True)
    enrolled_at = ma.fields.AwareDateTime(allow_none=True)
    revoked_at = ma.fields.AwareDateTime(allow_none=True)
    created_at = ma.fields.AwareDateTime()

    def _state(self, device) -> str:
        if device.revoked_at is not None:
            return "revoked"
        return "enrolled" if device.enrolled_at is not None else "awaiting_enrolment"


class NewDeviceSchema(ma.Schema):
    device = ma.fields.Nested(DeviceSchema)
    activation_code = ma.fields.String(metadata={"description": "12 digits, single use, valid 24 h; shown once"})
    activation_uri = ma.fields.String(metadata={
        "description": "What the QR code encodes: the code and the server's public URL (PUBLIC_BASE_URL, else "
                       "this request's host), so the device is given the URL"})
    activation_qr_svg = ma.fields.String(metadata={"description": "The activation QR code as an SVG document"})


class EnrolSchema(ma.Schema):
    activation_code = ma.fields.String(required=True, validate=ma.validate.Regexp(r"^\d{12}$"))
    public_key_pem = ma.fields.String(required=True, validate=ma.validate.Length(max=2048),
                                      metadata={"description": "The device's EC P-256 public key (PEM, SPKI)"})


class EnrolledSchema(ma.Schema):
    device_id = ma.fields.String()
    institution_code = ma.fields.String()
    institution_name = ma.fields.String()
