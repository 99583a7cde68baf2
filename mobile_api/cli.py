"""Flask CLI commands: ``flask db upgrade``, ``flask institution create``, ``flask sandbox ...``.

(``flask openapi write`` comes from flask-smorest.)
"""
from __future__ import annotations

from typing import Any

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


client_cli = AppGroup("client", help="Machine clients (OAuth 2.0 client credentials).")
jobs_cli = AppGroup("jobs", help="Background jobs (Huey).")


@client_cli.command("create")
@click.option("--institution-code", required=True, help="10-digit institution code")
@click.option("--name", required=True)
@click.option("--auth-method", type=click.Choice(["private_key_jwt", "client_secret"]), required=True)
@click.option("--public-key", "public_key", type=click.File("r"), help="PEM public key (private_key_jwt)")
@click.option("--scope", "scopes", multiple=True, default=["qualification:check", "qualification:batch"],
              show_default=True)
def client_create(institution_code: str, name: str, auth_method: str, public_key: Any, scopes: tuple[str, ...]
                  ) -> None:
    """Create a machine client; a client_secret is printed once."""
    from .services import clients

    rt = current_app.extensions["mobile_api"]
    try:
        institution_id = clients.institution_id_for_code(rt, institution_code)
        made = clients.create_client(rt, None, institution_id=institution_id, name=name, auth_method=auth_method,
                                     scopes=list(scopes), public_key_pem=public_key.read() if public_key else None)
    except DomainError as refusal:
        raise click.ClickException(refusal.detail) from refusal
    click.echo(f"client_id={made.client.id}")
    click.echo(f"key_id={made.credential.credential.key_id}")
    if made.credential.secret:
        click.echo(f"client_secret={made.credential.secret}  (この表示は一度だけです)")


@jobs_cli.command("worker")
@click.option("--workers", default=2, show_default=True, help="worker threads in this process")
def jobs_worker(workers: int) -> None:
    """Run a job consumer in the foreground (production: one or more of these; JOBS_EMBEDDED_WORKERS=0)."""
    runner = current_app.extensions["mobile_api"].jobs
    runner.consumer(workers=workers).run()


fallback_cli = AppGroup("fallback", help="Fallback records: post-hoc confirmation (事後確認).")


@fallback_cli.command("post-hoc")
@click.option("--limit", default=200, show_default=True, help="records to look up in this run")
@click.option("--institution-code", default=None, help="only this institution (10 digits)")
def fallback_post_hoc(limit: int, institution_code: str | None) -> None:
    """Look up the records still waiting for post-hoc confirmation (also a periodic job, every 10 minutes)."""
    from .services import fallback

    rt = current_app.extensions["mobile_api"]
    institution_id = None
    if institution_code:
        with rt.uow() as uow:
            institution = uow.institutions.one_by(code=institution_code)
            if institution is None:
                raise click.ClickException(f"医療機関等コード {institution_code} の施設が見つかりません。")
            institution_id = institution.id
    report = fallback.confirm_pending(rt, limit=limit, institution_id=institution_id)
    click.echo(f"事後確認: 確認済み {len(report.confirmed)} 件、要確認 {len(report.needs_attention)} 件")
    if report.stopped:
        raise click.ClickException("オンライン資格確認等システムに接続できないため中断しました。残りは次回確認します。")


def init_app(app: Flask) -> None:
    app.cli.add_command(db_cli)
    app.cli.add_command(institution_cli)
    app.cli.add_command(sandbox_cli)
    app.cli.add_command(client_cli)
    app.cli.add_command(jobs_cli)
    app.cli.add_command(fallback_cli)
