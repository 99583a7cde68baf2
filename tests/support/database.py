"""Migrated databases for tests: migrate a template once per session, copy it per test.

SQLite: the template file is copied. PostgreSQL: ``CREATE DATABASE ... TEMPLATE``.
Both are cheap compared to running the migrations for every test.
"""
from __future__ import annotations

import itertools
import shutil
from pathlib import Path

from sqlalchemy import create_engine, text

from mobile_api.adapters import migrations
from mobile_api.adapters.db import make_engine

_counter = itertools.count()


def migrated_sqlite_template(directory: Path) -> Path:
    path = directory / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    migrations.upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


def sqlite_copy(template: Path, directory: Path) -> str:
    target = directory / f"db{next(_counter)}.sqlite3"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


def migrated_pg_template(cluster) -> str:  # type: ignore[no-untyped-def]
    url = cluster.create_database("mobile_template")
    engine = make_engine(url)
    migrations.upgrade(engine)
    engine.dispose()
    return "mobile_template"


def pg_copy(cluster, template: str) -> str:  # type: ignore[no-untyped-def]
    name = f"t{next(_counter)}"
    admin = create_engine(cluster.url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    admin.dispose()
    return cluster.url(name)
