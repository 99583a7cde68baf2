"""The privacy guard refuses everything but the JPKI user-authentication commands, before the card sees it."""
from __future__ import annotations

import pytest

from device_agent.card.guard import GuardedTransport, PrivacyGuardError
from device_agent.card.transport import CardRemovedError

JPKI_AID = "D392F000260100000001"
SELECT_JPKI = bytes.fromhex("00A4040C0A" + JPKI_AID)


class FakeInner:
    """Answers 9000 to everything and records what reached it."""

    def __init__(self, sw: bytes = b"\x90\x00") -> None:
        self.sw = sw
        self.received: list[bytes] = []

    def transmit(self, apdu: bytes) -> bytes:
        self.received.append(bytes(apdu))
        return self.sw


def select_ef(ef: str) -> bytes:
    return bytes.fromhex("00A4020C02" + ef)


@pytest.fixture
def inner() -> FakeInner:
    return FakeInner()


@pytest.fixture
def guard_in_ap(inner: FakeInner) -> GuardedTransport:
    guard = GuardedTransport(inner)
    guard.transmit(SELECT_JPKI)
    inner.received.clear()
    return guard


def test_the_jpki_flow_passes_unchanged(inner: FakeInner) -> None:
    guard = GuardedTransport(inner)
    flow = [
        SELECT_JPKI,
        select_ef("0006"), bytes.fromhex("00B0000020"),
        select_ef("000A"), bytes.fromhex("00B0000000"), bytes.fromhex("00B0010000"),
        select_ef("000B"), bytes.fromhex("00B0000000"),
        select_ef("0018"), bytes.fromhex("00200080"), bytes.fromhex("002000800431323334"),
        select_ef("0017"), bytes.fromhex("802A008033") + bytes(51) + b"\x00",
        bytes.fromhex("00A404000A" + JPKI_AID + "00"),  # P2 00 (return FCI) with Le
    ]
    for apdu in flow:
        assert guard.transmit(apdu) == b"\x90\x00"
    assert inner.received == flow


@pytest.mark.parametrize(
    ("name", "aid"),
    [
        ("券面AP", "D3921000310001010402"),
        ("券面事項入力補助AP", "D3921000310001010408"),
        ("prefix of both 券面 APs", "D392100031"),
        ("JPKI AID one byte short (prefix)", JPKI_AID[:-2]),
        ("JPKI AID first 5 bytes", JPKI_AID[:10]),
        ("JPKI AID plus a byte (could match a longer AID)", JPKI_AID + "01"),
        ("RID of J-LIS only", "D392"),
    ],
)
def test_select_by_name_refuses_all_but_the_exact_jpki_aid(inner: FakeInner, name: str, aid: str) -> None:
    guard = GuardedTransport(inner)
    apdu = bytes.fromhex(f"00A4040C{len(aid) // 2:02X}{aid}")
    with pytest.raises(PrivacyGuardError):
        guard.transmit(apdu)
    assert inner.received == []


@pytest.mark.parametrize("ef", ["0001", "0002", "001A", "001B", "0005", "3F00"])
def test_signature_and_unlisted_efs_are_refused_inside_the_jpki_ap(inner: FakeInner, guard_in_ap: GuardedTransport, ef: str) -> None:
    with pytest.raises(PrivacyGuardError):
        guard_in_ap.transmit(select_ef(ef))
    assert inner.received == []


@pytest.mark.parametrize("ef", ["0006", "000A", "000B", "0017", "0018"])
def test_listed_efs_are_refused_before_the_jpki_ap_is_selected(inner: FakeInner, ef: str) -> None:
    with pytest.raises(PrivacyGuardError):
        GuardedTransport(inner).transmit(select_ef(ef))
    assert inner.received == []


@pytest.mark.parametrize(
    "apdu",
    [
        "00A4000C020001",  # SELECT by FID (MF/DF/EF)
        "00A4000C02000A",  # ... even of a listed EF
        "00A4010C020001",  # child DF
        "00A4030C",  # parent DF
        "00A4080C020001",  # path from MF
        "00A4090C020001",  # path from current DF
        "00A4020E02000A",  # listed EF but "next occurrence"
        "00A40402" + "0A" + JPKI_AID,  # JPKI AID, next occurrence
        "01A4040C0A" + JPKI_AID,  # logical channel 1
        "0CA4040C0A" + JPKI_AID,  # secure messaging CLA
        "00A4040C00000A" + JPKI_AID,  # extended length
    ],
)
def test_other_select_variants_are_refused(inner: FakeInner, guard_in_ap: GuardedTransport, apdu: str) -> None:
    with pytest.raises(PrivacyGuardError):
        guard_in_ap.transmit(bytes.fromhex(apdu))
    assert inner.received == []


