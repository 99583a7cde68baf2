"""Flask CLI commands: ``flask db upgrade``, ``flask institution create``, ``flask sandbox ...``.

(``flask openapi write`` comes from flask-smorest.)
"""
from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from .adapters import migrations
from .domain.errors import DomainError
from .domain.facility import FacilityKind
from .sandbox.cli import sandbox_cli

db_cli = AppGroup("db", help="Database schema (Alembic migrations).")
institution_cli = AppGroup("institution", help="Institutions (tenants).")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    migrations.upgrade(current_app.extensions["mobile_api_engine"], revision)
    click.echo("データベースを最新の状態にしました。")


@db_cli.command("revision")
@click.option("-m", "--message", required=True)
def db_revision(message: str) -> None:
    """(developers) Autogenerate a migration from the models."""
    migrations.revision(current_app.extensions["mobile_api_engine"], message)


@institution_cli.command("create")
@click.option("--code", required=True, help="10-digit institution code (医療機関等コード)")
@click.option("--name", required=True)
@click.option("--kind", "facility_kind", required=True, type=click.Choice([k.value for k in FacilityKind]))
@click.option("--admin-login", required=True)
@click.option("--admin-password", required=True, prompt=True, hide_input=True, confirmation_prompt=True)
def institution_create(code: str, name: str, facility_kind: str, admin_login: str, admin_password: str) -> None:
    """Create an institution and its first admin."""
    from .services import identity

    try:
        institution_id, admin_id = identity.create_institution(
            current_app.extensions["mobile_api"], code=code, name=name, facility_kind=facility_kind,
            admin_login=admin_login, admin_password=admin_password)
    except DomainError as refusal:  # a duplicate code, a short password...: a message and exit 1, no traceback
        raise click.ClickException(refusal.detail) from refusal
    click.echo(f"登録しました: institution={institution_id} admin={admin_id}")


def init_app(app: Flask) -> None:
    app.cli.add_command(db_cli)
    app.cli.add_command(institution_cli)
    app.cli.add_command(sandbox_cli)
