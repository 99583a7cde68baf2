"""Every integration test runs twice: on SQLite and on the throwaway PostgreSQL cluster."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mobile_api import create_app
from mobile_api.clock import FrozenClock
from tests.support import database
from tests.support.harness import T0, Harness

TEST_CONFIG = {"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST_KIB": 1024,
               "JWT_KEYS": {"test1": "9e-Eg3YIMFsdUott1KW8mFx2syZvSSR_8ELlj5ABOYwtSpgSSacAt95ksgsgmHPo"},  # test key
               "JWT_ACTIVE_KID": "test1",
               # Tests sign in many times a minute from one address; the throttle's own tests lower it.
               "SIGN_IN_RATE_LIMIT": "100000/minute"}


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return database.migrated_sqlite_template(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="session")
def pg_template(pg_cluster) -> str:  # type: ignore[no-untyped-def]
    return database.migrated_pg_template(pg_cluster)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return database.sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path)
    cluster = request.getfixturevalue("pg_cluster")
    return database.pg_copy(cluster, request.getfixturevalue("pg_template"))


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def app(database_url: str, clock: FrozenClock, tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    app = create_app({**TEST_CONFIG, "DATABASE_URL": database_url}, clock=clock)
    app.instance_path = str(tmp_path / "instance")
    yield app
    app.extensions["mobile_api_engine"].dispose()


@pytest.fixture
def h(app, clock: FrozenClock) -> Harness:  # type: ignore[no-untyped-def]
    return Harness(app, clock)
