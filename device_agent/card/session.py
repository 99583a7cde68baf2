"""The card API the flows use: identify the card, ask the tries left, verify the PIN, sign a challenge.

It always puts the privacy guard between the JPKI commands and the transport, so a flow cannot reach
anything but the JPKI user-authentication application. It selects the JPKI AP once per session and
keeps the APDU count at the minimum the card allows:

    SELECT AP, [SELECT 0006 + READ BINARY], SELECT 000A + ceil(len/256) x READ BINARY,
    SELECT 0018 + empty VERIFY, VERIFY, SELECT 0017 + SIGN

= 7 + ceil(len/256) APDUs, plus 2 when the token information is read.
"""
from __future__ import annotations

from dataclasses import dataclass

from device_agent.card.guard import GuardedTransport
from device_agent.card.jpki import JpkiCard, TokenKind, sha256_digest_info
from device_agent.card.transport import Transport


@dataclass(frozen=True)
class CardIdentity:
    """What the card presents without a PIN: the token kind and the user-authentication certificate."""

    token: TokenKind | None  # None when the token information was not read
    certificate_der: bytes


class CardSession:
    """One card presentation; start a new session after CardRemovedError (the card lost its state)."""

    def __init__(self, transport: Transport) -> None:
        self._guard = GuardedTransport(transport)
        self._card = JpkiCard(self._guard)

    def identify(self, *, with_token_info: bool = True) -> CardIdentity:
        self._ensure_ap()
        token = self._card.read_token_info() if with_token_info else None
        return CardIdentity(token, self._card.read_auth_certificate())

    def tries_left(self) -> int | None:
        """PIN tries left (none spent); None if the PIN is already verified in this session."""
        self._ensure_ap()
        return self._card.pin_tries_left()

    def verify_pin(self, pin: str) -> None:
        """Raises ValueError (not 4 digits, nothing sent), WrongPin(tries_left) or PinLocked."""
        self._ensure_ap()
        self._card.verify_pin(pin)

    def sign_challenge(self, challenge: bytes) -> bytes:
        """RSA PKCS#1 v1.5 / SHA-256 signature over the server's challenge, made by the card."""
        self._ensure_ap()
        return self._card.sign(sha256_digest_info(challenge))

    def _ensure_ap(self) -> None:
        if not self._guard.jpki_ap_selected:  # the guard follows the card's answers, so trust it
            self._card.select_jpki_ap()
