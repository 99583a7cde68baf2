"""bench/server_load.py's arithmetic (no load is run here: `make bench-load` does that, outside `make test`)."""
from __future__ import annotations

import pytest

from bench._report import compare, comparisons, floor_ratios, format_comparisons, format_targets, ratio, server_cpu
from bench._scale import Volume, chunks, tasks
from bench.server_load import format_table, parse_args, summarise, targets, volume
from scripts.prod_local import worker_model


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


def target(verification_cpu: float, p99: float, rps: float = 40, floor_cpu: float = 0.2) -> dict:
    """A target's summary: the three floors and a verification, the API's CPU split 80/20 with PostgreSQL."""
    def cpu(api: float, pg: float = 0.0) -> dict:
        return {"api": api, "postgres": pg, "oqs": None, "locust": 0.1}
    runs = [{**run("flask_floor", 2000, 10), "cpu_ms_per_op": {**cpu(0.0), "floor_app": floor_cpu}},
            {**run("healthz", 1600, 12), "cpu_ms_per_op": cpu(0.4)}, {**run("floor", 1000, 40), "cpu_ms_per_op": cpu(0.5)},
            {**run("verification", rps, p99), "cpu_ms_per_op": cpu(verification_cpu * 0.8, verification_cpu * 0.2)}]
    return summarise(runs)


def test_the_ratios_to_both_floors_divide_req_per_s_and_the_servers_cpu() -> None:
    ratios = floor_ratios(target(verification_cpu=10.0, p99=100))
    assert ratios["verification"]["flask_floor"] == {"rps": 0.02, "cpu": 0.02}  # 40 / 2000; 0.2 ms / 10 ms
    assert ratios["verification"]["healthz"] == {"rps": 0.025, "cpu": 0.04}  # 40 / 1600; 0.4 ms / 10 ms
    assert "medical_read" not in ratios  # not measured: no row, rather than a row of None


def test_the_server_cpu_is_the_sum_of_the_servers_trees_without_the_load_generator() -> None:
    assert server_cpu({"api": 1.0, "postgres": 0.25, "oqs": None, "locust": 9.0}) == 1.25
    assert server_cpu({"floor_app": 0.2, "locust": 0.1}) == 0.2
    assert server_cpu({"locust": 0.1}) is None


def test_seeded_is_divided_by_empty_and_after_by_before_on_the_same_data() -> None:
    summaries = {"before/empty": target(20.0, 200), "before/seeded": target(22.0, 220),
                 "after/empty": target(10.0, 100, rps=80), "after/seeded": target(10.5, 104, rps=76)}
    assert comparisons(list(summaries)) == [("before/seeded", "before/empty"), ("after/empty", "before/empty"),
                                            ("after/seeded", "after/empty"), ("after/seeded", "before/seeded")]
    assert compare(summaries, "after/seeded", "after/empty")["verification"] == {
        "server_cpu": 1.05, "api_cpu": 1.05, "p50": 1.0, "p99": 1.04, "rps": 0.95}
    assert compare(summaries, "after/empty", "before/empty")["verification"]["server_cpu"] == 0.5
    table = format_comparisons(summaries)
    assert "| after/seeded ÷ after/empty | verification | 1.05 | 1.05 | 1.0 | 1.04 | 0.95 |" in table
    assert "| after/empty ÷ before/empty | verification | 0.5 |" in table


def test_one_table_carries_every_target_with_its_ratios_to_the_floors_and_the_load() -> None:
    table = format_targets({"after/empty": target(10.0, 100), "after/seeded": target(11.0, 120)})
    assert "| after/empty | verification | 40 | 10.0 / 100 / 100 | 8.0 / 2.0 / None / 0.1 | 10.0 | 0.02, 0.02 | " \
           "0.025, 0.04 | 0 | 1.0 |" in table
    assert "| after/seeded | verification |" in table and "| after/seeded | flask_floor | 2000 |" in table
    assert ratio(1.0, 0) is None and ratio(None, 2.0) is None and ratio(1.0, 3.0) == 0.333


def test_the_targets_run_the_older_tree_first_and_each_empty_database_before_its_seeded() -> None:
    assert targets("empty", None) == ["after/empty"]
    assert targets("both", "HEAD~3") == ["before/empty", "before/seeded", "after/empty", "after/seeded"]
    assert targets("seeded", "main") == ["before/seeded", "after/seeded"]


def test_the_floors_are_always_measured_and_the_arguments_are_checked(capsys: pytest.CaptureFixture[str]) -> None:
    args = parse_args(["medical_read", "--data", "both", "--before", "HEAD~1", "--scale", "0.1"])
    assert args.scenarios == ["flask_floor", "healthz", "floor", "medical_read"]
    assert (args.data, args.before, args.scale) == ("both", "HEAD~1", 0.1)
    assert (args.workers, args.worker_class, args.threads) == worker_model()  # deploy/gunicorn.conf.py decides
    assert parse_args([]).scenarios == ["flask_floor", "healthz", "floor", "verification", "medical_read", "login",
                                        "batch"]
    for wrong in (["nonsense"], ["--scale", "0"], ["--data", "full"]):
        with pytest.raises(SystemExit):
            parse_args(wrong)
    assert "nonsense" in capsys.readouterr().err
    assert volume(0.1) == Volume(visits=100_000, audit_rows=1_000_000)


def test_the_big_tables_are_cut_into_contiguous_chunks_that_cover_every_row_once() -> None:
    assert chunks(10, 3) == [(1, 4), (5, 8), (9, 10)]
    assert chunks(1, 4) == [(1, 1)] and chunks(0, 2) == []
    todo = tasks(Volume(institutions=3, visits=10, audit_rows=7), parallel=2)
    assert ("institutions", 0, 0) in todo and ("visits", 1, 5) in todo and ("visits", 6, 10) in todo
    assert [t for t in todo if t[0] == "audit_events"] == [("audit_events", 1, 4), ("audit_events", 5, 7)]
