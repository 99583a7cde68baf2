"""Every background task of the server, registered on the one job runner (docs/background-jobs.md).

To add one, write the use case in a service module and register it here, e.g.::

    @runner.periodic("fallback.post_hoc", minute=f"*/{rt.rules.post_hoc_interval_minutes}")
    def post_hoc() -> None:
        fallback.confirm_pending(rt)

Task names are stable strings: producers and workers (other processes) agree on them.
"""
from __future__ import annotations

from ..runtime import Runtime
from . import batch, fallback, maintenance


def register(rt: Runtime) -> None:
    runner = rt.jobs
    if runner is None:
        return

    @runner.task(batch.RUN_TASK)
    def run_batch(job_id: str) -> None:
        batch.run(rt, job_id)

    @runner.periodic("batch.recover", minute="*")
    def recover() -> None:
        batch.recover(rt)

    @runner.periodic("batch.purge", minute="*/15")
    def purge() -> None:
        batch.purge_expired(rt)

    @runner.periodic("fallback.post_hoc", minute=f"*/{rt.rules.post_hoc_interval_minutes}")
    def post_hoc() -> None:
        """事後確認: look up fallback records made while OQS was unreachable (docs/rules.md §5)."""
        fallback.confirm_pending(rt)

    @runner.periodic("maintenance.run", minute="30", hour="18")
    def maintain() -> None:
        """Daily at 03:30 in Japan (18:30 UTC): audit partitions ahead, retention, purge (docs/background-jobs.md)."""
        maintenance.run(rt)

    runner.on_start(lambda: batch.recover(rt))  # a restarted worker resumes what a killed one left
    runner.on_start(lambda: maintenance.prepare_partitions(rt))  # a new month never waits for the schedule
