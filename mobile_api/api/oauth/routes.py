"""OAuth 2.0 token endpoint for machine clients (client credentials)."""
from typing import Any

from flask import current_app, request

from ...services import lockout
from ..core import Blueprint, runtime
from .schemas import OAuthErrorSchema, TokenRequestSchema, TokenSchema

blp = Blueprint("oauth", __name__, url_prefix="/api/v1/oauth", description="クライアント認証（OAuth 2.0）")


@blp.post("/token")
@blp.doc(requestBody={"required": True, "content": {"application/x-www-form-urlencoded": {
    "schema": TokenRequestSchema,
    "examples": {
        "private_key_jwt": {"value": {
            "grant_type": "client_credentials", "scope": "qualification:check qualification:batch",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": "eyJhbGciOiJFUzI1NiIsImtpZCI6IjNmMmEuLi4ifQ.eyJpc3MiOiIuLi4ifQ.c2ln"}},
        "client_secret_post": {"value": {"grant_type": "client_credentials", "scope": "qualification:check",
                                         "client_id": "6f1c2b9e-3d4a-4f5b-8c7d-9e0f1a2b3c4d",
                                         "client_secret": "shown-once-when-created"}}}}}})
@blp.response(200, TokenSchema, example={"access_token": "eyJhbGciOiJIUzI1NiIsImtpZCI6InRlc3QxIn0.e30.sig",
                                         "token_type": "Bearer", "expires_in": 900,
                                         "scope": "qualification:batch qualification:check"})
@blp.alt_response(400, schema=OAuthErrorSchema, description="RFC 6749 §5.2 error: invalid_request, "
                  "unsupported_grant_type, invalid_scope, and invalid_client for a client that authenticated in "
                  "the form (client_secret_post, private_key_jwt): unknown or revoked client, wrong secret or key, "
                  "expired, replayed or too long-lived assertion, or a client locked after too many failures",
                  example={"error": "invalid_client", "error_description": "exp is too far ahead: this server "
                           "accepts client assertions that expire at most 3600 seconds after now "
                           "(CLIENT_ASSERTION_MAX_LIFETIME_SECONDS)"})
@blp.alt_response(401, schema=OAuthErrorSchema, description="invalid_client for a client that sent the "
                  "Authorization header (client_secret_basic), RFC 6749 §5.2, with WWW-Authenticate: Basic",
                  example={"error": "invalid_client",
                           "error_description": "The client cannot authenticate with methods: "
                                                "['client_secret_basic', 'client_secret_post', 'private_key_jwt']"},
                  headers={"WWW-Authenticate": {"description": "Basic, with error and error_description",
                                                "schema": {"type": "string"}}})
@blp.problems(429)
def token() -> Any:
    """Exchange client credentials for an access token (RFC 6749 §4, the usage rate; private_key_jwt per RFC 7523).

    Errors follow RFC 6749 §5.2 (``{"error": "invalid_client"}``: 401 with ``WWW-Authenticate`` when the client
    used HTTP Basic, 400 otherwise), not problem+json, except 429: too many
    requests from one address answer problem+json ``rate-limited`` with ``Retry-After`` before any secret is
    checked. Too many failures lock the client (docs/rules.md, "Sign-in lock-out"); every refusal is audited.
    """
    lockout.throttle(runtime(), request.remote_addr)
    return current_app.extensions["mobile_api_oauth"].create_token_response()
