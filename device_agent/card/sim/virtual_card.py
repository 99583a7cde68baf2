"""A virtual JPKI card: the card side of the APDU exchange, for tests, benchmarks and offline demos.

It behaves like the real card where the agent's behaviour depends on it: SELECT by DF name matches
a prefix (which is why the guard insists on the full AID), files have state, READ BINARY ends with
6282/6B00, the PIN try counter survives power loss while the verified status does not, SIGN needs a
verified PIN and only pads the DigestInfo it is given (EMSA-PKCS1-v1_5, then raw RSA).

It holds only the JPKI AP unless ``extra_files`` adds more (AID -> {EF id -> contents}); the tests add
the applications a real card also holds, to show the guard, not the card, is what keeps them out.

Timing: ``process`` answers at once and reports how long a real card would be busy (``apdu_delay``,
plus ``sign_delay`` for a signature) so the ISO-DEP simulation can send S(WTX) meanwhile;
``transmit`` (direct use, no NFC) simply sleeps that long.
"""
from __future__ import annotations

import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from cryptography.hazmat.primitives.asymmetric import rsa

from device_agent.card.apdu import CommandAPDU
from device_agent.card.guard import (
    EF_AUTH_CA_CERTIFICATE,
    EF_AUTH_CERTIFICATE,
    EF_AUTH_PIN,
    EF_AUTH_PRIVATE_KEY,
    EF_TOKEN_INFO,
    JPKI_AID,
)
from device_agent.card.transport import CardRemovedError

SW_OK, SW_END_OF_FILE, SW_WRONG_LENGTH = b"\x90\x00", b"\x62\x82", b"\x67\x00"
SW_INCOMPATIBLE_FILE, SW_SECURITY, SW_UNUSABLE = b"\x69\x81", b"\x69\x82", b"\x69\x84"
SW_CONDITIONS, SW_NO_CURRENT_EF, SW_NOT_FOUND = b"\x69\x85", b"\x69\x86", b"\x6A\x82"
SW_WRONG_P1P2, SW_NO_REFERENCE, SW_OFFSET = b"\x6A\x86", b"\x6A\x88", b"\x6B\x00"
SW_INS, SW_CLA = b"\x6D\x00", b"\x6E\x00"


class CardReply(NamedTuple):
    response: bytes
    busy_seconds: float


@dataclass
class _EF:
    kind: str  # "binary" | "pin" | "key"
    data: bytes = b""


