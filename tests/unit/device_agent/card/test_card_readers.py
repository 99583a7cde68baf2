"""Which reader ``--reader`` picks among those found (card.readers.choose): zero, one, several."""
from __future__ import annotations

import pytest

from device_agent import messages
from device_agent.card.readers import Found, Reader, choose, find_readers
from device_agent.card.transport import ReaderNotFoundError, ReaderServiceError, SeveralReadersError

RCS380 = Reader("nfc", "usb:054c:06c3")
RCS300 = Reader("pcsc", "SONY FeliCa RC-S300/P 00 00", card_present=False)
ACR1252 = Reader("pcsc", "ACS ACR1252 Dual Reader PICC 00 00", card_present=True)


def test_no_reader_is_said_plainly() -> None:
    with pytest.raises(ReaderNotFoundError) as none:
        choose(Found([], []))
    assert "カードリーダーが見つかりません" in messages.describe(none.value)


def test_no_reader_because_the_service_is_down_says_so() -> None:
    with pytest.raises(ReaderServiceError) as down:
        choose(Found([], [ReaderServiceError("no service")]))
    assert "pcscd" in messages.describe(down.value) and "Smart Card" in messages.describe(down.value)


@pytest.mark.parametrize("only", [RCS380, RCS300])
def test_the_one_reader_present_is_taken(only: Reader) -> None:
    assert choose(Found([only], []), "auto") is only
    assert choose(Found([only], []), None) is only


def test_several_readers_take_the_one_with_a_card() -> None:
    assert choose(Found([RCS380, RCS300, ACR1252], [])) is ACR1252


def test_several_readers_without_a_card_ask_or_name_them() -> None:
    found = Found([RCS380, RCS300], [])
    assert choose(found, ask=lambda readers: readers[1]) is RCS300
    with pytest.raises(SeveralReadersError) as several:
        choose(found)
    text = messages.describe(several.value)
    assert "usb:054c:06c3" in text and "pcsc:SONY FeliCa RC-S300/P 00 00" in text and "--reader" in text


def test_named_readers() -> None:
    found = Found([RCS380, RCS300, ACR1252], [])
    assert choose(found, "pcsc:SONY FeliCa RC-S300/P 00 00") is RCS300
    assert choose(found, "pcsc:ACS") is ACR1252  # the start of exactly one name
    assert choose(found, "usb:072f:2200") == Reader("nfc", "usb:072f:2200")  # nfcpy opens the path itself
    with pytest.raises(ReaderNotFoundError):
        choose(found, "pcsc:Gemalto")
    with pytest.raises(SeveralReadersError):
        choose(Found([RCS300, Reader("pcsc", "SONY FeliCa RC-S300/P 01 00")], []), "pcsc:SONY")


def test_a_transport_that_cannot_be_asked_does_not_hide_the_other() -> None:
    def broken() -> list[Reader]:
        raise ReaderServiceError("pcscd is not running")

    found = find_readers((lambda: [RCS380], broken))
    assert found.readers == [RCS380] and isinstance(found.problems[0], ReaderServiceError)
    assert choose(found) is RCS380
