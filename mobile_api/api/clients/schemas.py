import marshmallow as ma

from ...services.clients import AUTH_METHODS, SCOPES
from ..fields import outside_text

PEM_EXAMPLE = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE...\n-----END PUBLIC KEY-----\n"


class ClientCreateSchema(ma.Schema):
    name = outside_text(100, min_length=1, required=True, metadata={"example": "予約システム"})
    auth_method = ma.fields.String(required=True, validate=ma.validate.OneOf(AUTH_METHODS),
                                   metadata={"example": "private_key_jwt"})
    scopes = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(SCOPES)), load_default=list(SCOPES),
                            validate=ma.validate.Length(min=1, max=len(SCOPES)))
    public_key_pem = ma.fields.String(load_default=None, validate=ma.validate.Length(max=4096),
                                      metadata={"description": "private_key_jwt: EC P-256 or RSA ≥ 2048 (PEM)",
                                                "example": PEM_EXAMPLE})


class CredentialCreateSchema(ma.Schema):
    public_key_pem = ma.fields.String(load_default=None, validate=ma.validate.Length(max=4096),
                                      metadata={"description": "private_key_jwt clients: the new public key; "
                                                               "client_secret clients: omit (a new secret is made)"})


class CredentialSchema(ma.Schema):
    key_id = ma.fields.String(metadata={"description": "the JWT kid to sign assertions with"})
    kind = ma.fields.Method("_kind", metadata={"type": "string", "enum": ["public_key", "secret"]})
    created_at = ma.fields.AwareDateTime()

    def _kind(self, credential) -> str:
        pem = credential.get("public_key_pem") if isinstance(credential, dict) else credential.public_key_pem
        return "public_key" if pem else "secret"


class NewCredentialSchema(CredentialSchema):
    client_secret = ma.fields.String(allow_none=True, metadata={"description": "shown once (client_secret)"})


class ClientSchema(ma.Schema):
    client_id = ma.fields.String(attribute="id")
    name = ma.fields.String()
    auth_method = ma.fields.String()
    scopes = ma.fields.List(ma.fields.String())
    created_at = ma.fields.AwareDateTime()
    revoked_at = ma.fields.AwareDateTime(allow_none=True)
    credentials = ma.fields.List(ma.fields.Nested(CredentialSchema))


class NewClientSchema(ClientSchema):
    client_secret = ma.fields.String(allow_none=True, metadata={"description": "shown once (client_secret)"})
