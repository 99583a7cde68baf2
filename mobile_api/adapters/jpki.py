"""Checks on the card's JPKI user-auth certificate and its signature.

The card signs a SHA-256 DigestInfo of the server's challenge with PKCS#1 v1.5
(docs/rules.md §6), so the server verifies exactly that. The chain is one level:
the user-auth certificate must be issued directly by a trusted JPKI CA.
"""
from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ..domain.errors import CertificateMalformed, CertificateUntrusted, SignatureInvalid

MAX_CERTIFICATE_BYTES = 4096
# The certificate policy that marks a smartphone user-auth certificate (スマホ用電子証明書) issued by the sandbox CA
# (a UUID arc, ITU-T X.667, never a real JPKI OID). Real JPKI smartphone policies are added with the setting
# JPKI_SMARTPHONE_POLICY_OIDS (docs/rules.md §2.4).
SANDBOX_SMARTPHONE_POLICY = x509.ObjectIdentifier("2.25.227305478836393386407212419125936528118")


def load_certificate(der: bytes) -> x509.Certificate:
    if not der or len(der) > MAX_CERTIFICATE_BYTES:
        raise CertificateMalformed("電子証明書の長さが不正です。", field="certificate")
    try:
        certificate = x509.load_der_x509_certificate(der)
        public_key = certificate.public_key()
        # Touch the fields later checks need, so a malformed one fails here, not as a 500.
        certificate.not_valid_before_utc, certificate.not_valid_after_utc, certificate.issuer  # noqa: B018
    except (ValueError, TypeError) as exc:
        raise CertificateMalformed("電子証明書を解析できませんでした。", field="certificate") from exc
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise CertificateMalformed("利用者証明用電子証明書（RSA）ではありません。", field="certificate")
    return certificate


def verify_chain(certificate: x509.Certificate, anchors: list[x509.Certificate]) -> None:
    for anchor in anchors:
        if anchor.subject != certificate.issuer:
            continue
        try:
            certificate.verify_directly_issued_by(anchor)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return
    raise CertificateUntrusted("公的個人認証サービス（JPKI）の認証局が発行した電子証明書ではありません。")


def verify_signature(certificate: x509.Certificate, signature: bytes, message: bytes) -> None:
    public_key = certificate.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    try:
        public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError) as exc:
        raise SignatureInvalid("カードの署名が一致しません。同じカードで最初からやり直してください。") from exc


def is_smartphone_certificate(certificate: x509.Certificate, smartphone_policies: frozenset[str]) -> bool:
    """Phone or card, decided by the certificate itself: a smartphone certificate carries one of the
    smartphone certificate policies. Never from what the device says (its token info is only a claim)."""
    try:
        policies = certificate.extensions.get_extension_for_class(x509.CertificatePolicies).value
    except x509.ExtensionNotFound:
        return False
    return any(p.policy_identifier.dotted_string in smartphone_policies for p in policies)
