"""Run the Alembic migrations shipped inside the package (no alembic.ini needed)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

PARTITION_PREFIX = "audit_events_"  # no other table's name starts so

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """What autogenerate compares: not the audit log's partitions (``audit_events_y2026m12``,
    ``audit_events_default``) nor their indexes, which the maintenance job makes and drops (migration 0011)."""
    if type_ == "table":
        return not (name or "").startswith(PARTITION_PREFIX)
    return not (parent_names.get("table_name") or "").startswith(PARTITION_PREFIX)


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    _migrate(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str) -> None:
    _migrate(engine, command.downgrade, revision)


def _migrate(engine: Engine, step: Callable[[Config, str], None], revision: str) -> None:
    """Migrate in one transaction. On SQLite with foreign keys off meanwhile, as SQLite's own recipe for
    rebuilding a table asks (https://sqlite.org/lang_altertable.html#otheralter): batch mode copies a table and
    drops the old one, which other tables' rows reference. ``foreign_key_check`` then proves every reference
    still holds before the commit."""
    cfg = alembic_config(engine)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:  # outside a transaction: inside one SQLite ignores this pragma
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                cfg.attributes["connection"] = connection
                step(cfg, revision)
                if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                    raise RuntimeError("a migration left rows whose foreign keys point nowhere")
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def revision(engine: Engine, message: str) -> None:
    cfg = alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.revision(cfg, message=message, autogenerate=True)
