"""Privacy guard: an allow-list on every APDU before it can reach the card.

The My Number card also carries the individual number (マイナンバー) and the signature certificate with
name, address, birth date and sex. A provider may not collect any of that, so this agent must be
unable to read it even through a bug in the layers above. The guard therefore lets through only the
exact commands the JPKI user-authentication flow needs and refuses everything else before it is sent:

* SELECT by DF name only for the full JPKI AP AID. Exact length and bytes, because SELECT by name
  matches a *prefix*: a shortened AID could land in another application.
* SELECT by EF identifier only for the EFs listed below, and only once the JPKI AP is selected.
* READ BINARY only with an offset in P1 P2 (bit 8 of P1 clear) and only of a readable EF from the list;
  bit 8 set means P1 carries a short EF identifier, which selects a file implicitly.
* VERIFY only on the user-authentication PIN EF, SIGN only on the user-authentication key EF.

What this denies, by not listing it: the 券面AP and the 券面事項入力補助AP (they hold the individual
number), every other SELECT variant (by FID, path, parent, child DF), implicit selection through short
EF identifiers, and the signature certificate, key and password EFs of the JPKI AP (the signature
certificate carries personal data). Those identifiers are written down only in the tests that prove
they are refused.

Refusals raise PrivacyGuardError, which deliberately is not a CardError: it is a programming error to
be fixed, never a card condition for a flow to retry or fall back from. Messages show the APDU header
only, never its data (VERIFY data is the PIN).
"""
from __future__ import annotations

from device_agent.card.apdu import CommandAPDU
from device_agent.card.transport import Transport

JPKI_AID = bytes.fromhex("D392F000260100000001")  # 公的個人認証 AP

EF_TOKEN_INFO = bytes.fromhex("0006")
EF_AUTH_CERTIFICATE = bytes.fromhex("000A")  # 利用者証明用電子証明書, readable without PIN
EF_AUTH_CA_CERTIFICATE = bytes.fromhex("000B")
EF_AUTH_PRIVATE_KEY = bytes.fromhex("0017")
EF_AUTH_PIN = bytes.fromhex("0018")

READABLE_EFS = frozenset({EF_TOKEN_INFO, EF_AUTH_CERTIFICATE, EF_AUTH_CA_CERTIFICATE})
SELECTABLE_EFS = READABLE_EFS | {EF_AUTH_PRIVATE_KEY, EF_AUTH_PIN}

CLA_ISO, CLA_PROPRIETARY = 0x00, 0x80
INS_SELECT, INS_READ_BINARY, INS_VERIFY, INS_SIGN = 0xA4, 0xB0, 0x20, 0x2A
SELECT_BY_DF_NAME, SELECT_EF_UNDER_CURRENT_DF = 0x04, 0x02


class PrivacyGuardError(Exception):
    """An APDU outside the allow-list was about to be sent; it was not."""


class GuardedTransport:
    """Wraps a transport; refuses anything not on the allow-list and tracks what is selected.

    The selection state follows the card's answers: the AP counts as selected only after the card said
    9000 to its SELECT, an EF only after 9000 to its SELECT; any failure or lost card clears it.
    """

    def __init__(self, inner: Transport) -> None:
        self._inner = inner
        self._in_jpki_ap = False
        self._current_ef: bytes | None = None

    @property
    def jpki_ap_selected(self) -> bool:
        return self._in_jpki_ap

    def transmit(self, apdu: bytes) -> bytes:
        cmd = _parse(apdu)
        self._check(cmd)
        try:
            response = self._inner.transmit(apdu)
        except Exception:
            self._in_jpki_ap, self._current_ef = False, None
            raise
        self._track(cmd, bytes(response[-2:]) == b"\x90\x00")
        return response

    def _check(self, c: CommandAPDU) -> None:
        """Refuse ``c`` unless the allow-list has it, in the state the card is in now."""
        why = self._refusal(c)
        if why is not None:
            _refuse(c, why)

    def _refusal(self, c: CommandAPDU) -> str | None:
        if c.cla == CLA_ISO and c.ins == INS_SELECT:
            return self._select_refusal(c)
        if c.cla == CLA_ISO and c.ins == INS_READ_BINARY:
            return self._read_refusal(c)
        if (c.cla, c.ins, c.p1, c.p2) == (CLA_ISO, INS_VERIFY, 0x00, 0x80):
            return None if self._current_ef == EF_AUTH_PIN else "VERIFY outside the user-authentication PIN EF"
        if (c.cla, c.ins, c.p1, c.p2) == (CLA_PROPRIETARY, INS_SIGN, 0x00, 0x80):
            return None if self._current_ef == EF_AUTH_PRIVATE_KEY else "SIGN outside the user-authentication key EF"
        return "command not on the allow-list"

    def _select_refusal(self, c: CommandAPDU) -> str | None:
        if c.p2 & 0x03:  # only "first or only occurrence"
            return "SELECT of a next/previous occurrence"
        if c.p1 == SELECT_BY_DF_NAME and c.data == JPKI_AID:
            return None
        if c.p1 == SELECT_EF_UNDER_CURRENT_DF and c.data in SELECTABLE_EFS:
            return None if self._in_jpki_ap else "EF selection before the JPKI AP is selected"
        return "SELECT outside the JPKI allow-list"

    def _read_refusal(self, c: CommandAPDU) -> str | None:
        if c.p1 & 0x80:
            return "READ BINARY with a short EF identifier (implicit selection)"
        if self._current_ef not in READABLE_EFS:
            return "READ BINARY of an EF that is not on the readable list"
        return None

    def _track(self, c: CommandAPDU, ok: bool) -> None:
        if c.ins != INS_SELECT:
            return
        if c.p1 == SELECT_BY_DF_NAME:
            self._in_jpki_ap, self._current_ef = ok, None
        else:
            self._current_ef = c.data if ok else None


def _parse(apdu: bytes) -> CommandAPDU:
    try:
        return CommandAPDU.decode(apdu)
    except ValueError:
        raise PrivacyGuardError("malformed or extended-length APDU refused") from None


def _refuse(c: CommandAPDU, why: str) -> None:
    raise PrivacyGuardError(f"{why}: {c.cla:02X} {c.ins:02X} {c.p1:02X} {c.p2:02X} refused by the privacy guard")
