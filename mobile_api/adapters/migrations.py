"""Run the Alembic migrations shipped inside the package (no alembic.ini needed)."""
from __future__ import annotations

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
    cfg = alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def revision(engine: Engine, message: str) -> None:
    cfg = alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.revision(cfg, message=message, autogenerate=True)
