"""The OAuth 2.0 token endpoint (client credentials, RFC 6749 §4, the usage rate) on Authlib's Flask server.

Authlib parses the form-encoded request, authenticates the client by one of the registered methods,
checks the grant type and the scope, and answers RFC 6749 §5.2 errors (``invalid_client``,
``invalid_scope``, ``unsupported_grant_type`` ...). This module supplies what is ours: the clients
(``services/clients.py``), the RFC 7523 ``private_key_jwt`` assertion checked against the server's
one clock with a single-use ``jti``, secrets verified against argon2id hashes, and the token itself
(our access-token JWT, kind "client", at most 15 minutes).
"""
from __future__ import annotations

import json
import math
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, InvalidClientError, InvalidScopeError, grants
from authlib.oauth2.rfc6749.util import extract_basic_authorization, scope_to_list
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from flask import Flask, request
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from ...adapters.tokens import CLOCK_SKEW_SECONDS, is_token_id
from ...domain.errors import SignInLocked
from ...runtime import Runtime
from ...services import clients

TOKEN_PATH = "/api/v1/oauth/token"
ASSERTION_ALGORITHMS = ["ES256", "RS256"]


class Client(ClientMixin):
    def __init__(self, rt: Runtime, view: clients.ClientView) -> None:
        self.rt = rt
        self.view = view

    def get_client_id(self) -> str:
        return self.view.id

    def get_default_redirect_uri(self) -> str:
        return ""  # client credentials only: no grant here redirects

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"

    def get_allowed_scope(self, scope: Collection[str] | str | None) -> str:
        """No scope asked: every scope the client holds. One it does not hold: ``invalid_scope``."""
        if not scope:
            return " ".join(sorted(self.view.scopes))
        asked = set(scope_to_list(scope))
        if not asked <= self.view.scopes:
            raise InvalidScopeError(description=f"not granted to this client: {' '.join(sorted(asked - self.view.scopes))}")
        return " ".join(sorted(asked))

    def check_client_secret(self, client_secret: str) -> bool:
        return any(self.rt.passwords.verify(hashed, client_secret) for hashed in self.view.secret_hashes)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.view.auth_method == clients.PRIVATE_KEY_JWT:
            return method == PrivateKeyJWT.CLIENT_AUTH_METHOD
        return method in ("client_secret_basic", "client_secret_post")


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]