@pytest.mark.parametrize(
    "apdu",
    [
        "00B0810000",  # short EF id 01 (signature certificate), implicit selection
        "00B09B0000",  # short EF id 1B
        "00B08A0000",  # short EF id 0A: even a listed EF may not be selected implicitly
        "00B1000004540200000000",  # READ BINARY odd INS (file id in P1 P2)
        "00B2010C00",  # READ RECORD with SFI
        "00C0000000",  # GET RESPONSE
        "0070000001",  # MANAGE CHANNEL
        "00CA010100",  # GET DATA
        "00D6000001FF",  # UPDATE BINARY
        "0084000008",  # GET CHALLENGE
    ],
)
def test_implicit_selection_and_unlisted_commands_are_refused(inner: FakeInner, guard_in_ap: GuardedTransport, apdu: str) -> None:
    guard_in_ap.transmit(select_ef("000A"))
    inner.received.clear()
    with pytest.raises(PrivacyGuardError):
        guard_in_ap.transmit(bytes.fromhex(apdu))
    assert inner.received == []


@pytest.mark.parametrize(
    ("current_ef", "apdu"),
    [
        (None, "00B0000000"),  # READ BINARY with no EF selected
        ("0017", "00B0000000"),  # READ BINARY of the private key EF
        ("0018", "00B0000000"),  # ... of the PIN EF
        ("000A", "002000800431323334"),  # VERIFY while the PIN EF is not current
        ("0018", "802A008033" + "00" * 51 + "00"),  # SIGN while the key EF is not current
    ],
)
def test_commands_are_tied_to_their_ef(inner: FakeInner, guard_in_ap: GuardedTransport, current_ef: str | None, apdu: str) -> None:
    if current_ef:
        guard_in_ap.transmit(select_ef(current_ef))
    inner.received.clear()
    with pytest.raises(PrivacyGuardError) as caught:
        guard_in_ap.transmit(bytes.fromhex(apdu))
    assert inner.received == []
    assert "31323334" not in str(caught.value).replace(" ", "")  # never echoes data (the PIN)


def test_a_failed_ap_select_leaves_efs_locked() -> None:
    inner = FakeInner(sw=b"\x6a\x82")
    guard = GuardedTransport(inner)
    guard.transmit(SELECT_JPKI)
    assert not guard.jpki_ap_selected
    with pytest.raises(PrivacyGuardError):
        guard.transmit(select_ef("000A"))
    assert inner.received == [SELECT_JPKI]


def test_a_failed_ef_select_leaves_no_current_ef(inner: FakeInner, guard_in_ap: GuardedTransport) -> None:
    guard_in_ap.transmit(select_ef("000A"))
    inner.sw = b"\x6a\x82"
    guard_in_ap.transmit(select_ef("000B"))
    with pytest.raises(PrivacyGuardError):  # the card's current EF is unknown, so no READ BINARY
        guard_in_ap.transmit(bytes.fromhex("00B0000000"))


def test_a_lost_card_resets_the_selection_state() -> None:
    class Gone:
        def transmit(self, apdu: bytes) -> bytes:
            raise CardRemovedError("gone")

    inner = FakeInner()
    guard = GuardedTransport(inner)
    guard.transmit(SELECT_JPKI)
    guard._inner = Gone()  # the same reader, the card has left the field
    with pytest.raises(CardRemovedError):
        guard.transmit(select_ef("000A"))
    assert not guard.jpki_ap_selected


def test_against_a_real_virtual_card_the_guard_is_what_stops_it(card, forbidden) -> None:
    """Unguarded, the card hands out the 券面AP and the signature EFs; guarded, it never hears of them."""
    kenmen = bytes.fromhex("00A4040C0A") + forbidden.kenmen_ap
    prefix = bytes.fromhex("00A4040C05") + forbidden.kenmen_ap[:5]
    assert card.transmit(kenmen) == b"\x90\x00"
    assert card.transmit(prefix) == b"\x90\x00"  # SELECT by name matches a prefix on the card
    assert card.transmit(select_ef("0001")) == b"\x90\x00"
    assert card.transmit(bytes.fromhex("00B0000000")).startswith(forbidden.marker)
    card.transmit(SELECT_JPKI)
    assert card.transmit(bytes.fromhex("00B0810000")).startswith(forbidden.marker)  # SFI 01 in the JPKI AP

    card.reset()
    before = card.apdus_received
    guard = GuardedTransport(card)
    for apdu in (kenmen, prefix, bytes.fromhex("00A4040C0A") + forbidden.hojo_ap):
        with pytest.raises(PrivacyGuardError):
            guard.transmit(apdu)
    guard.transmit(SELECT_JPKI)
    for ef in forbidden.signature_efs:
        with pytest.raises(PrivacyGuardError):
            guard.transmit(bytes.fromhex("00A4020C02") + ef)
    with pytest.raises(PrivacyGuardError):
        guard.transmit(bytes.fromhex("00B0810000"))
    assert card.apdus_received == before + 1  # only the JPKI AP select reached the card
