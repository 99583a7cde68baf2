"""Identify, tries, verify, sign through nfcpy (Type4Tag, ISO-DEP chaining, S(WTX)) over the virtual reader."""
from __future__ import annotations

import math

import nfc.tag.tt4
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from device_agent.card.apdu import PinLocked, SecurityStatusNotSatisfied, WrongPin
from device_agent.card.guard import GuardedTransport, PrivacyGuardError
from device_agent.card.jpki import TokenKind
from device_agent.card.nfc_transport import NoCardError, wait_for_card
from device_agent.card.session import CardSession
from device_agent.card.sim.nfc_virtual import open_virtual_frontend

KENMEN_AP = bytes.fromhex("D3921000310001010402")  # 券面AP: must never be selected


def verify_signature(certificate_der: bytes, signature: bytes, challenge: bytes) -> None:
    key = x509.load_der_x509_certificate(certificate_der).public_key()
    key.verify(signature, challenge, padding.PKCS1v15(), hashes.SHA256())


@pytest.mark.parametrize(("technology", "tag_class"), [("B", nfc.tag.tt4.Type4BTag), ("A", nfc.tag.tt4.Type4ATag)])
def test_pin_flow_through_nfcpy(connect, identity, pin: str, technology: str, tag_class: type) -> None:
    c = connect(type=technology)
    assert type(c.tag) is tag_class
    session = CardSession(c.transport)
    challenge = bytes(range(32))

    ident = session.identify()
    assert ident.token is TokenKind.CARD
    assert ident.certificate_der == identity.certificate_der
    assert session.tries_left() == 3
    session.verify_pin(pin)
    signature = session.sign_challenge(challenge)
    verify_signature(ident.certificate_der, signature, challenge)

    reads = math.ceil(len(identity.certificate_der) / 256)
    assert c.card.apdus_received == 9 + reads

    # FSD 128 -> at most 125 INF bytes per PICC block: every 256-byte chunk and the signature crossed
    # ISO-DEP chaining; count exactly how many chained blocks those responses needed.
    cert = len(identity.certificate_der)
    responses = [2, 2, 34, 2] + [258] * (reads - 1) + [cert - 256 * (reads - 1) + 2] + [2, 2, 2, 2, 258]
    assert c.device.chained_blocks["PICC"] == sum(math.ceil(r / 125) - 1 for r in responses)
    assert c.device.wtx_requests == 0  # no card delay, no waiting time extension


def test_command_chaining_with_a_small_card_frame_size(connect, identity, pin: str) -> None:
    c = connect(device_options={"fsci": 2})  # FSC 32: a 57-byte SIGN command needs two I-blocks
    session = CardSession(c.transport)
    ident = session.identify(with_token_info=False)
    session.verify_pin(pin)
    signature = session.sign_challenge(b"challenge")
    verify_signature(ident.certificate_der, signature, b"challenge")
    assert c.device.chained_blocks["PCD"] >= 1


def test_slow_on_card_rsa_is_covered_by_wtx(connect, pin: str) -> None:
    c = connect(sign_delay=0.4)  # FWT with FWI 8 is about 77 ms
    session = CardSession(c.transport)
    ident = session.identify(with_token_info=False)
    session.verify_pin(pin)
    signature = session.sign_challenge(b"slow")
    verify_signature(ident.certificate_der, signature, b"slow")
    assert c.device.wtx_requests >= 1


def test_status_words_cross_nfcpy_untouched(connect) -> None:
    c = connect()
    session = CardSession(c.transport)
    session.identify(with_token_info=False)
    with pytest.raises(WrongPin) as caught:
        session.verify_pin("0000")
    assert caught.value.tries_left == 2
    with pytest.raises(SecurityStatusNotSatisfied):
        session.sign_challenge(b"c")


@pytest.mark.parametrize("technology", ["B", "A"])
def test_phone_tokens_and_face_recognition_card(connect, technology: str) -> None:
    c = connect(type=technology, token=b"JPKIAPGPSETOKEN", pin=None)
    session = CardSession(c.transport)
    assert session.identify().token is TokenKind.ANDROID
    with pytest.raises(PinLocked) as caught:
        session.verify_pin("1234")
    assert caught.value.sw == 0x6984


def test_guard_stops_forbidden_selects_before_nfcpy_sends_a_frame(connect) -> None:
    c = connect()
    guard = GuardedTransport(c.transport)
    frames, apdus = len(c.device.trace), c.card.apdus_received
    with pytest.raises(PrivacyGuardError):
        guard.transmit(bytes.fromhex("00A4040C0A") + KENMEN_AP)
    assert (len(c.device.trace), c.card.apdus_received) == (frames, apdus)


def test_the_pin_does_not_reach_nfcpy_logs(connect, pin: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(1, logger="nfc")  # nfcpy's frame logs, down to the USB transport level
    caplog.set_level(1)
    c = connect()
    session = CardSession(c.transport)
    session.identify(with_token_info=False)
    session.tries_left()
    session.verify_pin(pin)
    text = "\n".join(r.getMessage() for r in caplog.records).lower().replace(" ", "")
    assert any(r.name == "nfc.clf" and ">>>" in r.getMessage() for r in caplog.records)  # frames were logged
    assert "00200080" in text  # the empty VERIFY is logged by nfcpy as usual
    # Only the hex form can leak here (nfcpy dumps frames as hex; a bare 4-digit string would also
    # match random certificate bytes). 8 hex digits give a false alarm about once in a million runs.
    assert "0020008004" + pin.encode().hex() not in text
    assert pin.encode().hex() not in text


def test_wait_for_card(identity, pin: str) -> None:
    card = identity.card(pin=pin)
    card.remove()
    clf = open_virtual_frontend(card, type="A")
    try:
        with pytest.raises(NoCardError):
            wait_for_card(clf, timeout=0.3)
        card.insert()
        transport = wait_for_card(clf, timeout=30.0)  # returns at the first poll that finds it
        assert CardSession(transport).tries_left() == 3
    finally:
        clf.close()
