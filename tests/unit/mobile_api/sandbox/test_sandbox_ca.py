"""The sandbox CA: persisted once, shared by every worker, issuing JPKI-like user-auth certificates."""
from __future__ import annotations

import json
import stat
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from mobile_api.adapters.orm import Base
from mobile_api.clock import FrozenClock
from mobile_api.domain.certificate import add_months
from mobile_api.sandbox.ca import PERSONA_OID, IssuedCard, SandboxCA, SandboxCARecord, persona_id_of
from mobile_api.sandbox.personas import PersonaBook


def _der(ca: SandboxCA) -> bytes:
    return ca.certificate.public_bytes(serialization.Encoding.DER)


def _key(ca: SandboxCA) -> bytes:
    return ca.private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _rows(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(SandboxCARecord)) or 0


def test_created_once_then_reloaded_identically(
    session_factory: sessionmaker[Session], clock: FrozenClock, now: datetime
) -> None:
    assert _rows(session_factory) == 0
    first = SandboxCA.load_or_create(session_factory, clock)
    clock.advance(days=3)
    second = SandboxCA.load_or_create(session_factory, clock)

    assert _rows(session_factory) == 1
    assert _der(second) == _der(first)
    assert _key(second) == _key(first)
    assert second.person_ref("P01-valid-30") == first.person_ref("P01-valid-30")
    with session_factory() as session:
        record = session.get(SandboxCARecord, "default")
        assert record is not None and record.created_at == now


def test_racing_workers_end_with_the_first_insert(tmp_path, clock: FrozenClock, monkeypatch) -> None:
    """Worker B finds no CA, but worker A inserts one before B commits: B adopts A's."""
    engine = create_engine(f"sqlite:///{tmp_path / 'race.db'}")
    Base.metadata.create_all(engine, tables=[SandboxCARecord.__table__])
    factory = sessionmaker(engine)
    original = SandboxCA.__dict__["generate"]
    winner: list[SandboxCA] = []

    def generate_while_another_worker_wins(now: datetime, personas: PersonaBook | None = None) -> SandboxCA:
        monkeypatch.setattr(SandboxCA, "generate", original)
        winner.append(SandboxCA.load_or_create(factory, clock))  # the other worker commits first
        return original.__func__(SandboxCA, now, personas)

    monkeypatch.setattr(SandboxCA, "generate", staticmethod(generate_while_another_worker_wins))
    loser = SandboxCA.load_or_create(factory, clock)

    assert winner and _der(loser) == _der(winner[0]) and _key(loser) == _key(winner[0])
    assert _rows(factory) == 1
    engine.dispose()


def test_root_is_a_self_signed_ca_named_as_a_sandbox(shared_ca: SandboxCA) -> None:
    cert = shared_ca.certificate
    cert.verify_directly_issued_by(cert)
    assert cert.subject == cert.issuer
    assert "SANDBOX" in cert.subject.rfc4514_string().upper()
    basic = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and not usage.digital_signature
    assert isinstance(cert.public_key(), rsa.RSAPublicKey) and cert.public_key().key_size == 2048


def test_card_chains_to_the_ca_and_names_the_persona(
    shared_ca: SandboxCA, card_for: Callable[..., IssuedCard]
) -> None:
    card = card_for("P01-valid-30")
    card.certificate.verify_directly_issued_by(shared_ca.certificate)
    assert persona_id_of(card.certificate) == "P01-valid-30"
    extension = card.certificate.extensions.get_extension_for_oid(PERSONA_OID)
    assert not extension.critical
    assert PERSONA_OID.dotted_string.startswith("2.25.")
    assert card.private_key.key_size == 2048
    assert card.certificate.public_key() == card.private_key.public_key()
    usage = card.certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign
    assert not card.certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert card.pin == "1234" and card.token == b"JPKIAPICCTOKEN2"


def test_subject_and_certificate_carry_no_personal_data(
    card_for: Callable[..., IssuedCard], book: PersonaBook
) -> None:
    persona = book["P01-valid-30"]
    card = card_for(persona.id)
    assert {a.oid for a in card.certificate.subject} == {
        NameOID.COUNTRY_NAME,
        NameOID.ORGANIZATION_NAME,
        NameOID.SERIAL_NUMBER,
    }
    assert card.certificate.extensions.get_extension_for_oid(PERSONA_OID)  # only sandbox linkage
    der = card.certificate_der
    q = persona.qualification
    assert q is not None
    for personal in (q.name, q.name_kana, q.birth_date.isoformat(), q.birth_date.strftime("%Y%m%d"), q.address or ""):
        assert personal.encode() not in der
    for value in (q.insurer_number, q.number):
        assert value.encode() not in der


def test_each_card_gets_its_own_key_and_serial(shared_ca: SandboxCA, now: datetime) -> None:
    one = shared_ca.issue_card("P14-limit-i", now=now)
    two = shared_ca.issue_card("P14-limit-i", now=now)
    assert one.private_key.public_key() != two.private_key.public_key()
    assert one.certificate.subject != two.certificate.subject
    assert one.certificate.serial_number != two.certificate.serial_number
    assert persona_id_of(one.certificate) == persona_id_of(two.certificate) == "P14-limit-i"


