"""The device's own EC P-256 key and the short signed assertions that prove it is this device.

The private key never leaves the device; the server keeps the public key from
enrolment and checks each assertion (ES256 JWT, single-use ``jti``, ≤ 5 min).
"""
from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ASSERTION_LIFETIME = timedelta(minutes=2)


def generate_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def save_private_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    """Owner-only permissions from the moment the file exists (no window where others can read it)."""
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    os.chmod(path, 0o600)


def load_private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("device key is not an EC key")
    return key


def make_assertion(key: ec.EllipticCurvePrivateKey, *, device_id: str, audience: str, now: datetime) -> str:
    claims = {
        "iss": device_id, "sub": device_id, "aud": audience, "jti": uuid.uuid4().hex,
        "iat": int(now.timestamp()), "exp": int((now + ASSERTION_LIFETIME).timestamp()),
    }
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": device_id})
