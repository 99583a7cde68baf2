"""Fixtures for the OQS sandbox: an in-memory database holding only the CA table."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from mobile_api.adapters.orm import Base
from mobile_api.clock import FrozenClock
from mobile_api.sandbox.ca import IssuedCard, SandboxCA, SandboxCARecord
from mobile_api.sandbox.gateway import SandboxOQS
from mobile_api.sandbox.personas import PersonaBook

NOW = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)  # 09:30 JST on the personas' reference date


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    Base.metadata.create_all(engine, tables=[SandboxCARecord.__table__])
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture(scope="session")
def book() -> PersonaBook:
    return PersonaBook.default()


@pytest.fixture(scope="session")
def shared_ca(book: PersonaBook) -> SandboxCA:
    """One CA for the tests that do not exercise persistence (RSA keys are slow to make)."""
    return SandboxCA.generate(NOW, book)


@pytest.fixture(scope="session")
def card_for(shared_ca: SandboxCA) -> Callable[..., IssuedCard]:
    """Issue (and cache) a card of the shared CA per persona and variant."""
    cache: dict[tuple[str, str], IssuedCard] = {}

    def issue(persona_id: str, variant: str = "card") -> IssuedCard:
        if (persona_id, variant) not in cache:
            card = shared_ca.issue_card(persona_id, variant=variant, now=NOW)  # type: ignore[arg-type]
            cache[persona_id, variant] = card
        return cache[persona_id, variant]

    return issue


@pytest.fixture
def gateway(shared_ca: SandboxCA, book: PersonaBook) -> SandboxOQS:
    return SandboxOQS(shared_ca, book, clock=FrozenClock(NOW))


@pytest.fixture
def now() -> datetime:
    return NOW
