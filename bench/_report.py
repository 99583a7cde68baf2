"""bench/server_load.py's arithmetic and tables: medians over repeats, ratios to the floors, and the side-by-side
tables (empty ÷ seeded database, before ÷ after), kept apart from the runs so they are unit-tested
(tests/unit/test_server_load_summary.py) without a load.

A *target* is one stack measured in the run: ``after/empty``, ``after/seeded``, ``before/empty``, ... Every
figure is compared only with figures of the same run.
"""
from __future__ import annotations

import statistics
from typing import Any

# The floors, cheapest first: a 5-line Flask app under the same gunicorn settings, the app's own cheapest
# endpoint (liveness: no database, no hooks' work), and the app's trivial JSON endpoint behind all its hooks.
FLOORS = ("flask_floor", "healthz", "floor")
OPERATIONS = ("verification", "medical_read")
# Process trees whose CPU is the server's (locust, the load generator, is not).
SERVER_TREES = ("api", "postgres", "oqs", "floor_app")
BATCH = "batch"  # rows/s, not requests/s: no ratio to a floor


def median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 1) if present else None


def ratio(numerator: float | None, denominator: float | None, digits: int = 3) -> float | None:
    """numerator ÷ denominator, None when either is missing or the denominator is 0."""
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, digits)


def server_cpu(cpu_ms_per_op: dict[str, float | None]) -> float | None:
    """The server's CPU per operation: the sum of the server's trees that were measured."""
    parts = [cpu_ms_per_op.get(tree) for tree in SERVER_TREES]
    present = [p for p in parts if p is not None]
    return round(sum(present), 2) if present else None


