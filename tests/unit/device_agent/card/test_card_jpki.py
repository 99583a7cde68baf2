"""JPKI card commands against the virtual card directly (no NFC)."""
from __future__ import annotations

import hashlib
import logging
import math

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from device_agent.card.apdu import PinLocked, SecurityStatusNotSatisfied, WrongPin
from device_agent.card.jpki import (
    JpkiCard,
    TokenKind,
    der_total_length,
    parse_token_info,
    sha256_digest_info,
)
from device_agent.card.sim.virtual_card import VirtualJpkiCard
from device_agent.card.transport import CardProtocolError


@pytest.fixture
def jpki(recorder) -> JpkiCard:
    card = JpkiCard(recorder)
    card.select_jpki_ap()
    recorder.sent.clear()
    return card


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (b"JPKIAPICCTOKEN2".ljust(32, b" "), TokenKind.CARD),
        (b"JPKIAPICCTOKEN2".ljust(32, b"\x00"), TokenKind.CARD),
        (b"JPKIAPGPSETOKEN".ljust(32, b" "), TokenKind.ANDROID),
        (b"JPKIAPIOSTOKEN".ljust(32, b"\x00"), TokenKind.IPHONE),
    ],
)
def test_token_kinds(raw: bytes, kind: TokenKind) -> None:
    assert parse_token_info(raw) is kind


def test_a_token_that_is_not_jpki_is_a_protocol_error() -> None:
    with pytest.raises(CardProtocolError):
        parse_token_info(b"NOTJPKI".ljust(32, b" "))


@pytest.mark.parametrize(("token", "kind"), [(b"JPKIAPICCTOKEN2", TokenKind.CARD), (b"JPKIAPGPSETOKEN", TokenKind.ANDROID)])
def test_read_token_info_from_the_card(make_card, token: bytes, kind: TokenKind) -> None:
    card = make_card(token=token)
    jpki = JpkiCard(card)
    jpki.select_jpki_ap()
    assert jpki.read_token_info() is kind


@pytest.mark.parametrize(
    ("head", "total"),
    [("3005", 7), ("308180", 3 + 0x80), ("308204E2", 4 + 0x04E2), ("30830100AB", 5 + 0x0100AB)],
)
def test_der_total_length(head: str, total: int) -> None:
    assert der_total_length(bytes.fromhex(head)) == total


@pytest.mark.parametrize("head", ["3180", "3080", "3084", "30", "3082"])
def test_der_header_that_is_not_a_definite_sequence_is_refused(head: str) -> None:
    with pytest.raises(CardProtocolError):
        der_total_length(bytes.fromhex(head))


def read_binary_plan(sent: list[bytes]) -> list[tuple[int, int]]:
    """(offset, Le) of every READ BINARY that was sent."""
    return [(a[2] << 8 | a[3], a[4] or 256) for a in sent if a[1] == 0xB0]


def test_certificate_read_uses_the_fewest_apdus(jpki: JpkiCard, recorder, identity) -> None:
    cert = jpki.read_auth_certificate()
    assert cert == identity.certificate_der
    assert 1000 <= len(cert) <= 1300
    n = math.ceil(len(cert) / 256)
    assert len(recorder.sent) == 1 + n  # SELECT EF 000A + ceil(len/256) READ BINARY
    assert recorder.sent[0] == bytes.fromhex("00A4020C02000A")
    plan = read_binary_plan(recorder.sent)
    assert plan[:-1] == [(256 * i, 256) for i in range(n - 1)]
    assert plan[-1] == (256 * (n - 1), len(cert) - 256 * (n - 1))  # last chunk asks exactly the rest


