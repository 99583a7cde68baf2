"""A card that leaves the field mid-exchange surfaces as CardRemovedError, whatever nfcpy was doing."""
from __future__ import annotations

import threading

import pytest

from device_agent.card.session import CardSession
from device_agent.card.transport import CardRemovedError


def remove_card_after(c, predicate) -> list[bytes]:
    """Take the card away right after the virtual PICC sent a frame matching ``predicate``.

    Returns the list that collects the frames nfcpy sends to the empty field afterwards.
    """
    device = c.device
    original = device.send_cmd_recv_rsp
    unanswered: list[bytes] = []

    def exchange(target, data, timeout):
        if not c.card.present:
            unanswered.append(bytes(data))
        response = original(target, data, timeout)
        if predicate(device.trace):
            c.card.remove()
        return response

    device.send_cmd_recv_rsp = exchange
    return unanswered


@pytest.mark.parametrize("technology", ["B", "A"])
def test_removed_in_the_middle_of_a_chained_certificate_chunk(connect, technology: str) -> None:
    c = connect(type=technology)
    session = CardSession(c.transport)
    session.tries_left()  # the card works
    # Remove it after the first block of the first 256-byte READ BINARY answer: nfcpy's R(ACK) for
    # the rest of the chain then goes unanswered.
    unanswered = remove_card_after(c, lambda trace: trace[-1][:2] == ("PICC", "I+chain"))
    with pytest.raises(CardRemovedError):
        session.identify(with_token_info=False)
    assert c.card.apdus_received == 3 + 2  # AP, 0018, empty VERIFY; then 000A + the interrupted READ BINARY
    assert c.device.trace[-1][:2] == ("PICC", "I+chain")
    assert unanswered and all(frame[0] & 0xF6 == 0xA2 for frame in unanswered)  # nfcpy's R(ACK) retries


def test_removed_while_the_card_computes_the_signature(connect, pin: str) -> None:
    # The card leaves 0.2 s after it starts computing, counted from the SIGN itself (a timer started before the
    # call could fire before the SIGN was sent on a loaded machine), in a computation long enough (5 s) that a
    # late timer still lands inside it.
    c = connect(sign_delay=5.0)
    session = CardSession(c.transport)
    session.identify(with_token_info=False)
    session.verify_pin(pin)
    timers: list[threading.Timer] = []
    process = c.card.process

    def remove_while_signing(apdu: bytes):  # type: ignore[no-untyped-def]
        reply = process(apdu)
        if apdu[:2] == b"\x80\x2a":
            timers.append(threading.Timer(0.2, c.card.remove))
            timers[-1].start()
        return reply

    c.card.process = remove_while_signing  # type: ignore[method-assign]
    try:
        with pytest.raises(CardRemovedError):
            session.sign_challenge(b"challenge")
    finally:
        for timer in timers:
            timer.cancel()
    assert len(timers) == 1
    assert c.device.wtx_requests >= 1  # the card was still asking for time when it left


def test_removed_between_commands(connect) -> None:
    c = connect()
    session = CardSession(c.transport)
    session.identify()
    c.card.remove()
    with pytest.raises(CardRemovedError):
        session.tries_left()
