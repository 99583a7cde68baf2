"""pytest fixtures for the throwaway PostgreSQL cluster.

Preferred: register once in the root conftest with
``pytest_plugins = ["tests.support.pg_fixtures"]``.  Importing ``pg_cluster``
into test modules also works: pytest then sees one fixture definition *per
importing module*, each with its own session cache, so the cluster is kept in
a module-level singleton to make sure only one server runs per session.
"""

from __future__ import annotations

import pytest

from tests.support.pgcluster import PgCluster, PgClusterError, find_pg_bin, pg_available, require_postgres

_shared: PgCluster | None = None
_start_error: str | None = None  # remembered so each importing module doesn't retry
_users = 0  # fixture definitions currently holding _shared


def _unavailable(reason: str) -> None:
    """Skip normally; fail loudly under REQUIRE_POSTGRES=1 (CI must not silently skip)."""
    if require_postgres():
        pytest.fail(f"REQUIRE_POSTGRES=1 but PostgreSQL is unusable: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL unavailable (set REQUIRE_POSTGRES=1 to fail instead): {reason}")


@pytest.fixture(scope="session")
def pg_cluster():
    """One running PgCluster for the whole test session (stopped at session end)."""
    global _shared, _start_error, _users
    if not pg_available():
        _unavailable("initdb/pg_ctl/postgres not found (PATH, /usr/lib/postgresql/*/bin, PG_BIN)"
                     if find_pg_bin() is None else
                     "running as root, but cannot switch to the 'postgres' account")
    if _shared is None and _start_error is None:
        cluster = PgCluster()
        try:
            _shared = cluster.start()
        except PgClusterError as exc:
            _start_error = str(exc)
    if _start_error is not None:
        _unavailable(_start_error)  # outside the except: no chained-traceback noise
    _users += 1
    try:
        yield _shared
    finally:
        _users -= 1
        if _users == 0 and _shared is not None:
            _shared.stop()
            _shared = None
