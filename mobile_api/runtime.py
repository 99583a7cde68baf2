"""What the services need, built once per app: the clock, the database, the gateways, the rules."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from .adapters.ledger import Ledger
from .adapters.oqs import OQSGateway
from .adapters.passwords import Passwords
from .adapters.repository import UnitOfWork
from .adapters.tokens import TokenService
from .clock import Clock
from .domain.facility import FacilityPolicy


@dataclass(frozen=True)
class Rules:
    challenge_ttl: timedelta
    activation_code_ttl: timedelta
    refresh_ttl: timedelta
    device_assertion_max_age: timedelta
    viewing_window: timedelta
    certificate_grace_months: int
    visual_password_max_failures: int = 5
    renewal_alert_months: int = 3
    post_hoc_interval_minutes: int = 10
    care_relationship_idle: timedelta = timedelta(days=90)
    consent_link_ttl: timedelta = timedelta(days=30)
    patient_page_session: timedelta = timedelta(minutes=10)
    usage_rate_requery_is_card: bool = False  # OUR RULE (docs/rules.md §4, the usage rate): a re-query is not a card use
    # One lock-out for every way in (services/lockout.py): failures per account, client or source address.
    sign_in_max_failures: int = 10
    sign_in_failure_window: timedelta = timedelta(minutes=15)
    sign_in_lock: timedelta = timedelta(minutes=15)
    fallback_future_skew: timedelta = timedelta(minutes=5)
    fallback_max_age_days: int = 41
    # Certificate policies (dotted OIDs) that mark a smartphone certificate: no grace after expiry (§2.4).
    smartphone_policies: frozenset[str] = frozenset()
    # A machine client's private_key_jwt assertion: exp at most this far ahead (docs/health-check-api.md §1).
    client_assertion_max_lifetime: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class BatchSettings:
    """Batch qualification checks (docs/health-check-api.md): size, chunking, lease, retention."""

    max_rows: int = 10_000
    chunk_size: int = 500
    lease: timedelta = timedelta(seconds=60)
    retention: timedelta = timedelta(days=7)


@dataclass(frozen=True)
class HousekeepingSettings:
    """The maintenance job (services/maintenance.py, docs/background-jobs.md): audit partitions made ahead,
    the audit log's retention (docs/rules.md §7.1), and how long spent rows are kept before they are purged."""

    audit_retention_months: int = 72
    audit_partitions_ahead_months: int = 3
    console_sessions_kept: timedelta = timedelta(days=7)
    console_idle: timedelta = timedelta(minutes=30)  # CONSOLE_IDLE_MINUTES: a session idle this long has ended
    replay_guards_kept: timedelta = timedelta(hours=1)
    challenges_kept: timedelta = timedelta(hours=24)
    idempotency_kept: timedelta = timedelta(days=45)
    patient_sessions_kept: timedelta = timedelta(days=7)
    consent_links_kept: timedelta = timedelta(days=90)


@dataclass
class Runtime:
    # A fresh unit of work per use case: ``UnitOfWork(session_factory)`` in the app (bootstrap.py),
    # an in-memory fake in the services' unit tests.
    uow: Callable[[], UnitOfWork]
    # The hot path's door (verification start and submit, the medical view): Core statements in one
    # transaction, no ORM unit of work (adapters/ledger.py); a fake over the same in-memory rows in unit tests.
    ledger: Callable[[], Ledger]
    clock: Clock
    oqs: OQSGateway
    tokens: TokenService
    passwords: Passwords
    policy: FacilityPolicy
    rules: Rules
    # The database itself, for what keeps its own table outside the unit of work (the sandbox CA).
    session_factory: sessionmaker[Session] | None = None
    # Background jobs (adapters/jobs.py ``JobRunner``; None where no runner is wired, e.g. unit tests).
    jobs: Any = None
    batch: BatchSettings = field(default_factory=BatchSettings)
    housekeeping: HousekeepingSettings = field(default_factory=HousekeepingSettings)
    # Per-client request limits (adapters/ratelimit.py ``RateLimits``; None = no limits).
    rate_limits: Any = None
    # The per-source throttle in front of every password check (``RateLimits`` with the "sign-in" scope).
    sign_in_throttle: Any = None
