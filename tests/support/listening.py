"""A gunicorn started on port 0, its port read back from its own log.

A port probed free and then handed to a server can be taken by another process in between (another test run,
an outgoing connection); the server then fails to bind, or worse, the test talks to someone else's server.
Binding port 0 lets the kernel choose, atomically; gunicorn says which port in its log ("Listening at: …").
"""
from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")


def port_from_log(log: Path, proc: subprocess.Popen[bytes], *, since: int = 0, timeout: float = 60.0) -> int:
    """The port gunicorn (``proc``) says it listens on, in ``log`` after byte ``since`` (a log appended to by
    an earlier start names that start's port)."""
    deadline = time.monotonic() + timeout
    while True:
        text = log.read_bytes()[since:].decode(errors="replace") if log.exists() else ""
        found = LISTENING.search(text)
        if found:
            return int(found.group(1))
        if proc.poll() is not None:
            raise RuntimeError(f"{log.name}: exited ({proc.returncode}) before listening:\n{text[-2000:]}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{log.name}: not listening after {timeout:.0f} s:\n{text[-2000:]}")
        time.sleep(0.05)
