"""The virtual card behaves like the real card where the agent depends on it."""
from __future__ import annotations

import time

import pytest

from device_agent.card.transport import CardRemovedError

SELECT_JPKI = bytes.fromhex("00A4040C0AD392F000260100000001")


def select_ef(ef: str) -> bytes:
    return bytes.fromhex("00A4020C02" + ef)


def test_read_binary_offsets_and_end_of_file(card, identity) -> None:
    cert = identity.certificate_der
    card.transmit(SELECT_JPKI)
    card.transmit(select_ef("000A"))
    assert card.transmit(bytes.fromhex("00B0000010")) == cert[:16] + b"\x90\x00"
    assert card.transmit(bytes.fromhex("00B0010010")) == cert[256:272] + b"\x90\x00"
    last = len(cert) - 10
    tail = card.transmit(bytes([0x00, 0xB0, last >> 8, last & 0xFF, 0x00]))
    assert tail == cert[last:] + b"\x62\x82"  # fewer bytes than Le: end of file
    beyond = len(cert)
    assert card.transmit(bytes([0x00, 0xB0, beyond >> 8, beyond & 0xFF, 0x00])) == b"\x6b\x00"
    assert card.transmit(bytes.fromhex("00B00000")) == b"\x67\x00"  # no Le


def test_selection_rules(card) -> None:
    assert card.transmit(select_ef("000A")) == b"\x6a\x82"  # no DF selected yet
    assert card.transmit(bytes.fromhex("00A4040C05D392F00026")) == b"\x90\x00"  # prefix selects JPKI AP
    assert card.transmit(select_ef("0099")) == b"\x6a\x82"
    assert card.transmit(bytes.fromhex("00A4040C03A00000")) == b"\x6a\x82"
    assert card.transmit(bytes.fromhex("00A4FF0C020001")) == b"\x6a\x86"
    assert card.transmit(bytes.fromhex("00B0000000")) == b"\x69\x86"  # no current EF


def test_key_and_pin_efs_are_not_readable(card) -> None:
    card.transmit(SELECT_JPKI)
    for ef in ("0017", "0018"):
        card.transmit(select_ef(ef))
        assert card.transmit(bytes.fromhex("00B0000000")) == b"\x69\x81"


def test_verify_and_sign_need_their_ef(card, pin: str) -> None:
    card.transmit(SELECT_JPKI)
    card.transmit(select_ef("000A"))
    assert card.transmit(bytes.fromhex("00200080")) == b"\x6a\x88"
    assert card.transmit(bytes.fromhex("802A008001AA00")) == b"\x69\x85"
    card.transmit(select_ef("0018"))
    assert card.transmit(bytes.fromhex("00200081")) == b"\x6a\x86"
    assert card.transmit(bytes.fromhex("00200080")) == b"\x63\xc3"


def test_unknown_commands(card) -> None:
    assert card.transmit(bytes.fromhex("0084000008")) == b"\x6d\x00"
    assert card.transmit(bytes.fromhex("A0A4040C00")) == b"\x6e\x00"
    assert card.transmit(bytes.fromhex("00A4040C0AD392")) == b"\x67\x00"  # Lc does not match


def test_counters(card) -> None:
    card.transmit(SELECT_JPKI)
    card.transmit(select_ef("0006"))
    card.transmit(bytes.fromhex("00B0000020"))
    assert card.apdus_received == 3
    assert card.bytes_in == 15 + 7 + 5
    assert card.bytes_out == 2 + 2 + 34


def test_removed_card_does_not_answer_and_forgets_the_pin_but_not_the_counter(card, pin: str) -> None:
    card.transmit(SELECT_JPKI)
    card.transmit(select_ef("0018"))
    assert card.transmit(bytes.fromhex("0020008004") + b"0000") == b"\x63\xc2"
    assert card.transmit(bytes.fromhex("0020008004") + pin.encode()) == b"\x90\x00"
    assert card.transmit(bytes.fromhex("0020008004") + b"0000") == b"\x63\xc2"
    card.remove()
    with pytest.raises(CardRemovedError):
        card.transmit(SELECT_JPKI)
    card.insert()
    card.transmit(SELECT_JPKI)
    card.transmit(select_ef("0018"))
    assert card.transmit(bytes.fromhex("00200080")) == b"\x63\xc2"  # counter kept, verification gone


def test_delays_model_card_time(make_card, pin: str) -> None:
    card = make_card(apdu_delay=0.01, sign_delay=0.2)
    assert card.process(SELECT_JPKI).busy_seconds == pytest.approx(0.01)
    card.transmit(select_ef("0017"))
    assert card.process(bytes.fromhex("802A008001AA00")).busy_seconds == pytest.approx(0.01)  # refused: no RSA ran
    card.transmit(select_ef("0018"))
    card.transmit(bytes.fromhex("0020008004") + pin.encode())
    card.transmit(select_ef("0017"))
    started = time.monotonic()
    response = card.transmit(bytes.fromhex("802A008033") + bytes(51) + b"\x00")
    assert time.monotonic() - started >= 0.2
    assert len(response) == 258 and response.endswith(b"\x90\x00")
