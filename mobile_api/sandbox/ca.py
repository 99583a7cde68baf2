"""The sandbox's own test JPKI CA and the user-auth certificates it issues.

The server checks a card's certificate chain against ``gateway.trust_anchors()``,
so the sandbox needs a CA of its own: clearly named as a SANDBOX, never real
JPKI. It lives in the database (table ``sandbox_ca``) so every worker and every
restart trusts the same root and resolves the same people.

Certificates carry no personal data in the subject, like JPKI's user-auth
certificates. A real OQS finds the person through JPKI's own records of who was
issued which certificate; the sandbox has no such records, so it writes the
persona id into a sandbox-only, non-critical private extension
(``PERSONA_OID``) and reads it back in ``persona_id_of``.

A smartphone's certificate (the ``android`` variant) carries the certificate policy
``SANDBOX_SMARTPHONE_POLICY``, so the server tells phone from card by the certificate
itself, as it must with real JPKI (docs/rules.md §2.4: no grace after a phone's expiry).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import String, Text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from ..adapters.jpki import SANDBOX_SMARTPHONE_POLICY
from ..adapters.orm import Base
from ..clock import Clock
from ..domain.certificate import add_months
from .personas import PersonaBook

Variant = Literal["card", "android"]
CA_RECORD_ID = "default"
# Generated once (UUID arc, ITU-T X.667); identifies "persona id" in sandbox certificates only.
PERSONA_OID = x509.ObjectIdentifier("2.25.322476938963033368284873958992653914704")
TOKENS: dict[str, bytes] = {"card": b"JPKIAPICCTOKEN2", "android": b"JPKIAPGPSETOKEN"}
CA_NAME = x509.Name(
    [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI Sandbox"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "SANDBOX - NOT REAL JPKI"),
        x509.NameAttribute(NameOID.COMMON_NAME, "JPKI sandbox user-auth CA"),
    ]
)
_EXPIRED_MONTHS = {"expired_1m": 1, "expired_4m": 4}


class SandboxCARecord(Base):
    """The one persisted sandbox CA (``id`` is always ``"default"``)."""

    __tablename__ = "sandbox_ca"

    id: Mapped[str] = mapped_column(String(16), primary_key=True, default=CA_RECORD_ID)
    key_pem: Mapped[str] = mapped_column(Text)
    certificate_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


def _seconds(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("certificate times must be aware datetimes")
    return moment.replace(microsecond=0)


def _utf8_string(text: str) -> bytes:
    raw = text.encode("utf-8")
    if len(raw) > 255:
        raise ValueError("persona id too long")
    return b"\x0c" + (bytes([len(raw)]) if len(raw) < 128 else b"\x81" + bytes([len(raw)])) + raw


def persona_id_of(certificate: x509.Certificate) -> str | None:
    """The persona id in a sandbox certificate, or None when there is none to read."""
    try:
        value = certificate.extensions.get_extension_for_oid(PERSONA_OID).value
    except x509.ExtensionNotFound:
        return None
    der = getattr(value, "value", b"")
    if len(der) < 2 or der[0] != 0x0C:
        return None
    if der[1] < 0x80:
        length, start = der[1], 2
    elif der[1] == 0x81 and len(der) > 2:
        length, start = der[2], 3
    else:
        return None
    if len(der) != start + length:
        return None
    try:
        return der[start:].decode("utf-8")
    except UnicodeDecodeError:
        return None


@dataclass(frozen=True)
class IssuedCard:
    """A virtual card: what a device agent needs to answer like a My Number card."""

    persona_id: str
    variant: Variant
    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate
    pin: str | None  # None for a face-recognition card

    @property
    def certificate_der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def token(self) -> bytes:
        """Token info (EF 0006) telling a plastic card from an Android phone."""
        return TOKENS[self.variant]

    def private_key_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def save(self, directory: Path | str) -> Path:
        """Write key.pem (0600), cert.der and card.json into ``directory``."""
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        fd = os.open(target / "key.pem", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as key_file:
            os.fchmod(key_file.fileno(), 0o600)
            key_file.write(self.private_key_pem())
        (target / "cert.der").write_bytes(self.certificate_der)
        meta = {"persona_id": self.persona_id, "variant": self.variant, "token": self.token.decode(), "pin": self.pin}
        (target / "card.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        return target

    @classmethod
    def load(cls, directory: Path | str) -> IssuedCard:
        source = Path(directory)
        meta = json.loads((source / "card.json").read_text(encoding="utf-8"))
        key = serialization.load_pem_private_key((source / "key.pem").read_bytes(), password=None)
        certificate = x509.load_der_x509_certificate((source / "cert.der").read_bytes())
        if not isinstance(key, rsa.RSAPrivateKey) or key.public_key() != certificate.public_key():
            raise ValueError(f"{source}: key.pem does not match cert.der")
        if meta["variant"] not in TOKENS or TOKENS[meta["variant"]].decode() != meta.get("token"):
            raise ValueError(f"{source}: card.json has an unknown variant or token")
        return cls(meta["persona_id"], meta["variant"], key, certificate, meta.get("pin"))


class SandboxCA:
    """Root CA "JPKI sandbox user-auth CA" and issuer of persona certificates."""

    def __init__(
        self,
        private_key: rsa.RSAPrivateKey,
        certificate: x509.Certificate,
        personas: PersonaBook | None = None,
    ) -> None:
        self.private_key = private_key
        self.certificate = certificate
        self.personas = personas or PersonaBook.default()
        # The person_ref key is derived from the CA key, so it is shared wherever the CA is.
        der = private_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        self._ref_key = hashlib.sha256(b"mobile_api sandbox person_ref v1\x00" + der).digest()

    @classmethod
    def generate(cls, now: datetime, personas: PersonaBook | None = None) -> SandboxCA:
        """A fresh root (in memory); ``load_or_create`` is the way to get the shared one."""
        now = _seconds(now)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        certificate = (
            x509.CertificateBuilder()
            .subject_name(CA_NAME)
            .issuer_name(CA_NAME)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=3650))  # covers back-dated card certificates
            .not_valid_after(now + timedelta(days=3650 * 3))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(key, certificate, personas)

    @classmethod
    def load_or_create(
        cls, session_factory: sessionmaker[Session], clock: Clock, *, personas: PersonaBook | None = None
    ) -> SandboxCA:
        """The persisted CA, created on first use; when workers race, the first insert wins."""
        with session_factory() as session:
            record = session.get(SandboxCARecord, CA_RECORD_ID)
            if record is not None:
                return cls.from_record(record, personas)
            fresh = cls.generate(clock(), personas)
            session.add(fresh.to_record(clock()))
            try:
                session.commit()
                return fresh
            except IntegrityError:
                session.rollback()
                record = session.get(SandboxCARecord, CA_RECORD_ID)
                if record is None:
                    raise
                return cls.from_record(record, personas)

    @classmethod
    def from_record(cls, record: SandboxCARecord, personas: PersonaBook | None = None) -> SandboxCA:
        key = serialization.load_pem_private_key(record.key_pem.encode(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("sandbox CA key is not RSA")
        return cls(key, x509.load_pem_x509_certificate(record.certificate_pem.encode()), personas)

    def to_record(self, created_at: datetime) -> SandboxCARecord:
        key_pem = self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return SandboxCARecord(
            id=CA_RECORD_ID,
            key_pem=key_pem.decode(),
            certificate_pem=self.certificate.public_bytes(serialization.Encoding.PEM).decode(),
            created_at=created_at,
        )

    def person_ref(self, persona_id: str) -> str:
        """OQS's opaque, stable handle for a person: never the individual number."""
        return "sbx-" + hmac.new(self._ref_key, persona_id.encode(), hashlib.sha256).hexdigest()[:20]

    def issue_certificate(
        self,
        public_key: rsa.RSAPublicKey,
        *,
        persona_id: str | None,
        not_before: datetime,
        not_after: datetime,
        smartphone: bool = False,
    ) -> x509.Certificate:
        """A user-auth certificate; ``persona_id=None`` makes one nobody can be resolved from; ``smartphone``
        marks it with the smartphone certificate policy."""
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI Sandbox"),
                x509.NameAttribute(NameOID.SERIAL_NUMBER, secrets.token_hex(16).upper()),
            ]
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(_seconds(not_before))
            .not_valid_after(_seconds(not_after))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(digital_signature=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.private_key.public_key()), critical=False
            )
        )
        if smartphone:
            builder = builder.add_extension(
                x509.CertificatePolicies([x509.PolicyInformation(SANDBOX_SMARTPHONE_POLICY, None)]), critical=False)
        if persona_id is not None:
            builder = builder.add_extension(
                x509.UnrecognizedExtension(PERSONA_OID, _utf8_string(persona_id)), critical=False
            )
        return builder.sign(self.private_key, hashes.SHA256())

    def issue_card(
        self,
        persona_id: str,
        *,
        variant: Variant = "card",
        now: datetime,
        not_after: datetime | None = None,
    ) -> IssuedCard:
        """A fresh key and certificate for a persona's card (or Android phone).

        Valid from a year ago for four years, unless the persona's card is
        set to have expired 1 or 4 months ago; ``not_after`` overrides both.
        """
        persona = self.personas.get(persona_id)
        if persona is None:
            raise ValueError(f"unknown persona {persona_id!r}")
        if variant not in TOKENS:
            raise ValueError(f"unknown variant {variant!r}")
        if variant == "android" and not persona.card.android:
            raise ValueError(f"{persona_id} has no Android smartphone certificate")
        now = _seconds(now)
        if not_after is None:
            months = _EXPIRED_MONTHS.get(persona.card.certificate)
            not_after = add_months(now, -months) if months else add_months(now, 48)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        certificate = self.issue_certificate(
            key.public_key(), persona_id=persona_id, not_before=add_months(now, -12), not_after=not_after,
            smartphone=variant == "android",
        )
        return IssuedCard(persona_id, variant, key, certificate, persona.card.pin)


def _key_usage(
    *, digital_signature: bool = False, key_cert_sign: bool = False, crl_sign: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )
