"""Smoke test of bench/card_verification_pcsc.py: one run per transport, counts consistent, no timing thresholds."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_the_pcsc_benchmark_reports_both_transports(pcscd, tmp_path: Path) -> None:
    # Its own process: the benchmark starts its own daemon, and libpcsclite reads the socket path once.
    out = tmp_path / "bench.json"
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "card_verification_pcsc.py"), "--runs", "1",
                             "--json", str(out)], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "skipped" not in result.stdout
    report = json.loads(out.read_text())
    apdus = 9 + math.ceil(report["certificate_length"] / 256)  # with token info and the empty VERIFY
    for name in ("nfcpy", "pcsc"):
        figures = report["transports"][name]
        assert figures["apdus"] == apdus
        assert figures["bytes_in"] > report["certificate_length"] + 256  # the certificate and the signature
        assert figures["agent_cpu"] > 0 and figures["card_cpu"] > 0
    assert report["transports"]["nfcpy"]["bytes_out"] == report["transports"]["pcsc"]["bytes_out"]
