"""A client's registered public key becomes a JWK of its own type, whatever letters its PEM's base64 holds."""
from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from mobile_api.api.oauth.server import _jwk


def _pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def test_an_ec_key_whose_base64_happens_to_hold_rsa_is_still_an_ec_key() -> None:
    pem = next(p for p in (_pem(ec.generate_private_key(ec.SECP256R1())) for _ in range(200_000)) if "RSA" in p)
    jwk = _jwk(pem, "k1")
    assert jwk["kty"] == "EC" and jwk["crv"] == "P-256" and jwk["kid"] == "k1"


def test_an_rsa_key_is_an_rsa_key() -> None:
    jwk = _jwk(_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)), "k2")
    assert jwk["kty"] == "RSA" and jwk["kid"] == "k2"
