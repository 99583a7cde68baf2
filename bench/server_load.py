"""Load benchmark of the API server against its floors (`make bench-load`, `make bench-scale`; bench/README.md).

    .venv/bin/python bench/server_load.py [SCENARIO ...] [--data empty|seeded|both] [--before REV] [--json PATH]
                                          [--repeats 2] [--duration 15] [--users 16] [--workers N]
                                          [--worker-class gthread] [--threads N] [--scale 1.0]

For each *target* (``after/empty`` by default; ``--data both`` adds ``after/seeded``, ``--before REV`` the same
on a copy of commit REV, measured first) it starts `make prod-local`'s topology (scripts/prod_local.py: durable
PostgreSQL, gunicorn, the OQS sandbox over HTTP) from that source tree with the floor endpoint on, plus a 5-line
Flask app under the same gunicorn settings; on ``seeded`` it writes a production-sized history first
(bench/_scale.py: 1,000 institutions, 1 M visits, 10 M audit rows); it seeds one tenant over HTTP, then runs
locust headless on loopback, one scenario at a time, interleaved and repeated. Each run is a closed loop of
``--users`` users with no think time, after a short warm-up. For every run it records req/s, p50/p95/p99
(locust's own percentiles), failures, the 1-minute load average and the CPU each process tree spent per
operation; the summary takes the median over the repeats, divides by the floors of the same target, and divides
the targets (seeded ÷ empty, after ÷ before).

These machines are shared: read the ratios, and the load average next to them, not the absolute figures.
The load generator (locust, one process) runs on the same cores as the server, as on a one-node deployment
with a co-located proxy.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import requests  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

from bench import _scale as scale  # noqa: E402
from bench import _seed as seed  # noqa: E402
from bench import batch_checks  # noqa: E402
from bench._cpu import tree_seconds  # noqa: E402
from bench._report import BATCH, FLOORS, format_comparisons, format_table, format_targets, summarise  # noqa: E402
from scripts.prod_local import ProdLocal, worker_model  # noqa: E402
from tests.support.pgcluster import free_port  # noqa: E402

__all__ = ["format_table", "summarise"]  # the arithmetic lives in bench/_report.py

LOCUSTFILE = ROOT / "bench" / "_locustfile.py"
# scenario -> (locust user class, the stats entry that is one operation)
SCENARIOS = {"flask_floor": ("FlaskFloor", "flask_floor"), "healthz": ("Healthz", "healthz"),
             "floor": ("Floor", "floor"), "verification": ("Verification", "verification"),
             "medical_read": ("MedicalRead", "medical_read"), "login": ("Login", "login")}
# Not a locust scenario: one job of BATCH rows through the API (a machine client), run to done by the jobs
# runner; reported in rows/s (bench/batch_checks.py ``timed_batch``).
DATA = {"empty": ["empty"], "seeded": ["seeded"], "both": ["empty", "seeded"]}


def _pem(key: Any) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def tree_step(root: Path, step: str, database_url: str, *extra: str) -> dict[str, Any]:
    """An operator's step (bench/_tree_step.py) with the app code of ``root``, the tree under test."""
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "_tree_step.py"), step, database_url, *extra],
                          cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True,
                          timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{step} failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def institution_id(database_url: str, code: str) -> str:
    with psycopg.connect(scale.psycopg_dsn(database_url)) as conn:
        row = conn.execute("SELECT id FROM institutions WHERE code = %s", [code]).fetchone()
    assert row is not None, code
    return str(row[0])


def write_seed(stack: ProdLocal, code: str, card: dict[str, str], nurses: int, path: Path) -> None:
    """The tenant the users act as: ``nurses`` staff on enrolled devices, each with a visit (over HTTP)."""
    tenant = seed.Tenant(stack.url, code)
    tenant.login_admin()
    signer = seed.card_from_json(card)
    entries = []
    for nurse in [tenant.nurse(f"nurse{i}") for i in range(nurses)]:
        r = seed.verify(tenant.http, stack.url, nurse.token, signer)
        assert r.status_code == 201, r.text
        entries.append({"login": nurse.login, "token": nurse.token, "device_id": nurse.device_id,
                        "device_key": _pem(nurse.key), "visit_id": r.json()["id"]})
    path.write_text(json.dumps({
        "institution_code": tenant.code, "audience": seed.AUDIENCE, "staff_password": seed.STAFF_PASSWORD,
        "nurses": entries, "card": card}), encoding="utf-8")


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
    code = tree_step(stack.root, "institution", stack.database_url, "health_check")["code"]
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