class PrivateKeyJWT(JWTBearerClientAssertion):
    """RFC 7523 client assertion: signed by one of the client's active keys (``kid`` picks it), ``iss``
    = ``sub`` = client id, ``aud`` = the token endpoint URL, ``exp`` at most
    ``CLIENT_ASSERTION_MAX_LIFETIME_SECONDS`` ahead by the server's clock (3600: Authlib's ``PrivateKeyJWT``
    as it comes), ``jti`` single use across every worker (kept in the database until at least ``exp``)."""

    CLIENT_AUTH_METHOD = "private_key_jwt"  # type: ignore[misc]  # the stub says Final; Authlib's own subclasses set it

    def __init__(self, rt: Runtime) -> None:
        super().__init__(validate_jti=True, leeway=CLOCK_SKEW_SECONDS)
        self.rt = rt

    def get_audiences(self) -> list[str]:
        return [request.url_root.rstrip("/") + TOKEN_PATH, self.rt.tokens.issuer]

    def resolve_client_public_key(self, client: Client) -> KeySet:
        if not client.view.public_keys:  # a client_secret client named in an assertion (an empty KeySet: 500)
            raise InvalidClientError(description="this client authenticates with its secret, not an assertion")
        return KeySet.import_key_set({"keys": [_jwk(pem, kid) for kid, pem in client.view.public_keys.items()]})

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> dict[str, Any]:
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=ASSERTION_ALGORITHMS)
        except (JoseError, ValueError) as exc:
            raise InvalidClientError(description="the assertion's signature does not verify") from exc
        self.verify_claims(token.claims)
        return token.claims

    def verify_claims(self, claims: dict[str, Any]) -> None:
        """As the library's, but times are judged by the injected clock (docs/architecture.md)."""
        self._verify_parties(claims)
        self._verify_times(claims)
        jti = claims["jti"]
        if not is_token_id(jti, min_length=8, max_length=128):
            raise InvalidClientError(description="jti must be 8 to 128 printable ASCII characters")
        if not self.validate_jti(claims, jti):
            raise InvalidClientError(description="the assertion (jti) was already used")

    def _verify_parties(self, claims: dict[str, Any]) -> None:
        """Every claim present; issued by the client about itself, for this token endpoint."""
        for name in ("iss", "sub", "aud", "exp", "jti"):
            if name not in claims:
                raise InvalidClientError(description=f"missing claim: {name}")
        if claims["sub"] != claims["iss"]:
            raise InvalidClientError(description="iss and sub must both be the client_id")
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if not set(audiences) & set(self.get_audiences()):
            raise InvalidClientError(description="aud must be the token endpoint URL")

    def _verify_times(self, claims: dict[str, Any]) -> None:
        """``exp`` not passed and no further ahead than the setting allows, ``iat`` not in the future."""
        exp, iat = claims["exp"], claims.get("iat")
        if isinstance(exp, bool) or not isinstance(exp, (int, float)) or not math.isfinite(exp):
            raise InvalidClientError(description="exp must be a number")
        now = self.rt.clock().timestamp()
        if now >= exp + CLOCK_SKEW_SECONDS:
            raise InvalidClientError(description="the assertion has expired")
        limit = int(self.rt.rules.client_assertion_max_lifetime.total_seconds())
        if exp > now + limit + CLOCK_SKEW_SECONDS:
            raise InvalidClientError(description=f"exp is too far ahead: this server accepts client assertions "
                                                 f"that expire at most {limit} seconds after now "
                                                 f"(CLIENT_ASSERTION_MAX_LIFETIME_SECONDS)")
        if iat is not None and (isinstance(iat, bool) or not isinstance(iat, (int, float))
                                or iat > now + CLOCK_SKEW_SECONDS):
            raise InvalidClientError(description="iat is in the future")

    def validate_jti(self, claims: dict[str, Any], jti: str) -> bool:
        """Kept until the assertion can no longer be accepted (``exp`` plus the skew), so no replay passes."""
        expires = datetime.fromtimestamp(min(claims["exp"] + CLOCK_SKEW_SECONDS, 253402300799), UTC)
        return clients.spend_assertion(self.rt, claims["sub"], jti, expires)


