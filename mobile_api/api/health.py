"""Liveness and readiness for the process manager and the load balancer (deploy/README.md).

- ``GET /healthz`` (liveness): the process answers HTTP. It touches nothing else, so a database outage never
  makes an orchestrator restart healthy workers (which would not bring the database back).
- ``GET /readyz`` (readiness): the database answers and its schema is at this release's migration head. If not,
  503 problem+json with ``Retry-After``: the balancer stops sending traffic here until it is back.
- ``GET /api/v1/_floor``: only with ``BENCH_FLOOR_ENDPOINT`` on, a trivial JSON answer on the same server and
  settings, the benchmark's floor (bench/README.md). Off (404) in production.

They are plain Flask routes, outside the OpenAPI contract: they are for infrastructure, not API clients.
"""
from __future__ import annotations

import logging
from functools import cache

from flask import Blueprint, Flask, Response, current_app, jsonify
from sqlalchemy import Engine, text

from ..adapters.db import database_unavailable
from .problems import problem_response

log = logging.getLogger(__name__)
health = Blueprint("health", __name__)

NOT_READY_TITLE = "サーバーの準備ができていません。しばらく待ってから再度お試しください。"


@cache
def migration_heads() -> frozenset[str]:
    """The Alembic head revision(s) this release ships."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from ..adapters.migrations import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return frozenset(ScriptDirectory.from_config(cfg).get_heads())


def _not_ready(detail: str) -> Response:
    response = problem_response(503, "not-ready", NOT_READY_TITLE, detail)
    response.headers["Retry-After"] = str(int(current_app.config["DB_RETRY_AFTER_SECONDS"]))
    return response


@health.get("/healthz")
def liveness() -> Response:
    return jsonify(status="ok")


@health.get("/readyz")
def readiness() -> Response:
    engine: Engine = current_app.extensions["mobile_api_engine"]
    try:
        with engine.connect() as connection:
            versions = {row[0] for row in connection.execute(text("SELECT version_num FROM alembic_version"))}
    except Exception as error:  # noqa: BLE001 - any failure here means "not ready", never a 500
        if database_unavailable(error):
            log.warning("readiness: database unavailable: %s", type(error).__name__)
            return _not_ready("データベースに接続できません。")
        log.warning("readiness: schema not readable: %s", type(error).__name__)
        return _not_ready("データベースのスキーマが未作成です（マイグレーション未実行）。")
    if versions != migration_heads():
        return _not_ready("データベースのスキーマがこのリリースのものではありません（マイグレーション未実行）。")
    return jsonify(status="ready", database="ok")


@health.get("/api/v1/_floor")
def floor() -> Response:
    if not current_app.config.get("BENCH_FLOOR_ENDPOINT"):
        return problem_response(404, "not-found", "対象が見つかりません。")
    return jsonify(status="ok", floor=True)


def init_app(app: Flask) -> None:
    app.register_blueprint(health)
