"""Short APDU encoding/decoding and typed status words."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device_agent.card.apdu import (
    CommandAPDU,
    FileNotFound,
    PinLocked,
    ResponseAPDU,
    SecurityStatusNotSatisfied,
    Status,
    StatusWordError,
    WrongPin,
)
from device_agent.card.transport import CardError, CardProtocolError


@pytest.mark.parametrize(
    ("apdu", "encoded"),
    [
        (CommandAPDU(0x00, 0x20, 0x00, 0x80), "00200080"),  # case 1: empty VERIFY
        (CommandAPDU(0x00, 0xB0, 0x01, 0x00, le=256), "00B0010000"),  # case 2, Le 256 -> 00
        (CommandAPDU(0x00, 0xB0, 0x00, 0x00, le=32), "00B0000020"),
        (CommandAPDU(0x00, 0xA4, 0x02, 0x0C, bytes.fromhex("000A")), "00A4020C02000A"),  # case 3
        (CommandAPDU(0x80, 0x2A, 0x00, 0x80, b"\x01\x02", le=256), "802A008002010200"),  # case 4
    ],
)
def test_encode_and_decode_the_four_cases(apdu: CommandAPDU, encoded: str) -> None:
    assert apdu.encode() == bytes.fromhex(encoded)
    assert CommandAPDU.decode(bytes.fromhex(encoded)) == apdu


def test_short_apdu_limits() -> None:
    assert len(CommandAPDU(0, 0xD6, 0, 0, b"\x00" * 255).encode()) == 5 + 255
    with pytest.raises(ValueError):
        CommandAPDU(0, 0xD6, 0, 0, b"\x00" * 256)
    for le in (0, 257):
        with pytest.raises(ValueError):
            CommandAPDU(0, 0xB0, 0, 0, le=le)
    with pytest.raises(ValueError):
        CommandAPDU(0x100, 0xB0, 0, 0)


@pytest.mark.parametrize(
    "raw",
    [
        "00A404",  # shorter than the header
        "00A4040C000002D392",  # extended length (Lc = 00 xx xx)
        "00A4040C0AD392F0",  # Lc says 10, 3 bytes follow
        "00A4040C02000A0000",  # Lc 2 + 2 trailing bytes: neither case 3 nor 4
    ],
)
def test_decode_rejects_what_is_not_a_short_apdu(raw: str) -> None:
    with pytest.raises(ValueError):
        CommandAPDU.decode(bytes.fromhex(raw))


@given(
    header=st.tuples(*[st.integers(0, 255)] * 4),
    data=st.binary(max_size=255),
    le=st.none() | st.integers(1, 256),
)
def test_decode_inverts_encode(header: tuple[int, int, int, int], data: bytes, le: int | None) -> None:
    apdu = CommandAPDU(*header, data=data, le=le)
    assert CommandAPDU.decode(apdu.encode()) == apdu


def test_response_decode() -> None:
    r = ResponseAPDU.decode(bytes.fromhex("0102039000"))
    assert (r.data, r.sw1, r.sw2, r.sw, r.status) == (b"\x01\x02\x03", 0x90, 0x00, 0x9000, Status.OK)
    assert r.check() is r
    assert r.encode() == bytes.fromhex("0102039000")
    with pytest.raises(CardProtocolError):
        ResponseAPDU.decode(b"\x90")


@pytest.mark.parametrize(
    ("sw", "status"),
    [
        (0x9000, Status.OK),
        (0x6282, Status.END_OF_FILE),
        (0x63C2, Status.WRONG_PIN),
        (0x63C1, Status.WRONG_PIN),
        (0x63C0, Status.LOCKED_BY_THIS_ATTEMPT),
        (0x6984, Status.REFERENCE_DATA_UNUSABLE),
        (0x6982, Status.SECURITY_STATUS_NOT_SATISFIED),
        (0x6A82, Status.FILE_NOT_FOUND),
        (0x6700, Status.WRONG_LENGTH),
        (0x6A86, Status.ERROR),
        (0x6D00, Status.ERROR),
        (0x6E00, Status.ERROR),
        (0x6B00, Status.ERROR),
    ],
)
def test_status_classification(sw: int, status: Status) -> None:
    assert Status.of(sw) is status


def test_wrong_pin_carries_tries_left_and_sw() -> None:
    with pytest.raises(WrongPin) as caught:
        ResponseAPDU(b"", 0x63, 0xC2).check()
    assert caught.value.tries_left == 2 and caught.value.sw == 0x63C2


@pytest.mark.parametrize(("sw", "by_this_attempt"), [(0x63C0, True), (0x6984, False)])
def test_pin_locked_says_whether_this_attempt_locked_it(sw: int, by_this_attempt: bool) -> None:
    with pytest.raises(PinLocked) as caught:
        ResponseAPDU(b"", sw >> 8, sw & 0xFF).check()
    assert caught.value.by_this_attempt is by_this_attempt and caught.value.sw == sw
    assert not isinstance(caught.value, WrongPin)


@pytest.mark.parametrize(
    ("sw", "cls"),
    [(0x6982, SecurityStatusNotSatisfied), (0x6A82, FileNotFound), (0x6A86, StatusWordError), (0x6D00, StatusWordError)],
)
def test_other_status_words_raise_typed_errors_with_the_sw(sw: int, cls: type) -> None:
    error = StatusWordError.for_sw(sw)
    assert type(error) is cls and error.sw == sw and isinstance(error, CardError)
    assert f"{sw:04X}" in str(error)
