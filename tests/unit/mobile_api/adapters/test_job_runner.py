"""The job runner's embedded consumer (adapters/jobs.py) and the lazily built OQS gateway (adapters/oqs.py)."""
from __future__ import annotations

import copy
import threading

from huey import MemoryHuey

from mobile_api.adapters.jobs import JobRunner
from mobile_api.adapters.oqs import LazyGateway


def _schedulers() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "Scheduler" and t.is_alive())


def test_a_start_up_hook_that_enqueues_starts_one_consumer_not_one_per_call() -> None:
    runner = JobRunner(MemoryHuey(name="unit", results=False), embedded_workers=1, poll_max_seconds=0.1)
    ran = threading.Event()

    @runner.task("unit.work")
    def work() -> None:
        ran.set()

    runner.on_start(lambda: runner.enqueue("unit.work"))  # like batch.recover re-enqueueing orphaned jobs
    before = _schedulers()
    try:
        runner.enqueue("unit.work")
        assert ran.wait(5)
        assert _schedulers() == before + 1
    finally:
        runner.stop()
    assert _schedulers() == before


def test_a_worker_process_runs_no_embedded_consumer_besides_its_own() -> None:
    runner = JobRunner(MemoryHuey(name="unit-worker", results=False), embedded_workers=2)
    runner.on_start(lambda: runner.enqueue("unit.noop"))
    runner.task("unit.noop")(lambda: None)
    before = _schedulers()
    runner.consumer(workers=1)  # what `flask jobs worker` builds before .run()
    assert runner.embedded_workers == 0 and _schedulers() == before
    runner.stop()


def test_a_copied_lazy_gateway_does_not_recurse() -> None:
    built = []
    gateway = LazyGateway(lambda: built.append(1) or object())
    clone = copy.copy(gateway)  # copy looks up __setstate__ on an instance without _target
    assert built == [] and isinstance(clone, LazyGateway)
