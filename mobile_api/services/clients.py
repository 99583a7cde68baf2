"""Machine clients (OAuth 2.0 client credentials, RFC 6749 §4, the usage rate; docs/health-check-api.md).

A health-check institution's reservation system authenticates as a client of its institution,
either with a signed JWT assertion (RFC 7523 ``private_key_jwt``: ES256 or RS256 by a registered
public key, single-use ``jti``, short ``exp``) or with a secret shown once and kept as an argon2id
hash. Up to ``MAX_ACTIVE_CREDENTIALS`` (2) keys or secrets are active at once, so a client rotates
without downtime: add the new one, switch, revoke the old one. Revoking the client (or a key) takes
effect on the next request, because every request re-reads the client row (``principal.py``).
"""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ..adapters import orm
from ..adapters.repository import UnitOfWork
from ..domain.errors import Conflict, DuplicateRecord, NotFound, ValidationFailed
from ..runtime import Runtime
from . import audit, lockout
from .principal import Principal

PRIVATE_KEY_JWT = "private_key_jwt"
CLIENT_SECRET = "client_secret"
AUTH_METHODS = (PRIVATE_KEY_JWT, CLIENT_SECRET)
SCOPE_CHECK = "qualification:check"
SCOPE_BATCH = "qualification:batch"
SCOPES = (SCOPE_CHECK, SCOPE_BATCH)
MAX_ACTIVE_CREDENTIALS = 2


@dataclass(frozen=True)
class NewCredential:
    credential: orm.ApiClientCredential
    secret: str | None = None  # shown once, for client_secret clients


@dataclass(frozen=True)
class NewClient:
    client: orm.ApiClient
    credential: NewCredential


@dataclass(frozen=True)
class ClientView:
    """What the token endpoint needs to authenticate a client: read in one unit of work."""

    id: str
    institution_id: str
    auth_method: str
    scopes: frozenset[str]
    public_keys: dict[str, str] = field(default_factory=dict)  # kid -> PEM
    secret_hashes: tuple[str, ...] = ()


