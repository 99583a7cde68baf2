"""Alembic environment. Batch mode so ALTERs work on SQLite too."""
from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from mobile_api.adapters import orm
from mobile_api.adapters.migrations import include_name
from mobile_api.sandbox import ca as _sandbox_tables  # noqa: F401  (registers sandbox_ca on the metadata)

config = context.config
target_metadata = orm.Base.metadata


def render_item(type_: str, obj, autogen_context):
    """Render our UTC TypeDecorator as the plain column type it stores."""
    if type_ == "type" and isinstance(obj, orm.UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = engine_from_config(config.get_section(config.config_ini_section) or {}, prefix="sqlalchemy.",
                                poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                      compare_type=True, render_item=render_item, include_name=include_name)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
