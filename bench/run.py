"""Run every benchmark in bench/ (``make bench``), each in its own fresh interpreter.

    python bench/run.py [--json-dir DIR] [NAME ...]

A benchmark is any ``bench/*.py`` other than this file and files starting with ``_``. Each is run as
``python bench/NAME.py`` with its own defaults, plus ``--json DIR/NAME.json`` when ``--json-dir`` is
given (every benchmark accepts ``--json PATH``). A separate process per benchmark keeps one
benchmark's imports, caches and garbage from skewing the next one's CPU figures.

Exit status: 0 if every benchmark ran, 1 if any failed (a benchmark's findings, such as an APDU count
over its aim, are reported in its output and do not fail the run).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


def discover() -> list[Path]:
    return sorted(p for p in BENCH_DIR.glob("*.py") if p.name != "run.py" and not p.name.startswith("_"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the benchmarks in bench/.")
    parser.add_argument("names", nargs="*", help="benchmarks to run (file names without .py); default: all")
    parser.add_argument("--json-dir", type=Path, help="write each benchmark's JSON report to DIR/NAME.json")
    args = parser.parse_args(argv)

    available = {p.stem: p for p in discover()}
    unknown = [n for n in args.names if n not in available]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; available: {', '.join(available)}")
    selected = [available[n] for n in args.names] if args.names else list(available.values())
    if args.json_dir:
        args.json_dir.mkdir(parents=True, exist_ok=True)

    failed: list[str] = []
    for path in selected:
        print(f"=== {path.stem} ({path.relative_to(BENCH_DIR.parent)})", flush=True)
        command = [sys.executable, str(path)]
        if args.json_dir:
            command += ["--json", str(args.json_dir / f"{path.stem}.json")]
        started = time.perf_counter()
        status = subprocess.run(command, check=False).returncode
        print(f"=== {path.stem}: {'ok' if status == 0 else f'FAILED (exit {status})'} "
              f"in {time.perf_counter() - started:.1f} s\n", flush=True)
        if status:
            failed.append(path.stem)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
