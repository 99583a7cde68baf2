"""Fixtures for the card path unit tests: a throwaway identity and a virtual card holding what a real
My Number card holds besides JPKI, so the tests can show the guard (not the card) keeps it out."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from device_agent.card.guard import JPKI_AID
from device_agent.card.sim.testing import TestIdentity, make_test_identity
from device_agent.card.sim.virtual_card import VirtualJpkiCard

PIN = "9753"

# What a real card also holds. The guard must refuse all of it; these identifiers appear only in tests.
KENMEN_AP = bytes.fromhex("D3921000310001010402")  # 券面AP (individual number)
KENMEN_NYURYOKU_HOJO_AP = bytes.fromhex("D3921000310001010408")  # 券面事項入力補助AP
SIGNATURE_EFS = [bytes.fromhex(x) for x in ("0001", "0002", "001A", "001B")]  # 署名用 cert/key/CA/password
FORBIDDEN_MARKER = b"PERSONAL-DATA-MUST-NOT-LEAVE-THE-CARD"


@pytest.fixture
def forbidden() -> SimpleNamespace:
    return SimpleNamespace(
        kenmen_ap=KENMEN_AP,
        hojo_ap=KENMEN_NYURYOKU_HOJO_AP,
        signature_efs=SIGNATURE_EFS,
        marker=FORBIDDEN_MARKER,
    )


@pytest.fixture
def pin() -> str:
    return PIN


@pytest.fixture(scope="session")
def identity() -> TestIdentity:
    return make_test_identity()


@pytest.fixture
def make_card(identity: TestIdentity):
    def make(**options) -> VirtualJpkiCard:
        options.setdefault("pin", PIN)
        options.setdefault(
            "extra_files",
            {
                KENMEN_AP: {bytes.fromhex("0001"): FORBIDDEN_MARKER},
                KENMEN_NYURYOKU_HOJO_AP: {bytes.fromhex("0001"): FORBIDDEN_MARKER},
                JPKI_AID: {ef: FORBIDDEN_MARKER for ef in SIGNATURE_EFS},
            },
        )
        return identity.card(**options)

    return make


@pytest.fixture
def card(make_card) -> VirtualJpkiCard:
    return make_card()


class Recorder:
    """A transport that records every APDU that reaches it, then passes it to the card."""

    def __init__(self, card: VirtualJpkiCard) -> None:
        self.card = card
        self.sent: list[bytes] = []

    def transmit(self, apdu: bytes) -> bytes:
        self.sent.append(bytes(apdu))
        return self.card.transmit(apdu)


@pytest.fixture
def make_recorder():
    return Recorder


@pytest.fixture
def recorder(card: VirtualJpkiCard) -> Recorder:
    return Recorder(card)
