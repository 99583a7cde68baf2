"""A virtual contactless reader for nfcpy, with a VirtualJpkiCard in its field.

It is an nfcpy *device driver* (``nfc.clf.device.Device``), so everything above it is nfcpy's own
code: ContactlessFrontend.sense/connect, Type4ATag/Type4BTag activation (RATS, ATTRIB) and the
ISO-DEP initiator with its chaining, R-block and S(WTX) handling. Tests of the card path therefore
exercise the same stack a real RC-S380 would run, minus the radio.

Defaults follow what forces the interesting paths: the card advertises FSC 64 and the reader accepts
frames of 128 bytes (FSD 128), so a 256-byte signature or READ BINARY chunk crosses several chained
I-blocks; FWI 8 (FWT about 77 ms) makes a slow on-card RSA trigger S(WTX).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import nfc.clf
import nfc.clf.device
import nfc.tag.tt4

from device_agent.card.nfc_transport import NfcTransport
from device_agent.card.session import CardSession
from device_agent.card.sim.iso_dep import FS_TABLE, IsoDepPicc, Mute
from device_agent.card.sim.virtual_card import VirtualJpkiCard
from device_agent.card.transport import CardRemovedError


class VirtualReaderDevice(nfc.clf.device.Device):
    """Reader-side driver whose 'radio' calls straight into an ISO 14443-4 PICC simulation."""

    def __init__(
        self,
        card: VirtualJpkiCard,
        *,
        technology: str = "B",
        fsci: int = 5,
        fwi: int = 8,
        wtxm: int = 10,
        max_recv_data_size: int = 128,
        identifier: bytes = bytes.fromhex("08A1B2C3"),
    ) -> None:
        if technology not in ("A", "B"):
            raise ValueError("technology is 'A' or 'B'")
        self.card, self.technology = card, technology
        self.fsci, self.fwi, self.wtxm = fsci, fwi, wtxm
        self._max_recv = max_recv_data_size
        self.identifier = identifier  # PUPI (Type B) or random NFCID1 (Type A, phones start with 08)
        self.picc: IsoDepPicc | None = None
        self.trace: list[tuple[str, str, int]] = []  # activation frames and ISO-DEP blocks, no contents
        self._path = "virtual"
        self._vendor_name, self._device_name = "device_agent", "virtual reader"
        self._chipset_name = "ISO 14443-4 PICC simulator"

    @property
    def wtx_requests(self) -> int:
        return sum(1 for who, kind, _ in self.trace if who == "PICC" and kind == "S(WTX)")

    @property
    def chained_blocks(self) -> dict[str, int]:
        return {
            who: sum(1 for w, kind, _ in self.trace if w == who and kind == "I+chain") for who in ("PCD", "PICC")
        }

    # -- discovery -------------------------------------------------------------------------------
    def sense_tta(self, target: nfc.clf.RemoteTarget) -> nfc.clf.RemoteTarget | None:
        if target.brty != "106A":
            raise nfc.clf.UnsupportedTargetError(f"unsupported bitrate {target.brty}")
        if self.technology != "A" or not self.card.present:
            return None
        if target.sel_req and bytes(target.sel_req) != self.identifier:
            return None
        # SENS_RES 0400: single-size UID, bit frame anticollision; SEL_RES 20: ISO/IEC 14443-4 compliant.
        return nfc.clf.RemoteTarget(
            "106A", sens_res=bytearray(b"\x04\x00"), sdd_res=bytearray(self.identifier), sel_res=bytearray(b"\x20")
        )

    def sense_ttb(self, target: nfc.clf.RemoteTarget) -> nfc.clf.RemoteTarget | None:
        if target.brty != "106B":
            raise nfc.clf.UnsupportedTargetError(f"unsupported bitrate {target.brty}")
        if self.technology != "B" or not self.card.present:
            return None
        afi = target.sensb_req[0] if target.sensb_req else 0
        if afi not in (0x00,):
            return None  # the card's application family is "all" (00); a specific AFI gets no answer
        return nfc.clf.RemoteTarget("106B", sensb_res=bytearray(self.sensb_res()))

    def sensb_res(self) -> bytes:
        """ATQB: 50, PUPI, application data, protocol info (106 kbps only; FSCI | ISO-DEP; FWI | no CID/NAD)."""
        return b"\x50" + self.identifier + b"\x00\x00\x00\x00" + bytes((0x00, self.fsci << 4 | 0x01, self.fwi << 4))

    def ats(self) -> bytes:
        """RATS answer: TL, T0 (TA TB TC present, FSCI), TA (106 kbps only), TB (FWI, SFGI 0), TC (no CID/NAD)."""
        return bytes((0x05, 0x70 | self.fsci, 0x00, self.fwi << 4, 0x00))

    def sense_ttf(self, target: nfc.clf.RemoteTarget) -> None:
        return None

    def sense_dep(self, target: nfc.clf.RemoteTarget) -> None:
        return None

    # -- data exchange ---------------------------------------------------------------------------
    def send_cmd_recv_rsp(self, target: nfc.clf.RemoteTarget, data: bytes, timeout: float) -> bytearray:
        frame = bytes(data)
        if not self.card.present:
            raise nfc.clf.TimeoutError("no card in the field")
        try:
            if self.picc is None:
                return bytearray(self._activate(target, frame))
            return bytearray(self.picc.handle(frame, timeout))
        except Mute:
            raise nfc.clf.TimeoutError("no response from the card") from None

    def _activate(self, target: nfc.clf.RemoteTarget, frame: bytes) -> bytes:
        if target.brty == "106A" and len(frame) == 2 and frame[0] == 0xE0:  # RATS: FSDI | CID
            self.trace += [("PCD", "RATS", 2), ("PICC", "ATS", 5)]
            self._start_picc(frame[1] >> 4)
            return self.ats()
        if target.brty == "106B" and len(frame) >= 9 and frame[0] == 0x1D and frame[1:5] == self.identifier:
            self.trace += [("PCD", "ATTRIB", len(frame)), ("PICC", "ATTRIB_RES", 1)]
            self._start_picc(frame[6] & 0x0F)  # Param 2: FSDI in the low nibble
            return b"\x00"  # MBLI 0, CID 0
        raise Mute

    def _start_picc(self, fsdi: int) -> None:
        self.picc = IsoDepPicc(self.card, fsd=FS_TABLE[min(fsdi, 8)], fwi=self.fwi, wtxm=self.wtxm)
        self.picc.trace = self.trace

    def get_max_send_data_size(self, target: nfc.clf.Target | None) -> int:
        return FS_TABLE[self.fsci]

    def get_max_recv_data_size(self, target: nfc.clf.Target | None) -> int:
        return self._max_recv

    def mute(self) -> None:
        """RF off: the card loses power (selection and verified PIN are gone) and must be re-activated."""
        self.picc = None
        if self.card.present:
            self.card.reset()

    def close(self) -> None:
        self.mute()

    def listen_tta(self, target: nfc.clf.LocalTarget, timeout: float) -> None:
        raise nfc.clf.UnsupportedTargetError("the virtual reader does not emulate cards")

    listen_ttb = listen_ttf = listen_dep = listen_tta


def open_virtual_frontend(card: VirtualJpkiCard, *, type: str = "B", **device_options: Any) -> nfc.clf.ContactlessFrontend:
    """A ContactlessFrontend driving the virtual reader; use it exactly like one opened on USB."""
    clf = nfc.clf.ContactlessFrontend()
    clf.device = VirtualReaderDevice(card, technology=type, **device_options)
    return clf


@contextmanager
def virtual_session(card: VirtualJpkiCard, *, technology: str = "B") -> Iterator[CardSession]:
    """A CardSession over nfcpy's own ISO-DEP stack with ``card`` in the virtual reader's field."""
    clf = open_virtual_frontend(card, type=technology)
    try:
        tag = clf.connect(rdwr={"targets": ["106B", "106A"], "on-connect": lambda tag: False})
        if not isinstance(tag, nfc.tag.tt4.Type4Tag):
            raise CardRemovedError("no card in the field")
        yield CardSession(NfcTransport(tag))
    finally:
        clf.close()
