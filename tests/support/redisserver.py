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

_START_ATTEMPTS = 3  # a freshly probed port can be grabbed by someone else before redis-server binds it
_START_SECONDS = 30  # redis starts in milliseconds; a loaded CI machine may take seconds


def require_redis() -> bool:
    return os.environ.get("REQUIRE_REDIS", "").strip().lower() in {"1", "true", "yes", "on"}


def _server_pid(port: int) -> int | None:
    """The process id the Redis server on ``port`` reports (INFO server), so that we never use someone else's."""
    with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
        conn.sendall(b"INFO server\r\n")
        reply = b""
        while not reply.startswith(b"$") or b"\r\n" not in reply or len(reply) < _bulk_end(reply):
            chunk = conn.recv(4096)
            if not chunk:
                return None
            reply += chunk
    for line in reply.decode("utf-8", "replace").splitlines():
        if line.startswith("process_id:"):
            return int(line.split(":", 1)[1])
    return None


def _bulk_end(reply: bytes) -> int:
    header, _, _ = reply.partition(b"\r\n")
    return len(header) + 2 + int(header[1:]) + 2


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
        for _ in range(_START_ATTEMPTS):
            if self._start_on_a_free_port(binary):
                return self
        self.stop()
        raise RuntimeError(f"redis-server did not answer within {_START_SECONDS} s (log: {self._log_tail()})")

    def _start_on_a_free_port(self, binary: str) -> bool:
        """True once our server answers PING. False if it exited: the probed port was taken before it bound
        it (on a shared machine someone may take it), and then whatever answers there is not ours."""
        self.port = free_port()
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory), "--logfile", os.path.join(str(self.directory), "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + _START_SECONDS
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if _server_pid(self.port) == self.process.pid:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        if self.process.poll() is None:  # running but silent all along: not worth another port
            self.process.kill()
            self.process.wait(timeout=5)
        self.process = None
        return False

    def _log_tail(self) -> str:
        try:
            with open(os.path.join(str(self.directory), "redis.log"), encoding="utf-8", errors="replace") as f:
                return f.read()[-500:]
        except OSError:
            return "none"

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
