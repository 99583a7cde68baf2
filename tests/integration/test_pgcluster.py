"""Self-test of the throwaway PostgreSQL cluster (tests/support/pgcluster.py)."""

import os

import pytest
import sqlalchemy as sa

from tests.support.pg_fixtures import pg_cluster  # noqa: F401
from tests.support.pgcluster import PgCluster, PgClusterError

pytestmark = pytest.mark.postgres


def test_roundtrip_through_sqlalchemy(pg_cluster):  # noqa: F811
    url = pg_cluster.create_database("pgcluster_selftest")
    assert url == f"postgresql+psycopg://postgres@127.0.0.1:{pg_cluster.port}/pgcluster_selftest"
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            version = conn.execute(sa.text("SHOW server_version")).scalar_one()
            assert int(version.split(".")[0]) >= 12, version
            assert "PostgreSQL" in conn.execute(sa.text("SELECT version()")).scalar_one()
            assert conn.execute(sa.text("SELECT current_database()")).scalar_one() == "pgcluster_selftest"
            conn.execute(sa.text("CREATE TABLE t (id serial PRIMARY KEY, name text NOT NULL)"))
            conn.execute(sa.text("INSERT INTO t (name) VALUES (:n)"), [{"n": "a"}, {"n": "ü"}])
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, name FROM t ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [(1, "a"), (2, "ü")]
    finally:
        engine.dispose()


def test_stop_removes_data_directory(pg_cluster):  # noqa: F811 - fixture only gates skip/fail
    with PgCluster() as other:  # runs alongside the session cluster on its own port
        assert other.port != pg_cluster.port
        base, data = other.base_dir, other.data_dir
        assert os.path.isfile(os.path.join(data, "PG_VERSION"))
    assert not os.path.exists(base)
    other.stop()  # idempotent


def test_failed_start_cleans_up_and_reports_log(pg_cluster):  # noqa: F811
    bad = PgCluster(settings={"shared_buffers": "bogus"})
    with pytest.raises(PgClusterError, match="server log tail") as info:
        bad.start()
    assert "shared_buffers" in str(info.value)
    assert bad.base_dir is None
