"""In process against under gunicorn, in one run: where a verification's CPU goes between the two.

    .venv/bin/python bench/_gap.py [-n 200] [--rounds 3] [--users 16]

One prod-local (scripts/prod_local.py: durable PostgreSQL, the OQS sandbox over HTTP, Prometheus multiprocess,
JSON logs) runs the API as ``bench._timed_app`` (each response carries the CPU its request spent inside the
WSGI app). The same app is also built in THIS process on the same database and the same OQS sandbox, with the
same settings, and driven by the Flask test client. Interleaved rounds of N verifications (start + submit) and
N medical views, each way:

- ``in process``: the app's CPU inside WSGI (the header), and this process's whole CPU (test client included);
- ``gunicorn, 1 client``: one keep-alive client, one request at a time: the app's CPU inside WSGI (the header)
  and the API workers' CPU (/proc: the app, gunicorn's parsing, writing and keep-alive loop, the kernel);
- ``gunicorn, U users``: locust's closed loop (bench/server_load.py) on the same server: the workers' CPU.

PostgreSQL's and the sandbox's CPU per operation are printed for each. The least and the median of the rounds.
A developer's tool (docs/performance.md, "Third pass"), not part of ``make bench``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from bench import _seed as seed  # noqa: E402
from bench._cpu import tree_seconds  # noqa: E402
from bench._timed_app import HEADER, timed  # noqa: E402
from bench.server_load import process_trees, run_locust, tree_step, write_seed  # noqa: E402
from scripts.prod_local import BIN, GUNICORN_CONF, ProdLocal  # noqa: E402

Op = Callable[[], Any]


class TimedProdLocal(ProdLocal):
    """prod-local whose API is ``bench._timed_app``."""

    def _spawn(self, name: str, argv: list[str], extra_env: dict[str, str] | None = None) -> None:
        if name == "api":
            argv = [str(BIN / "gunicorn"), "-c", str(GUNICORN_CONF), "bench._timed_app:create()"]
        super()._spawn(name, argv, extra_env)


def operations(client: Any, base: str, nurse: dict[str, Any], card: Any, get: Callable[[Any, str], Any]
               ) -> dict[str, Op]:
    """A verification and a medical view through ``client`` (a requests session or a Flask test client)."""
    auth = {"Authorization": f"Bearer {nurse['token']}"}

    def verification() -> list[Any]:
        started = client.post(base + "/api/v1/verifications", json=seed.start_body(), headers=auth)
        challenge = get(started, "json")
        submitted = client.post(f"{base}/api/v1/verifications/{challenge['challenge_id']}/submit",
                                json=seed.submit_body(card, challenge["challenge"]),
                                headers={**auth, "Idempotency-Key": uuid.uuid4().hex})
        assert submitted.status_code == 201, submitted.status_code
        return [started, submitted]

    def medical() -> list[Any]:
        r = client.get(f"{base}/api/v1/visits/{nurse['visit_id']}/medical-information/medication", headers=auth)
        assert r.status_code == 200, r.status_code
        return [r]

    return {"verification": verification, "medical": medical}


def measure(op: Op, n: int, trees: dict[str, int]) -> dict[str, float]:
    """CPU ms per operation: inside the app (headers), this process, and each tree."""
    app_us = 0
    cpu0, own0 = tree_seconds(trees), time.process_time()
    for _ in range(n):
        app_us += sum(int(r.headers[HEADER]) for r in op())
    cpu1, own1 = tree_seconds(trees), time.process_time()
    return {"app": app_us / 1000 / n, "this process": 1000 * (own1 - own0) / n,
            **{name: 1000 * (cpu1[name] - cpu0[name]) / n for name in trees}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--users", type=int, default=16, help="locust users for the loaded figure (0: none)")
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-gap-"))
    stack = TimedProdLocal(jobs_worker=False, settings={"BENCH_FLOOR_ENDPOINT": True, "SIGN_IN_RATE_LIMIT": None},
                           log_dir=str(work / "logs"))
    with stack:
        code = tree_step(ROOT, "institution", stack.database_url)["code"]
        card_json = tree_step(ROOT, "card", stack.database_url)
        card = seed.card_from_json(card_json)
        seed_file = work / "seed.json"
        write_seed(stack, code, card_json, max(args.users, 1), seed_file)
        nurse = json.loads(seed_file.read_text())["nurses"][0]
        os.environ.update({k: v for k, v in stack.env().items() if k.startswith(("MOBILE_API_", "DATABASE_URL"))})
        from mobile_api import create_app

        app = timed(create_app())
        trees = process_trees(stack)
        ways: dict[str, dict[str, Op]] = {
            "in process": operations(app.test_client(), "", nurse, card, lambda r, _: r.get_json()),
            "gunicorn, 1 client": operations(requests.Session(), stack.url, nurse, card, lambda r, _: r.json()),
        }
        results: dict[tuple[str, str], list[dict[str, float]]] = {}
        for way in ways.values():  # warm-up: imports, statement caches, connections, the trust anchors
            for op in way.values():
                for _ in range(20):
                    op()
        print(f"load average {os.getloadavg()[0]:.1f}", flush=True)
        for _ in range(args.rounds):
            for op_name in ("verification", "medical"):
                for way_name, way in ways.items():
                    results.setdefault((op_name, way_name), []).append(measure(way[op_name], args.n, trees))
                if args.users:
                    run = run_locust(stack.url, seed_file, "verification" if op_name == "verification"
                                     else "medical_read", args.users, args.duration, work, trees)
                    results.setdefault((op_name, f"gunicorn, {args.users} users"), []).append(
                        {k: v for k, v in run["cpu_ms_per_op"].items() if k != "locust" and v is not None})
        print(f"load average {os.getloadavg()[0]:.1f}; CPU ms per operation, least / median of {args.rounds} rounds")
        for (op_name, way_name), runs in results.items():
            cells = "  ".join(f"{key} {min(r[key] for r in runs):.2f}/{statistics.median(r[key] for r in runs):.2f}"
                              for key in runs[0])
            print(f"{op_name:<13} {way_name:<20} {cells}")
        app.extensions["mobile_api_engine"].dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
