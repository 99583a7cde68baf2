"""A throwaway Redis server for tests of the shared rate-limit store (like pgcluster.py for PostgreSQL).

``redis-server`` on a free 127.0.0.1 port, no persistence, in a temp directory; stopped at exit. Missing
``redis-server`` skips the tests, unless ``REQUIRE_REDIS`` is set (CI installs it: .ci/run).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time

from tests.support.pgcluster import free_port


def require_redis() -> bool:
    return os.environ.get("REQUIRE_REDIS", "").strip().lower() in {"1", "true", "yes", "on"}


class RedisServer:
    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.directory: str | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError("redis-server not found (apt-get install redis-server)")
        self.directory = tempfile.mkdtemp(prefix="redis-")
        self.port = free_port()
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.directory, "--logfile", os.path.join(self.directory, "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not answer within 10 s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.process = None
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None