def test_default_validity_is_a_year_back_and_four_years_ahead(
    card_for: Callable[..., IssuedCard], now: datetime
) -> None:
    cert = card_for("P01-valid-30").certificate
    assert cert.not_valid_before_utc == add_months(now, -12)
    assert cert.not_valid_after_utc == add_months(now, 48)


@pytest.mark.parametrize("persona_id, months", [("P21-cert-expired-1m", 1), ("P22-cert-expired-4m", 4)])
def test_expired_personas_get_certificates_that_expired_months_ago(
    card_for: Callable[..., IssuedCard], persona_id: str, months: int, now: datetime
) -> None:
    cert = card_for(persona_id).certificate
    assert cert.not_valid_after_utc == add_months(now, -months)
    assert cert.not_valid_before_utc == add_months(now, -12)


def test_explicit_not_after_overrides_the_persona(shared_ca: SandboxCA, now: datetime) -> None:
    until = datetime(2027, 1, 31, 12, 0, tzinfo=UTC)
    card = shared_ca.issue_card("P22-cert-expired-4m", now=now, not_after=until)
    assert card.certificate.not_valid_after_utc == until


def test_android_variant_and_refusals(
    shared_ca: SandboxCA, card_for: Callable[..., IssuedCard], now: datetime
) -> None:
    phone = card_for("P24-android", "android")
    assert phone.token == b"JPKIAPGPSETOKEN" and phone.variant == "android"
    assert persona_id_of(phone.certificate) == "P24-android"
    with pytest.raises(ValueError, match="Android"):
        shared_ca.issue_card("P01-valid-30", variant="android", now=now)
    with pytest.raises(ValueError, match="unknown persona"):
        shared_ca.issue_card("P99-nobody", now=now)
    with pytest.raises(ValueError):
        shared_ca.issue_card("P01-valid-30", now=now.replace(tzinfo=None))


def test_face_recognition_card_has_no_pin(card_for: Callable[..., IssuedCard]) -> None:
    assert card_for("P23-face-card-no-pin").pin is None


def test_save_and_load_round_trip(tmp_path, card_for: Callable[..., IssuedCard]) -> None:
    card = card_for("P24-android", "android")
    directory = card.save(tmp_path / "phone")

    assert stat.S_IMODE((directory / "key.pem").stat().st_mode) == 0o600
    assert (directory / "cert.der").read_bytes() == card.certificate_der
    meta = json.loads((directory / "card.json").read_text(encoding="utf-8"))
    assert meta == {"persona_id": "P24-android", "variant": "android", "token": "JPKIAPGPSETOKEN", "pin": "1234"}

    loaded = IssuedCard.load(directory)
    assert loaded.certificate == card.certificate
    assert loaded.private_key.public_key() == card.private_key.public_key()
    assert (loaded.persona_id, loaded.variant, loaded.pin, loaded.token) == (
        card.persona_id, card.variant, card.pin, card.token
    )


def test_load_refuses_a_key_that_does_not_match(tmp_path, card_for: Callable[..., IssuedCard]) -> None:
    directory = card_for("P01-valid-30").save(tmp_path / "a")
    (directory / "cert.der").write_bytes(card_for("P24-android").certificate_der)
    with pytest.raises(ValueError, match="does not match"):
        IssuedCard.load(directory)


def test_persona_id_of_needs_the_sandbox_extension(
    shared_ca: SandboxCA, card_for: Callable[..., IssuedCard], now: datetime
) -> None:
    key = card_for("P01-valid-30").private_key.public_key()
    plain = shared_ca.issue_certificate(key, persona_id=None, not_before=now, not_after=now)
    assert persona_id_of(plain) is None
    long_id = "P98-" + "x" * 150  # long-form DER length
    assert persona_id_of(shared_ca.issue_certificate(key, persona_id=long_id, not_before=now, not_after=now)) == long_id
    garbled = (
        x509.CertificateBuilder()
        .subject_name(shared_ca.certificate.subject)
        .issuer_name(shared_ca.certificate.subject)
        .public_key(key)
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now)
        .add_extension(x509.UnrecognizedExtension(PERSONA_OID, b"\x04\x02ab"), critical=False)  # OCTET STRING
        .sign(shared_ca.private_key, hashes.SHA256())
    )
    assert persona_id_of(garbled) is None


def test_a_phone_certificate_carries_the_smartphone_policy_and_a_card_certificate_none(
    shared_ca: SandboxCA, clock: FrozenClock
) -> None:
    """The server tells phone from card by the certificate (docs/rules.md §2.4), so the sandbox marks it."""
    from mobile_api.adapters.jpki import SANDBOX_SMARTPHONE_POLICY, is_smartphone_certificate

    policies = frozenset({SANDBOX_SMARTPHONE_POLICY.dotted_string})
    phone = shared_ca.issue_card("P24-android", variant="android", now=clock())
    card = shared_ca.issue_card("P24-android", now=clock())
    assert is_smartphone_certificate(phone.certificate, policies) is True
    assert is_smartphone_certificate(card.certificate, policies) is False
    assert is_smartphone_certificate(phone.certificate, frozenset()) is False  # only the policies it is told
