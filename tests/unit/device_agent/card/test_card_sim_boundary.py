"""The card simulator stays out of the production path: a tablet with a reader never loads it.

Run in a fresh interpreter, because this test session has long since imported the simulator.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization

ROOT = Path(__file__).resolve().parents[4]

PRODUCTION = [
    "device_agent.card.transport",
    "device_agent.card.guard",
    "device_agent.card.jpki",
    "device_agent.card.session",
    "device_agent.card.nfc_transport",
    "device_agent.agent",
    "device_agent.flows",
    "device_agent.card_source",
    "device_agent.cli",
    "device_agent.ui.app",
]


def loaded_after(code: str) -> list[str]:
    script = code + "\nimport json, sys\nprint(json.dumps(sorted(m for m in sys.modules if m.startswith('device_agent'))))"
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.splitlines()[-1])


def test_importing_the_production_path_loads_no_simulator() -> None:
    loaded = loaded_after("\n".join(f"import {name}" for name in PRODUCTION))
    assert set(PRODUCTION) <= set(loaded)
    assert [m for m in loaded if m.startswith("device_agent.card.sim")] == []


def test_choosing_the_reader_loads_no_simulator(tmp_path: Path) -> None:
    loaded = loaded_after(
        "from pathlib import Path\nfrom device_agent import card_source\n"
        f"card_source.choose(virtual_card=None, reader='usb', cards_dir=Path({str(tmp_path)!r}))"
    )
    assert [m for m in loaded if m.startswith("device_agent.card.sim")] == []


def test_choosing_a_virtual_card_is_what_loads_the_simulator(identity, tmp_path: Path) -> None:
    card_dir = tmp_path / "cards" / "P01"
    card_dir.mkdir(parents=True)
    (card_dir / "key.pem").write_bytes(identity.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (card_dir / "cert.der").write_bytes(identity.certificate_der)
    (card_dir / "card.json").write_text(json.dumps({"persona_id": "P01", "token": "T" * 16, "pin": "9753"}))
    loaded = loaded_after(
        "import sys\nfrom pathlib import Path\nfrom device_agent import card_source\n"
        "assert not [m for m in sys.modules if m.startswith('device_agent.card.sim')]\n"
        f"source = card_source.choose(virtual_card='P01', reader=None, cards_dir=Path({str(tmp_path / 'cards')!r}))\n"
        "with source() as session:\n"
        f"    assert session.identify(with_token_info=False).certificate_der == Path({str(card_dir / 'cert.der')!r}).read_bytes()"
    )
    assert "device_agent.card.sim.nfc_virtual" in loaded
