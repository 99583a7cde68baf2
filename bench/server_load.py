"""Load benchmark of the API server against its framework floor (`make bench-load`; bench/README.md).

    .venv/bin/python bench/server_load.py [--json PATH] [--repeats 2] [--duration 15] [--users 16]
                                          [--workers 3] [--worker-class sync] [--threads 1] [SCENARIO ...]

Starts `make prod-local`'s topology (scripts/prod_local.py: durable PostgreSQL, gunicorn, the OQS sandbox over
HTTP) with the floor endpoint on, seeds one tenant over HTTP, then runs locust headless on loopback, one
scenario at a time, interleaved and repeated (floor, verification, medical read, login, floor, ...). Each run
is a closed loop of ``--users`` users with no think time, after a short warm-up. For every run it records
req/s, p50/p95/p99 (locust's own percentiles), failures and the 1-minute load average before and after;
the summary takes the median over the repeats and divides by the floor's req/s of the same session.

These machines are shared: read the ratios, and the load average next to them, not the absolute figures.
The load generator (locust, one process) runs on the same cores as the server, as on a one-node deployment
with a co-located proxy.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

from bench import _seed as seed  # noqa: E402
from bench import batch_checks  # noqa: E402
from bench._cpu import tree_seconds  # noqa: E402
from scripts.prod_local import ProdLocal  # noqa: E402

LOCUSTFILE = ROOT / "bench" / "_locustfile.py"
# scenario -> (locust user class, the stats entry that is one operation)
SCENARIOS = {"floor": ("Floor", "floor"), "verification": ("Verification", "verification"),
             "medical_read": ("MedicalRead", "medical_read"), "login": ("Login", "login")}
# Not a locust scenario: one job of BATCH rows through the API (a machine client), run to done by the jobs
# runner; reported in rows/s (bench/batch_checks.py ``timed_batch``).
BATCH = "batch"


def _pem(key: Any) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def write_seed(stack: ProdLocal, nurses: int, path: Path) -> None:
    tenant, staff, card = seed.seed(stack.url, stack.database_url, nurses=nurses)
    entries = []
    for nurse in staff:
        r = seed.verify(tenant.http, stack.url, nurse.token, card)
        assert r.status_code == 201, r.text
        entries.append({"login": nurse.login, "token": nurse.token, "device_id": nurse.device_id,
                        "device_key": _pem(nurse.key), "visit_id": r.json()["id"]})
    path.write_text(json.dumps({
        "institution_code": tenant.code, "audience": seed.AUDIENCE, "staff_password": seed.STAFF_PASSWORD,
        "nurses": entries, "card": {"certificate": seed.b64(card.certificate_der),
                                    "private_key": _pem(card.private_key)}}), encoding="utf-8")


def run_locust(url: str, seed_file: Path, scenario: str, users: int, duration: int, out_dir: Path,
               trees: dict[str, int] | None = None, rate: float | None = None) -> dict[str, Any]:
    """One locust run; ``trees`` (name → root pid): also the CPU each process tree spent per operation;
    ``rate``: operations per second offered in all (paced users) instead of a closed loop."""
    user_class, entry = SCENARIOS[scenario]
    prefix = out_dir / f"{scenario}-{time.monotonic_ns()}"
    load_before = os.getloadavg()[0]
    cpu_before = tree_seconds(trees or {})
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    argv = [str(Path(sys.executable).parent / "locust"), "-f", str(LOCUSTFILE), "--headless", "--host", url,
            "-u", str(users), "-r", str(users), "-t", f"{duration}s", "--csv", str(prefix), "--only-summary",
            "--loglevel", "ERROR", "--stop-timeout", "5", user_class]
    env = {**os.environ, "BENCH_SEED": str(seed_file), "PYTHONPATH": str(ROOT)}
    if rate and scenario != "floor":
        env["BENCH_RATE_PER_USER"] = str(rate / users)
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=duration + 120)
    cpu = {name: seconds - cpu_before[name] for name, seconds in tree_seconds(trees or {}).items()}
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu["locust"] = (children_after.ru_utime + children_after.ru_stime
                     - children_before.ru_utime - children_before.ru_stime)
    with open(f"{prefix}_stats.csv", encoding="utf-8") as stats:
        rows = {row["Name"]: row for row in csv.DictReader(stats)}
    if done.returncode not in (0, 1):  # 1 = some requests failed: counted below
        raise RuntimeError(f"locust failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    row = rows.get(entry)
    if row is None:  # nothing completed in the run (a starved machine): reported as such, not hidden
        row = {"Request Count": "0", "Failure Count": "0", "Requests/s": "0", "50%": "N/A", "95%": "N/A",
               "99%": "N/A", "Average Response Time": "N/A"}
    count, failures = int(row["Request Count"]), int(row["Failure Count"])
    return {"scenario": scenario, "users": users, "duration_s": duration, "requests": count, "failures": failures,
            "offered_per_s": rate if rate and scenario != "floor" else None,
            "rps": float(row["Requests/s"]), "p50_ms": _num(row["50%"]), "p95_ms": _num(row["95%"]),
            "p99_ms": _num(row["99%"]), "mean_ms": _num(row["Average Response Time"]),
            "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2),
            "requests_by_name": {name: int(r["Request Count"]) for name, r in rows.items() if name != "Aggregated"},
            "cpu_ms_per_op": {name: round(seconds * 1000 / count, 2) if count else None
                              for name, seconds in cpu.items()}}


def batch_client(stack: ProdLocal) -> dict[str, str]:
    """A health-check institution with a machine client (client_secret); its Authorization header."""
    code = seed.create_institution(stack.database_url, facility_kind="health_check")
    token = batch_checks.machine_client_token(requests.Session(), stack.url, code, seed.ADMIN_PASSWORD)
    return {"Authorization": f"Bearer {token}"}


def run_batch(stack: ProdLocal, auth: dict[str, str], rows: int, trees: dict[str, int]) -> dict[str, Any]:
    """One batch job of ``rows`` examinees, timed from the POST to the checked results.csv; in the run's shape,
    with rows for requests (so req/s is rows/s and CPU is per row). The jobs run in the API workers' embedded
    consumers here (prod-local's jobs worker is off in the benchmark), so their CPU counts as the API's."""
    cpu_before = tree_seconds(trees)
    load_before = os.getloadavg()[0]
    result = batch_checks.timed_batch(requests.Session(), stack.url, auth, rows)
    cpu = {name: seconds - cpu_before[name] for name, seconds in tree_seconds(trees).items()}
    return {"scenario": BATCH, "users": 1, "duration_s": result["total_s"], "requests": rows,
            "failures": 0,  # a failed call fails timed_batch; refused rows are by design (bench/README.md)
            "offered_per_s": None, "rps": float(result["rows_per_s"]),
            "p50_ms": None, "p95_ms": None, "p99_ms": None, "mean_ms": None, "load_before": round(load_before, 2),
            "load_after": round(os.getloadavg()[0], 2), "requests_by_name": {"rows": rows},
            "cpu_ms_per_op": {**{name: round(seconds * 1000 / rows, 3) for name, seconds in cpu.items()},
                              "locust": None}, "batch": result}


def process_trees(stack: ProdLocal) -> dict[str, int]:
    """Root pids of the topology's parts: the API's and the sandbox's gunicorn masters, the postmaster."""
    postmaster = int(Path(stack.pg.data_dir, "postmaster.pid").read_text().split()[0])
    return {"api": stack.procs["api"].pid, "postgres": postmaster, "oqs": stack.procs["oqs"].pid}


def _cpu_text(cpu: dict[str, float | None]) -> str:
    return " ".join(f"{name} {value}" for name, value in cpu.items())


def _num(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:  # locust writes N/A when nothing completed
        return None


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 1) if present else None


def summarise(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    by_scenario: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        by_scenario.setdefault(run["scenario"], []).append(run)
    summary = {}
    for name, items in by_scenario.items():
        summary[name] = {key: _median([r[key] for r in items]) for key in ("rps", "p50_ms", "p95_ms", "p99_ms")}
        summary[name]["load_before"] = [r["load_before"] for r in items]
        summary[name]["runs"] = len(items)
        summary[name]["failures"] = sum(r["failures"] for r in items)
        summary[name]["rps_runs"] = [round(r["rps"], 1) for r in items]
        summary[name]["cpu_ms_per_op"] = {part: _median([r["cpu_ms_per_op"].get(part) for r in items])
                                          for part in items[0]["cpu_ms_per_op"]}
    floor = summary.get("floor", {}).get("rps")
    for name, values in summary.items():  # rows/s of a batch job is not comparable to requests/s
        values["ratio_to_floor"] = round(values["rps"] / floor, 3) if floor and name != BATCH else None
    return summary


def format_table(summary: dict[str, dict[str, Any]]) -> str:
    lines = ["| scenario | req/s (median) | runs req/s | p50 ms | p95 ms | p99 ms | ratio to floor | failures | "
             "load avg before runs | CPU ms per op: API / PostgreSQL / OQS / locust |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, v in summary.items():
        lines.append(f"| {name} | {v['rps']} | {', '.join(map(str, v['rps_runs']))} | {v['p50_ms']} | "
                     f"{v['p95_ms']} | {v['p99_ms']} | {v['ratio_to_floor']} | {v['failures']} | "
                     f"{', '.join(map(str, v['load_before']))} | "
                     f"{' / '.join(str(v['cpu_ms_per_op'].get(part)) for part in ('api', 'postgres', 'oqs', 'locust'))} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("scenarios", nargs="*", help=f"default: all of {', '.join([*SCENARIOS, BATCH])}")
    parser.add_argument("--json", type=Path, help="write the whole report here")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--duration", type=int, default=15, help="seconds per run (after a 3 s warm-up)")
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--worker-class", default="sync")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--oqs-workers", type=int, default=2)
    parser.add_argument("--batch-rows", type=int, default=10_000, help="examinees in the batch scenario's job")
    parser.add_argument("--rate", type=float, help="offer this many operations/s in all (paced users) instead of "
                        "a closed loop: the latency below saturation (the floor stays a closed loop)")
    args = parser.parse_args(argv)
    scenarios = args.scenarios or [*SCENARIOS, BATCH]
    unknown = set(scenarios) - {*SCENARIOS, BATCH}
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    if "floor" not in scenarios:
        scenarios.insert(0, "floor")

    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    stack = ProdLocal(workers=args.workers, worker_class=args.worker_class, threads=args.threads,
                      oqs_workers=args.oqs_workers, jobs_worker=False,
                      # every simulated nurse signs in from this one address: the per-source throttle is off
                      settings={"BENCH_FLOOR_ENDPOINT": True, "SIGN_IN_RATE_LIMIT": None},
                      log_dir=str(work / "logs"))
    runs: list[dict[str, Any]] = []
    with stack:
        seed_file = work / "seed.json"
        write_seed(stack, nurses=args.users, path=seed_file)
        trees = process_trees(stack)
        batch_auth = batch_client(stack) if BATCH in scenarios else {}
        for scenario in scenarios:  # warm-up: every worker imports and connects before the clock runs
            if scenario == BATCH:
                run_batch(stack, batch_auth, 100, trees)
            else:
                run_locust(stack.url, seed_file, scenario, args.users, 3, work)
        for repeat in range(args.repeats):
            for scenario in scenarios:
                if scenario == BATCH:
                    run = run_batch(stack, batch_auth, args.batch_rows, trees)
                else:
                    run = run_locust(stack.url, seed_file, scenario, args.users, args.duration, work, trees,
                                     args.rate)
                run["repeat"] = repeat + 1
                runs.append(run)
                print(f"  {scenario:<13} run {repeat + 1}: {run['rps']:8.1f} req/s  p50 {run['p50_ms']} ms  "
                      f"p99 {run['p99_ms']} ms  failures {run['failures']}  load {run['load_before']}  "
                      f"CPU ms/op {_cpu_text(run['cpu_ms_per_op'])}", flush=True)
    summary = summarise(runs)
    report = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "loadavg_at_end": os.getloadavg()},
        "settings": {"workers": args.workers, "worker_class": args.worker_class, "threads": args.threads,
                     "oqs_workers": args.oqs_workers, "users": args.users, "duration_s": args.duration,
                     "repeats": args.repeats, "offered_per_s": args.rate,
                     "database": "postgresql (durable: fsync, synchronous_commit on)",
                     "oqs": "sandbox over HTTP (gunicorn)",
                     "tool": "locust headless, FastHttpUser, " + ("paced users" if args.rate else "no wait")},
        "summary": summary, "runs": runs,
    }
    print()
    print(f"{os.cpu_count()} CPUs, load average at end {os.getloadavg()}; {args.workers} {args.worker_class} "
          f"workers x {args.threads} threads, {args.users} users, {args.duration} s x {args.repeats} interleaved"
          + (f", {args.rate} operations/s offered" if args.rate else ", closed loop"))
    print(format_table(summary))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
        print(f"\nJSON: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
