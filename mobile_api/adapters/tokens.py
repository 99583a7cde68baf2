"""Access tokens (JWT, HS256 keyring with ``kid`` for rotation) and device assertions (ES256).

pyjwt checks ``exp``/``iat`` against the system time, but the server's injected
clock is the authority for every window, so those two claims are checked here
against the clock while pyjwt checks signature, algorithm, issuer and audience.

Times are checked strictly because JSON lets a sender write NaN, Infinity, 1e400
(which parses as infinity), huge integers and booleans (which Python counts as
ints): each is refused as an invalid token, never left to crash a later
conversion. A token may also live no longer than it could have been issued for
(``exp - iat`` and ``exp - now`` both within the lifetime), so a token signed
with a far ``exp`` is refused even if its key leaked once.

An access token's signature check is remembered (``VERIFIED_TOKENS_CACHED`` tokens, least recently used
dropped): a device sends the same token on every request of its 15 minutes, and pyjwt's decode is ~80 µs, the
largest share of authentication's CPU (docs/performance.md). Only what does not change for a given token is
remembered (signature, algorithm, issuer, audience, the claims' shapes); the times are checked against the
clock and the caller is read from the database on every request, so expiry and revocation stay immediate.
"""
from __future__ import annotations

import hashlib
import math
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, TypeGuard

import jwt

from ..clock import Clock
from ..domain.errors import Unauthenticated

ACCESS_ALGORITHM = "HS256"
DEVICE_ASSERTION_ALGORITHM = "ES256"
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]
DEVICE_JTI_MAX = 64  # the width of used_assertions.jti
VERIFIED_TOKENS_CACHED = 4096  # per worker: ~1 KB each; far more than the devices signed in on one worker
CLOCK_SKEW_SECONDS = 60  # tolerated drift between a device's (or another worker's) clock and ours
# Times outside year 1970..9999 are not times any issuer of ours produces (and datetime cannot hold them).
_LATEST_TIMESTAMP = 253402300799
# Device ids are uuid4 strings as the server generates them (str(uuid.uuid4())).
_DEVICE_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# A token id (``jti``) is stored as a key to refuse replays: printable ASCII only, so NUL (which PostgreSQL text
# cannot hold) and lone surrogates (which no driver can encode) are refused as a bad token, never reach the database.
_TOKEN_ID = re.compile(r"[\x21-\x7e]+")


def is_token_id(value: Any, *, min_length: int = 1, max_length: int) -> bool:
    """A ``jti`` that can be spent: a string of printable ASCII characters within the lengths."""
    return isinstance(value, str) and min_length <= len(value) <= max_length and bool(_TOKEN_ID.fullmatch(value))


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_opaque_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class AccessClaims:
    subject: str  # a user id, a device id for device-only tokens, or a machine client's id
    kind: str  # "staff" (a person, maybe on a device), "device", or "client" (a machine client)
    institution_id: str
    role: str | None
    device_id: str | None
    expires_at: datetime
    scopes: frozenset[str] = frozenset()  # a client token's OAuth scopes (RFC 6749 §3.3)


