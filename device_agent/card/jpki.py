"""JPKI user-authentication commands (公的個人認証 利用者証明用) over any transport.

One method per card operation the flows need, each sending the fewest APDUs the card allows: the
certificate is read in 256-byte chunks sized from its DER header, and an EF that is already current
is not selected again (VERIFY right after the empty VERIFY reuses the PIN EF selection).

The PIN lives only in ``verify_pin``'s locals. APDUs are logged at DEBUG with the data of VERIFY
replaced by a placeholder; response data is never logged.
"""
from __future__ import annotations

import hashlib
import logging
from enum import Enum

from device_agent.card.apdu import CommandAPDU, ResponseAPDU, Status, StatusWordError
from device_agent.card.guard import (
    EF_AUTH_CA_CERTIFICATE,
    EF_AUTH_CERTIFICATE,
    EF_AUTH_PIN,
    EF_AUTH_PRIVATE_KEY,
    EF_TOKEN_INFO,
    JPKI_AID,
)
from device_agent.card.transport import CardProtocolError, Transport

log = logging.getLogger(__name__)

# DER of DigestInfo{ AlgorithmIdentifier{ id-sha256, NULL }, OCTET STRING(32) } without the hash.
SHA256_DIGEST_INFO_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")
RSA2048_SIGNATURE_LENGTH = 256
TOKEN_INFO_LENGTH = 32
CHUNK = 256  # the most a short READ BINARY returns (Le = 00)


class TokenKind(Enum):
    """What holds the JPKI certificate, from EF 0006 (the same person has different certificates on each)."""

    CARD = "card"
    ANDROID = "android"
    IPHONE = "iphone"


def sha256_digest_info(message: bytes) -> bytes:
    """The 51-byte DER DigestInfo the card signs: it only adds the PKCS#1 v1.5 padding."""
    return SHA256_DIGEST_INFO_PREFIX + hashlib.sha256(message).digest()


def parse_token_info(raw: bytes) -> TokenKind:
    token = raw.rstrip(b" \x00")
    if token == b"JPKIAPICCTOKEN2":
        return TokenKind.CARD
    if token == b"JPKIAPGPSETOKEN":
        return TokenKind.ANDROID
    if token.startswith(b"JPKIAP"):
        return TokenKind.IPHONE
    raise CardProtocolError("token information is not a JPKI token")


def der_total_length(head: bytes) -> int:
    """Total length of a DER SEQUENCE from its first bytes (30 LL, 30 81 LL, 30 82 LL LL)."""
    if len(head) < 2 or head[0] != 0x30:
        raise CardProtocolError("certificate EF does not start with a DER SEQUENCE")
    first = head[1]
    if first < 0x80:
        return 2 + first
    n = first & 0x7F
    if n not in (1, 2, 3) or len(head) < 2 + n:
        raise CardProtocolError("unsupported DER length encoding in certificate EF")
    return 2 + n + int.from_bytes(head[2 : 2 + n], "big")


class JpkiCard:
    """JPKI commands; assumes nothing about the transport beyond ``transmit``."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._current_ef: bytes | None = None

    def select_jpki_ap(self) -> None:
        self._current_ef = None
        self._send(CommandAPDU(0x00, 0xA4, 0x04, 0x0C, JPKI_AID)).check()

    def read_token_info(self) -> TokenKind:
        self._select_ef(EF_TOKEN_INFO)
        return parse_token_info(self._read(0, TOKEN_INFO_LENGTH))

    def read_auth_certificate(self) -> bytes:
        """The user-authentication certificate (DER), readable without the PIN."""
        return self._read_der_ef(EF_AUTH_CERTIFICATE)

    def read_auth_ca_certificate(self) -> bytes:
        return self._read_der_ef(EF_AUTH_CA_CERTIFICATE)

    def pin_tries_left(self) -> int | None:
        """Tries left on the user-authentication PIN, asked with an empty VERIFY that spends none.

        None means the PIN is already verified in this card session (the card answers 9000, not 63Cx).
        Raises PinLocked for 6984: locked, or a face-recognition card without a PIN.
        """
        self._select_ef(EF_AUTH_PIN)
        response = self._send(CommandAPDU(0x00, 0x20, 0x00, 0x80))
        if response.status is Status.OK:
            return None
        if response.status is Status.WRONG_PIN:
            return response.sw2 & 0x0F
        raise StatusWordError.for_sw(response.sw)

    def verify_pin(self, pin: str) -> None:
        """VERIFY the 4-digit user-authentication PIN; raises WrongPin(tries_left) or PinLocked."""
        if not (len(pin) == 4 and pin.isascii() and pin.isdigit()):
            raise ValueError("the user-authentication PIN is exactly 4 ASCII digits")
        self._select_ef(EF_AUTH_PIN)
        response = self._send(CommandAPDU(0x00, 0x20, 0x00, 0x80, pin.encode("ascii")))
        if response.status in (Status.WRONG_PIN, Status.LOCKED_BY_THIS_ATTEMPT, Status.REFERENCE_DATA_UNUSABLE):
            raise StatusWordError.for_sw(response.sw)
        response.check()

    def sign(self, digest_info: bytes) -> bytes:
        """Have the card pad and RSA-sign a DER DigestInfo with the user-authentication key (needs the PIN)."""
        self._select_ef(EF_AUTH_PRIVATE_KEY)
        signature = self._send(CommandAPDU(0x80, 0x2A, 0x00, 0x80, digest_info, le=256)).check().data
        if len(signature) != RSA2048_SIGNATURE_LENGTH:
            raise CardProtocolError(f"expected a 256-byte RSA-2048 signature, got {len(signature)} bytes")
        return signature

    def _select_ef(self, ef: bytes) -> None:
        if self._current_ef == ef:
            return
        self._current_ef = None
        self._send(CommandAPDU(0x00, 0xA4, 0x02, 0x0C, ef)).check()
        self._current_ef = ef

    def _read_der_ef(self, ef: bytes) -> bytes:
        self._select_ef(ef)
        data = self._read(0, CHUNK)
        total = der_total_length(data[:5])
        while len(data) < total:
            data += self._read(len(data), min(CHUNK, total - len(data)))
        return data[:total]

    def _read(self, offset: int, length: int) -> bytes:
        if offset > 0x7FFF:
            raise CardProtocolError("offset beyond what READ BINARY P1 P2 can address")
        response = self._send(CommandAPDU(0x00, 0xB0, offset >> 8, offset & 0xFF, le=length))
        if response.status is Status.END_OF_FILE and response.data:
            return response.data
        return response.check().data

    def _send(self, command: CommandAPDU) -> ResponseAPDU:
        log.debug("> %s", _redacted(command))
        try:
            response = ResponseAPDU.decode(self._transport.transmit(command.encode()))
        except BaseException:
            self._current_ef = None
            raise
        log.debug("< SW %04X, %d data bytes", response.sw, len(response.data))
        return response


def _redacted(c: CommandAPDU) -> str:
    header = f"{c.cla:02X} {c.ins:02X} {c.p1:02X} {c.p2:02X}"
    if not c.data:
        body = ""
    elif c.ins == 0x20:
        body = f" Lc={len(c.data)} <redacted>"
    else:
        body = f" Lc={len(c.data)} {c.data.hex(' ').upper()}"
    return header + body + ("" if c.le is None else f" Le={c.le}")