def _jwk(pem: str, kid: str) -> dict[str, Any]:
    """A registered public key as a JWK, its type read from the key itself: a guess from the PEM's text failed
    (a 500) when an EC key's base64 happened to hold the letters "RSA"."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_public_key
    from joserfc.jwk import import_key

    key = import_key(pem, "RSA" if isinstance(load_pem_public_key(pem.encode()), rsa.RSAPublicKey) else "EC")
    return {**key.as_dict(private=False), "kid": kid}


def claimed_client_id(oauth_request: Any) -> str | None:
    """Who the request says it is, before anything is verified: ``client_id`` of the form, the user of HTTP
    Basic, or the ``sub`` of a client assertion. For the lock-out and the audit only; never trusted."""
    form = oauth_request.form or {}
    if isinstance(form.get("client_id"), str):
        return str(form["client_id"])
    try:
        basic_user, _ = extract_basic_authorization(oauth_request.headers)
    except ValueError:  # not UTF-8
        basic_user = None
    if basic_user:
        return str(basic_user)
    assertion = form.get("client_assertion")
    if isinstance(assertion, str):
        try:
            sub = json.loads(jws.extract_compact(assertion.encode()).payload).get("sub")
        except (JoseError, ValueError, TypeError, AttributeError):
            return None
        return sub if isinstance(sub, str) else None
    return None


def refuse_malformed_basic(oauth_request: Any) -> None:
    """An Authorization header Authlib cannot split or decode (``Basic`` with nothing after it, credentials not
    UTF-8) is a client that failed to authenticate, not a 500."""
    try:
        extract_basic_authorization(oauth_request.headers)
    except ValueError as exc:
        raise InvalidClientError(description="the Authorization header is not valid HTTP Basic") from exc


def invalid_client_status(oauth_request: Any) -> int:
    """RFC 6749 §5.2: a client that tried the Authorization header (client_secret_basic) gets 401 with
    ``WWW-Authenticate: Basic`` (Authlib adds it to every 401); a client that authenticated in the form
    (client_secret_post, private_key_jwt) gets 400, whichever check refused it."""
    return 401 if oauth_request.headers.get("Authorization") else 400


class TokenServer(AuthorizationServer):
    """Authlib's server with the one sign-in lock-out of every entry (services/lockout.py) around client
    authentication, every ``invalid_client`` with the status RFC 6749 §5.2 asks (``invalid_client_status``),
    and every refused token request audited (``client.token``, outcome refused)."""

    def __init__(self, app: Flask, rt: Runtime, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.rt = rt

    def authenticate_client(self, oauth_request: Any, methods: Collection[str], endpoint: str = "token") -> Any:
        try:
            return self._authenticate(oauth_request, methods, endpoint)
        except InvalidClientError as refused:
            refused.status_code = invalid_client_status(oauth_request)
            raise

    def _authenticate(self, oauth_request: Any, methods: Collection[str], endpoint: str) -> Any:
        claimed, source = claimed_client_id(oauth_request), request.remote_addr
        try:
            clients.refuse_if_locked(self.rt, claimed, source)
        except SignInLocked as locked:
            raise InvalidClientError(description="locked after too many failed attempts; retry after "
                                                 f"{locked.extra['retry_after']} seconds") from locked
        try:
            refuse_malformed_basic(oauth_request)
            client = super().authenticate_client(oauth_request, methods, endpoint)
        except InvalidClientError:
            clients.count_token_failure(self.rt, claimed, source)
            raise
        clients.forget_token_failures(self.rt, client.get_client_id())
        return client

    def handle_error_response(self, oauth_request: Any, error: Any) -> Any:
        clients.record_token_refusal(self.rt, claimed_client_id(oauth_request), error.error, error.description)
        return super().handle_error_response(oauth_request, error)


def build_server(app: Flask, rt: Runtime) -> AuthorizationServer:
    def query_client(client_id: Any) -> Client | None:
        if not isinstance(client_id, str) or not clients.looks_like_client_id(client_id):
            return None
        view = clients.find_for_token(rt, client_id)
        return Client(rt, view) if view is not None else None

    def save_token(token: dict[str, Any], oauth_request: Any) -> None:
        return None  # access tokens are self-contained JWTs; issuing is audited in the generator

    server = TokenServer(app, rt, query_client=query_client, save_token=save_token)

    def generate(grant_type: str, client: Client, user: Any = None, scope: str | None = None,
                 expires_in: int | None = None, include_refresh_token: bool = False) -> dict[str, Any]:
        scopes = frozenset(scope_to_list(client.get_allowed_scope(scope)) or [])
        token, expires = clients.issue_token(rt, client.view, scopes)
        return {"access_token": token, "token_type": "Bearer",
                "expires_in": max(0, int((expires - rt.clock()).total_seconds())), "scope": " ".join(sorted(scopes))}

    server.register_token_generator("default", generate)  # type: ignore[arg-type]  # any callable; the stub names a class
    server.register_grant(ClientCredentialsGrant)
    server.register_client_auth_method(PrivateKeyJWT.CLIENT_AUTH_METHOD, PrivateKeyJWT(rt))
    return server
