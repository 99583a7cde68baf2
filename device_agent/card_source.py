"""Where the card comes from: a real NFC reader, or a virtual card file set behind nfcpy.

Both yield a ``CardSession`` over nfcpy's own ISO-DEP stack, so the flows and
the tests exercise the same path a tablet with a reader does.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import nfc.tag.tt4
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from device_agent.card.nfc_transport import NfcTransport, open_reader, wait_for_card
from device_agent.card.sim.nfc_virtual import open_virtual_frontend
from device_agent.card.session import CardSession
from device_agent.card.transport import CardRemovedError
from device_agent.card.sim.virtual_card import VirtualJpkiCard


@dataclass(frozen=True)
class VirtualCardFiles:
    """A card issued by the server sandbox (``flask sandbox issue-card``): key.pem, cert.der, card.json."""

    persona_id: str
    private_key: rsa.RSAPrivateKey
    certificate_der: bytes
    token: bytes
    pin: str | None

    @classmethod
    def load(cls, directory: Path) -> "VirtualCardFiles":
        meta = json.loads((directory / "card.json").read_text(encoding="utf-8"))
        key = serialization.load_pem_private_key((directory / "key.pem").read_bytes(), password=None)
        der = (directory / "cert.der").read_bytes()
        if not isinstance(key, rsa.RSAPrivateKey) or key.public_key() != x509.load_der_x509_certificate(
                der).public_key():
            raise ValueError(f"{directory}: key.pem does not match cert.der")
        return cls(meta["persona_id"], key, der, meta["token"].encode("ascii"), meta.get("pin"))

    def card(self, **options: object) -> VirtualJpkiCard:
        return VirtualJpkiCard(self.private_key, self.certificate_der, pin=self.pin, token=self.token,
                               **options)  # type: ignore[arg-type]


@contextmanager
def virtual_session(card: VirtualJpkiCard, *, technology: str = "B") -> Iterator[CardSession]:
    clf = open_virtual_frontend(card, type=technology)
    try:
        tag = clf.connect(rdwr={"targets": ["106B", "106A"], "on-connect": lambda tag: False})
        if not isinstance(tag, nfc.tag.tt4.Type4Tag):
            raise CardRemovedError("no card in the field")
        yield CardSession(NfcTransport(tag))
    finally:
        clf.close()


@contextmanager
def reader_session(path: str | None = None, *, timeout: float = 30.0) -> Iterator[CardSession]:
    clf = open_reader(path)
    try:
        yield CardSession(wait_for_card(clf, timeout=timeout))
    finally:
        clf.close()
