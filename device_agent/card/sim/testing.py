"""Throwaway JPKI-like key material for the virtual card (tests, benchmarks, offline demos).

Lives in the package, not in a tests conftest, because the unit tests, the nfcpy integration tests
and the benchmarks all need the same thing: an RSA-2048 key and a user-authentication style
certificate of realistic size (about 1.2 KB DER, like the real one, so chaining and the READ BINARY
count are exercised) issued by a self-signed throwaway CA. The subject carries no personal data, as
on the real user-authentication certificate. Nothing here is trusted by anything.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from device_agent.card.sim.virtual_card import VirtualJpkiCard

_NOT_BEFORE = dt.datetime(2025, 1, 6, tzinfo=dt.UTC)
# A UUID-derived OID (2.25.*, ITU-T X.667): deliberately not in any real JPKI arc.
_TEST_POLICY = x509.ObjectIdentifier("2.25.329800735698586629295641978511506172918")


@dataclass(frozen=True)
class TestIdentity:
    __test__ = False  # not a pytest test class

    private_key: rsa.RSAPrivateKey
    certificate_der: bytes
    ca_certificate_der: bytes

    def card(self, **options: Any) -> VirtualJpkiCard:
        return VirtualJpkiCard(
            self.private_key, self.certificate_der, ca_certificate_der=self.ca_certificate_der, **options
        )


def make_test_identity(*, serial_hint: str = "SANDBOX") -> TestIdentity:
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    user_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Throwaway Test CA"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "User Authentication CA (not JPKI)"),
        ]
    )
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key(), days=3650)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{serial_hint}-{x509.random_serial_number():x}"[:64]),
        ]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(user_key.public_key())
    user_cert = (
        _builder(subject, ca_name, user_key.public_key(), days=5 * 365)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_digital_signature_only(), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .add_extension(
            x509.CertificatePolicies(
                [
                    x509.PolicyInformation(
                        _TEST_POLICY,
                        ["https://sandbox.invalid/jpki/user-authentication/cps"],
                    )
                ]
            ),
            critical=False,
        )
        .add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        [x509.UniformResourceIdentifier("http://sandbox.invalid/crl/user-authentication.crl")],
                        None,
                        None,
                        None,
                    )
                ]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        x509.oid.AuthorityInformationAccessOID.OCSP,
                        x509.UniformResourceIdentifier("http://sandbox.invalid/ocsp/user-authentication"),
                    ),
                    x509.AccessDescription(
                        x509.oid.AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier("http://sandbox.invalid/ca/user-authentication-ca.der"),
                    ),
                ]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return TestIdentity(
        user_key,
        user_cert.public_bytes(serialization.Encoding.DER),
        ca_cert.public_bytes(serialization.Encoding.DER),
    )


def _builder(subject: x509.Name, issuer: x509.Name, public_key: rsa.RSAPublicKey, *, days: int) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(_NOT_BEFORE)
        .not_valid_after(_NOT_BEFORE + dt.timedelta(days=days))
    )


def _digital_signature_only() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
