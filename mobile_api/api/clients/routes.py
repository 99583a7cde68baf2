"""Machine clients of the institution (admin): create, rotate keys or secrets, revoke."""
from typing import Any

from ...services import clients
from ..core import Blueprint, principal, runtime
from .schemas import ClientCreateSchema, ClientSchema, CredentialCreateSchema, NewClientSchema, NewCredentialSchema

blp = Blueprint("clients", __name__, url_prefix="/api/v1/clients", description="APIクライアント（管理者）")


def _client(client: Any, credentials: list[Any], secret: str | None = None) -> dict[str, Any]:
    return {"id": client.id, "name": client.name, "auth_method": client.auth_method, "scopes": client.scopes,
            "created_at": client.created_at, "revoked_at": client.revoked_at, "credentials": credentials,
            "client_secret": secret}


@blp.post("")
@blp.authenticated(admin=True)
@blp.arguments(ClientCreateSchema)
@blp.response(201, NewClientSchema)
@blp.problems(422)
def create(body: dict[str, Any]) -> Any:
    """Create a machine client; a client_secret is shown only in this answer."""
    made = clients.create_client(runtime(), principal(), **body)
    return _client(made.client, [made.credential.credential], made.credential.secret)


@blp.get("")
@blp.authenticated(admin=True)
@blp.response(200, ClientSchema(many=True))
def list_all() -> Any:
    """The institution's clients with their active keys."""
    return [_client(c, creds) for c, creds in clients.list_clients(runtime(), principal())]


@blp.post("/<client_id>/credentials")
@blp.authenticated(admin=True)
@blp.arguments(CredentialCreateSchema)
@blp.response(201, NewCredentialSchema)
@blp.problems(404, 409, 422)
def add_credential(body: dict[str, Any], client_id: str) -> Any:
    """Rotation: add a second key (or secret); at most two are active."""
    made = clients.add_credential(runtime(), principal(), client_id, body.get("public_key_pem"))
    cred = made.credential
    return {"key_id": cred.key_id, "public_key_pem": cred.public_key_pem, "created_at": cred.created_at,
            "client_secret": made.secret}


@blp.delete("/<client_id>/credentials/<key_id>")
@blp.authenticated(admin=True)
@blp.response(204)
@blp.problems(404)
def revoke_credential(client_id: str, key_id: str) -> None:
    """Rotation: the old key stops working at once."""
    clients.revoke_credential(runtime(), principal(), client_id, key_id)


@blp.delete("/<client_id>")
@blp.authenticated(admin=True)
@blp.response(204)
@blp.problems(404)
def revoke(client_id: str) -> None:
    """Revoke the client: its tokens are refused from the next request on."""
    clients.revoke_client(runtime(), principal(), client_id)


@blp.post("/<client_id>/unlock")
@blp.authenticated(admin=True)
@blp.response(204)
@blp.problems(404)
def unlock(client_id: str) -> None:
    """Lift the client's lock at the token endpoint now (it also ends by itself after ``SIGN_IN_LOCK_MINUTES``;
    docs/rules.md, "Sign-in lock-out"). Audited."""
    clients.unlock(runtime(), principal(), client_id)
