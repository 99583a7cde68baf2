"""CPU per verification and per medical view in ONE process: the Flask test client, no server, no network.

    .venv/bin/python bench/_inprocess.py [--db postgresql|sqlite] [-n 200] [--repeat 5] [--top 25] [--no-profile]

A developer tool for the hot path (docs/performance.md, "The hot path without the ORM unit of work"): cheap
and repeatable on a busy machine, because ``time.process_time`` counts this process's CPU only (not the
load of others). It builds the app the integration tests build (tests/support/harness.py) on a throwaway
PostgreSQL cluster (tests/support/pgcluster.py) or a SQLite file, with an institution, a nurse on an enrolled
device and sandbox cards, then runs N verifications (start + submit) and N medical views and prints the CPU
ms per operation (the least and the median of several rounds), then a cProfile top by own CPU time of a
further run of each. The figures include the test client's own work (building requests, signing the card's
challenge) and the in-process OQS sandbox, so they are an upper bound of the API's share; PostgreSQL's own CPU
is not counted.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mobile_api import create_app  # noqa: E402
from mobile_api.clock import FrozenClock  # noqa: E402
from tests.support import database  # noqa: E402
from tests.support.harness import T0, Harness  # noqa: E402
from tests.support.pgcluster import PgCluster  # noqa: E402

CONFIG = {"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST_KIB": 1024,
          "JWT_KEYS": {"bench1": "bench-only-key-0123456789abcdef0123456789abcdef0123456789abcdef"},
          "JWT_ACTIVE_KID": "bench1", "SIGN_IN_RATE_LIMIT": "100000/minute"}
PERSONA = "P01-valid-30"


def database_url(kind: str, workdir: Path) -> tuple[str, PgCluster | None]:
    if kind == "sqlite":
        return database.sqlite_copy(database.migrated_sqlite_template(workdir), workdir), None
    cluster = PgCluster().start()
    return database.pg_copy(cluster, database.migrated_pg_template(cluster)), cluster


def cpu_ms(label: str, n: int, operation: Callable[[], None], repeat: int = 1) -> None:
    """CPU ms per operation over ``repeat`` rounds of ``n``: the least and the median (on a shared machine the
    least is the figure that moves least with the load)."""
    rounds = []
    for _ in range(repeat):
        start = time.process_time()
        for _ in range(n):
            operation()
        rounds.append(1000 * (time.process_time() - start) / n)
    print(f"{label:<14} {min(rounds):6.2f} ms CPU per operation (least of {repeat} x {n}; median "
          f"{statistics.median(rounds):.2f})")


def profile(label: str, n: int, operation: Callable[[], None], top: int) -> None:
    profiler = cProfile.Profile(time.process_time)  # CPU, not the wall clock: waits on the database are not work
    profiler.enable()
    for _ in range(n):
        operation()
    profiler.disable()
    print(f"\n--- {label}: top {top} by own time over {n} ---")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5, help="rounds of n; the least and the median are shown")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        url, cluster = database_url(args.db, Path(tmp))
        try:
            run(url, args)
        finally:
            if cluster is not None:
                cluster.stop()
    return 0


def run(url: str, args: argparse.Namespace) -> None:
    clock = FrozenClock(T0)
    app = create_app({**CONFIG, "DATABASE_URL": url}, clock=clock)
    h = Harness(app, clock)
    nurse = h.institution().nurse()
    card = h.card(PERSONA)
    first = h.verify_pin(nurse, card, consent={"kinds": ["medication"]})
    assert first.status_code == 201, first.get_json()
    visit_id = first.get_json()["id"]

    def verification() -> None:
        r = h.verify_pin(nurse, card, consent={"kinds": ["medication"]})
        assert r.status_code == 201, r.get_json()

    def medical_view() -> None:
        r = h.medical(nurse, visit_id)
        assert r.status_code == 200, r.get_json()

    for _ in range(20):  # warm-up: statement caches, the sandbox CA, imports
        verification()
        medical_view()
    print(f"{args.db}, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    cpu_ms("verification", args.n, verification, args.repeat)
    cpu_ms("medical view", args.n, medical_view, args.repeat)
    if not args.no_profile:
        profile("verification", args.n, verification, args.top)
        profile("medical view", args.n, medical_view, args.top)
    app.extensions["mobile_api_engine"].dispose()


if __name__ == "__main__":
    raise SystemExit(main())
