"""JWT signing keys: from configuration, or generated once and kept in the instance folder.

Several workers on one host share the generated file; several hosts must be
given the same ``MOBILE_API_JWT_KEYS`` (and rotate by adding a new kid, making it
active, and removing the old one after the access-token lifetime).

Configured keys are checked at start: an HS256 key anyone can guess (a documented
placeholder, one byte, "x" * 48) lets anyone sign an admin token, so the app
refuses to start rather than run with one. A key must carry at least 256 bits
of randomness as written (43 base64 or 64 hex characters), e.g.
``python -c "import secrets; print(secrets.token_urlsafe(48))"``.
"""
from __future__ import annotations

import json
import math
import os
import secrets
import string
from typing import Any

from flask import Flask

MIN_KEY_BITS = 256
MIN_DISTINCT_CHARACTERS = 12  # a random 43-character base64 key has ~31; 64 hex characters have ~15.7 of 16
GENERATE_HINT = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'
# Values that appear (or appeared) as examples in deploy/, README.md and docs/, and the usual stand-ins.
KNOWN_EXAMPLE_KEYS = frozenset({
    "replace-with-at-least-48-random-bytes-base64",
    "<48+ random bytes>",
    "REPLACE-ME-with-output-of-secrets-token_urlsafe-48",
    "change-me", "changeme", "secret", "password", "test", "dev", "development", "jwt-secret", "your-256-bit-secret",
})
# Words no random key contains by chance (probability ~1e-8) but placeholders do.
_PLACEHOLDER_MARKERS = ("replace", "change-me", "changeme", "example", "placeholder", "your-", "secret",
                        "random-bytes", "generate", "<", ">")
_HEX = frozenset(string.hexdigits)
_BASE64 = frozenset(string.ascii_letters + string.digits + "+/-_")


class WeakSigningKey(ValueError):
    """A configured JWT signing key is missing, malformed or guessable: the app must not start with it."""


def jwt_keys(app: Flask) -> tuple[dict[str, str], str]:
    configured = app.config.get("JWT_KEYS")
    if configured:
        keys = checked_keys(configured)
        return keys, app.config.get("JWT_ACTIVE_KID") or sorted(keys)[-1]
    os.makedirs(app.instance_path, exist_ok=True)
    path = os.path.join(app.instance_path, "jwt-keys.json")
    kid = "k" + secrets.token_hex(4)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({"active": kid, "keys": {kid: secrets.token_urlsafe(48)}}, handle)
    except FileExistsError:
        pass
    with open(path) as handle:
        stored = json.load(handle)
    return stored["keys"], stored["active"]


def checked_keys(configured: Any) -> dict[str, str]:
    """``JWT_KEYS`` as ``{kid: key}``, every key strong; otherwise :class:`WeakSigningKey` (never echoing a key)."""
    if not isinstance(configured, dict):
        raise WeakSigningKey('MOBILE_API_JWT_KEYS は {"鍵ID": "鍵"} の形の JSON オブジェクトで指定してください。'
                             f"鍵の作り方: {GENERATE_HINT}")
    for kid, key in configured.items():
        reason = weakness(key)
        if reason:
            raise WeakSigningKey(f"JWT 署名鍵 {str(kid)[:40]!r} は使えません（{reason}）。"
                                 f"32バイト以上のランダムな鍵を設定してください。鍵の作り方: {GENERATE_HINT}")
    return dict(configured)


def weakness(key: Any) -> str | None:
    """Why ``key`` is guessable, or None: known examples, placeholder words, too little randomness as written."""
    if not isinstance(key, str) or not key:
        return "文字列ではないか空です"
    lowered = key.lower()
    if key in KNOWN_EXAMPLE_KEYS or lowered in KNOWN_EXAMPLE_KEYS:
        return "説明書の例の値です"
    if any(marker in lowered for marker in _PLACEHOLDER_MARKERS):
        return "プレースホルダーのままです"
    if len(set(key)) < MIN_DISTINCT_CHARACTERS or _is_periodic(key):
        return "同じ文字や並びの繰り返しです"
    if _estimated_bits(key) < MIN_KEY_BITS:
        return "短すぎます"
    return None


def _estimated_bits(key: str) -> float:
    """Randomness the text can carry at most: 4 bits per hex digit, 6 per base64 character, ~6.6 otherwise."""
    body = key.rstrip("=")
    if set(body) <= _HEX:
        return 4 * len(body)
    if set(body) <= _BASE64:
        return 6 * len(body)
    return math.log2(95) * len(body)


def _is_periodic(key: str) -> bool:
    """True for a short block repeated to fill the key ("ab" * 32, "0123456789abcdef" * 4)."""
    return any(key == (key[:period] * (len(key) // period + 1))[:len(key)] for period in range(1, len(key) // 2 + 1))
