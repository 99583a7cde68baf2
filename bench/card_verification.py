"""Benchmark: one PIN verification through nfcpy's ISO-DEP stack with the virtual JPKI card.

    python bench/card_verification.py [--runs N] [--json out.json]
        [--apdu-delay-ms 5] [--sign-delay-ms 600] [--no-modelled-run]

The card part of ``flows.read_card`` + ``flows.verify_with_pin`` (no HTTP): open the virtual
frontend and activate the card (``nfc_virtual.virtual_session``), identify (with or without the token
information), tries_left, verify_pin, sign_challenge over a 32-byte challenge, close.

Reported per verification:

* APDUs, APDU bytes to / from the card, ISO-DEP blocks and their bytes both ways, against the aim
  APDUs <= 7 + ceil(certificate length / 256);
* the agent's own CPU time: ``time.process_time`` over the whole verification minus the CPU spent
  below nfcpy's driver interface, i.e. inside ``VirtualReaderDevice.send_cmd_recv_rsp`` (the PICC
  block-protocol simulation and, within it, the virtual card's APDU processing with its RSA ``pow``),
  which runs in the same process but stands in for the card. Both are measured with
  ``time.process_time`` inside wrappers and reported next to the agent figure;
* wall time; with the modelled card delays (``apdu_delay`` per APDU, ``sign_delay`` for on-card RSA,
  both sleeps in the PICC simulation, so they cost no CPU) also the modelled card time and the S(WTX)
  count.

See bench/README.md for how to read the output.
"""
from __future__ import annotations

import argparse
import gc
import itertools
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding  # noqa: E402

from device_agent.card.jpki import CHUNK  # noqa: E402
from device_agent.card.sim.iso_dep import fwt_seconds  # noqa: E402
from device_agent.card.sim.nfc_virtual import (
    VirtualReaderDevice,  # noqa: E402
    virtual_session,  # noqa: E402
)
from device_agent.card.sim.testing import TestIdentity, make_test_identity  # noqa: E402
from device_agent.card.sim.virtual_card import CardReply, VirtualJpkiCard  # noqa: E402

PIN = "4826"
CHALLENGE_LENGTH = 32
FIXED_APDUS = 7  # SELECT AP, SELECT 000A, SELECT 0018, empty VERIFY, VERIFY, SELECT 0017, SIGN
TOKEN_INFO_APDUS = 2  # SELECT 0006, READ BINARY
PHASES = ("connect", "identify", "tries_left", "verify_pin", "sign_challenge", "close")
VARIANTS = {"without_token_info": False, "with_token_info": True}

# Type B at 106 kbps: 1 etu = 128 / fc; a character is 10 etu (start, 8 bits, stop, EGT taken as 0);
# SOF is 10..11 etu low + 2..3 etu high, EOF 10..11 etu; every frame also carries a 2-byte CRC.
ETU_SECONDS = 128 / 13.56e6
SOF_EOF_ETU = 12 + 10


def apdu_aim(certificate_length: int) -> int:
    """The APDU budget for one verification: 7 + ceil(certificate length / 256)."""
    return FIXED_APDUS + math.ceil(certificate_length / CHUNK)


# -- metering --------------------------------------------------------------------------------------
@dataclass
class _Meter:
    """What ran on the card's side of the radio, accumulated as the verification proceeds."""

    card_cpu: float = 0.0  # process_time inside VirtualJpkiCard.process (APDU handling, RSA pow)
    below_driver_cpu: float = 0.0  # process_time inside send_cmd_recv_rsp (includes card_cpu)
    modelled_busy: float = 0.0  # sum of the card's reported busy time (apdu_delay, sign_delay)
    devices: list[VirtualReaderDevice] = field(default_factory=list)


_active_meter: _Meter | None = None