class TokenService:
    def __init__(
        self, *, keys: dict[str, str], active_kid: str, issuer: str, audience: str,
        access_ttl: timedelta, clock: Clock,
    ) -> None:
        if active_kid not in keys:
            raise ValueError("JWT_ACTIVE_KID must name one of JWT_KEYS")
        self._keys = keys
        self._active_kid = active_kid
        self.issuer = issuer
        self.audience = audience
        self.access_ttl = access_ttl
        self._clock = clock
        # lru_cache is thread-safe and never caches a refusal: a bad token costs its full check every time.
        self._verified: Callable[[str], dict[str, Any]] = lru_cache(maxsize=VERIFIED_TOKENS_CACHED)(
            self._verify_access)

    def issue_access(self, *, subject: str, kind: str, institution_id: str,
                     role: str | None = None, device_id: str | None = None,
                     scopes: frozenset[str] | None = None) -> tuple[str, datetime]:
        now = self._clock()
        expires = now + self.access_ttl
        claims: dict[str, Any] = {
            "iss": self.issuer, "aud": self.audience, "sub": subject,
            "iat": int(now.timestamp()), "exp": int(expires.timestamp()), "jti": uuid.uuid4().hex,
            "knd": kind, "ins": institution_id,
        }
        if role:
            claims["role"] = role
        if device_id:
            claims["dev"] = device_id
        if scopes is not None:
            claims["scope"] = " ".join(sorted(scopes))
        token = jwt.encode(claims, self._keys[self._active_kid], algorithm=ACCESS_ALGORITHM,
                           headers={"kid": self._active_kid})
        return token, expires

    def decode_access(self, token: str) -> AccessClaims:
        claims = self._verified(token)
        self._check_times(claims, lifetime=self.access_ttl)
        return AccessClaims(
            subject=claims["sub"], kind=claims["knd"], institution_id=claims["ins"],
            role=claims.get("role"), device_id=claims.get("dev"),
            expires_at=datetime.fromtimestamp(claims["exp"], UTC), scopes=frozenset(claims.get("scope", "").split()),
        )

    def _verify_access(self, token: str) -> dict[str, Any]:
        """What never changes for one token: its key, signature, issuer, audience and the claims' shapes.
        Remembered per token (``_verified``); the caller must not change the dict it returns."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self._keys.get(kid or "")
            if key is None:
                raise Unauthenticated("アクセストークンの鍵が不明です。もう一度ログインしてください。")
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=[ACCESS_ALGORITHM], audience=self.audience, issuer=self.issuer,
                options={"require": REQUIRED_CLAIMS, "verify_exp": False, "verify_iat": False},
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated("アクセストークンが無効です。もう一度ログインしてください。") from exc
        if claims.get("knd") not in ("staff", "device", "client") or not isinstance(claims.get("ins"), str):
            raise Unauthenticated("アクセストークンが無効です。")
        scope = claims.get("scope", "")
        if not isinstance(scope, str) or (claims["knd"] == "client") != ("scope" in claims):
            raise Unauthenticated("アクセストークンが無効です。")
        return claims

    def decode_device_assertion(self, assertion: str, *, public_key_pem: str, device_id: str,
                                max_age: timedelta) -> dict[str, Any]:
        """Check a device's signed assertion: ES256 by its enrolled key, short-lived, for us."""
        try:
            claims = jwt.decode(
                assertion, public_key_pem, algorithms=[DEVICE_ASSERTION_ALGORITHM],
                audience=self.audience, issuer=device_id,
                options={"require": REQUIRED_CLAIMS + ["jti"], "verify_exp": False, "verify_iat": False},
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated("端末の署名を確認できませんでした。") from exc
        if claims["sub"] != device_id or not is_token_id(claims["jti"], max_length=DEVICE_JTI_MAX):
            raise Unauthenticated("端末の署名を確認できませんでした。")
        self._check_times(claims, lifetime=max_age)
        return claims

    def _check_times(self, claims: dict[str, Any], *, lifetime: timedelta) -> None:
        """``iat``/``exp`` are real times, not expired, not from the future, and no longer-lived than issued."""
        exp, iat = claims.get("exp"), claims.get("iat")
        if not (_is_timestamp(exp) and _is_timestamp(iat)):
            raise Unauthenticated("トークンの時刻が不正です。")
        now = self._clock().timestamp()
        longest = math.ceil(lifetime.total_seconds())  # issued times are whole seconds
        if now >= exp:
            raise Unauthenticated("トークンの有効期限が切れました。もう一度ログインしてください。")
        if iat > now + CLOCK_SKEW_SECONDS:
            raise Unauthenticated("トークンの発行時刻が未来です。端末の時刻を確認してください。")
        if exp - iat > longest or exp > now + longest + CLOCK_SKEW_SECONDS:
            raise Unauthenticated("トークンの有効時間が長すぎます。もう一度ログインしてください。")


def _is_timestamp(value: Any) -> TypeGuard[int | float]:
    """A finite number of seconds in 1970..9999: not a bool, NaN, infinity or an integer beyond any float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return 0 <= value <= _LATEST_TIMESTAMP  # False for NaN; bounds ±inf and huge ints


def unverified_issuer(assertion: str) -> str | None:
    """The device id an assertion claims to come from, to find the key to check it with.

    Unverified, so used only if it has the shape of a device id: anything else (NUL,
    lone surrogates, megabytes) never reaches the database as a lookup key.
    """
    try:
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    issuer = claims.get("iss")
    return issuer if isinstance(issuer, str) and _DEVICE_ID.fullmatch(issuer) else None
