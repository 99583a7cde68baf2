"""The post-hoc job's schedule is the setting (docs/rules.md §5), as Huey's scheduler will read it."""
from __future__ import annotations

import secrets
from datetime import datetime

import pytest

from mobile_api import create_app


def post_hoc_runs_at(minutes: int) -> list[int]:
    app = create_app({"DATABASE_URL": "sqlite://", "JWT_KEYS": {"k": secrets.token_urlsafe(48)},
                      "JWT_ACTIVE_KID": "k", "JOBS_EMBEDDED_WORKERS": 0, "POST_HOC_INTERVAL_MINUTES": minutes})
    try:
        huey = app.extensions["mobile_api"].jobs.huey
        task = next(t for name, t in huey._registry._registry.items() if name.endswith("fallback.post_hoc"))
        return [m for m in range(60) if task().validate_datetime(datetime(2026, 12, 1, 9, m))]
    finally:
        app.extensions["mobile_api"].jobs.stop()
        app.extensions["mobile_api_engine"].dispose()


def test_the_post_hoc_job_runs_every_configured_minutes() -> None:
    assert post_hoc_runs_at(10) == [0, 10, 20, 30, 40, 50]
    assert post_hoc_runs_at(15) == [0, 15, 30, 45]


@pytest.mark.parametrize("minutes", [0, 60, -5])
def test_an_interval_cron_cannot_express_stops_the_app_at_start(minutes: int) -> None:
    with pytest.raises(ValueError, match="POST_HOC_INTERVAL_MINUTES"):
        create_app({"DATABASE_URL": "sqlite://", "JWT_KEYS": {"k": secrets.token_urlsafe(48)}, "JWT_ACTIVE_KID": "k",
                    "JOBS_EMBEDDED_WORKERS": 0, "POST_HOC_INTERVAL_MINUTES": minutes})