@contextmanager
def _metered_reader() -> Iterator[None]:
    """Time everything below nfcpy's driver interface: VirtualReaderDevice.send_cmd_recv_rsp.

    Patched on the class for the duration because ``nfc_virtual.virtual_session`` creates the device itself
    and activation (ATTRIB) already goes through it; restored afterwards.
    """
    original = VirtualReaderDevice.send_cmd_recv_rsp

    def send_cmd_recv_rsp(self: VirtualReaderDevice, target: Any, data: bytes, timeout: float) -> bytearray:
        meter = _active_meter
        if meter is None:
            return original(self, target, data, timeout)
        if not any(d is self for d in meter.devices):
            meter.devices.append(self)
        started = time.process_time()
        try:
            return original(self, target, data, timeout)
        finally:
            meter.below_driver_cpu += time.process_time() - started

    VirtualReaderDevice.send_cmd_recv_rsp = send_cmd_recv_rsp  # type: ignore[method-assign]
    try:
        yield
    finally:
        VirtualReaderDevice.send_cmd_recv_rsp = original  # type: ignore[method-assign]


def _meter_card(card: VirtualJpkiCard, meter: _Meter) -> None:
    inner: Callable[[bytes], CardReply] = card.process

    def process(apdu: bytes) -> CardReply:
        started = time.process_time()
        try:
            reply = inner(apdu)
        finally:
            meter.card_cpu += time.process_time() - started
        meter.modelled_busy += reply.busy_seconds
        return reply

    card.process = process  # type: ignore[method-assign]


@dataclass(frozen=True)
class _Mark:
    cpu: float
    wall: float
    below_driver_cpu: float

    @classmethod
    def now(cls, meter: _Meter) -> _Mark:
        return cls(time.process_time(), time.perf_counter(), meter.below_driver_cpu)


# -- one verification ------------------------------------------------------------------------------
@dataclass
class RunResult:
    with_token_info: bool
    apdu_delay: float
    sign_delay: float
    certificate_length: int
    apdus: int
    apdu_bytes_to_card: int
    apdu_bytes_from_card: int
    blocks_to_card: int  # ISO-DEP blocks PCD -> PICC (I, R, S), without activation
    blocks_from_card: int
    block_bytes_to_card: int  # PCB + INF, without CRC
    block_bytes_from_card: int
    activation_frames: int  # ATTRIB / ATTRIB response (Type B) or RATS / ATS (Type A)
    chained_blocks: dict[str, int]
    wtx_requests: int
    air_time_estimate: float  # seconds, character time lower bound of all frames at 106 kbps
    total_cpu: float  # process_time over the whole verification
    below_driver_cpu: float  # of which inside the virtual reader (PICC simulation + card)
    card_cpu: float  # of which inside VirtualJpkiCard.process
    agent_cpu: float  # total_cpu - below_driver_cpu
    wall: float
    modelled_card_time: float
    phases: dict[str, dict[str, float]]  # name -> {"agent_cpu": s, "wall": s}


def verify_once(identity: TestIdentity, *, with_token_info: bool, apdu_delay: float = 0.0,
                sign_delay: float = 0.0) -> RunResult:
    """One verification from activation to close; checks its results after the clock stopped."""
    global _active_meter
    card = identity.card(pin=PIN, apdu_delay=apdu_delay, sign_delay=sign_delay)
    meter = _Meter()
    _meter_card(card, meter)
    challenge = os.urandom(CHALLENGE_LENGTH)
    marks: list[_Mark] = []

    gc.collect()
    with _metered_reader():
        _active_meter = meter
        try:
            marks.append(_Mark.now(meter))
            with virtual_session(card) as session:
                marks.append(_Mark.now(meter))
                ident = session.identify(with_token_info=with_token_info)
                marks.append(_Mark.now(meter))
                tries = session.tries_left()
                marks.append(_Mark.now(meter))
                session.verify_pin(PIN)
                marks.append(_Mark.now(meter))
                signature = session.sign_challenge(challenge)
                marks.append(_Mark.now(meter))
            marks.append(_Mark.now(meter))
        finally:
            _active_meter = None

    # Sanity checks, outside the measurement: the benchmark must have done the real work.
    if ident.certificate_der != identity.certificate_der or tries != 3:
        raise RuntimeError("the virtual card did not answer as expected")
    identity.private_key.public_key().verify(signature, challenge, padding.PKCS1v15(), hashes.SHA256())
    if len(meter.devices) != 1:
        raise RuntimeError(f"expected one virtual reader, saw {len(meter.devices)}")
    device = meter.devices[0]

    phases = {
        name: {
            "agent_cpu": (b.cpu - a.cpu) - (b.below_driver_cpu - a.below_driver_cpu),
            "wall": b.wall - a.wall,
        }
        for name, (a, b) in zip(PHASES, itertools.pairwise(marks), strict=True)
    }
    first, last = marks[0], marks[-1]
    total_cpu = last.cpu - first.cpu
    below = last.below_driver_cpu - first.below_driver_cpu
    blocks = [(who, kind, n) for who, kind, n in device.trace if kind not in ("ATTRIB", "ATTRIB_RES", "RATS", "ATS")]
    return RunResult(
        with_token_info=with_token_info,
        apdu_delay=apdu_delay,
        sign_delay=sign_delay,
        certificate_length=len(identity.certificate_der),
        apdus=card.apdus_received,
        apdu_bytes_to_card=card.bytes_in,
        apdu_bytes_from_card=card.bytes_out,
        blocks_to_card=sum(1 for who, _, _ in blocks if who == "PCD"),
        blocks_from_card=sum(1 for who, _, _ in blocks if who == "PICC"),
        block_bytes_to_card=sum(n for who, _, n in blocks if who == "PCD"),
        block_bytes_from_card=sum(n for who, _, n in blocks if who == "PICC"),
        activation_frames=len(device.trace) - len(blocks),
        chained_blocks=dict(device.chained_blocks),
        wtx_requests=device.wtx_requests,
        air_time_estimate=sum(((n + 2) * 10 + SOF_EOF_ETU) * ETU_SECONDS for _, _, n in device.trace),
        total_cpu=total_cpu,
        below_driver_cpu=below,
        card_cpu=meter.card_cpu,
        agent_cpu=total_cpu - below,
        wall=last.wall - first.wall,
        modelled_card_time=meter.modelled_busy,
        phases=phases,
    )


