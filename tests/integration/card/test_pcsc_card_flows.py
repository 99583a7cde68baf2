"""The card path through a real pcsc-lite daemon: pyscard -> pcscd -> vpcd -> the virtual JPKI card."""
from __future__ import annotations

import math
import threading

import pytest

from tests.support.pcscd import require_pcsc

if not require_pcsc():  # a machine without pyscard skips this file; CI (REQUIRE_PCSC=1) fails on the import instead
    pytest.importorskip("smartcard", reason="pyscard is not installed (make setup installs it when libpcsclite-dev "
                                            "and swig are present; docs/readers.md)")
from smartcard import scard  # noqa: E402

from device_agent import messages
from device_agent.card.apdu import PinLocked, SecurityStatusNotSatisfied, WrongPin
from device_agent.card.guard import JPKI_AID, GuardedTransport, PrivacyGuardError
from device_agent.card.jpki import TokenKind
from device_agent.card.pcsc_transport import PcscContext
from device_agent.card.readers import Reader, reader_session
from device_agent.card.session import CardSession
from device_agent.card.transport import (
    CardRemovedError,
    NoCardError,
    ReaderBusyError,
    ReaderGoneError,
    ReaderServiceError,
)
from tests.integration.card.test_nfc_card_flows import verify_signature
from tests.support.pcsc_fixtures import READER

KENMEN_AP = bytes.fromhex("D3921000310001010402")  # 券面AP (individual number)
HOJO_AP = bytes.fromhex("D3921000310001010408")  # 券面事項入力補助AP
MARKER = b"PERSONAL-DATA-MUST-NOT-LEAVE-THE-CARD"


@pytest.fixture
def card(identity, pin):
    return identity.card(pin=pin, extra_files={KENMEN_AP: {b"\x00\x01": MARKER}, HOJO_AP: {b"\x00\x01": MARKER}})


@pytest.mark.parametrize(("t0_style", "protocol"), [(False, scard.SCARD_PROTOCOL_T1), (True, scard.SCARD_PROTOCOL_T0)])
def test_pin_flow_through_pcscd(pcsc_slot, card, identity, pin: str, t0_style: bool, protocol: int) -> None:
    served = pcsc_slot.insert(card, t0_style=t0_style)
    with PcscContext() as context:
        transport = context.connect(READER)
        assert transport.protocol == protocol  # contactless/T=1 readers and T=0 cards both negotiate
        session = CardSession(transport)
        ident = session.identify()
        assert ident.token is TokenKind.CARD and ident.certificate_der == identity.certificate_der
        assert session.tries_left() == 3
        session.verify_pin(pin)
        signature = session.sign_challenge(b"challenge")
        transport.close()
    verify_signature(ident.certificate_der, signature, b"challenge")
    reads = math.ceil(len(identity.certificate_der) / 256)
    assert card.apdus_received == 9 + reads
    # T=0 style: every answer with data came as 61xx and was fetched with GET RESPONSE (below the guard).
    answers_with_data = 1 + reads + 1  # token info, certificate chunks, signature
    assert served.messages == card.apdus_received + (answers_with_data if t0_style else 0)


def test_6cxx_is_resent_with_the_le_the_card_names(pcsc_slot, card) -> None:
    pcsc_slot.insert(card, t0_style=True)
    with PcscContext() as context:
        guard = GuardedTransport(context.connect(READER))
        assert guard.transmit(bytes.fromhex("00A4040C0A") + JPKI_AID)[-2:] == b"\x90\x00"
        assert guard.transmit(bytes.fromhex("00A4020C020006"))[-2:] == b"\x90\x00"
        response = guard.transmit(bytes.fromhex("00B0000040"))  # asks 64 bytes of a 32-byte file
    assert len(response) == 32 + 2 and response[-2:] == b"\x90\x00"
    assert response[:15] == b"JPKIAPICCTOKEN2"


def test_the_same_card_under_another_atr_is_the_same_card(pcsc_slot, identity, pin: str) -> None:
    """Identified by the JPKI AP and its token information, never by the ATR (cards answer with several)."""
    card = identity.card(pin=pin)
    seen = []
    for atr in (None, bytes.fromhex("3BFF1300008131FE4580311F")):
        with pcsc_slot.session(card, atr=atr) as session:
            seen.append(session.identify())
        pcsc_slot.remove()
    assert seen[0] == seen[1] and seen[0].token is TokenKind.CARD


def test_a_slow_signature_is_waited_for(pcsc_slot, identity, pin: str) -> None:
    card = identity.card(pin=pin, sign_delay=2.5)  # on-card RSA may take seconds; up to 20 s is allowed
    with pcsc_slot.session(card) as session:
        ident = session.identify(with_token_info=False)
        session.verify_pin(pin)
        signature = session.sign_challenge(b"slow")
    verify_signature(ident.certificate_der, signature, b"slow")


