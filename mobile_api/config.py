"""Configuration: defaults, then the environment (12-factor), then ``create_app``'s argument.

Environment variables are ``MOBILE_API_<NAME>`` (values parsed as JSON when they
can be, so ``MOBILE_API_CHALLENGE_TTL_SECONDS=60`` is an int) plus the
conventional ``DATABASE_URL``.
"""
from __future__ import annotations

import os
from typing import Any

DEFAULTS: dict[str, Any] = {
    # Persistence. None = SQLite (WAL) under the instance folder.
    "DATABASE_URL": None,
    # How long a request waits for a lock another one holds (SQLite busy timeout, PostgreSQL lock_timeout),
    # and for a PostgreSQL connection; past that it answers 503 with Retry-After instead of hanging.
    "DB_BUSY_TIMEOUT_SECONDS": 5,
    "DB_CONNECT_TIMEOUT_SECONDS": 5,
    # Retry-After (seconds) of a 503 when the database, or the national system (OQS), is unavailable.
    "DB_RETRY_AFTER_SECONDS": 5,
    "OQS_RETRY_AFTER_SECONDS": 10,
    # The national system. "sandbox" = the embedded faithful sandbox.
    "OQS_BACKEND": "sandbox",
    # Extra JPKI CA certificates (PEM paths) trusted for user-auth certificates.
    "JPKI_TRUST_ANCHORS": [],
    # Tokens. JWT_KEYS = {"kid": key, ...}, each key random (secrets.token_urlsafe(48)): weak or example keys
    # stop the app at start (mobile_api/keys.py). None = generated once and kept in the instance folder.
    "JWT_KEYS": None,
    "JWT_ACTIVE_KID": None,
    "JWT_ISSUER": "mobile-oqs",
    "JWT_AUDIENCE": "mobile-oqs-api",
    "ACCESS_TOKEN_TTL_SECONDS": 900,  # capped at 900; a token living longer than this is refused
    "REFRESH_TOKEN_TTL_SECONDS": 12 * 3600,  # one working day on a shared tablet
    "DEVICE_ASSERTION_MAX_AGE_SECONDS": 300,
    # Password hashing (argon2id). Tests may lower the cost; production must not.
    "ARGON2_TIME_COST": 3,
    "ARGON2_MEMORY_COST_KIB": 65536,
    # Domain rules (the OUR RULE decisions of docs/rules.md): keep them configurable.
    "CHALLENGE_TTL_SECONDS": 120,
    "ACTIVATION_CODE_TTL_SECONDS": 24 * 3600,
    "VIEWING_WINDOW_HOURS": 24,
    "CERTIFICATE_GRACE_MONTHS": 3,
    # Consecutive wrong visual-mode (目視確認) passwords that lock it until an admin unlocks or rotates it.
    "VISUAL_PASSWORD_MAX_FAILURES": 5,
    "FACILITY_FORMS": {},  # overrides of domain.facility.DEFAULT_ALLOWED_FORMS
    # Bodies larger than this are refused with 413 before they are parsed.
    "MAX_CONTENT_LENGTH": 64 * 1024,
    # OpenAPI / flask-smorest.
    "API_TITLE": "Mobile OQS API",
    "API_VERSION": "1.0.0",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "/docs",
    "OPENAPI_SWAGGER_UI_URL": "https://cdn.jsdelivr.net/npm/swagger-ui-dist/",
    "JSON_SORT_KEYS": False,
}


def load(app: Any, overrides: dict[str, Any] | None) -> None:
    app.config.update(DEFAULTS)
    app.config.from_prefixed_env("MOBILE_API")
    if os.environ.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = os.environ["DATABASE_URL"]
    if overrides:
        app.config.update(overrides)
    if not app.config["DATABASE_URL"]:
        os.makedirs(app.instance_path, exist_ok=True)
        app.config["DATABASE_URL"] = "sqlite:///" + os.path.join(app.instance_path, "mobile_api.sqlite3")
