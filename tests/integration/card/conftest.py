"""The card path through nfcpy's own stack: a virtual reader device under a real ContactlessFrontend."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import nfc.clf
import nfc.tag.tt4
import pytest

from device_agent.card.nfc_transport import NfcTransport
from device_agent.card.sim.nfc_virtual import VirtualReaderDevice, open_virtual_frontend
from device_agent.card.sim.testing import TestIdentity, make_test_identity
from device_agent.card.sim.virtual_card import VirtualJpkiCard

PIN = "9753"


@dataclass
class Connected:
    card: VirtualJpkiCard
    clf: nfc.clf.ContactlessFrontend
    tag: nfc.tag.tt4.Type4Tag
    transport: NfcTransport

    @property
    def device(self) -> VirtualReaderDevice:
        return self.clf.device


@pytest.fixture(scope="session")
def identity() -> TestIdentity:
    return make_test_identity()


@pytest.fixture
def pin() -> str:
    return PIN


@pytest.fixture
def connect(identity: TestIdentity) -> Iterator:
    opened: list[nfc.clf.ContactlessFrontend] = []

    def connect(*, type: str = "B", card: VirtualJpkiCard | None = None, device_options: dict | None = None, **card_options) -> Connected:
        card_options.setdefault("pin", PIN)
        card = card or identity.card(**card_options)
        clf = open_virtual_frontend(card, type=type, **(device_options or {}))
        opened.append(clf)
        tag = clf.connect(rdwr={"targets": ["106B", "106A"], "on-connect": lambda tag: False})
        assert isinstance(tag, nfc.tag.tt4.Type4Tag), tag
        return Connected(card, clf, tag, NfcTransport(tag))

    yield connect
    for clf in opened:
        clf.close()