def test_wrong_pin_lock_and_face_card_status_words(pcsc_slot, identity) -> None:
    card = identity.card(pin="1234")
    with pcsc_slot.session(card) as session:
        session.identify(with_token_info=False)
        with pytest.raises(WrongPin) as first:
            session.verify_pin("0000")
        assert first.value.tries_left == 2
        with pytest.raises(SecurityStatusNotSatisfied):
            session.sign_challenge(b"c")
        for attempt in ("1111", "2222"):
            with pytest.raises((WrongPin, PinLocked)):
                session.verify_pin(attempt)
        with pytest.raises(PinLocked):
            session.tries_left()
    face = identity.card(pin=None, token=b"JPKIAPGPSETOKEN")
    with pcsc_slot.session(face) as session:
        assert session.identify().token is TokenKind.ANDROID
        with pytest.raises(PinLocked):
            session.verify_pin("1234")


@pytest.mark.parametrize("aid", [KENMEN_AP, HOJO_AP], ids=["kenmen", "kenmen_nyuryoku_hojo"])
def test_the_guard_refuses_the_kenmen_aps_over_pcsc(pcsc_slot, card, aid: bytes) -> None:
    served = pcsc_slot.insert(card)
    with PcscContext() as context:
        transport = context.connect(READER)
        guard = GuardedTransport(transport)
        before = served.messages
        for select in (bytes.fromhex("00A4040C0A") + aid, bytes.fromhex("00A40400") + bytes((len(aid),)) + aid):
            with pytest.raises(PrivacyGuardError):
                guard.transmit(select)
        # ... and CardSession offers no way around the guard: it is built in, on every transport.
        session = CardSession(transport)
        with pytest.raises(PrivacyGuardError):
            session._guard.transmit(bytes.fromhex("00A4040C0A") + aid)  # noqa: SLF001
    assert served.messages == before == 0, "nothing reached pcscd or the card"


# -- reader faults: each a typed error with its Japanese message --------------------------------------

def test_card_removed_between_commands(pcsc_slot, card) -> None:
    with pcsc_slot.session(card) as session:
        session.identify()
        pcsc_slot.card.remove()
        with pytest.raises(CardRemovedError) as removed:
            session.tries_left()
    assert "かざして" in messages.describe(removed.value)


def test_card_removed_while_the_card_signs(pcsc_slot, identity, pin: str) -> None:
    # The card leaves 0.3 s after it receives the SIGN (not after a timer started before the call, which a loaded
    # machine could fire before the SIGN or after a short signature), inside a 2 s computation.
    card = identity.card(pin=pin, sign_delay=2.0)
    timers: list[threading.Timer] = []
    process = card.process

    def remove_while_signing(apdu: bytes):  # type: ignore[no-untyped-def]
        reply = process(apdu)
        if apdu[:2] == b"\x80\x2a":
            timers.append(threading.Timer(0.3, card.remove))
            timers[-1].start()
        return reply

    card.process = remove_while_signing  # type: ignore[method-assign]
    with pcsc_slot.session(card) as session:
        session.identify(with_token_info=False)
        session.verify_pin(pin)
        try:
            with pytest.raises(CardRemovedError):
                session.sign_challenge(b"challenge")
        finally:
            for timer in timers:
                timer.cancel()
    assert len(timers) == 1


