import marshmallow as ma


class TokenRequestSchema(ma.Schema):
    """application/x-www-form-urlencoded (RFC 6749 §4, the usage rate.2)."""

    grant_type = ma.fields.String(required=True, metadata={"enum": ["client_credentials"]})
    scope = ma.fields.String(metadata={"description": "space-separated: qualification:check qualification:batch",
                                       "example": "qualification:check qualification:batch"})
    client_assertion_type = ma.fields.String(metadata={
        "description": "private_key_jwt: urn:ietf:params:oauth:client-assertion-type:jwt-bearer"})
    client_assertion = ma.fields.String(metadata={
        "description": "private_key_jwt: a JWT (ES256/RS256, kid = the key id) with iss = sub = client_id, "
                       "aud = this URL, exp at most CLIENT_ASSERTION_MAX_LIFETIME_SECONDS (3600) ahead, "
                       "a single-use jti"})
    client_id = ma.fields.String(metadata={"description": "client_secret_post"})
    client_secret = ma.fields.String(metadata={"description": "client_secret_post (or HTTP Basic)"})


class TokenSchema(ma.Schema):
    access_token = ma.fields.String()
    token_type = ma.fields.String(metadata={"example": "Bearer"})
    expires_in = ma.fields.Integer(metadata={"description": "seconds (at most 900)", "example": 900})
    scope = ma.fields.String(metadata={"example": "qualification:batch qualification:check"})


class OAuthErrorSchema(ma.Schema):
    """RFC 6749 §5.2."""

    error = ma.fields.String(metadata={"enum": ["invalid_request", "invalid_client", "invalid_grant",
                                                "unauthorized_client", "unsupported_grant_type", "invalid_scope"]})
    error_description = ma.fields.String()
