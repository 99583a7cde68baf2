"""Access tokens (JWT, HS256 keyring with ``kid`` for rotation) and device assertions (ES256).

pyjwt checks ``exp``/``iat`` against the system time, but the server's injected
clock is the authority for every window, so those two claims are checked here
against the clock while pyjwt checks signature, algorithm, issuer and audience.
"""
from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import jwt

from ..clock import Clock
from ..domain.errors import Unauthenticated

ACCESS_ALGORITHM = "HS256"
DEVICE_ASSERTION_ALGORITHM = "ES256"
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_opaque_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class AccessClaims:
    subject: str  # a user id, or a device id for device-only tokens
    kind: str  # "staff" (a person, maybe on a device) or "device"
    institution_id: str
    role: str | None
    device_id: str | None
    expires_at: datetime


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

    def issue_access(self, *, subject: str, kind: str, institution_id: str,
                     role: str | None = None, device_id: str | None = None) -> tuple[str, datetime]:
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
        token = jwt.encode(claims, self._keys[self._active_kid], algorithm=ACCESS_ALGORITHM,
                           headers={"kid": self._active_kid})
        return token, expires

    def decode_access(self, token: str) -> AccessClaims:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self._keys.get(kid or "")
            if key is None:
                raise Unauthenticated("アクセストークンの鍵が不明です。もう一度ログインしてください。")
            claims = jwt.decode(
                token, key, algorithms=[ACCESS_ALGORITHM], audience=self.audience, issuer=self.issuer,
                options={"require": REQUIRED_CLAIMS, "verify_exp": False, "verify_iat": False},
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated("アクセストークンが無効です。もう一度ログインしてください。") from exc
        self._check_times(claims)
        if claims.get("knd") not in ("staff", "device") or not isinstance(claims.get("ins"), str):
            raise Unauthenticated("アクセストークンが無効です。")
        return AccessClaims(
            subject=claims["sub"], kind=claims["knd"], institution_id=claims["ins"],
            role=claims.get("role"), device_id=claims.get("dev"),
            expires_at=datetime.fromtimestamp(claims["exp"], timezone.utc),
        )

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
        if claims["sub"] != device_id:
            raise Unauthenticated("端末の署名を確認できませんでした。")
        self._check_times(claims)
        if claims["exp"] - claims["iat"] > max_age.total_seconds():
            raise Unauthenticated("端末の署名の有効時間が長すぎます。")
        return claims

    def _check_times(self, claims: dict[str, Any]) -> None:
        now = self._clock().timestamp()
        if not isinstance(claims.get("exp"), (int, float)) or not isinstance(claims.get("iat"), (int, float)):
            raise Unauthenticated("トークンの時刻が不正です。")
        if now >= claims["exp"]:
            raise Unauthenticated("トークンの有効期限が切れました。もう一度ログインしてください。")
        if claims["iat"] > now + 60:  # a minute of skew for device clocks
            raise Unauthenticated("トークンの発行時刻が未来です。端末の時刻を確認してください。")


def unverified_issuer(assertion: str) -> str | None:
    """The device id an assertion claims to come from, to find the key to check it with."""
    try:
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    issuer = claims.get("iss")
    return issuer if isinstance(issuer, str) else None