def test_sharing_violation_is_another_program_holding_the_reader(pcsc_slot, card) -> None:
    pcsc_slot.insert(card)
    with PcscContext() as other_program:
        hresult, handle, _ = scard.SCardConnect(other_program.handle, READER, scard.SCARD_SHARE_EXCLUSIVE,
                                                scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
        assert hresult == scard.SCARD_S_SUCCESS
        try:
            with pytest.raises(ReaderBusyError) as busy, reader_session(Reader("pcsc", READER), timeout=2):
                pass
        finally:
            scard.SCardDisconnect(handle, scard.SCARD_LEAVE_CARD)
    assert "ほかのアプリ" in messages.describe(busy.value)


def test_a_brief_look_by_another_program_is_waited_out(pcsc_slot, card, monkeypatch) -> None:
    pcsc_slot.insert(card)
    with PcscContext() as other_program:
        hresult, handle, _ = scard.SCardConnect(other_program.handle, READER, scard.SCARD_SHARE_SHARED,
                                                scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
        assert hresult == scard.SCARD_S_SUCCESS
        # The other program lets go once we have been refused (not after a fixed 0.5 s, which a loaded machine
        # could stretch past our 2 s of waiting): we must have waited it out, not found the card free.
        connect, refused = scard.SCardConnect, []

        def connect_then_release(*args):  # type: ignore[no-untyped-def]
            answer = connect(*args)
            if answer[0] == scard.SCARD_E_SHARING_VIOLATION and not refused:
                refused.append(answer)
                scard.SCardDisconnect(handle, scard.SCARD_LEAVE_CARD)
            return answer

        monkeypatch.setattr(scard, "SCardConnect", connect_then_release)
        with reader_session(Reader("pcsc", READER), timeout=2) as session:
            assert session.identify().token is TokenKind.CARD
        assert refused, "the reader was busy at first"


def test_no_other_program_can_use_the_card_during_our_session(pcsc_slot, card, pin: str) -> None:
    """Exclusive: nobody can slip a SELECT of another application, or a SIGN on our verified PIN, between ours."""
    with pcsc_slot.session(card) as session:
        session.identify(with_token_info=False)
        session.verify_pin(pin)
        with PcscContext() as other_program:
            hresult, _, _ = scard.SCardConnect(other_program.handle, READER, scard.SCARD_SHARE_SHARED,
                                               scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
        assert hresult == scard.SCARD_E_SHARING_VIOLATION
        session.sign_challenge(b"still ours")
    with PcscContext() as other_program:  # and after our session the card is reset: no verified PIN left over
        hresult, handle, protocol = scard.SCardConnect(other_program.handle, READER, scard.SCARD_SHARE_SHARED,
                                                       scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
        assert hresult == scard.SCARD_S_SUCCESS
        try:
            for apdu in ("00A4040C0A" + JPKI_AID.hex(), "00A4020C020017"):
                assert bytes(scard.SCardTransmit(handle, protocol, list(bytes.fromhex(apdu)))[1])[-2:] == b"\x90\x00"
            digest_info = bytes.fromhex("3031300d060960864801650304020105000420") + bytes(32)
            sign = bytes.fromhex("802A0080") + bytes((len(digest_info),)) + digest_info + b"\x00"
            assert bytes(scard.SCardTransmit(handle, protocol, list(sign))[1]) == b"\x69\x82"  # needs the PIN
        finally:
            scard.SCardDisconnect(handle, scard.SCARD_LEAVE_CARD)


def test_reader_unplugged_mid_session(pcsc_slot, card, monkeypatch) -> None:
    with pcsc_slot.session(card) as session:
        session.identify(with_token_info=False)
        # What pcscd answers once the USB reader is gone (vpcd's readers cannot be unplugged).
        monkeypatch.setattr(scard, "SCardTransmit", lambda *_: (scard.SCARD_E_READER_UNAVAILABLE, []))
        with pytest.raises(ReaderGoneError) as gone:
            session.tries_left()
        monkeypatch.undo()
    assert "USBケーブル" in messages.describe(gone.value)


def test_pcscd_not_running(pcscd, pcsc_slot, card) -> None:
    with pcsc_slot.session(card) as session:
        session.identify()
        pcscd.stop()  # the service goes away mid-session
        try:
            with pytest.raises(ReaderServiceError) as mid_session:
                session.tries_left()
            with pytest.raises(ReaderServiceError) as stopped:
                PcscContext().readers()
        finally:
            pcsc_slot.card = None  # went with the daemon
            pcscd.start()
    for error in (mid_session.value, stopped.value):
        assert "pcscd" in messages.describe(error) and "Smart Card" in messages.describe(error)
    with PcscContext() as context:
        assert READER in context.readers(), "the daemon is back for the other tests"


def test_no_card_presented(pcsc_slot) -> None:
    with PcscContext() as context, pytest.raises(NoCardError) as none:
        context.wait_for_card(READER, timeout=0.3)
    assert "カードが見つかりませんでした" in messages.describe(none.value)


def test_a_sandbox_issued_card_served_to_vpcd(pcsc_slot, identity, tmp_path) -> None:
    """``python -m device_agent.card.sim.vpcd CARD_DIR``: the onboarding's card folder, read over PC/SC."""
    import json

    from cryptography.hazmat.primitives import serialization

    from device_agent.card.sim.vpcd import serve_card_files

    (tmp_path / "key.pem").write_bytes(identity.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (tmp_path / "cert.der").write_bytes(identity.certificate_der)
    (tmp_path / "card.json").write_text(json.dumps({"persona_id": "P01", "token": "JPKIAPICCTOKEN2", "pin": "2468"}))
    served = serve_card_files(str(tmp_path), pcsc_slot.daemon.connect_card())
    pcsc_slot.card = served  # taken out again at the end of the test
    pcsc_slot.wait_until(present=True)
    with reader_session(Reader("pcsc", READER), timeout=2) as session:
        assert session.identify().certificate_der == identity.certificate_der
        session.verify_pin("2468")
        verify_signature(identity.certificate_der, session.sign_challenge(b"onboarding"), b"onboarding")
