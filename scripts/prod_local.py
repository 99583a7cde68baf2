"""`make prod-local`: the production topology of deploy/ from plain processes on this machine.

    .venv/bin/python scripts/prod_local.py [--workers N] [--worker-class sync|gthread] [--threads N]

What runs (each its own process, as in deploy/compose.yaml):

1. PostgreSQL: a throwaway cluster (tests/support/pgcluster.py; as the ``postgres`` account when root) with
   production durability (fsync, full_page_writes and synchronous_commit on: an acknowledged write survives a
   crash of the database).
2. Migrations: ``flask --app mobile_api db upgrade``, a one-shot step that must finish before the API starts.
3. The OQS sandbox on its own port: ``gunicorn 'mobile_api.sandbox.server:create_app()'``.
4. The API: ``gunicorn -c deploy/gunicorn.conf.py 'mobile_api:create_app()'`` with N workers, OQS over HTTP
   (``OQS_BACKEND=http``), Prometheus in multiprocess mode, JSON logs.
5. The jobs worker: ``flask --app mobile_api jobs worker`` (the API runs no embedded job threads).
6. Redis for the shared rate-limit counters, when ``redis-server`` is installed (as compose's ``redis``).

It waits until ``/readyz`` answers 200, prints the URLs, and stops everything (and deletes the cluster) on
Ctrl-C. ``ProdLocal`` is the same as a context manager, for the smoke test, the fault tests and the benchmark.
"""
from __future__ import annotations

import argparse
import json
import os
import runpy
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.listening import port_from_log  # noqa: E402
from tests.support.pgcluster import PgCluster  # noqa: E402  (after the path fix, for a direct run)

BIN = Path(sys.executable).parent
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"
DURABLE = {"fsync": "on", "full_page_writes": "on", "synchronous_commit": "on"}


def worker_model() -> tuple[int, str, int]:
    """(workers, worker class, threads) as deploy/gunicorn.conf.py decides them: its defaults, or WEB_CONCURRENCY,
    GUNICORN_WORKER_CLASS and GUNICORN_THREADS from the environment. One place for the choice."""
    conf = runpy.run_path(str(GUNICORN_CONF))
    return int(conf["workers"]), str(conf["worker_class"]), int(conf["threads"])


