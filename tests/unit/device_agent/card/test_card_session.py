"""The flow-facing card session over the virtual card: results, APDU budget, and what reaches the card."""
from __future__ import annotations

import math

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from device_agent.card.apdu import PinLocked, SecurityStatusNotSatisfied, WrongPin
from device_agent.card.jpki import TokenKind
from device_agent.card.session import CardSession
from device_agent.card.transport import CardRemovedError

JPKI_AID = bytes.fromhex("D392F000260100000001")
ALLOWED_EFS = {bytes.fromhex(ef) for ef in ("0006", "000A", "000B", "0017", "0018")}


def run_pin_flow(session: CardSession, pin: str, challenge: bytes, *, with_token_info: bool) -> tuple:
    identity = session.identify(with_token_info=with_token_info)
    tries = session.tries_left()
    session.verify_pin(pin)
    return identity, tries, session.sign_challenge(challenge)


@pytest.mark.parametrize(("with_token_info", "fixed"), [(True, 9), (False, 7)])
def test_pin_flow_within_the_apdu_budget(recorder, identity, pin: str, with_token_info: bool, fixed: int) -> None:
    challenge = b"\x01" * 32
    ident, tries, signature = run_pin_flow(CardSession(recorder), pin, challenge, with_token_info=with_token_info)

    assert ident.certificate_der == identity.certificate_der
    assert ident.token is (TokenKind.CARD if with_token_info else None)
    assert tries == 3
    cert = x509.load_der_x509_certificate(ident.certificate_der)
    cert.public_key().verify(signature, challenge, padding.PKCS1v15(), hashes.SHA256())
    assert len(recorder.sent) == fixed + math.ceil(len(identity.certificate_der) / 256)


def test_only_allow_listed_apdus_reach_the_card(recorder, pin: str) -> None:
    session = CardSession(recorder)
    run_pin_flow(session, pin, b"c", with_token_info=True)
    for apdu in recorder.sent:
        if apdu[1] == 0xA4:
            assert (apdu[2], apdu[5:]) in {(0x04, JPKI_AID)} | {(0x02, ef) for ef in ALLOWED_EFS}
        if apdu[1] == 0xB0:
            assert apdu[2] & 0x80 == 0


def test_wrong_pin_then_right_pin(recorder, pin: str) -> None:
    session = CardSession(recorder)
    session.identify()
    with pytest.raises(WrongPin) as caught:
        session.verify_pin("0000")
    assert caught.value.tries_left == 2
    assert session.tries_left() == 2
    session.verify_pin(pin)
    assert len(session.sign_challenge(b"c")) == 256


def test_face_recognition_card_offers_only_identify(make_card, make_recorder) -> None:
    session = CardSession(make_recorder(make_card(pin=None)))
    assert session.identify().certificate_der
    with pytest.raises(PinLocked):
        session.tries_left()


def test_a_removed_card_ends_the_session_and_a_new_one_needs_the_pin_again(recorder, card, pin: str) -> None:
    session = CardSession(recorder)
    session.identify(with_token_info=False)
    session.verify_pin(pin)
    card.remove()
    with pytest.raises(CardRemovedError):
        session.sign_challenge(b"c")
    card.insert()
    fresh = CardSession(recorder)
    assert fresh.tries_left() == 3
    with pytest.raises(SecurityStatusNotSatisfied):
        fresh.sign_challenge(b"c")  # the verified status did not survive the power loss
