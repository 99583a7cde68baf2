"""Mobile online qualification confirmation API (居宅同意取得型 ② and 資格確認限定型 ③)."""
from __future__ import annotations

from typing import Any

from flask import Flask

from . import cli, config, keys, observability
from .bootstrap import build_runtime
from .clock import Clock, system_clock


def create_app(config_overrides: dict[str, Any] | None = None, *, clock: Clock | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    config.load(app, config_overrides)
    if int(app.config["TRUSTED_PROXIES"]) > 0:  # the client's address from the proxy's X-Forwarded-For
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=int(app.config["TRUSTED_PROXIES"]))  # type: ignore[method-assign]
    jwt_keys, active_kid = keys.jwt_keys(app)
    runtime, engine = build_runtime(app.config, jwt_keys, active_kid, clock or system_clock)
    app.extensions["mobile_api"] = runtime
    app.extensions["mobile_api_engine"] = engine
    observability.init_app(app)  # first, so its request id and timer wrap every other hook

    from . import api

    api.init_app(app)
    cli.init_app(app)
    from .api import docs_assets

    docs_assets.init_app(app)  # Swagger UI's files from the pinned package: /api/docs works offline
    from . import console

    console.init_app(app)  # the institutions' web console at /console/ (docs/console.md)
    return app
