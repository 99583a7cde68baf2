"""ISO/IEC 7816-4 command and response APDUs, short form only, and typed status words.

Short form only because that is all the path needs and all nfcpy's Type 4 tag sends (data <= 255,
Le <= 256 with 256 encoded as 00); an extended APDU is rejected when decoding rather than guessed at,
so the privacy guard never has to reason about two length encodings.

Status words are turned into exceptions that carry SW1 SW2, so a flow can tell "wrong PIN, 2 tries
left" from "PIN locked" from "card gone" without comparing hex.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from device_agent.card.transport import CardError, CardProtocolError

MAX_LC = 255
MAX_LE = 256


@dataclass(frozen=True)
class CommandAPDU:
    """CLA INS P1 P2 [Lc data] [Le]; ``le`` is the number of bytes expected (1..256) or None."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None

    def __post_init__(self) -> None:
        for name in ("cla", "ins", "p1", "p2"):
            if not 0 <= getattr(self, name) <= 0xFF:
                raise ValueError(f"{name} out of range")
        if len(self.data) > MAX_LC:
            raise ValueError("command data longer than 255 bytes needs an extended APDU")
        if self.le is not None and not 1 <= self.le <= MAX_LE:
            raise ValueError("Le must be 1..256 for a short APDU")

    def encode(self) -> bytes:
        out = bytes((self.cla, self.ins, self.p1, self.p2))
        if self.data:
            out += bytes((len(self.data),)) + bytes(self.data)
        if self.le is not None:
            out += bytes((self.le % 256,))  # 256 -> 00
        return out

    @classmethod
    def decode(cls, raw: bytes) -> CommandAPDU:
        """Parse the four short-APDU cases; anything else (extended, inconsistent Lc) is a ValueError."""
        raw = bytes(raw)
        if len(raw) < 4:
            raise ValueError("APDU shorter than its header")
        header, body = raw[:4], raw[4:]
        data, le = b"", None
        if len(body) == 1:  # case 2
            le = body[0] or 256
        elif len(body) > 1:
            lc = body[0]
            if lc == 0:
                raise ValueError("extended-length APDU")
            if len(body) == 1 + lc:  # case 3
                data = body[1:]
            elif len(body) == 2 + lc:  # case 4
                data, le = body[1:-1], body[-1] or 256
            else:
                raise ValueError("Lc does not match the APDU length")
        return cls(header[0], header[1], header[2], header[3], data, le)


class Status(Enum):
    """What a status word means for the JPKI flows."""

    OK = "9000"
    END_OF_FILE = "6282"  # fewer bytes than Le: the end of the EF was reached
    WRONG_PIN = "63Cx"  # x > 0 tries left
    LOCKED_BY_THIS_ATTEMPT = "63C0"
    WRONG_LENGTH = "6700"
    SECURITY_STATUS_NOT_SATISFIED = "6982"
    REFERENCE_DATA_UNUSABLE = "6984"  # PIN locked, or no PIN at all (face-recognition card)
    FILE_NOT_FOUND = "6A82"
    ERROR = "error"  # 6A86, 6B00, 6D00, 6E00, ...: a generic failure

    @classmethod
    def of(cls, sw: int) -> Status:
        if sw == 0x9000:
            return cls.OK
        if sw == 0x6282:
            return cls.END_OF_FILE
        if sw == 0x63C0:
            return cls.LOCKED_BY_THIS_ATTEMPT
        if sw & 0xFFF0 == 0x63C0:
            return cls.WRONG_PIN
        return _FIXED.get(sw, cls.ERROR)


_FIXED = {
    0x6700: Status.WRONG_LENGTH,
    0x6982: Status.SECURITY_STATUS_NOT_SATISFIED,
    0x6984: Status.REFERENCE_DATA_UNUSABLE,
    0x6A82: Status.FILE_NOT_FOUND,
}


@dataclass(frozen=True)
class ResponseAPDU:
    data: bytes
    sw1: int
    sw2: int

    @classmethod
    def decode(cls, raw: bytes) -> ResponseAPDU:
        if len(raw) < 2:
            raise CardProtocolError("response APDU shorter than SW1 SW2")
        return cls(bytes(raw[:-2]), raw[-2], raw[-1])

    def encode(self) -> bytes:
        return self.data + bytes((self.sw1, self.sw2))

    @property
    def sw(self) -> int:
        return self.sw1 << 8 | self.sw2

    @property
    def status(self) -> Status:
        return Status.of(self.sw)

    def check(self) -> ResponseAPDU:
        """Return self for 9000, raise the matching StatusWordError otherwise."""
        if self.sw != 0x9000:
            raise StatusWordError.for_sw(self.sw)
        return self


class StatusWordError(CardError):
    """The card refused a command; ``sw`` is the status word it answered with."""

    def __init__(self, sw: int, message: str | None = None) -> None:
        self.sw = sw
        self.status = Status.of(sw)
        super().__init__(message or f"card returned SW {sw:04X}")

    @staticmethod
    def for_sw(sw: int) -> StatusWordError:
        status = Status.of(sw)
        if status is Status.WRONG_PIN:
            return WrongPin(sw)
        if status in (Status.LOCKED_BY_THIS_ATTEMPT, Status.REFERENCE_DATA_UNUSABLE):
            return PinLocked(sw)
        if status is Status.SECURITY_STATUS_NOT_SATISFIED:
            return SecurityStatusNotSatisfied(sw)
        if status is Status.FILE_NOT_FOUND:
            return FileNotFound(sw)
        return StatusWordError(sw)


class WrongPin(StatusWordError):
    """63Cx: the PIN did not match; ``tries_left`` (x > 0) attempts remain before the lock."""

    def __init__(self, sw: int) -> None:
        self.tries_left = sw & 0x0F
        super().__init__(sw, f"wrong PIN, {self.tries_left} tries left")


class PinLocked(StatusWordError):
    """63C0 (this attempt used the last try) or 6984 (reference data unusable).

    6984 is also what a face-recognition card without a PIN answers; the card does not say which, and
    for the flows it does not matter: only the staff visual check remains.
    """

    def __init__(self, sw: int) -> None:
        self.by_this_attempt = sw == 0x63C0
        super().__init__(sw, "PIN locked by this attempt" if self.by_this_attempt else "PIN locked or not set")


class SecurityStatusNotSatisfied(StatusWordError):
    """6982: e.g. SIGN before the user-authentication PIN was verified."""


class FileNotFound(StatusWordError):
    """6A82: the application or EF does not exist on this card."""
