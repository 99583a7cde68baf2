import marshmallow as ma

from ..fields import outside_text


class LoginSchema(ma.Schema):
    institution_code = ma.fields.String(required=True, validate=ma.validate.Regexp(r"^\d{10}$"))
    login = outside_text(64, min_length=1, required=True)
    password = ma.fields.String(required=True, load_only=True, validate=ma.validate.Length(min=1, max=256))
    device_assertion = ma.fields.String(
        load_default=None, validate=ma.validate.Length(max=4096),
        metadata={"description": "ES256 JWT signed by the enrolled device's key (iss=sub=device id, aud, iat, "
                                 "exp, jti). With it the token carries both the staff member and the device."})


class RefreshSchema(ma.Schema):
    refresh_token = ma.fields.String(required=True, validate=ma.validate.Length(min=16, max=256))


class DeviceTokenRequestSchema(ma.Schema):
    assertion = ma.fields.String(required=True, validate=ma.validate.Length(max=4096))


class TokenPairSchema(ma.Schema):
    token_type = ma.fields.Constant("Bearer")
    access_token = ma.fields.String()
    access_expires_at = ma.fields.AwareDateTime()
    refresh_token = ma.fields.String()
    refresh_expires_at = ma.fields.AwareDateTime()
    user_id = ma.fields.String()
    device_id = ma.fields.String(allow_none=True)


class DeviceTokenSchema(ma.Schema):
    token_type = ma.fields.Constant("Bearer")
    access_token = ma.fields.String()
    access_expires_at = ma.fields.AwareDateTime()
    device_id = ma.fields.String()