def summarise(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per scenario: medians over the repeats, and req/s ÷ the app's floor (``floor``) of the same session."""
    by_scenario: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        by_scenario.setdefault(run["scenario"], []).append(run)
    summary: dict[str, dict[str, Any]] = {}
    for name, items in by_scenario.items():
        values: dict[str, Any] = {key: median([r[key] for r in items]) for key in ("rps", "p50_ms", "p95_ms", "p99_ms")}
        values["load_before"] = [r["load_before"] for r in items]
        values["runs"] = len(items)
        values["failures"] = sum(r["failures"] for r in items)
        values["rps_runs"] = [round(r["rps"], 1) for r in items]
        values["cpu_ms_per_op"] = {part: median([r["cpu_ms_per_op"].get(part) for r in items])
                                   for part in items[0]["cpu_ms_per_op"]}
        values["server_cpu_ms"] = server_cpu(values["cpu_ms_per_op"])
        summary[name] = values
    floor = summary.get("floor", {}).get("rps")
    for name, values in summary.items():  # rows/s of a batch job is not comparable to requests/s
        values["ratio_to_floor"] = ratio(values["rps"], floor) if name != BATCH else None
    return summary


def floor_ratios(summary: dict[str, dict[str, Any]]) -> dict[str, dict[str, dict[str, float | None]]]:
    """For each operation and each floor measured: req/s(op) ÷ req/s(floor) and CPU(floor) ÷ CPU(op), where CPU
    is the server's per operation (a floor's CPU is its own server's: the 5-line app's tree for flask_floor)."""
    ratios: dict[str, dict[str, dict[str, float | None]]] = {}
    for op in OPERATIONS:
        if op not in summary:
            continue
        ratios[op] = {floor: {"rps": ratio(summary[op]["rps"], summary[floor]["rps"]),
                              "cpu": ratio(summary[floor]["server_cpu_ms"], summary[op]["server_cpu_ms"])}
                      for floor in FLOORS if floor in summary}
    return ratios


def _cpu_parts(values: dict[str, Any]) -> str:
    return " / ".join(str(values["cpu_ms_per_op"].get(part)) for part in ("api", "postgres", "oqs", "locust"))


def format_table(summary: dict[str, dict[str, Any]]) -> str:
    lines = ["| scenario | req/s (median) | runs req/s | p50 ms | p95 ms | p99 ms | ratio to floor | failures | "
             "load avg before runs | CPU ms per op: API / PostgreSQL / OQS / locust |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, v in summary.items():
        lines.append(f"| {name} | {v['rps']} | {', '.join(map(str, v['rps_runs']))} | {v['p50_ms']} | "
                     f"{v['p95_ms']} | {v['p99_ms']} | {v['ratio_to_floor']} | {v['failures']} | "
                     f"{', '.join(map(str, v['load_before']))} | {_cpu_parts(v)} |")
    return "\n".join(lines)


def format_targets(summaries: dict[str, dict[str, dict[str, Any]]]) -> str:
    """One table of every target's operations and floors: req/s, p50/p95/p99, CPU per op per tree, the server's
    CPU per op, the ratios to the floors (req/s and CPU), and the load average before each run."""
    lines = ["| target | scenario | req/s | p50 / p95 / p99 ms | CPU ms/op API / PG / OQS / locust | server CPU ms/op | "
             "vs flask_floor: req/s, CPU | vs healthz: req/s, CPU | failures | load avg |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for target, summary in summaries.items():
        ratios = floor_ratios(summary)
        for name, v in summary.items():
            against = ratios.get(name, {})
            cells = [f"{against[floor]['rps']}, {against[floor]['cpu']}" if floor in against else "–"
                     for floor in ("flask_floor", "healthz")]
            lines.append(f"| {target} | {name} | {v['rps']} | {v['p50_ms']} / {v['p95_ms']} / {v['p99_ms']} | "
                         f"{_cpu_parts(v)} | {v['server_cpu_ms']} | {cells[0]} | {cells[1]} | {v['failures']} | "
                         f"{', '.join(map(str, v['load_before']))} |")
    return "\n".join(lines)


def compare(summaries: dict[str, dict[str, dict[str, Any]]], numerator: str, denominator: str
            ) -> dict[str, dict[str, float | None]]:
    """numerator ÷ denominator per operation (e.g. ``after/seeded`` ÷ ``after/empty``): server CPU per op, API
    CPU per op, p50, p99 and req/s. 1.0 is no change; the aim for seeded ÷ empty is within 1.1."""
    rows: dict[str, dict[str, float | None]] = {}
    for op in OPERATIONS:
        top, bottom = summaries[numerator].get(op), summaries[denominator].get(op)
        if top is None or bottom is None:
            continue
        rows[op] = {"server_cpu": ratio(top["server_cpu_ms"], bottom["server_cpu_ms"], 2),
                    "api_cpu": ratio(top["cpu_ms_per_op"].get("api"), bottom["cpu_ms_per_op"].get("api"), 2),
                    "p50": ratio(top["p50_ms"], bottom["p50_ms"], 2), "p99": ratio(top["p99_ms"], bottom["p99_ms"], 2),
                    "rps": ratio(top["rps"], bottom["rps"], 2)}
    return rows


def comparisons(targets: list[str]) -> list[tuple[str, str]]:
    """The pairs worth dividing, numerator first: seeded ÷ empty within a tree, after ÷ before on the same data."""
    pairs = []
    for target in targets:
        tree, data = target.split("/")
        if data == "seeded" and f"{tree}/empty" in targets:
            pairs.append((target, f"{tree}/empty"))
        if tree == "after" and f"before/{data}" in targets:
            pairs.append((target, f"before/{data}"))
    return pairs


def format_comparisons(summaries: dict[str, dict[str, dict[str, Any]]]) -> str:
    lines = ["| ratio | operation | server CPU/op | API CPU/op | p50 | p99 | req/s |", "|---|---|---|---|---|---|---|"]
    for numerator, denominator in comparisons(list(summaries)):
        for op, r in compare(summaries, numerator, denominator).items():
            lines.append(f"| {numerator} ÷ {denominator} | {op} | {r['server_cpu']} | {r['api_cpu']} | {r['p50']} | "
                         f"{r['p99']} | {r['rps']} |")
    return "\n".join(lines)
