"""ISO/IEC 14443-4 PICC block rules of the simulation, frame by frame (nfcpy drives the happy paths)."""
from __future__ import annotations

import pytest

from device_agent.card.sim.iso_dep import IsoDepPicc, Mute, fwt_seconds

SELECT_JPKI = bytes.fromhex("00A4040C0AD392F000260100000001")


@pytest.fixture
def picc(card) -> IsoDepPicc:
    return IsoDepPicc(card, fsd=32, fwi=4, wtxm=2)  # 29 INF bytes per block


def test_i_block_numbers_toggle(picc: IsoDepPicc) -> None:
    assert picc.handle(b"\x02" + SELECT_JPKI, 1.0) == b"\x02\x90\x00"
    assert picc.handle(b"\x03" + bytes.fromhex("00A4020C02000A"), 1.0) == b"\x03\x90\x00"


def test_response_chaining_and_retransmission(picc: IsoDepPicc, identity) -> None:
    cert = identity.certificate_der
    picc.handle(b"\x02" + SELECT_JPKI, 1.0)
    picc.handle(b"\x03" + bytes.fromhex("00A4020C02000A"), 1.0)
    first = picc.handle(b"\x02" + bytes.fromhex("00B0000040"), 1.0)  # 64 + SW = 66 bytes -> 29 + 29 + 8
    assert first == b"\x12" + cert[:29]
    assert picc.handle(b"\xa2", 1.0) == first  # R(ACK) with the PICC's own number: retransmit
    assert picc.handle(b"\xb2", 1.0) == first  # R(NAK) with the PICC's own number: retransmit
    second = picc.handle(b"\xa3", 1.0)  # R(ACK) of the next number: continue the chain
    assert second == b"\x13" + cert[29:58]
    third = picc.handle(b"\xa2", 1.0)
    assert third == b"\x02" + cert[58:64] + b"\x90\x00"  # last block: no chaining bit
    assert picc.handle(b"\xb3", 1.0) == b"\xa2"  # presence check R(NAK): answered by R(ACK)


def test_command_chaining(picc: IsoDepPicc) -> None:
    assert picc.handle(b"\x12" + SELECT_JPKI[:8], 1.0) == b"\xa2"
    assert picc.handle(b"\x03" + SELECT_JPKI[8:], 1.0) == b"\x03\x90\x00"
    assert picc.card.apdus_received == 1


def test_wtx_while_the_card_computes(make_card, pin: str) -> None:
    card = make_card(sign_delay=3 * fwt_seconds(4))
    picc = IsoDepPicc(card, fsd=256, fwi=4, wtxm=2)
    for i, apdu in enumerate(
        [SELECT_JPKI, bytes.fromhex("00A4020C020018"), bytes.fromhex("0020008004") + pin.encode(), bytes.fromhex("00A4020C020017")]
    ):
        assert picc.handle(bytes((0x02 | i % 2,)) + apdu, 1.0)[-2:] == b"\x90\x00"
    frame = picc.handle(b"\x02" + bytes.fromhex("802A008033") + bytes(51) + b"\x00", 1.0)
    wtx = 0
    while frame[0] == 0xF2:
        wtx += 1
        assert frame[1] == 2
        frame = picc.handle(b"\xf2\x02", 2 * fwt_seconds(4))
    assert wtx >= 2
    assert frame[0] & 0xE2 == 0x02  # then the signature arrives as an I-block


def test_deselect_and_unsupported_cid(picc: IsoDepPicc) -> None:
    with pytest.raises(Mute):
        picc.handle(b"\x0a\x00" + SELECT_JPKI, 1.0)  # CID follows: not supported, no answer
    assert picc.handle(b"\xc2", 1.0) == b"\xc2"
    with pytest.raises(Mute):
        picc.handle(b"\x02" + SELECT_JPKI, 1.0)


def test_removed_card_is_mute(picc: IsoDepPicc) -> None:
    picc.card.remove()
    with pytest.raises(Mute):
        picc.handle(b"\x02" + SELECT_JPKI, 1.0)