def synthetic_der(total: int) -> bytes:
    """A DER SEQUENCE of exactly ``total`` bytes (the card does not parse its EF)."""
    for header_len in (2, 3, 4):
        body = total - header_len
        if header_len == 2 and body < 0x80:
            return bytes((0x30, body)) + bytes(body)
        if header_len == 3 and 0x80 <= body <= 0xFF:
            return bytes((0x30, 0x81, body)) + bytes(body)
        if header_len == 4 and body > 0xFF:
            return bytes((0x30, 0x82)) + body.to_bytes(2, "big") + bytes(body)
    raise AssertionError(total)


@pytest.mark.parametrize("size", [100, 200, 256, 257, 512, 513, 1300])
def test_certificate_of_any_size_is_read_whole(identity, make_recorder, size: int) -> None:
    der = synthetic_der(size)
    assert len(der) == size
    recorder = make_recorder(VirtualJpkiCard(identity.private_key, der))
    jpki = JpkiCard(recorder)
    jpki.select_jpki_ap()
    assert jpki.read_auth_certificate() == der
    assert len(read_binary_plan(recorder.sent)) == math.ceil(size / 256)


def test_ca_certificate_is_readable(jpki: JpkiCard, identity) -> None:
    assert jpki.read_auth_ca_certificate() == identity.ca_certificate_der


def test_tries_count_down_then_lock(jpki: JpkiCard, card, pin: str) -> None:
    assert jpki.pin_tries_left() == 3
    assert jpki.pin_tries_left() == 3  # asking spends nothing
    for left in (2, 1):
        with pytest.raises(WrongPin) as caught:
            jpki.verify_pin("0000")
        assert caught.value.tries_left == left and caught.value.sw == 0x63C0 | left
        assert jpki.pin_tries_left() == left
    with pytest.raises(PinLocked) as caught:
        jpki.verify_pin("0000")
    assert caught.value.sw == 0x63C0 and caught.value.by_this_attempt
    with pytest.raises(PinLocked) as caught:
        jpki.pin_tries_left()
    assert caught.value.sw == 0x6984 and not caught.value.by_this_attempt
    with pytest.raises(PinLocked) as caught:
        jpki.verify_pin(pin)  # even the right PIN: only the municipal office can unlock
    assert caught.value.sw == 0x6984
    assert card.tries_left == 0


def test_a_right_pin_resets_the_counter(jpki: JpkiCard, pin: str) -> None:
    with pytest.raises(WrongPin):
        jpki.verify_pin("0000")
    jpki.verify_pin(pin)
    assert jpki.pin_tries_left() is None  # already verified: the card answers 9000, not 63Cx
    jpki.select_jpki_ap()  # same DF: still verified
    assert jpki.pin_tries_left() is None


def test_verify_after_the_tries_query_does_not_reselect_the_pin_ef(jpki: JpkiCard, recorder, pin: str) -> None:
    jpki.pin_tries_left()
    jpki.verify_pin(pin)
    assert [a[:4].hex().upper() for a in recorder.sent] == ["00A4020C", "00200080", "00200080"]
    assert recorder.sent[2][4:] == bytes((4,)) + pin.encode()


@pytest.mark.parametrize("bad", ["", "123", "12345", "12a4", "１２３４", "12 4", "١٢٣٤"])
def test_a_malformed_pin_is_refused_before_anything_is_sent(jpki: JpkiCard, recorder, card, bad: str) -> None:
    before = card.apdus_received
    with pytest.raises(ValueError) as caught:
        jpki.verify_pin(bad)
    assert recorder.sent == [] and card.apdus_received == before
    assert card.tries_left == 3
    if bad:
        assert bad not in str(caught.value)


def test_face_recognition_card_has_no_usable_pin(make_card) -> None:
    card = make_card(pin=None)
    jpki = JpkiCard(card)
    jpki.select_jpki_ap()
    assert jpki.read_auth_certificate()  # the certificate is there and readable
    with pytest.raises(PinLocked) as caught:
        jpki.pin_tries_left()
    assert caught.value.sw == 0x6984
    with pytest.raises(PinLocked):
        jpki.verify_pin("1234")
    with pytest.raises(SecurityStatusNotSatisfied) as caught:
        jpki.sign(sha256_digest_info(b"challenge"))
    assert caught.value.sw == 0x6982