# -- many verifications ----------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (the smallest sample with at least q% of the samples at or below it)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def _stats(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "p95": percentile(values, 95), "min": min(values),
            "max": max(values)}


def _single(results: list[RunResult], name: str) -> Any:
    values = {json.dumps(getattr(r, name), sort_keys=True) for r in results}
    if len(values) != 1:
        raise RuntimeError(f"{name} differs between runs: {sorted(values)}")
    return getattr(results[0], name)


def _summarise(results: list[RunResult], aim: int) -> dict[str, Any]:
    apdus = _single(results, "apdus")
    return {
        "runs": len(results),
        "apdus": apdus,
        "aim": aim,
        "verdict": "PASS" if apdus <= aim else "OVER",
        "over_by": max(0, apdus - aim),
        "traffic": {
            name: _single(results, name)
            for name in ("apdu_bytes_to_card", "apdu_bytes_from_card", "blocks_to_card", "blocks_from_card",
                         "block_bytes_to_card", "block_bytes_from_card", "activation_frames", "chained_blocks",
                         "wtx_requests")
        },
        "air_time_estimate": _single(results, "air_time_estimate"),
        "cpu": {name: _stats([getattr(r, name) for r in results])
                for name in ("total_cpu", "below_driver_cpu", "card_cpu", "agent_cpu")},
        "wall": _stats([r.wall for r in results]),
        "phases_agent_cpu": {p: _stats([r.phases[p]["agent_cpu"] for r in results]) for p in PHASES},
        "samples": [asdict(r) for r in results],
    }