def _public_key(pem: str) -> tuple[str, str]:
    """Normalised PEM and its key id (SHA-256 of the SubjectPublicKeyInfo, hex, first 32)."""
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError) as exc:
        raise ValidationFailed("公開鍵を読み取れません（PEM形式の EC P-256 または RSA 2048ビット以上）。",
                               field="public_key_pem") from exc
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name != "secp256r1":
            raise ValidationFailed("EC の公開鍵は P-256（ES256）である必要があります。", field="public_key_pem")
    elif isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise ValidationFailed("RSA の公開鍵は2048ビット以上（RS256）である必要があります。", field="public_key_pem")
    else:
        raise ValidationFailed("公開鍵は EC P-256 または RSA である必要があります。", field="public_key_pem")
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    normalised = key.public_bytes(serialization.Encoding.PEM,
                                  serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return normalised, hashlib.sha256(der).hexdigest()[:32]


def _check_scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise ValidationFailed(f"scope は {', '.join(SCOPES)} から選んでください。", field="scopes")
    return sorted(set(scopes))


def _new_credential(rt: Runtime, client: orm.ApiClient, public_key_pem: str | None, now: datetime) -> NewCredential:
    if client.auth_method == PRIVATE_KEY_JWT:
        if not public_key_pem:
            raise ValidationFailed("private_key_jwt のクライアントには公開鍵が必要です。", field="public_key_pem")
        pem, kid = _public_key(public_key_pem)
        return NewCredential(orm.ApiClientCredential(client_id=client.id, key_id=kid, public_key_pem=pem,
                                                     created_at=now))
    if public_key_pem:
        raise ValidationFailed("client_secret のクライアントに公開鍵は登録できません。", field="public_key_pem")
    secret = secrets.token_urlsafe(32)
    return NewCredential(orm.ApiClientCredential(client_id=client.id, key_id=f"secret-{secrets.token_hex(8)}",
                                                 secret_hash=rt.passwords.hash(secret), created_at=now), secret)


def create_client(rt: Runtime, actor: Principal | None, *, institution_id: str | None = None, name: str,
                  auth_method: str, scopes: list[str], public_key_pem: str | None = None) -> NewClient:
    """An admin (or the CLI, ``actor=None`` with ``institution_id``) creates a client of the institution."""
    if actor is not None:
        actor.require_admin()
        institution_id = actor.institution_id
    if auth_method not in AUTH_METHODS:
        raise ValidationFailed(f"auth_method は {' / '.join(AUTH_METHODS)} です。", field="auth_method")
    now = rt.clock()
    with rt.uow() as uow:
        if institution_id is None or uow.institutions.get(institution_id) is None:
            raise NotFound("施設が見つかりません。")
        client = uow.api_clients.add(orm.ApiClient(
            institution_id=institution_id, name=name, auth_method=auth_method, scopes=_check_scopes(scopes),
            created_by=actor.user_id if actor else None, created_at=now))
        uow.flush()
        credential = _new_credential(rt, client, public_key_pem, now)
        uow.client_credentials.add(credential.credential)
        uow.flush()
        audit.record(uow, at=now, action="client.create", institution_id=institution_id,
                     user_id=actor.user_id if actor else None, target_type="api_client", target_id=client.id,
                     auth_method=auth_method, scopes=client.scopes, key_id=credential.credential.key_id)
        uow.commit()
        return NewClient(client, credential)


def _owned_client(uow: UnitOfWork, actor: Principal, client_id: str) -> orm.ApiClient:
    return uow.api_clients.owned(client_id, actor.institution_id, "クライアントが見つかりません。")


def list_clients(rt: Runtime, actor: Principal) -> list[tuple[orm.ApiClient, list[orm.ApiClientCredential]]]:
    actor.require_admin()
    with rt.uow() as uow:
        return [(c, list(uow.client_credentials.active_of(c.id)))
                for c in uow.api_clients.of_institution(actor.institution_id)]


def add_credential(rt: Runtime, actor: Principal, client_id: str, public_key_pem: str | None) -> NewCredential:
    """Rotation, step 1: a second key (or secret) next to the current one (at most two active)."""
    actor.require_admin()
    now = rt.clock()
    with rt.uow() as uow:
        client = _owned_client(uow, actor, client_id)
        if client.revoked_at is not None:
            raise Conflict("このクライアントは利用停止されています。")
        uow.institutions.lock(actor.institution_id)  # two concurrent rotations cannot both pass the count
        if len(uow.client_credentials.active_of(client.id)) >= MAX_ACTIVE_CREDENTIALS:
            raise Conflict(f"有効な鍵は{MAX_ACTIVE_CREDENTIALS}つまでです。古い鍵を無効にしてから追加してください。",
                           rule="max-active-credentials")
        credential = _new_credential(rt, client, public_key_pem, now)
        uow.client_credentials.add(credential.credential)
        try:
            uow.flush()
        except DuplicateRecord as exc:
            raise Conflict("この公開鍵はすでに登録されています。", field="public_key_pem") from exc
        audit.record(uow, at=now, action="client.credential.add", institution_id=actor.institution_id,
                     user_id=actor.user_id, target_type="api_client", target_id=client.id,
                     key_id=credential.credential.key_id)
        uow.commit()
        return credential


def revoke_credential(rt: Runtime, actor: Principal, client_id: str, key_id: str) -> None:
    """Rotation, step 2: the old key stops working at once."""
    actor.require_admin()
    now = rt.clock()
    with rt.uow() as uow:
        client = _owned_client(uow, actor, client_id)
        credential = uow.client_credentials.one_by(client_id=client.id, key_id=key_id)
        if credential is None or credential.revoked_at is not None:
            raise NotFound("有効な鍵が見つかりません。")
        credential.revoked_at = now
        audit.record(uow, at=now, action="client.credential.revoke", institution_id=actor.institution_id,
                     user_id=actor.user_id, target_type="api_client", target_id=client.id, key_id=key_id)
        uow.commit()


def revoke_client(rt: Runtime, actor: Principal, client_id: str) -> None:
    """Every token of the client is refused from the next request on."""
    actor.require_admin()
    now = rt.clock()
    with rt.uow() as uow:
        client = _owned_client(uow, actor, client_id)
        if client.revoked_at is None:
            client.revoked_at = now
            audit.record(uow, at=now, action="client.revoke", institution_id=actor.institution_id,
                         user_id=actor.user_id, target_type="api_client", target_id=client.id)
            uow.commit()


# --- used by the token endpoint (api/oauth) -------------------------------------------------------

_CLIENT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def looks_like_client_id(value: str) -> bool:
    """Client ids are uuid4 strings; anything else (NUL, megabytes) never reaches the database."""
    return bool(_CLIENT_ID.fullmatch(value))


def find_for_token(rt: Runtime, client_id: str) -> ClientView | None:
    """The active client with its active credentials, or None (unknown or revoked)."""
    with rt.uow() as uow:
        client = uow.api_clients.get(client_id)
        if client is None or client.revoked_at is not None:
            return None
        credentials = uow.client_credentials.active_of(client.id)
        return ClientView(
            id=client.id, institution_id=client.institution_id, auth_method=client.auth_method,
            scopes=frozenset(client.scopes),
            public_keys={c.key_id: c.public_key_pem for c in credentials if c.public_key_pem},
            secret_hashes=tuple(c.secret_hash for c in credentials if c.secret_hash))


def spend_assertion(rt: Runtime, client_id: str, jti: str, expires_at: datetime) -> bool:
    """Record a client assertion's ``jti``: True the first time, False for a replay (any worker)."""
    with rt.uow() as uow:
        uow.used_client_assertions.add(orm.UsedClientAssertion(id=f"{client_id}:{jti}"[:200], client_id=client_id,
                                                               expires_at=expires_at))
        try:
            uow.commit()
        except DuplicateRecord:
            return False
        return True


def issue_token(rt: Runtime, client: ClientView, scopes: frozenset[str]) -> tuple[str, datetime]:
    """A client access token (≤ 15 min) carrying the client, its institution and the granted scopes."""
    token, expires = rt.tokens.issue_access(subject=client.id, kind="client", institution_id=client.institution_id,
                                            scopes=scopes)
    with rt.uow() as uow:
        audit.record(uow, at=rt.clock(), action="client.token", institution_id=client.institution_id,
                     target_type="api_client", target_id=client.id, scopes=sorted(scopes),
                     client_id=client.id)
        uow.commit()
    return token, expires


def record_token_refusal(rt: Runtime, client_id: str | None, error: str, description: str | None) -> None:
    """Audit a refused token request, against the client's institution when the client is known."""
    known = client_id if client_id and looks_like_client_id(client_id) else None
    with rt.uow() as uow:
        client = uow.api_clients.get(known) if known else None
        audit.record(uow, at=rt.clock(), action="client.token", outcome="refused",
                     institution_id=client.institution_id if client else None, target_type="api_client",
                     target_id=client.id if client else None, reason=error,
                     description=description[:200] if description else None)
        uow.commit()


def _lockout_key(uow: UnitOfWork, client_id: str | None, source: str | None) -> tuple[str, str | None]:
    """A known client's own key (and institution), else the source address's (docs/rules.md)."""
    client = uow.api_clients.get(client_id) if client_id and looks_like_client_id(client_id) else None
    if client is None:
        return lockout.source_key(source), None
    return lockout.client_key(client.id), client.institution_id


def refuse_if_locked(rt: Runtime, client_id: str | None, source: str | None) -> None:
    """Before a token request's secret or assertion is checked: ``SignInLocked`` if the client (or the source
    address, which also stands for unknown clients) is locked."""
    now = rt.clock()
    with rt.uow() as uow:
        key, _ = _lockout_key(uow, client_id, source)
        lockout.refuse_if_locked(uow, sorted({lockout.source_key(source), key}), now)


def count_token_failure(rt: Runtime, client_id: str | None, source: str | None) -> None:
    """A token request whose client did not authenticate counts against the client (or the source)."""
    now = rt.clock()
    with rt.uow() as uow:
        key, institution_id = _lockout_key(uow, client_id, source)
        lockout.count_failure(rt, uow, key, now, institution_id=institution_id, entry="oauth")
        uow.commit()


def forget_token_failures(rt: Runtime, client_id: str) -> None:
    """The client authenticated: its count starts again."""
    with rt.uow() as uow:
        lockout.forget_failures(uow, lockout.client_key(client_id), rt.clock())
        uow.commit()


def unlock(rt: Runtime, actor: Principal, client_id: str) -> bool:
    """An admin lifts a client's sign-in lock at once (audited); True if there was a lock or a count."""
    actor.require_admin()
    now = rt.clock()
    with rt.uow() as uow:
        client = _owned_client(uow, actor, client_id)
        lifted = uow.sign_in_lockouts.unlock(lockout.client_key(client.id))
        audit.record(uow, at=now, action=lockout.UNLOCK_ACTION, institution_id=actor.institution_id,
                     user_id=actor.user_id, device_id=actor.device_id, target_type="api_client",
                     target_id=client.id, lifted=lifted)
        uow.commit()
        return lifted
