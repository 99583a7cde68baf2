"""Where an API worker's time goes under load: py-spy on one gunicorn worker of prod-local.

    .venv/bin/python bench/_profile.py [verification|medical_read] [--seconds 20] [--users 8] [--top 40]

Starts prod-local with ONE worker (deploy/gunicorn.conf.py's worker class and threads; one process, so every
sample is the work of one process), seeds it like bench/server_load.py, runs locust on the scenario and records
the worker with ``py-spy record --format raw --gil``: only the thread holding the GIL is sampled, so a thread
waiting on PostgreSQL or OQS (which py-spy does not always see as idle) is not counted as work. Prints the top frames by own time and by inclusive time, and the share by package
(sqlalchemy, psycopg, werkzeug, ...). A tool for finding the next change, not a benchmark: its figures are
sample shares, not rates (see docs/performance.md for the profiles it produced).
"""
from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.server_load import LOCUSTFILE, SCENARIOS, tree_step, write_seed  # noqa: E402
from scripts.prod_local import ProdLocal  # noqa: E402


def worker_pid(master: int) -> int:
    for _ in range(100):
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise RuntimeError("no gunicorn worker")


def package_of(frame: str) -> str:
    """``func (package/module.py:12)`` (py-spy shortens paths to the import path) → the top-level package,
    or 'stdlib'."""
    path = frame[frame.rfind("(") + 1:].rsplit(":", 1)[0]
    if path.startswith("<frozen"):
        return "stdlib"
    top = path.split("/")[0].removesuffix(".py")
    return "stdlib" if top in sys.stdlib_module_names else top


def report(raw: Path, top: int) -> None:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    packages: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():  # py-spy's own messages
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        own[frames[-1]] += count
        packages[package_of(frames[-1])] += count
        for frame in set(frames):
            inclusive[frame] += count
    print(f"{total} samples\n\nown time by package:")
    for name, count in packages.most_common():
        print(f"  {100 * count / total:5.1f} %  {name}")
    print("\ntop frames by own time:")
    for frame, count in own.most_common(top):
        print(f"  {100 * count / total:5.1f} %  {frame}")
    print("\ntop frames by inclusive time (mobile_api, sqlalchemy, psycopg, flask, werkzeug, marshmallow):")
    shown = 0
    for frame, count in inclusive.most_common():
        if package_of(frame) in ("mobile_api", "sqlalchemy", "psycopg", "flask", "werkzeug", "marshmallow",
                                 "requests", "urllib3", "pybreaker", "jwt", "flask_smorest"):
            print(f"  {100 * count / total:5.1f} %  {frame}")
            shown += 1
            if shown >= top:
                break


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("scenario", nargs="?", default="verification", choices=sorted(SCENARIOS))
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--raw", type=Path, help="keep py-spy's raw output here")
    parser.add_argument("--report-only", type=Path, help="only print the report of an earlier --raw file")
    args = parser.parse_args(argv)
    if args.report_only:
        report(args.report_only, args.top)
        return 0
    work = Path(tempfile.mkdtemp(prefix="bench-profile-"))
    raw = args.raw or work / "profile.txt"
    stack = ProdLocal(workers=1, oqs_workers=2, jobs_worker=False, settings={"BENCH_FLOOR_ENDPOINT": True, "SIGN_IN_RATE_LIMIT": None},
                      log_dir=str(work / "logs"))
    with stack:
        seed_file = work / "seed.json"
        code = tree_step(ROOT, "institution", stack.database_url)["code"]
        write_seed(stack, code, tree_step(ROOT, "card", stack.database_url), args.users, seed_file)
        pid = worker_pid(stack.procs["api"].pid)
        user_class, _ = SCENARIOS[args.scenario]
        locust = subprocess.Popen(
            [str(Path(sys.executable).parent / "locust"), "-f", str(LOCUSTFILE), "--headless", "--host", stack.url,
             "-u", str(args.users), "-r", str(args.users), "-t", f"{args.seconds + 3}s", "--only-summary",
             "--loglevel", "ERROR", user_class], cwd=ROOT, env={"BENCH_SEED": str(seed_file),
                                                                 "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(2)  # past the ramp-up
        subprocess.run([str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid), "--format", "raw",
                        "--rate", "250", "--duration", str(args.seconds), "--output", str(raw), "--nonblocking",
                        "--gil"],
                       check=True, capture_output=True)
        locust.wait(timeout=60)
    report(raw, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
