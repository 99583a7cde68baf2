"""ISO/IEC 14443-4 half-duplex block transmission protocol, PICC (card) side, over a VirtualJpkiCard.

This is what lets tests run nfcpy's real ISO-DEP initiator (Type4Tag) end to end: I-blocks with block
numbers and chaining in both directions, R(ACK)/R(NAK) with the PICC retransmission rules, S(WTX)
while the card is busy beyond the frame waiting time, S(DESELECT). CID and NAD are not supported
(and not advertised), as nfcpy does not use them.

Frames are PCB + INF without the CRC (the reader chip handles EDC). A response block carries at most
FSD - 3 bytes of INF (PCB and the two EDC bytes count against FSD). Nothing here logs frame contents:
a VERIFY block carries the PIN. ``trace`` records only the kind and length of each block.
"""
from __future__ import annotations

import time

from device_agent.card.sim.virtual_card import VirtualJpkiCard

FS_TABLE = (16, 24, 32, 40, 48, 64, 96, 128, 256)  # FSDI/FSCI -> frame size


class Mute(Exception):
    """The PICC sends nothing back (card gone, deselected, protocol error): the reader times out."""


def fwt_seconds(fwi: int) -> float:
    return 4096 / 13.56e6 * 2**fwi


def block_kind(pcb: int) -> str:
    if pcb & 0xE2 == 0x02:
        return "I+chain" if pcb & 0x10 else "I"
    if pcb & 0xE6 == 0xA2:
        return "R(NAK)" if pcb & 0x10 else "R(ACK)"
    if pcb & 0xC7 == 0xC2:
        return {0x00: "S(DESELECT)", 0x30: "S(WTX)"}.get(pcb & 0x30, "S(?)")
    return "?"


class IsoDepPicc:
    """Block protocol state machine of one activated PICC."""

    WTX_MARGIN = 0.8  # ask for more time well before the reader's waiting time runs out

    def __init__(self, card: VirtualJpkiCard, *, fsd: int, fwi: int, wtxm: int) -> None:
        self.card, self.fsd, self.fwt, self.wtxm = card, fsd, fwt_seconds(fwi), wtxm
        self.block_number = 1  # rule C: the PICC block number starts at 1
        self._rx_chain = bytearray()
        self._tx_rest = b""  # response bytes still to send with chaining
        self._last_block = b""
        self._busy_left: float | None = None  # card still computing, response ready in _pending
        self._pending = b""
        self.deselected = False
        self.trace: list[tuple[str, str, int]] = []

    def handle(self, frame: bytes, timeout: float) -> bytes:
        if not self.card.present or self.deselected or not frame:
            raise Mute
        self.trace.append(("PCD", block_kind(frame[0]), len(frame)))
        pcb = frame[0]
        if pcb & 0x0C:
            raise Mute  # CID/NAD following: not supported, stay silent
        if self._busy_left is not None:  # only S(WTX) responses arrive while the card computes
            window = (frame[1] & 0x3F) * self.fwt if block_kind(pcb) == "S(WTX)" and len(frame) > 1 else self.fwt
            return self._send(self._wait(window, timeout))
        kind = block_kind(pcb)
        if kind in ("I", "I+chain"):
            return self._i_block(kind, frame, timeout)
        if kind in ("R(ACK)", "R(NAK)"):
            return self._r_block(kind, pcb)
        if kind == "S(DESELECT)":
            self.deselected = True
            return self._send(b"\xc2")
        raise Mute

    def _i_block(self, kind: str, frame: bytes, timeout: float) -> bytes:
        """A chained part is acknowledged; the last part hands the whole APDU to the card."""
        self.block_number ^= 1  # rule 10: toggle on every I-block
        self._rx_chain += frame[1:]
        if kind == "I+chain":
            return self._send(bytes((0xA2 | self.block_number,)), remember=True)
        apdu, self._rx_chain = bytes(self._rx_chain), bytearray()
        self._pending, self._busy_left = self.card.process(apdu)
        return self._send(self._wait(self.fwt, timeout))

    def _r_block(self, kind: str, pcb: int) -> bytes:
        """An R-block with our block number asks for the last block again (rules 11, 12); an ACK with the
        other one asks for the next part of a chained response, a NAK with it is acknowledged."""
        if pcb & 1 == self.block_number:
            return self._send(self._last_block)
        if kind == "R(NAK)":
            return self._send(bytes((0xA2 | self.block_number,)))
        if not self._tx_rest:
            raise Mute
        self.block_number ^= 1
        return self._send(self._next_i_block())

    def _wait(self, window: float, timeout: float) -> bytes:
        """Let the card compute; answer with the response or with S(WTX) before the window closes."""
        assert self._busy_left is not None
        limit = self.WTX_MARGIN * window
        if self._busy_left <= limit:
            if self._busy_left > timeout:
                time.sleep(timeout)
                raise Mute  # the reader gave up first
            time.sleep(self._busy_left)
            self._check_present()
            self._busy_left, self._tx_rest = None, self._pending
            return self._next_i_block()
        if limit > timeout:
            time.sleep(timeout)
            raise Mute
        time.sleep(limit)
        self._busy_left -= limit
        self._check_present()
        return bytes((0xF2, self.wtxm))

    def _next_i_block(self) -> bytes:
        room = self.fsd - 3
        chunk, self._tx_rest = self._tx_rest[:room], self._tx_rest[room:]
        pcb = 0x02 | self.block_number | (0x10 if self._tx_rest else 0)
        self._last_block = bytes((pcb,)) + chunk
        return self._last_block

    def _send(self, frame: bytes, *, remember: bool = False) -> bytes:
        if remember:
            self._last_block = frame
        self.trace.append(("PICC", block_kind(frame[0]), len(frame)))
        return frame

    def _check_present(self) -> None:
        if not self.card.present:
            raise Mute
