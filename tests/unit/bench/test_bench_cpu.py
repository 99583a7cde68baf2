"""bench/_cpu.py: CPU of a process tree counts its live descendants, and only theirs."""
from __future__ import annotations

import subprocess
import sys

from bench._cpu import tree_seconds

BURN = ("import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n"
        "print('burnt', flush=True)\ntime.sleep(30)")
# A parent that does nothing but start the burner and wait: its tree's CPU is mostly its child's.
PARENT = f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {BURN!r}])"


def test_a_childs_cpu_counts_in_its_parents_tree_and_not_in_another() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert parent.stdout is not None and parent.stdout.readline().strip() == "burnt"
        seconds = tree_seconds({"parent": parent.pid, "other": other.pid})
        assert seconds["parent"] >= 0.28  # the grandchild's 0.3 s busy loop, reached through its parent
        assert seconds["other"] < 0.2  # a sleeping interpreter: its start-up only
    finally:
        for proc in (parent, other):
            for child in _children(proc.pid):
                subprocess.run(["kill", str(child)], check=False)
            proc.kill()
            proc.wait()


def _children(pid: int) -> list[str]:
    try:
        return open(f"/proc/{pid}/task/{pid}/children").read().split()
    except OSError:
        return []
