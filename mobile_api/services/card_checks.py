"""The checks of a card and of the challenge it answered, shared by every flow that reads a card: the device's
verification (services/verification.py), a machine client's card check (services/qualification.py) and the
patient's own phone (services/patient_phone.py), so all of them trust the same cards the same way
(docs/rules.md §2)."""
from __future__ import annotations

from datetime import datetime

from cryptography import x509

from ..adapters import jpki, orm
from ..domain.certificate import CertificateStanding, assess_certificate
from ..domain.errors import ChallengeExpired, ChallengeUsed, ValidationFailed
from ..runtime import Runtime


def trusted_certificate(rt: Runtime, der: bytes) -> x509.Certificate:
    """The card's certificate, parsed and chained to a trust anchor OQS publishes."""
    certificate = jpki.load_certificate(der)
    jpki.verify_chain(certificate, rt.oqs.trust_anchors())
    return certificate


def standing_of(rt: Runtime, certificate: x509.Certificate, now: datetime) -> CertificateStanding:
    """Valid, or expired but in the grace period (a card's certificate only: a phone's, told by its own policy,
    has none); otherwise refused (docs/rules.md §2.4)."""
    return assess_certificate(not_before=certificate.not_valid_before_utc,
                              not_after=certificate.not_valid_after_utc, now=now,
                              grace_months=rt.rules.certificate_grace_months,
                              smartphone=jpki.is_smartphone_certificate(certificate, rt.rules.smartphone_policies))


def challenge_usable(challenge: orm.Challenge, now: datetime) -> None:
    """Single use and short-lived, whoever started it."""
    if challenge.used_at is not None:
        raise ChallengeUsed()
    if now >= challenge.expires_at:
        minutes = round((challenge.expires_at - challenge.created_at).total_seconds() / 60)
        raise ChallengeExpired(f"確認の有効時間（{minutes}分）を過ぎました。最初からやり直してください。",
                               expired_at=challenge.expires_at.isoformat())


def verify_pin_signature(challenge: orm.Challenge, certificate: x509.Certificate, signature: bytes | None) -> None:
    """The card signed this challenge's nonce, which it does only after the holder's PIN."""
    if not signature:
        raise ValidationFailed("暗証番号による確認にはカードの署名が必要です。", field="signature")
    jpki.verify_signature(certificate, signature, challenge.nonce)