class ProdLocal:
    def __init__(self, *, workers: int | None = None, worker_class: str | None = None, threads: int | None = None,
                 oqs_workers: int = 1,
                 jobs_worker: bool = True, settings: dict[str, Any] | None = None,
                 log_dir: str | None = None, root: Path = ROOT) -> None:
        """``root``: the source tree the processes run (cwd and PYTHONPATH), e.g. a worktree of an older
        commit for bench/server_load.py ``--before``; the settings (deploy/gunicorn.conf.py) stay this tree's."""
        self.root = root
        default = worker_model()
        self.workers = workers if workers is not None else default[0]
        self.worker_class = worker_class if worker_class is not None else default[1]
        self.threads = threads if threads is not None else default[2]
        self.oqs_workers, self.jobs_worker = oqs_workers, jobs_worker
        self.settings = dict(settings or {})
        self.pg = PgCluster(settings=DURABLE)
        self.base = Path(log_dir or tempfile.mkdtemp(prefix="prod-local-"))
        self.base.mkdir(parents=True, exist_ok=True)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.database_url = ""
        self.redis: Any = None
        self.api_port = self.oqs_port = 0
        self._jwt_key = secrets.token_urlsafe(48)
        self.metrics_token = secrets.token_urlsafe(32)  # /metrics is closed without it, as in production

    # -- lifecycle ------------------------------------------------------------------------------------------------
    def start(self, timeout: float = 120.0) -> ProdLocal:
        try:
            self.pg.start()
            if shutil.which("redis-server"):  # the shared rate-limit store, as in compose (optional here)
                from tests.support.redisserver import RedisServer

                self.redis = RedisServer().start()
            self.database_url = self.pg.create_database("mobile_oqs")
            self._run_once("migrate", [str(BIN / "flask"), "--app", "mobile_api", "db", "upgrade"])
            # gthread: keep-alive, as a real gateway keeps connections open (gunicorn's sync workers close each one)
            self.oqs_port = self._spawn_listening("oqs", [
                str(BIN / "gunicorn"), "-b", "127.0.0.1:0", "-w", str(self.oqs_workers), "-k", "gthread",
                "--threads", "4", "--keep-alive", "30", "mobile_api.sandbox.server:create_app()"], timeout=timeout)
            self._wait_http(f"{self.oqs_url}/healthz", timeout)
            self.start_api(timeout)
            if self.jobs_worker:
                self._spawn("jobs", [str(BIN / "flask"), "--app", "mobile_api", "jobs", "worker"])
        except BaseException:
            self.stop()
            raise
        return self

    def start_api(self, timeout: float = 120.0) -> None:
        """The API on a port of its own the first time, on the same port again after a restart (the callers
        keep its URL)."""
        metrics_dir = self.base / "prometheus"
        shutil.rmtree(metrics_dir, ignore_errors=True)  # stale files would add old counts
        metrics_dir.mkdir(parents=True)
        self.api_port = self._spawn_listening("api", [str(BIN / "gunicorn"), "-c", str(GUNICORN_CONF),
                                                      "mobile_api:create_app()"],
                                              extra_env={"BIND": f"127.0.0.1:{self.api_port}", **self.worker_env(),
                                                         "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
                                              timeout=timeout)
        self._wait_http(f"{self.url}/readyz", timeout)

    def stop(self) -> None:
        for name in list(self.procs)[::-1]:
            self.stop_process(name)
        self.pg.stop()
        if self.redis is not None:
            self.redis.stop()
            self.redis = None

    def stop_process(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def __enter__(self) -> ProdLocal:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- what callers need ----------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def oqs_url(self) -> str:
        return f"http://127.0.0.1:{self.oqs_port}"

    def env(self) -> dict[str, str]:
        """The environment every process of the topology gets (as deploy/mobile-api.env.example)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MOBILE_API_", "PG"))}
        env.update({
            "DATABASE_URL": self.database_url,
            "MOBILE_API_JWT_KEYS": json.dumps({"local": self._jwt_key}), "MOBILE_API_JWT_ACTIVE_KID": "local",
            "MOBILE_API_OQS_BACKEND": "http", "MOBILE_API_OQS_URL": self.oqs_url,
            "MOBILE_API_JOBS_EMBEDDED_WORKERS": "0" if self.jobs_worker else "2",
            "MOBILE_API_METRICS_TOKEN": self.metrics_token,
            "LOG_FORMAT": "json", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(self.root),
        })
        if self.redis is not None:
            env["MOBILE_API_RATE_LIMIT_STORAGE_URL"] = self.redis.url
        for key, value in self.settings.items():
            env[f"MOBILE_API_{key}"] = value if isinstance(value, str) else json.dumps(value)
        return env

    def worker_env(self) -> dict[str, str]:
        """The worker model for deploy/gunicorn.conf.py (the API's, and the benchmark's floor app's)."""
        return {"WEB_CONCURRENCY": str(self.workers), "GUNICORN_WORKER_CLASS": self.worker_class,
                "GUNICORN_THREADS": str(self.threads)}

    def serve(self, name: str, argv: list[str], extra_env: dict[str, str], ready_url: str,
              timeout: float = 60.0) -> None:
        """Start one more process of the topology (e.g. the benchmark's floor app), stopped with the rest."""
        self._spawn(name, argv, extra_env)
        self._wait_http(ready_url, timeout)

    def log(self, name: str) -> str:
        path = self.base / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # -- helpers --------------------------------------------------------------------------------------------------
    def _run_once(self, name: str, argv: list[str]) -> None:
        with open(self.base / f"{name}.log", "wb") as out:
            done = subprocess.run(argv, cwd=self.root, env=self.env(), stdout=out, stderr=subprocess.STDOUT,
                                  timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{name} failed (exit {done.returncode}):\n{self.log(name)[-2000:]}")

    def _spawn(self, name: str, argv: list[str], extra_env: dict[str, str] | None = None) -> None:
        with open(self.base / f"{name}.log", "ab") as out:  # the child keeps its own descriptor
            self.procs[name] = subprocess.Popen(argv, cwd=self.root, env={**self.env(), **(extra_env or {})},
                                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def _spawn_listening(self, name: str, argv: list[str], extra_env: dict[str, str] | None = None, *,
                         timeout: float) -> int:
        """Spawn a gunicorn bound as told (port 0: the kernel chooses) and return the port it says it listens on
        (tests/support/listening.py: a port probed free could be taken before the server binds it)."""
        log = self.base / f"{name}.log"
        since = log.stat().st_size if log.exists() else 0  # a restart appends to the log of the first start
        self._spawn(name, argv, extra_env)
        return port_from_log(log, self.procs[name], since=since, timeout=timeout)

    def _wait_http(self, url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            dead = [n for n, p in self.procs.items() if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                logs = "\n".join(f"--- {n} ---\n{self.log(n)[-1500:]}" for n in self.procs)
                raise RuntimeError(f"{url} not ready ({'exited: ' + ', '.join(dead) if dead else 'timeout'})\n{logs}")
            time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    workers, worker_class, threads = worker_model()  # deploy/gunicorn.conf.py's choice, or the environment's
    parser.add_argument("--workers", type=int, default=workers)
    parser.add_argument("--worker-class", default=worker_class)
    parser.add_argument("--threads", type=int, default=threads)
    args = parser.parse_args(argv)
    stack = ProdLocal(workers=args.workers, worker_class=args.worker_class, threads=args.threads)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with stack:
        print(f"API        {stack.url}   (/healthz /readyz /metrics /api/docs)")
        print(f"metrics    curl -H 'Authorization: Bearer {stack.metrics_token}' {stack.url}/metrics")
        print(f"OQS sandbox {stack.oqs_url}")
        print(f"PostgreSQL {stack.database_url}")
        print(f"logs       {stack.base}")
        print("Ctrl-C で停止します（データベースは削除されます）。", flush=True)
        try:
            while all(p.poll() is None for p in stack.procs.values()):
                time.sleep(1)
            print("a process exited; stopping", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    sys.exit(main())