def test_sign_verifies_with_the_certificate_key(jpki: JpkiCard, identity, pin: str) -> None:
    challenge = b"server nonce 0123456789abcdef"
    jpki.verify_pin(pin)
    signature = jpki.sign(sha256_digest_info(challenge))
    assert len(signature) == 256
    public_key = x509.load_der_x509_certificate(identity.certificate_der).public_key()
    public_key.verify(signature, challenge, padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(InvalidSignature):
        public_key.verify(signature, challenge + b"!", padding.PKCS1v15(), hashes.SHA256())


def test_sign_without_pin_is_refused_by_the_card(jpki: JpkiCard) -> None:
    with pytest.raises(SecurityStatusNotSatisfied) as caught:
        jpki.sign(sha256_digest_info(b"challenge"))
    assert caught.value.sw == 0x6982


def test_verification_is_lost_on_power_loss_and_on_another_df(jpki: JpkiCard, card, pin: str, forbidden) -> None:
    jpki.verify_pin(pin)
    card.reset()  # power loss
    jpki.select_jpki_ap()
    with pytest.raises(SecurityStatusNotSatisfied):
        jpki.sign(sha256_digest_info(b"x"))

    jpki.verify_pin(pin)
    assert card.transmit(bytes.fromhex("00A4040C0A") + forbidden.kenmen_ap) == b"\x90\x00"  # unguarded on purpose
    jpki.select_jpki_ap()
    with pytest.raises(SecurityStatusNotSatisfied):
        jpki.sign(sha256_digest_info(b"x"))


def test_sha256_digest_info() -> None:
    info = sha256_digest_info(b"abc")
    assert len(info) == 51
    assert info[:19].hex() == "3031300d060960864801650304020105000420"
    assert info[19:] == hashlib.sha256(b"abc").digest()


def test_digest_info_too_long_for_a_short_apdu_is_refused(jpki: JpkiCard, recorder, pin: str) -> None:
    jpki.verify_pin(pin)
    recorder.sent.clear()
    with pytest.raises(ValueError):
        jpki.sign(b"\x00" * 256)
    assert all(a[1] != 0x2A for a in recorder.sent)


def test_the_pin_is_never_logged(jpki: JpkiCard, caplog: pytest.LogCaptureFixture, pin: str) -> None:
    caplog.set_level(logging.DEBUG, logger="device_agent")
    with pytest.raises(WrongPin):
        jpki.verify_pin("8642")
    jpki.verify_pin(pin)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "00 20 00 80 Lc=4 <redacted>" in text  # VERIFY is logged, its data is not
    for secret in (pin, "8642"):
        assert secret not in text
        assert secret.encode().hex() not in text.replace(" ", "").lower()


def test_the_pin_is_not_kept_on_any_object(recorder, card, pin: str) -> None:
    from device_agent.card.session import CardSession

    session = CardSession(recorder)
    session.identify()
    session.verify_pin(pin)
    session.sign_challenge(b"c")

    seen: set[int] = {id(card), id(recorder)}  # the card holds its PIN as a card does; the recorder is the test's

    def walk(obj: object, depth: int = 0) -> None:
        if id(obj) in seen or depth > 6:
            return
        seen.add(id(obj))
        if isinstance(obj, (str, bytes, bytearray)):
            assert pin not in (obj if isinstance(obj, str) else obj.decode("latin-1"))
            return
        if isinstance(obj, dict):
            items = list(obj.keys()) + list(obj.values())
        elif isinstance(obj, (list, tuple, set)):
            items = list(obj)
        else:
            items = list(getattr(obj, "__dict__", {}).values())
        for item in items:
            walk(item, depth + 1)

    walk(session)
    assert len(seen) > 5  # the walk did reach the session, its guard and its JPKI command layer
