"""Fixtures for the services' unit tests: a real Runtime around an in-memory unit of work (fakes.py)."""
from __future__ import annotations

import pytest

from mobile_api.clock import FrozenClock
from mobile_api.runtime import Runtime
from tests.unit.mobile_api.services.fakes import T0, FakeDatabase, FakeOQS, Tenant, TestCA, fake_runtime, seed_tenant


@pytest.fixture
def db() -> FakeDatabase:
    return FakeDatabase()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def ca() -> TestCA:
    return TestCA()


@pytest.fixture
def rt(db: FakeDatabase, clock: FrozenClock, ca: TestCA) -> Runtime:
    return fake_runtime(db, clock=clock, ca=ca)


@pytest.fixture
def oqs(rt: Runtime) -> FakeOQS:
    assert isinstance(rt.oqs, FakeOQS)
    return rt.oqs


@pytest.fixture
def tenant(rt: Runtime) -> Tenant:
    return seed_tenant(rt)