def run_benchmark(runs: int = 20, *, apdu_delay: float = 0.005, sign_delay: float = 0.6,
                  modelled_run: bool = True, warmup: int = 1, identity: TestIdentity | None = None) -> dict[str, Any]:
    """``runs`` verifications of each variant without card delays (CPU and traffic), then, if
    ``modelled_run``, one verification with token info and the modelled card delays (wall clock)."""
    if runs < 1:
        raise ValueError("runs must be at least 1")
    identity = identity or make_test_identity()
    certificate_length = len(identity.certificate_der)
    aim = apdu_aim(certificate_length)

    for _ in range(warmup):  # first-call costs (imports, caches) are not what a verification costs
        for with_token_info in VARIANTS.values():
            verify_once(identity, with_token_info=with_token_info)
    results: dict[str, list[RunResult]] = {name: [] for name in VARIANTS}
    for _ in range(runs):  # interleaved, so drift in machine load hits both variants alike
        for name, with_token_info in VARIANTS.items():
            results[name].append(verify_once(identity, with_token_info=with_token_info))

    modelled = None
    if modelled_run:
        r = verify_once(identity, with_token_info=True, apdu_delay=apdu_delay, sign_delay=sign_delay)
        device_defaults = VirtualReaderDevice.__init__.__kwdefaults__ or {}
        modelled = asdict(r) | {
            "overhead": r.wall - r.modelled_card_time,  # = total_cpu + rest
            "rest": r.wall - r.modelled_card_time - r.total_cpu,  # sleep overshoot, scheduling
            "fwt": fwt_seconds(device_defaults.get("fwi", 8)),
            "wtxm": device_defaults.get("wtxm", 10),
        }

    return {
        "benchmark": "card_verification",
        "certificate_length": certificate_length,
        "aim": {"formula": f"{FIXED_APDUS} + ceil(certificate length / {CHUNK})", "apdus": aim},
        "settings": {"runs": runs, "warmup": warmup, "challenge_length": CHALLENGE_LENGTH,
                     "cpu_runs_delays": {"apdu_delay": 0.0, "sign_delay": 0.0},
                     "modelled_delays": {"apdu_delay": apdu_delay, "sign_delay": sign_delay} if modelled_run else None,
                     "technology": "B"},
        "variants": {name: _summarise(rs, aim) for name, rs in results.items()},
        "modelled_run": modelled,
        "environment": {"python": platform.python_version(), "implementation": platform.python_implementation(),
                        "nfcpy": _version("nfcpy"), "cryptography": _version("cryptography"),
                        "machine": platform.machine(), "system": platform.system(), "cpus": os.cpu_count()},
    }


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


# -- output ----------------------------------------------------------------------------------------
def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:8.2f} ms"


