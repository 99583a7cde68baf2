"""CPU time of process trees, from /proc (Linux): what one operation costs each part of the topology.

Req/s moves with whatever else runs on a shared machine; the CPU seconds a process tree spends per completed
operation move much less, so bench/server_load.py reports both. A tree is a root pid and every live
descendant (gunicorn's master and workers, the postmaster and its backends). CPU of processes that exited
during a run is not counted: the trees measured here keep their processes for the whole run.
"""
from __future__ import annotations

import os
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, utime + stime in seconds) of a live process, None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) ": state, ppid, ...
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICKS


def tree_seconds(roots: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each named tree (``roots``: name → root pid)."""
    parent_of: dict[int, int] = {}
    cpu_of: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            found = _stat(int(entry))
            if found is not None:
                parent_of[int(entry)], cpu_of[int(entry)] = found
    totals = {name: 0.0 for name in roots}
    root_name = {pid: name for name, pid in roots.items()}
    for pid, cpu in cpu_of.items():
        seen, current = 0, pid
        while current not in root_name and current in parent_of and seen < 64:  # walk up to a root, if any
            current, seen = parent_of[current], seen + 1
        if current in root_name:
            totals[root_name[current]] += cpu
    return totals
