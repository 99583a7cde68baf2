"""A virtual card issued by the server sandbox (``flask sandbox issue-card``): key.pem, cert.der, card.json."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from device_agent.card.sim.virtual_card import VirtualJpkiCard


@dataclass(frozen=True)
class VirtualCardFiles:
    """The files of one sandbox-issued card, checked to belong together."""

    persona_id: str
    private_key: rsa.RSAPrivateKey
    certificate_der: bytes
    token: bytes
    pin: str | None

    @classmethod
    def load(cls, directory: Path) -> VirtualCardFiles:
        meta = json.loads((directory / "card.json").read_text(encoding="utf-8"))
        key = serialization.load_pem_private_key((directory / "key.pem").read_bytes(), password=None)
        der = (directory / "cert.der").read_bytes()
        if not isinstance(key, rsa.RSAPrivateKey) or key.public_key() != x509.load_der_x509_certificate(
                der).public_key():
            raise ValueError(f"{directory}: key.pem does not match cert.der")
        return cls(meta["persona_id"], key, der, meta["token"].encode("ascii"), meta.get("pin"))

    def card(self, **options: Any) -> VirtualJpkiCard:
        return VirtualJpkiCard(self.private_key, self.certificate_der, pin=self.pin, token=self.token, **options)