def format_report(report: dict[str, Any]) -> str:
    v = report["variants"]
    names = list(VARIANTS)
    labels = {"without_token_info": "without token info", "with_token_info": "with token info"}
    runs = report["settings"]["runs"]
    length = report["certificate_length"]
    out: list[str] = []
    add = out.append

    add("Card verification: one PIN verification through nfcpy's ISO-DEP stack (virtual reader, Type B,")
    add("FSC 64 / FSD 128) with the virtual JPKI card: connect, identify, tries_left, verify_pin,")
    add(f"sign_challenge ({report['settings']['challenge_length']}-byte challenge), close.")
    add(f"User-authentication certificate: {length} bytes DER -> {math.ceil(length / CHUNK)} READ BINARY of <= {CHUNK}.")
    add("")
    add(f"APDU budget   aim: APDUs <= {report['aim']['formula']} = {report['aim']['apdus']}")
    add(f"  {'':22}{'APDUs':>6}{'aim':>6}  {'result':<10}")
    for n in names:
        s = v[n]
        verdict = s["verdict"] + (f" (+{s['over_by']})" if s["over_by"] else "")
        add(f"  {labels[n]:22}{s['apdus']:>6}{s['aim']:>6}  {verdict:<10}")
    add("")
    add("Traffic per verification (identical in every run)")
    add(f"  {'':34}{labels[names[0]]:>20}{labels[names[1]]:>20}")
    rows = [
        ("APDUs", lambda s: s["apdus"]),
        ("APDU bytes to card", lambda s: s["traffic"]["apdu_bytes_to_card"]),
        ("APDU bytes from card", lambda s: s["traffic"]["apdu_bytes_from_card"]),
        ("ISO-DEP blocks to card (PCD)", lambda s: s["traffic"]["blocks_to_card"]),
        ("ISO-DEP blocks from card (PICC)", lambda s: s["traffic"]["blocks_from_card"]),
        ("block bytes to card (no CRC)", lambda s: s["traffic"]["block_bytes_to_card"]),
        ("block bytes from card (no CRC)", lambda s: s["traffic"]["block_bytes_from_card"]),
        ("chained I-blocks to / from card", lambda s: f"{s['traffic']['chained_blocks']['PCD']} / "
                                                      f"{s['traffic']['chained_blocks']['PICC']}"),
        ("activation frames (ATTRIB + resp.)", lambda s: s["traffic"]["activation_frames"]),
        ("air time at 106 kbps, lower bound", lambda s: f"{s['air_time_estimate'] * 1e3:.1f} ms"),
    ]
    for label, get in rows:
        add(f"  {label:34}{get(v[names[0]])!s:>20}{get(v[names[1]])!s:>20}")
    add("")
    add(f"CPU per verification, card delays 0, {runs} run(s) per variant after "
        f"{report['settings']['warmup']} warm-up (process_time; median / p95 nearest rank)")
    add(f"  {'':34}{labels[names[0]]:>24}{labels[names[1]]:>24}")

    def pair(stats: dict[str, float]) -> str:
        return f"{stats['median'] * 1e3:7.2f} / {stats['p95'] * 1e3:7.2f} ms"

    for key, label in (("total_cpu", "whole process"),
                       ("below_driver_cpu", "- virtual reader + card (subtr.)"),
                       ("card_cpu", "  of which card APDUs incl. RSA"),
                       ("agent_cpu", "= agent CPU")):
        add(f"  {label:34}{pair(v[names[0]]['cpu'][key]):>24}{pair(v[names[1]]['cpu'][key]):>24}")
    add(f"  {'wall time (no card delays)':34}{pair(v[names[0]]['wall']):>24}{pair(v[names[1]]['wall']):>24}")
    add("  agent CPU by phase:")
    for p in PHASES:
        add(f"    {p:32}{pair(v[names[0]]['phases_agent_cpu'][p]):>24}{pair(v[names[1]]['phases_agent_cpu'][p]):>24}")
    add("  The virtual card and the PICC simulation run in this process; their CPU, measured with")
    add("  process_time inside wrappers around VirtualReaderDevice.send_cmd_recv_rsp (which contains")
    add("  VirtualJpkiCard.process), is subtracted from the process total. Medians of the parts need")
    add("  not add up exactly to the median of the total.")

    m = report["modelled_run"]
    if m:
        add("")
        add(f"Wall clock with modelled card delays (1 run, with token info): apdu_delay "
            f"{m['apdu_delay'] * 1e3:g} ms per APDU, sign_delay {m['sign_delay'] * 1e3:g} ms on-card RSA")
        add(f"  modelled card time            {_ms(m['modelled_card_time'])}  "
            f"({m['apdus']} x {m['apdu_delay'] * 1e3:g} ms + {m['sign_delay'] * 1e3:g} ms, slept, no CPU)")
        add(f"  wall time                     {_ms(m['wall'])}")
        add(f"  wall - modelled card time     {_ms(m['overhead'])}")
        add(f"  agent CPU in this run         {_ms(m['agent_cpu'])}")
        add(f"  virtual reader + card CPU     {_ms(m['below_driver_cpu'])}  (incl. the card's RSA pow, on top of sign_delay)")
        add(f"  rest: sleep overshoot, sched. {_ms(m['rest'])}")
        add(f"  S(WTX) requests               {m['wtx_requests']:>8}     "
            f"(FWT {m['fwt'] * 1e3:.1f} ms, WTXM {m['wtxm']})")
        add("  wall by phase:               " + ", ".join(f"{p} {m['phases'][p]['wall'] * 1e3:.1f} ms" for p in PHASES))
        add("  Radio time is not simulated: apdu_delay stands in for it. The character-time lower bound")
        add(f"  for this run's frames at 106 kbps is {m['air_time_estimate'] * 1e3:.1f} ms "
            f"(vs {m['apdus'] * m['apdu_delay'] * 1e3:g} ms modelled for all APDUs).")
    e = report["environment"]
    add("")
    add(f"Python {e['python']} ({e['implementation']}), nfcpy {e['nfcpy']}, cryptography {e['cryptography']}, "
        f"{e['system']} {e['machine']}, {e['cpus']} CPUs")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="verifications per variant for the CPU figures (default 20)")
    parser.add_argument("--json", type=Path, help="also write the full report, with every sample, as JSON")
    parser.add_argument("--apdu-delay-ms", type=float, default=5.0, help="modelled card time per APDU (default 5)")
    parser.add_argument("--sign-delay-ms", type=float, default=600.0, help="modelled on-card RSA time (default 600)")
    parser.add_argument("--no-modelled-run", action="store_true", help="skip the wall-clock run with card delays")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    report = run_benchmark(args.runs, apdu_delay=args.apdu_delay_ms / 1e3, sign_delay=args.sign_delay_ms / 1e3,
                           modelled_run=not args.no_modelled_run)
    print(format_report(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"\nJSON written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
