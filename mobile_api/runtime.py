"""What the services need, built once per app: the clock, the database, the gateways, the rules."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from .adapters.oqs import OQSGateway
from .adapters.repository import UnitOfWork
from .clock import Clock
from .domain.facility import FacilityPolicy
from .adapters.passwords import Passwords
from .adapters.tokens import TokenService


@dataclass(frozen=True)
class Rules:
    challenge_ttl: timedelta
    activation_code_ttl: timedelta
    refresh_ttl: timedelta
    device_assertion_max_age: timedelta
    viewing_window: timedelta
    certificate_grace_months: int


@dataclass
class Runtime:
    session_factory: sessionmaker[Session]
    clock: Clock
    oqs: OQSGateway
    tokens: TokenService
    passwords: Passwords
    policy: FacilityPolicy
    rules: Rules

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory)
