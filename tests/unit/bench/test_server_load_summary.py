"""bench/server_load.py's arithmetic (no load is run here: `make bench-load` does that, outside `make test`)."""
from __future__ import annotations

from bench.server_load import format_table, summarise


def run(scenario: str, rps: float, p99: float | None, failures: int = 0, load: float = 1.0,
        api_cpu: float | None = 1.0) -> dict:
    return {"scenario": scenario, "rps": rps, "p50_ms": 10.0 if p99 else None, "p95_ms": p99, "p99_ms": p99,
            "failures": failures, "load_before": load,
            "cpu_ms_per_op": {"api": api_cpu, "postgres": 0.5, "oqs": None, "locust": 0.25}}


def test_medians_over_repeats_and_ratio_to_the_floor_of_the_same_session() -> None:
    summary = summarise([run("floor", 1000, 40), run("verification", 30, 700, api_cpu=20.0), run("floor", 800, 60),
                         run("verification", 50, 900, failures=2, api_cpu=10.0)])
    assert summary["floor"]["rps"] == 900 and summary["floor"]["ratio_to_floor"] == 1.0
    assert summary["verification"]["rps"] == 40 and summary["verification"]["ratio_to_floor"] == round(40 / 900, 3)
    assert summary["verification"]["p99_ms"] == 800 and summary["verification"]["failures"] == 2
    assert summary["verification"]["rps_runs"] == [30, 50]
    assert summary["verification"]["cpu_ms_per_op"] == {"api": 15.0, "postgres": 0.5, "oqs": None, "locust": 0.2}
    assert "| verification | 40" in format_table(summary) and "| 15.0 / 0.5 / None / 0.2 |" in format_table(summary)


def test_a_run_where_nothing_completed_is_reported_not_dropped() -> None:
    summary = summarise([run("floor", 500, 30), run("login", 0, None)])
    assert summary["login"]["rps"] == 0 and summary["login"]["p99_ms"] is None
    assert summary["login"]["ratio_to_floor"] == 0


def test_a_batch_in_rows_per_second_gets_no_ratio_to_the_floor() -> None:
    summary = summarise([run("floor", 1000, 40), run("batch", 900, None)])
    assert summary["batch"]["rps"] == 900 and summary["batch"]["ratio_to_floor"] is None