def source_tree(rev: str, work: Path) -> Path:
    """The files of commit ``rev`` in a temp folder (git archive: no worktree left registered in the repo);
    the processes run it with this venv (PYTHONPATH and cwd point at it, scripts/prod_local.py ``root``)."""
    folder = work / f"tree-{rev.replace('/', '_')}"
    folder.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", rev], capture_output=True,
                             check=True, timeout=120).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def serve_floor_app(stack: ProdLocal) -> str:
    """The 5-line Flask app (bench/_floor_app.py) under this tree's gunicorn settings and the stack's worker
    model, as the stack's process ``floor_app``; its URL."""
    port = free_port()
    stack.serve("floor_app", [str(Path(sys.executable).parent / "gunicorn"), "-c",
                              str(ROOT / "deploy" / "gunicorn.conf.py"), "--chdir", str(ROOT / "bench"), "_floor_app:app"],
                {"BIND": f"127.0.0.1:{port}", "PYTHONPATH": str(ROOT), **stack.worker_env()}, f"http://127.0.0.1:{port}/")
    return f"http://127.0.0.1:{port}"


def measure(target: str, root: Path, args: argparse.Namespace, scenarios: list[str], work: Path
            ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every run of one target (``tree/data``) on its own prod-local; and what its set-up did and took."""
    folder = work / target.replace("/", "-")
    folder.mkdir()
    stack = ProdLocal(workers=args.workers, worker_class=args.worker_class, threads=args.threads,
                      oqs_workers=args.oqs_workers, jobs_worker=False, root=root,
                      # every simulated nurse signs in from this one address: the per-source throttle is off
                      settings={"BENCH_FLOOR_ENDPOINT": True, "SIGN_IN_RATE_LIMIT": None},
                      log_dir=str(folder / "logs"))
    runs: list[dict[str, Any]] = []
    setup: dict[str, Any] = {"target": target, "root": str(root)}
    with stack:
        urls = {name: stack.url for name in scenarios}
        if "flask_floor" in scenarios:
            urls["flask_floor"] = serve_floor_app(stack)
        code = tree_step(root, "institution", stack.database_url)["code"]
        if target.endswith("/seeded"):
            setup["seed_seconds"] = scale.seed_volume(stack.database_url, institution_id(stack.database_url, code),
                                                      volume(args.scale))
            setup["rows"] = scale.row_counts(stack.database_url)
            print(f"  {target}: seeded in {setup['seed_seconds']['total']:.0f} s: {setup['rows']}", flush=True)
        seed_file = folder / "seed.json"
        write_seed(stack, code, tree_step(root, "card", stack.database_url), args.users, seed_file)
        trees = {**process_trees(stack), **({"floor_app": stack.procs["floor_app"].pid}
                                            if "floor_app" in stack.procs else {})}
        batch_auth = batch_client(stack) if BATCH in scenarios else {}
        for scenario in scenarios:  # warm-up: every worker imports and connects before the clock runs
            if scenario == BATCH:
                run_batch(stack, batch_auth, 100, trees)
            else:
                run_locust(urls[scenario], seed_file, scenario, args.users, 3, folder)
        for repeat in range(args.repeats):
            for scenario in scenarios:
                if scenario == BATCH:
                    run = run_batch(stack, batch_auth, args.batch_rows, trees)
                else:
                    run = run_locust(urls[scenario], seed_file, scenario, args.users, args.duration, folder, trees,
                                     args.rate)
                run.update(repeat=repeat + 1, target=target)
                runs.append(run)
                print(f"  {target:<14} {scenario:<13} run {repeat + 1}: {run['rps']:8.1f} req/s  p50 {run['p50_ms']} "
                      f"ms  p99 {run['p99_ms']} ms  failures {run['failures']}  load {run['load_before']}  "
                      f"CPU ms/op {_cpu_text(run['cpu_ms_per_op'])}", flush=True)
    return runs, setup


def volume(factor: float) -> scale.Volume:
    """bench/_scale.py's default volume times ``factor`` (--scale 0.1 for a quick look; the institutions stay)."""
    full = scale.Volume()
    return scale.Volume(visits=int(full.visits * factor), audit_rows=int(full.audit_rows * factor))


def targets(data: str, before: str | None) -> list[str]:
    """The targets in the order they run: the older tree first, each tree's empty database before its seeded."""
    trees = (["before"] if before else []) + ["after"]
    return [f"{tree}/{kind}" for tree in trees for kind in DATA[data]]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("scenarios", nargs="*", help=f"default: all of {', '.join([*SCENARIOS, BATCH])}; "
                        f"the floors ({', '.join(FLOORS)}) are always run")
    parser.add_argument("--json", type=Path, help="write the whole report here")
    parser.add_argument("--data", choices=list(DATA), default="empty",
                        help="empty: a fresh database; seeded: 1 M visits and 10 M audit rows first (bench/_scale.py);"
                        " both: each, one after the other")
    parser.add_argument("--before", metavar="REV", help="also measure commit REV's tree the same way, first")
    parser.add_argument("--scale", type=float, default=1.0, help="the seeded volume times this (default 1.0)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--duration", type=int, default=15, help="seconds per run (after a 3 s warm-up)")
    parser.add_argument("--users", type=int, default=16)
    workers, worker_class, threads = worker_model()
    parser.add_argument("--workers", type=int, default=workers, help=f"default {workers} (deploy/gunicorn.conf.py)")
    parser.add_argument("--worker-class", default=worker_class, help=f"default {worker_class}")
    parser.add_argument("--threads", type=int, default=threads, help=f"default {threads}")
    parser.add_argument("--oqs-workers", type=int, default=2)
    parser.add_argument("--batch-rows", type=int, default=10_000, help="examinees in the batch scenario's job")
    parser.add_argument("--rate", type=float, help="offer this many operations/s in all (paced users) instead of "
                        "a closed loop: the latency below saturation (the floors stay a closed loop)")
    args = parser.parse_args(argv)
    unknown = set(args.scenarios) - {*SCENARIOS, BATCH}
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    if args.scale <= 0 or args.duration <= 0 or args.repeats <= 0:
        parser.error("--scale, --duration and --repeats must be positive")
    operations = [name for name in args.scenarios or [*SCENARIOS, BATCH] if name not in FLOORS]
    args.scenarios = [*FLOORS, *operations]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM leaves through the with-blocks, so every stack stops and its cluster is deleted (no orphans)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    runs: list[dict[str, Any]] = []
    setups: list[dict[str, Any]] = []
    started = time.monotonic()
    try:
        roots = {"after": ROOT, **({"before": source_tree(args.before, work)} if args.before else {})}
        for target in targets(args.data, args.before):
            target_runs, setup = measure(target, roots[target.split("/")[0]], args, args.scenarios, work)
            runs += target_runs
            setups.append(setup)
    finally:
        shutil.rmtree(work / f"tree-{(args.before or '').replace('/', '_')}", ignore_errors=True)
    summaries = {target: summarise([r for r in runs if r["target"] == target])
                 for target in targets(args.data, args.before)}
    report = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "loadavg_at_end": os.getloadavg()},
        "settings": {"workers": args.workers, "worker_class": args.worker_class, "threads": args.threads,
                     "oqs_workers": args.oqs_workers, "users": args.users, "duration_s": args.duration,
                     "repeats": args.repeats, "offered_per_s": args.rate, "data": args.data, "before": args.before,
                     "scale": args.scale, "argv": sys.argv[1:] if argv is None else argv,
                     "database": "postgresql (durable: fsync, synchronous_commit on)",
                     "oqs": "sandbox over HTTP (gunicorn)",
                     "tool": "locust headless, FastHttpUser, " + ("paced users" if args.rate else "no wait")},
        "wall_seconds": round(time.monotonic() - started), "setups": setups, "summaries": summaries, "runs": runs,
    }
    print()
    print(f"{os.cpu_count()} CPUs, load average at end {os.getloadavg()}; {args.workers} {args.worker_class} "
          f"workers x {args.threads} threads, {args.users} users, {args.duration} s x {args.repeats} interleaved"
          + (f", {args.rate} operations/s offered" if args.rate else ", closed loop")
          + f"; wall time {report['wall_seconds']} s")
    for target, summary in summaries.items():
        print(f"\n{target}\n{format_table(summary)}")
    print(f"\n{format_targets(summaries)}")
    if len(summaries) > 1:
        print(f"\n{format_comparisons(summaries)}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
        print(f"\nJSON: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