class VirtualJpkiCard:
    def __init__(
        self,
        private_key: rsa.RSAPrivateKey,
        certificate_der: bytes,
        *,
        ca_certificate_der: bytes = b"",
        pin: str | None = "1234",
        token: bytes = b"JPKIAPICCTOKEN2",
        max_tries: int = 3,
        apdu_delay: float = 0.0,
        sign_delay: float = 0.0,
        extra_files: Mapping[bytes, Mapping[bytes, bytes]] | None = None,
    ) -> None:
        numbers = private_key.private_numbers()
        self._n, self._d = numbers.public_numbers.n, numbers.d
        self._pin = None if pin is None else pin.encode("ascii")  # the card's own secret
        self._max_tries = max_tries
        self._tries_left = max_tries if pin is not None else 0
        self.apdu_delay, self.sign_delay = apdu_delay, sign_delay
        jpki = {
            EF_TOKEN_INFO: _EF("binary", token.ljust(32, b" ")),
            EF_AUTH_CERTIFICATE: _EF("binary", certificate_der),
            EF_AUTH_PRIVATE_KEY: _EF("key"),
            EF_AUTH_PIN: _EF("pin"),
        }
        if ca_certificate_der:
            jpki[EF_AUTH_CA_CERTIFICATE] = _EF("binary", ca_certificate_der)
        self._dfs: dict[bytes, dict[bytes, _EF]] = {JPKI_AID: jpki}
        for aid, efs in (extra_files or {}).items():
            self._dfs.setdefault(aid, {}).update({fid: _EF("binary", data) for fid, data in efs.items()})
        self.present = True
        self.apdus_received = self.bytes_in = self.bytes_out = 0
        self.reset()

    # -- physical events -------------------------------------------------------------------------
    def reset(self) -> None:
        """Power loss: volatile state (selection, verified PIN) is gone; the try counter is not."""
        self._df: bytes | None = None
        self._ef: bytes | None = None
        self._verified = False

    def remove(self) -> None:
        self.present = False
        self.reset()

    def insert(self) -> None:
        self.present = True
        self.reset()

    @property
    def tries_left(self) -> int:
        return self._tries_left

    # -- APDU processing ---------------------------------------------------------------------------
    def transmit(self, apdu: bytes) -> bytes:
        reply = self.process(apdu)
        if reply.busy_seconds > 0:
            time.sleep(reply.busy_seconds)
        return reply.response

    def process(self, apdu: bytes) -> CardReply:
        if not self.present:
            raise CardRemovedError("virtual card is not in the field")
        self.apdus_received += 1
        self.bytes_in += len(apdu)
        busy = self.apdu_delay
        try:
            c = CommandAPDU.decode(apdu)
        except ValueError:
            response = SW_WRONG_LENGTH
        else:
            response = self._dispatch(c)
            if (c.cla, c.ins) == (0x80, 0x2A) and response.endswith(SW_OK):
                busy += self.sign_delay
        self.bytes_out += len(response)
        return CardReply(response, busy)

    def _dispatch(self, c: CommandAPDU) -> bytes:
        if c.cla == 0x00 and c.ins == 0xA4:
            return self._select(c)
        if c.cla == 0x00 and c.ins == 0xB0:
            return self._read_binary(c)
        if c.cla == 0x00 and c.ins == 0x20:
            return self._verify(c)
        if c.cla == 0x80 and c.ins == 0x2A:
            return self._sign(c)
        return SW_INS if c.cla in (0x00, 0x80) else SW_CLA

    def _select(self, c: CommandAPDU) -> bytes:
        if c.p1 == 0x04:  # by DF name: the first application whose AID starts with the given bytes
            aid = next((a for a in self._dfs if c.data and a.startswith(c.data)), None)
            if aid is None:
                return SW_NOT_FOUND
            if aid != self._df:
                self._verified = False  # the security status belongs to the DF
            self._df, self._ef = aid, None
            return SW_OK
        if c.p1 in (0x00, 0x02):  # by file identifier, within the current DF
            if self._df is None or c.data not in self._dfs[self._df]:
                return SW_NOT_FOUND
            self._ef = c.data
            return SW_OK
        return SW_WRONG_P1P2

    def _read_binary(self, c: CommandAPDU) -> bytes:
        if c.p1 & 0x80:  # short EF identifier: implicit selection, offset in P2
            sfi = c.p1 & 0x1F
            efs = self._dfs.get(self._df, {}) if self._df else {}
            fid = next((f for f in efs if f[0] == 0 and f[1] == sfi), None)
            if fid is None:
                return SW_NOT_FOUND
            self._ef, offset = fid, c.p2
        else:
            offset = c.p1 << 8 | c.p2
        if self._df is None or self._ef is None:
            return SW_NO_CURRENT_EF
        ef = self._dfs[self._df][self._ef]
        if ef.kind != "binary":
            return SW_INCOMPATIBLE_FILE
        if c.le is None:
            return SW_WRONG_LENGTH
        if offset >= len(ef.data):
            return SW_OFFSET
        chunk = ef.data[offset : offset + c.le]
        return chunk + (SW_OK if len(chunk) == c.le else SW_END_OF_FILE)

    def _verify(self, c: CommandAPDU) -> bytes:
        if (c.p1, c.p2) != (0x00, 0x80):
            return SW_WRONG_P1P2
        if self._df != JPKI_AID or self._ef != EF_AUTH_PIN:
            return SW_NO_REFERENCE
        if self._pin is None or self._tries_left == 0:
            return SW_UNUSABLE
        if not c.data:  # asks the counter, spends nothing
            return SW_OK if self._verified else bytes((0x63, 0xC0 | self._tries_left))
        if hmac.compare_digest(c.data, self._pin):
            self._tries_left, self._verified = self._max_tries, True
            return SW_OK
        self._tries_left -= 1
        self._verified = False
        return bytes((0x63, 0xC0 | self._tries_left))

    def _sign(self, c: CommandAPDU) -> bytes:
        if (c.p1, c.p2) != (0x00, 0x80):
            return SW_WRONG_P1P2
        if self._df != JPKI_AID or self._ef != EF_AUTH_PRIVATE_KEY:
            return SW_CONDITIONS
        if not self._verified:
            return SW_SECURITY
        k = (self._n.bit_length() + 7) // 8
        if not c.data or len(c.data) > k - 11:
            return SW_WRONG_LENGTH
        em = b"\x00\x01" + b"\xff" * (k - 3 - len(c.data)) + b"\x00" + c.data  # EMSA-PKCS1-v1_5
        return pow(int.from_bytes(em, "big"), self._d, self._n).to_bytes(k, "big") + SW_OK
