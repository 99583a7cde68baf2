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
    # The national system. "sandbox" = the embedded faithful sandbox; "http" = over the network at OQS_URL
    # (adapters/oqs_http.py: timeouts, bounded retries, a circuit breaker; the sandbox serves it with
    # `gunicorn 'mobile_api.sandbox.server:create_app()'`).
    "OQS_BACKEND": "sandbox",
    "OQS_URL": None,
    "OQS_CONNECT_TIMEOUT_SECONDS": 1.0,
    "OQS_READ_TIMEOUT_SECONDS": 3.0,  # a slow national system answers 503 + fallback after this, not later
    "OQS_RETRIES": 2,  # connection failures and 502/503/504 only; never after a read timeout
    "OQS_BREAKER_FAILURES": 5,  # consecutive failures that open the circuit: then 503 at once ...
    "OQS_BREAKER_RESET_SECONDS": 15,  # ... until one trial call after this long
    # Operations: Prometheus metrics at /metrics (docs in deploy/README.md); the benchmark's floor endpoint.
    "METRICS_ENABLED": True,
    "METRICS_TOKEN": None,  # set: /metrics answers only a scraper that sends "Authorization: Bearer <token>"
    "METRICS_PUBLIC": False,  # without a token /metrics is closed (403); True opens it (demo, a scraper-only port)
    "BENCH_FLOOR_ENDPOINT": False,
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
    # How far ahead of the server's clock a machine client's private_key_jwt assertion may expire (its jti is
    # kept until then). 3600 accepts Authlib's PrivateKeyJWT as it comes (docs/health-check-api.md §1).
    "CLIENT_ASSERTION_MAX_LIFETIME_SECONDS": 3600,
    # Password hashing (argon2id). Tests may lower the cost; production must not.
    "ARGON2_TIME_COST": 3,
    "ARGON2_MEMORY_COST_KIB": 65536,
    # Domain rules (the OUR RULE decisions of docs/rules.md): keep them configurable.
    "CHALLENGE_TTL_SECONDS": 120,
    "ACTIVATION_CODE_TTL_SECONDS": 24 * 3600,
    "VIEWING_WINDOW_HOURS": 24,
    "CERTIFICATE_GRACE_MONTHS": 3,
    "POST_HOC_INTERVAL_MINUTES": 10,  # OUR RULE: how often pending fallback records are looked up again (1-59)
    "CERTIFICATE_RENEWAL_ALERT_MONTHS": 3,  # OUR RULE: alert this many months before the certificate expires
    # Fallback records (docs/rules.md §5): the device's stated time is bounded by the server's receipt. OUR RULE:
    # refuse a time ahead by more than the skew, and a visit day more than the age before the day of receipt
    # (41 = a visit on the 1st of a 31-day month still reaches the claim submitted by the 10th of the next).
    "FALLBACK_FUTURE_SKEW_MINUTES": 5,
    "FALLBACK_MAX_AGE_DAYS": 41,
    # Certificate policy OIDs (dotted) of JPKI smartphone user-auth certificates, besides the sandbox's own:
    # such a certificate gets no grace after expiry (docs/rules.md §2.4).
    "JPKI_SMARTPHONE_POLICY_OIDS": [],
    # Continuing home care: a relationship with no visit for this many days ends (re-query refused after).
    "CARE_RELATIONSHIP_IDLE_DAYS": 90,
    # The usage rate (seed 000, docs/rules.md §4, the usage rate). OUR RULE: a re-query (再照会) rests on an earlier card
    # confirmation but reads no card, so it counts as an online confirmation, not as a card use, unless set.
    "USAGE_RATE_REQUERY_IS_CARD": False,
    # The patient's own phone: how long a consent link lives (an appointment link also ends with its
    # planned date), and how long the page may list and withdraw consents after the PIN.
    "CONSENT_LINK_TTL_DAYS": 30,
    "PATIENT_PAGE_SESSION_MINUTES": 10,
    # The public origin of patient links (e.g. "https://oqs.example.jp"); None = the request's own host.
    "PUBLIC_BASE_URL": None,
    # Consecutive wrong visual-mode (目視確認) passwords that lock it until an admin unlocks or rotates it.
    "VISUAL_PASSWORD_MAX_FAILURES": 5,
    "FACILITY_FORMS": {},  # overrides of domain.facility.DEFAULT_ALLOWED_FORMS
    # OUR RULE: facility kinds that may look up qualification by 被保険者番号等 without the card (docs/rules.md §1.1).
    "IDENTIFIER_LOOKUP_FACILITY_KINDS": ["health_check"],
    # Bodies larger than this are refused with 413 before they are parsed.
    "MAX_CONTENT_LENGTH": 64 * 1024,
    # Machine clients and batch qualification checks (docs/health-check-api.md).
    "BATCH_MAX_ROWS": 10_000,
    "BATCH_MAX_CONTENT_LENGTH": 4 * 1024 * 1024,  # the batch endpoint only: 10,000 rows as JSON or CSV
    "BATCH_CHUNK_SIZE": 500,  # rows per transaction: a killed worker redoes at most this many lookups
    "BATCH_LEASE_SECONDS": 60,  # a worker that stops renewing for this long is presumed dead
    "BATCH_RESULT_RETENTION_DAYS": 7,
    # The maintenance job (docs/background-jobs.md, docs/rules.md §7.1). OUR RULE: the audit log is kept 72 months
    # (医師法 第24条 / 療担規則 第9条: 診療録 5 years from the end of care, plus a year for care that ends later);
    # less than 36 months (療担規則 第9条's 3 years) is refused. Monthly partitions are made this far ahead.
    "AUDIT_RETENTION_MONTHS": 72,
    "AUDIT_PARTITIONS_AHEAD_MONTHS": 3,
    # OUR RULE: spent rows are purged this long after they stopped mattering: console sessions after they ended
    # or expired, device/client assertion ids after the assertion expired, challenges after they expired (unless a
    # visit names them), idempotency records after they were made (more than FALLBACK_MAX_AGE_DAYS, or a late
    # retry of a fallback record would be recorded twice). Lock-out rows go when they neither lock nor count.
    # Patient-page sessions after their challenge and page session ended, consent links after they expired or were
    # revoked (the page says "expired" rather than "unknown" that long); never one a consent needs.
    "CONSOLE_SESSION_KEEP_DAYS": 7,
    "PATIENT_SESSION_KEEP_DAYS": 7,
    "CONSENT_LINK_KEEP_DAYS": 90,
    "REPLAY_GUARD_KEEP_MINUTES": 60,
    "CHALLENGE_KEEP_HOURS": 24,
    "IDEMPOTENCY_KEEP_DAYS": 45,
    # Background jobs (docs/background-jobs.md). None = derived from DATABASE_URL: SQLite → a SQLite queue
    # file beside it; PostgreSQL → the same database (tables job_queue_*).
    "JOBS_QUEUE_URL": None,
    "JOBS_EMBEDDED_WORKERS": 2,  # consumer threads inside the app process; 0 when `flask jobs worker` runs
    "JOBS_POLL_MAX_SECONDS": 1.0,
    # Per-client limits, "N/second|minute|hour" per scope ({} = none), and where the counters live:
    # None = this database (shared by every worker, the default); redis://host:6379/0 for a busy deployment;
    # memory:// (one process only) only when asked for, in tests or development (adapters/ratelimit.py).
    "RATE_LIMITS": {"qualification:check": "600/minute", "qualification:batch": "120/minute"},
    "RATE_LIMIT_STORAGE_URL": None,
    # OUR RULE: one lock-out for the API's login, the console's sign-in and the token endpoint (docs/rules.md,
    # "Sign-in lock-out"): this many wrong passwords or secrets for one account, client (or, for unknown ones,
    # source address) within the window lock it for SIGN_IN_LOCK_MINUTES, or until an admin unlocks it.
    "SIGN_IN_MAX_FAILURES": 10,
    "SIGN_IN_FAILURE_WINDOW_MINUTES": 15,
    "SIGN_IN_LOCK_MINUTES": 15,
    # The per-source throttle in front of every password or secret check (429 + Retry-After before argon2);
    # None = off. The source is the client's address: behind a reverse proxy set TRUSTED_PROXIES to the number
    # of proxies whose X-Forwarded-For is believed (deploy/: 1, nginx), or every caller is the proxy.
    "SIGN_IN_RATE_LIMIT": "20/minute",
    "TRUSTED_PROXIES": 0,
    # The institutions' web console at /console/ (docs/console.md). CONSOLE_SECRET_KEY None = derived from the
    # active JWT key; set CONSOLE_COOKIE_SECURE behind HTTPS.
    "CONSOLE_SECRET_KEY": None,
    "CONSOLE_COOKIE_SECURE": False,
    "CONSOLE_SESSION_MINUTES": 480,  # OUR RULE: a console session ends this long after sign-in, however active
    "CONSOLE_IDLE_MINUTES": 30,  # OUR RULE: ... and after this long without a page seen (both to the second)
    # OpenAPI / flask-smorest.
    "API_TITLE": "Mobile OQS API",
    "API_VERSION": "1.0.0",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "/docs",
    # Swagger UI's files from the pinned flask-swagger-ui package, served by this app (api/docs_assets.py):
    # the docs work offline. Point it at a CDN only if you prefer.
    "OPENAPI_SWAGGER_UI_URL": "/api/docs/assets/",
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
