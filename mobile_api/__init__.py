"""Mobile online qualification confirmation API (居宅同意取得型 ② and 資格確認限定型 ③)."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask

from . import cli, config, keys
from .adapters.db import make_engine, make_session_factory
from .adapters.oqs_factory import build_oqs
from .clock import Clock, system_clock
from .domain.facility import FacilityPolicy
from .runtime import Rules, Runtime
from .services.passwords import Passwords
from .services.tokens import TokenService


def create_app(config_overrides: dict[str, Any] | None = None, *, clock: Clock | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    config.load(app, config_overrides)
    clock = clock or system_clock
    cfg = app.config

    engine = make_engine(cfg["DATABASE_URL"])
    session_factory = make_session_factory(engine)
    jwt_keys, active_kid = keys.jwt_keys(app)
    runtime = Runtime(
        session_factory=session_factory,
        clock=clock,
        oqs=build_oqs(cfg, session_factory, clock),
        tokens=TokenService(keys=jwt_keys, active_kid=active_kid, issuer=cfg["JWT_ISSUER"],
                            audience=cfg["JWT_AUDIENCE"],
                            access_ttl=timedelta(seconds=min(cfg["ACCESS_TOKEN_TTL_SECONDS"], 900)), clock=clock),
        passwords=Passwords(time_cost=cfg["ARGON2_TIME_COST"], memory_cost_kib=cfg["ARGON2_MEMORY_COST_KIB"]),
        policy=FacilityPolicy(cfg["FACILITY_FORMS"]),
        rules=Rules(
            challenge_ttl=timedelta(seconds=cfg["CHALLENGE_TTL_SECONDS"]),
            activation_code_ttl=timedelta(seconds=cfg["ACTIVATION_CODE_TTL_SECONDS"]),
            refresh_ttl=timedelta(seconds=cfg["REFRESH_TOKEN_TTL_SECONDS"]),
            device_assertion_max_age=timedelta(seconds=cfg["DEVICE_ASSERTION_MAX_AGE_SECONDS"]),
            viewing_window=timedelta(hours=cfg["VIEWING_WINDOW_HOURS"]),
            certificate_grace_months=cfg["CERTIFICATE_GRACE_MONTHS"],
        ),
    )
    app.extensions["mobile_api"] = runtime
    app.extensions["mobile_api_engine"] = engine

    from . import api

    api.init_app(app)
    cli.init_app(app)
    return app
