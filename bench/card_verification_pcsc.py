"""Benchmark: one PIN verification through PC/SC (pyscard -> a throwaway pcscd -> vpcd -> the virtual card),
next to the same verification through nfcpy's virtual reader.

    python bench/card_verification_pcsc.py [--runs N] [--json out.json]

Per verification and transport: APDUs and bytes (as the transport sent and received them, so GET
RESPONSE rounds of a T=0 card would count), the agent's CPU and wall time. The card client runs in
this process, in its own thread: its CPU (``time.thread_time`` inside the card thread) is subtracted
from ``time.process_time``; pcscd's CPU, a separate process, is read from /proc and shown apart.
Needs pcscd and vsmartcard-vpcd (see docs/readers.md); without them it says so and exits 0.
See bench/README.md.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.pcscd import SOCKET_ENV, PcscDaemon, PcscdUnavailable, missing  # noqa: E402

PIN = "4826"
READER = "Virtual PCD 00 00"


def _pcscd_cpu(pid: int | None) -> float:
    """pcscd's user+system CPU seconds (Linux /proc), 0 where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, TypeError):
        return 0.0


def _timed_card(card: Any) -> list[float]:
    """Wrap ``card.process`` to add up the CPU the card spends (in whatever thread it runs)."""
    spent = [0.0]
    original = card.process

    def process(apdu: bytes) -> Any:
        started = time.thread_time()
        try:
            return original(apdu)
        finally:
            spent[0] += time.thread_time() - started

    card.process = process
    return spent


def verify(session: Any, challenge: bytes) -> None:
    session.identify()
    assert session.tries_left() == 3
    session.verify_pin(PIN)
    session.sign_challenge(challenge)


def pcsc_run(daemon: PcscDaemon, identity: Any) -> dict[str, float]:
    from device_agent.card.pcsc_transport import PcscContext
    from device_agent.card.session import CardSession
    from device_agent.card.sim.vpcd import VpcdCard

    card = identity.card(pin=PIN)
    card_cpu = _timed_card(card)
    served = VpcdCard(card)
    served.insert(daemon.connect_card())
    with PcscContext() as context:
        while not context.card_present(READER, timeout_ms=500):
            pass
        cpu, wall, pcscd = time.process_time(), time.perf_counter(), _pcscd_cpu(daemon.pid)
        transport = context.connect(READER)
        verify(CardSession(transport), os.urandom(32))
        transport.close()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        pcscd = _pcscd_cpu(daemon.pid) - pcscd
        served.remove()
        while context.card_present(READER):  # let pcscd see the card leave before the next run
            time.sleep(0.05)
    return {"apdus": transport.apdus, "bytes_out": transport.bytes_sent, "bytes_in": transport.bytes_received,
            "agent_cpu": cpu - card_cpu[0], "card_cpu": card_cpu[0], "pcscd_cpu": pcscd, "wall": wall}


def nfc_run(identity: Any) -> dict[str, float]:
    from device_agent.card.sim.nfc_virtual import virtual_session

    card = identity.card(pin=PIN)
    card_cpu = _timed_card(card)
    cpu, wall = time.process_time(), time.perf_counter()
    with virtual_session(card) as session:
        verify(session, os.urandom(32))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"apdus": card.apdus_received, "bytes_out": card.bytes_in, "bytes_in": card.bytes_out,
            "agent_cpu": cpu - card_cpu[0], "card_cpu": card_cpu[0], "pcscd_cpu": 0.0, "wall": wall}


def run_benchmark(runs: int) -> dict[str, Any]:
    from device_agent.card.sim.testing import make_test_identity

    identity = make_test_identity()
    daemon = PcscDaemon()
    os.environ[SOCKET_ENV] = daemon.socket_path  # before libpcsclite is first used
    daemon.start()
    try:
        samples: dict[str, list[dict[str, float]]] = {"nfcpy": [], "pcsc": []}
        nfc_run(identity)  # warm-up: imports and first-call costs
        pcsc_run(daemon, identity)
        for _ in range(runs):
            samples["nfcpy"].append(nfc_run(identity))
            samples["pcsc"].append(pcsc_run(daemon, identity))
    finally:
        daemon.close()
    return {"benchmark": "card_verification_pcsc", "runs": runs,
            "certificate_length": len(identity.certificate_der),
            "transports": {name: {key: statistics.median(s[key] for s in rows) for key in rows[0]}
                           for name, rows in samples.items()},
            "samples": samples}


def format_report(report: dict[str, Any]) -> str:
    lines = [f"One PIN verification (identify with token info, tries, VERIFY, SIGN), median of {report['runs']} runs,"
             f" certificate {report['certificate_length']} bytes", "",
             f"  {'transport':10}{'APDUs':>7}{'bytes out':>11}{'bytes in':>10}{'agent CPU':>12}{'pcscd CPU':>11}"
             f"{'wall':>10}"]
    for name, m in report["transports"].items():
        lines.append(f"  {name:10}{m['apdus']:>7.0f}{m['bytes_out']:>11.0f}{m['bytes_in']:>10.0f}"
                     f"{m['agent_cpu'] * 1e3:>9.1f} ms{m['pcscd_cpu'] * 1e3:>8.1f} ms{m['wall'] * 1e3:>7.1f} ms")
    lines += ["", "  agent CPU = this process minus the virtual card's own CPU (its RSA included);",
              "  nfcpy's figure also contains the simulated ISO-DEP block protocol (see card_verification)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="verifications per transport (default 10)")
    parser.add_argument("--json", type=Path, help="also write the full report, with every sample, as JSON")
    args = parser.parse_args(argv)
    if (reason := missing()) is not None:
        print(f"skipped: {reason}")
        return 0
    try:
        report = run_benchmark(max(1, args.runs))
    except PcscdUnavailable as error:
        print(f"skipped: {error}")
        return 0
    print(format_report(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"\nJSON written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
