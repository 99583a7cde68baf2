"""The composition root: the one place that chooses and wires the adapters.

Services and the API receive a ``Runtime``; only this module knows which
concrete clock, database, token service, password hasher and OQS gateway
(today the embedded sandbox) stand behind it.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from functools import partial
from typing import Any

from cryptography import x509
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from .adapters import jpki
from .adapters.db import make_engine, make_session_factory
from .adapters.ledger import Ledger
from .adapters.oqs import LazyGateway, OQSGateway, WithExtraAnchors
from .adapters.passwords import Passwords
from .adapters.repository import UnitOfWork
from .adapters.tokens import TokenService
from .clock import Clock
from .domain.facility import FacilityPolicy
from .domain.retention import MIN_RETENTION_MONTHS
from .runtime import BatchSettings, HousekeepingSettings, Rules, Runtime


def rules_from(cfg: Mapping[str, Any]) -> Rules:
    if int(cfg["VISUAL_PASSWORD_MAX_FAILURES"]) < 1:
        raise ValueError("VISUAL_PASSWORD_MAX_FAILURES must be at least 1")
    if int(cfg["SIGN_IN_MAX_FAILURES"]) < 1:
        raise ValueError("SIGN_IN_MAX_FAILURES must be at least 1")
    if not 1 <= int(cfg["POST_HOC_INTERVAL_MINUTES"]) <= 59:
        raise ValueError("POST_HOC_INTERVAL_MINUTES must be 1 to 59 (a cron minute step)")
    if int(cfg["FALLBACK_MAX_AGE_DAYS"]) < 0 or float(cfg["FALLBACK_FUTURE_SKEW_MINUTES"]) < 0:
        raise ValueError("FALLBACK_MAX_AGE_DAYS and FALLBACK_FUTURE_SKEW_MINUTES must not be negative")
    if int(cfg["CLIENT_ASSERTION_MAX_LIFETIME_SECONDS"]) < 1:
        raise ValueError("CLIENT_ASSERTION_MAX_LIFETIME_SECONDS must be at least 1")
    return Rules(
        challenge_ttl=timedelta(seconds=cfg["CHALLENGE_TTL_SECONDS"]),
        activation_code_ttl=timedelta(seconds=cfg["ACTIVATION_CODE_TTL_SECONDS"]),
        refresh_ttl=timedelta(seconds=cfg["REFRESH_TOKEN_TTL_SECONDS"]),
        device_assertion_max_age=timedelta(seconds=cfg["DEVICE_ASSERTION_MAX_AGE_SECONDS"]),
        client_assertion_max_lifetime=timedelta(seconds=int(cfg["CLIENT_ASSERTION_MAX_LIFETIME_SECONDS"])),
        viewing_window=timedelta(hours=cfg["VIEWING_WINDOW_HOURS"]),
        certificate_grace_months=cfg["CERTIFICATE_GRACE_MONTHS"],
        visual_password_max_failures=int(cfg["VISUAL_PASSWORD_MAX_FAILURES"]),
        renewal_alert_months=int(cfg["CERTIFICATE_RENEWAL_ALERT_MONTHS"]),
        post_hoc_interval_minutes=int(cfg["POST_HOC_INTERVAL_MINUTES"]),
        care_relationship_idle=timedelta(days=cfg["CARE_RELATIONSHIP_IDLE_DAYS"]),
        consent_link_ttl=timedelta(days=cfg["CONSENT_LINK_TTL_DAYS"]),
        patient_page_session=timedelta(minutes=cfg["PATIENT_PAGE_SESSION_MINUTES"]),
        usage_rate_requery_is_card=bool(cfg["USAGE_RATE_REQUERY_IS_CARD"]),
        sign_in_max_failures=int(cfg["SIGN_IN_MAX_FAILURES"]),
        sign_in_failure_window=timedelta(minutes=float(cfg["SIGN_IN_FAILURE_WINDOW_MINUTES"])),
        sign_in_lock=timedelta(minutes=float(cfg["SIGN_IN_LOCK_MINUTES"])),
        fallback_future_skew=timedelta(minutes=cfg["FALLBACK_FUTURE_SKEW_MINUTES"]),
        fallback_max_age_days=int(cfg["FALLBACK_MAX_AGE_DAYS"]),
        smartphone_policies=frozenset([jpki.SANDBOX_SMARTPHONE_POLICY.dotted_string,
                                       *cfg["JPKI_SMARTPHONE_POLICY_OIDS"]]),
    )


def _with_configured_anchors(gateway: Any, cfg: Mapping[str, Any]) -> Any:
    """The gateway, trusting also the JPKI CA certificates named in ``JPKI_TRUST_ANCHORS`` (PEM paths), if any."""
    anchors: list[x509.Certificate] = []
    for path in cfg["JPKI_TRUST_ANCHORS"]:
        with open(path, "rb") as handle:
            anchors.extend(x509.load_pem_x509_certificates(handle.read()))
    return WithExtraAnchors(gateway, anchors) if anchors else gateway


def build_oqs(cfg: Mapping[str, Any], session_factory: sessionmaker[Session], clock: Clock) -> OQSGateway:
    """The OQS adapter named by ``OQS_BACKEND``, measured (call latency and errors, observability.py)."""
    from .observability import InstrumentedGateway

    return InstrumentedGateway(_build_oqs(cfg, session_factory, clock))


def _build_oqs(cfg: Mapping[str, Any], session_factory: sessionmaker[Session], clock: Clock) -> OQSGateway:
    backend = cfg["OQS_BACKEND"]
    if backend == "http":
        from .adapters.oqs_http import HttpOQS
        from .observability import request_id

        if not cfg.get("OQS_URL"):
            raise ValueError("OQS_BACKEND=http needs OQS_URL")
        http = HttpOQS(str(cfg["OQS_URL"]), connect_timeout=float(cfg["OQS_CONNECT_TIMEOUT_SECONDS"]),
                       read_timeout=float(cfg["OQS_READ_TIMEOUT_SECONDS"]), retries=int(cfg["OQS_RETRIES"]),
                       breaker_failures=int(cfg["OQS_BREAKER_FAILURES"]),
                       breaker_reset=float(cfg["OQS_BREAKER_RESET_SECONDS"]), request_id=request_id)
        return _with_configured_anchors(http, cfg)
    if backend != "sandbox":
        raise ValueError(f"unknown OQS_BACKEND {backend!r} (available: sandbox, http)")

    def build() -> Any:
        from .sandbox.gateway import SandboxOQS

        return _with_configured_anchors(SandboxOQS.from_database(session_factory, clock), cfg)

    # Built on first use: the sandbox CA lives in the database, which may not be migrated yet.
    return LazyGateway(build)


def batch_settings_from(cfg: Mapping[str, Any]) -> BatchSettings:
    return BatchSettings(max_rows=int(cfg["BATCH_MAX_ROWS"]), chunk_size=max(1, int(cfg["BATCH_CHUNK_SIZE"])),
                         lease=timedelta(seconds=float(cfg["BATCH_LEASE_SECONDS"])),
                         retention=timedelta(days=float(cfg["BATCH_RESULT_RETENTION_DAYS"])))


def housekeeping_settings_from(cfg: Mapping[str, Any]) -> HousekeepingSettings:
    """The maintenance job's settings; a retention shorter than the law's 3 years, or an idempotency horizon a
    late fallback record could outlive, stops the app at start (docs/rules.md §7.1)."""
    months = int(cfg["AUDIT_RETENTION_MONTHS"])
    if months < MIN_RETENTION_MONTHS:
        raise ValueError(f"AUDIT_RETENTION_MONTHS must be at least {MIN_RETENTION_MONTHS} (docs/rules.md §7.1)")
    idempotency_days = float(cfg["IDEMPOTENCY_KEEP_DAYS"])
    if idempotency_days <= int(cfg["FALLBACK_MAX_AGE_DAYS"]):
        raise ValueError("IDEMPOTENCY_KEEP_DAYS must exceed FALLBACK_MAX_AGE_DAYS: a device may retry a fallback "
                         "record that long after the visit (docs/rules.md §7.1)")
    return HousekeepingSettings(
        audit_retention_months=months, audit_partitions_ahead_months=int(cfg["AUDIT_PARTITIONS_AHEAD_MONTHS"]),
        console_sessions_kept=timedelta(days=float(cfg["CONSOLE_SESSION_KEEP_DAYS"])),
        console_idle=timedelta(minutes=float(cfg["CONSOLE_IDLE_MINUTES"])),
        replay_guards_kept=timedelta(minutes=float(cfg["REPLAY_GUARD_KEEP_MINUTES"])),
        challenges_kept=timedelta(hours=float(cfg["CHALLENGE_KEEP_HOURS"])),
        idempotency_kept=timedelta(days=idempotency_days),
        patient_sessions_kept=timedelta(days=float(cfg["PATIENT_SESSION_KEEP_DAYS"])),
        consent_links_kept=timedelta(days=float(cfg["CONSENT_LINK_KEEP_DAYS"])))


def queue_url(cfg: Mapping[str, Any]) -> str:
    """``JOBS_QUEUE_URL``, or derived: a SQLite database gets a queue file beside it; PostgreSQL the same database."""
    if cfg.get("JOBS_QUEUE_URL"):
        return str(cfg["JOBS_QUEUE_URL"])
    url = str(cfg["DATABASE_URL"])
    if url in ("sqlite://", "sqlite:///:memory:"):
        return "memory://"
    if url.startswith("sqlite:///"):
        return url + ".jobs"
    return url


def build_jobs(cfg: Mapping[str, Any]) -> Any:
    from .adapters.jobs import JobRunner, build_huey

    url = queue_url(cfg)
    return JobRunner(lambda: build_huey(url), embedded_workers=int(cfg["JOBS_EMBEDDED_WORKERS"]),
                     poll_max_seconds=float(cfg["JOBS_POLL_MAX_SECONDS"]))


def build_rate_limits(cfg: Mapping[str, Any], session_factory: sessionmaker[Session]) -> tuple[Any, Any]:
    """The per-client limits and the per-source sign-in throttle, on one store: ``RATE_LIMIT_STORAGE_URL``, or
    (None, the default) this database, so every worker counts against the same limit."""
    from .adapters.ratelimit import build, build_storage

    storage = build_storage(cfg.get("RATE_LIMIT_STORAGE_URL"), session_factory)
    throttle = cfg.get("SIGN_IN_RATE_LIMIT")
    return build(cfg.get("RATE_LIMITS"), storage), build({"sign-in": throttle} if throttle else None, storage)


def build_runtime(cfg: Mapping[str, Any], jwt_keys: dict[str, str], active_kid: str,
                  clock: Clock) -> tuple[Runtime, Engine]:
    engine = make_engine(cfg["DATABASE_URL"], busy_timeout=cfg["DB_BUSY_TIMEOUT_SECONDS"],
                         connect_timeout=cfg["DB_CONNECT_TIMEOUT_SECONDS"])
    session_factory = make_session_factory(engine)
    runtime = Runtime(
        uow=partial(UnitOfWork, session_factory),
        # The same pool, without transactions, for authentication's single read (``Ledger.caller``).
        ledger=partial(Ledger, engine, engine.execution_options(isolation_level="AUTOCOMMIT")),
        session_factory=session_factory,
        clock=clock,
        # Its own unpooled connections: the gateway is built lazily inside a request that holds a pooled one.
        oqs=build_oqs(cfg, make_session_factory(make_engine(cfg["DATABASE_URL"], unpooled=True,
                                                            busy_timeout=cfg["DB_BUSY_TIMEOUT_SECONDS"])), clock),
        tokens=TokenService(keys=jwt_keys, active_kid=active_kid, issuer=cfg["JWT_ISSUER"],
                            audience=cfg["JWT_AUDIENCE"],
                            access_ttl=timedelta(seconds=min(cfg["ACCESS_TOKEN_TTL_SECONDS"], 900)), clock=clock),
        passwords=Passwords(time_cost=cfg["ARGON2_TIME_COST"], memory_cost_kib=cfg["ARGON2_MEMORY_COST_KIB"]),
        policy=FacilityPolicy(cfg["FACILITY_FORMS"], cfg["IDENTIFIER_LOOKUP_FACILITY_KINDS"]),
        rules=rules_from(cfg),
        jobs=build_jobs(cfg),
        batch=batch_settings_from(cfg),
        housekeeping=housekeeping_settings_from(cfg),
    )
    runtime.rate_limits, runtime.sign_in_throttle = build_rate_limits(cfg, session_factory)
    from .services import tasks

    tasks.register(runtime)
    return runtime, engine
