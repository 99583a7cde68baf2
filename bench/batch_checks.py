"""A 10,000-examinee batch qualification check end to end (bench/README.md, docs/health-check-api.md).

    .venv/bin/python bench/batch_checks.py [--rows 10000] [--backend sqlite|postgresql|both] [--json PATH]

Per backend: a fresh migrated database, the app with its production defaults (embedded Huey consumer
threads, ``JOBS_EMBEDDED_WORKERS=2``; the OQS sandbox), served on a real loopback socket (werkzeug,
threaded). A machine client gets a token; then the clock runs from ``POST /api/v1/batch-jobs`` (JSON,
10,000 rows) through polling ``GET`` every 0.1 s until ``done`` to the whole ``results.csv`` downloaded
and checked (one line per examinee, in order). The phases are printed separately.

The aim is ≤ 5 s on the embedded default (SQLite) on a 2-core machine. PostgreSQL runs on a throwaway
cluster (tests/support/pgcluster.py); it is skipped, and said so, when PostgreSQL is not installed.
These machines are shared: the 1-minute load average is recorded next to each figure.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import os
import platform
import secrets
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from mobile_api import create_app  # noqa: E402
from mobile_api.adapters import migrations  # noqa: E402
from mobile_api.adapters.db import make_engine  # noqa: E402

AIM_SECONDS = 5.0
POLL_SECONDS = 0.1
# The sandbox personas behind statuses 1-6 (docs/sandbox.md), cycled; every 97th row has a wrong check digit.
PERSONAS = [
    {"insurer_number": "01130012", "symbol": "44100021", "number": "1287", "branch_number": "00",
     "birth_date": "1984-05-12"},
    {"insurer_number": "06135107", "symbol": "12", "number": "3456", "branch_number": "00", "birth_date": "1991-07-03"},
    {"insurer_number": "01270016", "symbol": "27010355", "number": "88", "branch_number": "00",
     "birth_date": "1979-01-22"},
    {"insurer_number": "01130012", "symbol": "44100021", "number": "9999", "branch_number": "00",
     "birth_date": "1984-05-12"},
    {"insurer_number": "01130012", "symbol": "44100888", "number": "7", "birth_date": "2016-04-10"},
    {"insurer_number": "12131017", "number": "1234567", "birth_date": "1962-03-18"},
]


def examinees(n: int) -> list[dict[str, str]]:
    rows = []
    for i in range(n):
        row = {"reference": f"R{i:05d}", **PERSONAS[i % len(PERSONAS)]}
        if i % 97 == 0:
            row["insurer_number"] = "01130013"
        rows.append(row)
    return rows


def load() -> float:
    return os.getloadavg()[0]


def timed_batch(http: Any, base: str, auth: dict[str, str], rows: int) -> dict[str, Any]:
    """``POST /api/v1/batch-jobs`` with ``rows`` examinees, poll until done, download and check results.csv;
    the phases timed (also bench/server_load.py's ``batch`` scenario, against prod-local)."""
    body = {"examinees": examinees(rows)}
    load_before = load()
    started = time.perf_counter()
    created = http.post(f"{base}/api/v1/batch-jobs", json=body,
                        headers={**auth, "Idempotency-Key": secrets.token_hex(16)})
    assert created.status_code == 202, created.text
    accepted = time.perf_counter()
    location = base + created.headers["Location"]
    polls = 0
    while True:
        job = http.get(location, headers=auth).json()
        polls += 1
        if job["state"] in ("done", "cancelled"):
            break
        time.sleep(POLL_SECONDS)
    finished = time.perf_counter()
    got = http.get(f"{location}/results.csv", headers=auth)
    downloaded = time.perf_counter()

    assert job["state"] == "done" and job["done"] == rows, job
    table = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"))))
    assert [line[0] for line in table[1:]] == [f"R{i:05d}" for i in range(rows)]
    return {"rows": rows, "failed_rows": job["failed"], "create_s": round(accepted - started, 3),
            "run_s": round(finished - accepted, 3), "csv_s": round(downloaded - finished, 3),
            "total_s": round(downloaded - started, 3), "rows_per_s": round(rows / (downloaded - started)),
            "csv_bytes": len(got.content), "polls": polls, "load_1min_before": round(load_before, 2),
            "load_1min_after": round(load(), 2)}


def machine_client_token(http: Any, base: str, institution_code: str, admin_password: str) -> str:
    """The institution's admin registers a machine client (client_secret) and the client gets a token."""
    admin = http.post(f"{base}/api/v1/auth/login", json={"institution_code": institution_code, "login": "admin",
                                                         "password": admin_password}).json()["access_token"]
    made = http.post(f"{base}/api/v1/clients", json={"name": "bench", "auth_method": "client_secret"},
                     headers={"Authorization": f"Bearer {admin}"}).json()
    return http.post(f"{base}/api/v1/oauth/token", data={
        "grant_type": "client_credentials", "client_id": made["client_id"],
        "client_secret": made["client_secret"]}).json()["access_token"]


def run_one(database_url: str, rows: int, workdir: Path) -> dict[str, Any]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log line per poll
    engine = make_engine(database_url)
    migrations.upgrade(engine)
    engine.dispose()
    app = create_app({"DATABASE_URL": database_url, "JWT_KEYS": {"bench": secrets.token_urlsafe(48)},
                      "JWT_ACTIVE_KID": "bench"})
    app.instance_path = str(workdir / "instance")
    rt = app.extensions["mobile_api"]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        from mobile_api.services import identity

        password = secrets.token_urlsafe(16)
        identity.create_institution(rt, code="1399999999", name="ベンチ健診センター", facility_kind="health_check",
                                    admin_login="admin", admin_password=password)
        http = requests.Session()
        token = machine_client_token(http, base, "1399999999", password)
        return timed_batch(http, base, {"Authorization": f"Bearer {token}"}, rows)
    finally:
        server.shutdown()
        thread.join(timeout=5)
        rt.jobs.stop()
        app.extensions["mobile_api_engine"].dispose()


def run_sqlite(rows: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        return run_one(f"sqlite:///{tmp}/bench.sqlite3", rows, Path(tmp))


def run_postgresql(rows: int) -> dict[str, Any]:
    from tests.support.pgcluster import PgCluster, pg_available

    if not pg_available():
        return {"skipped": "PostgreSQL is not installed (initdb/pg_ctl not found)"}
    cluster = PgCluster().start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
            return run_one(cluster.create_database("bench"), rows, Path(tmp))
    finally:
        cluster.stop()


def table(results: dict[str, dict[str, Any]]) -> str:
    lines = ["| backend | rows | create | run to done | CSV | total | rows/s | load (1 min) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for backend, r in results.items():
        if "skipped" in r:
            lines.append(f"| {backend} | skipped: {r['skipped']} | | | | | | |")
            continue
        lines.append(f"| {backend} | {r['rows']} | {r['create_s']:.2f} s | {r['run_s']:.2f} s | {r['csv_s']:.2f} s | "
                     f"**{r['total_s']:.2f} s** | {r['rows_per_s']} | {r['load_1min_before']} → "
                     f"{r['load_1min_after']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--json", type=Path, help="write the report as JSON")
    args = parser.parse_args(argv)
    results: dict[str, dict[str, Any]] = {}
    if args.backend in ("sqlite", "both"):
        results["sqlite (embedded default)"] = run_sqlite(args.rows)
    if args.backend in ("postgresql", "both"):
        results["postgresql"] = run_postgresql(args.rows)
    report = {"benchmark": "batch_checks", "aim_total_s": AIM_SECONDS, "cpus": os.cpu_count(),
              "python": platform.python_version(), "results": results}
    print(table(results))
    embedded = results.get("sqlite (embedded default)", {})
    if "total_s" in embedded:
        verdict = "within" if embedded["total_s"] <= AIM_SECONDS else "OVER"
        print(f"embedded default: {embedded['total_s']:.2f} s for {embedded['rows']} rows, {verdict} the aim of "
              f"{AIM_SECONDS:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
