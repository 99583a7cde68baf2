"""Flask CLI commands: ``flask db upgrade``, ``flask institution create``, ``flask staff create``,
``flask device create``, ``flask sandbox ...``.

(``flask openapi write`` comes from flask-smorest.)
"""
from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from .adapters import migrations
from .domain.codes import Role
from .domain.errors import DomainError
from .domain.facility import FacilityKind
from .sandbox.cli import sandbox_cli
from .services.principal import Principal

db_cli = AppGroup("db", help="Database schema (Alembic migrations).")
institution_cli = AppGroup("institution", help="Institutions (tenants).")


class Refusal(click.ClickException):
    """A refusal as one Japanese line on stderr and exit status 1, never a traceback."""

    def format_message(self) -> str:
        return self.message

    def show(self, file: Any = None) -> None:
        click.echo(f"エラー: {self.format_message()}", err=True)


def one_line_refusals(command: Callable[..., None]) -> Callable[..., None]:
    """What an operator can cause (a duplicate code or login, a short password, an unknown institution, a
    database not yet migrated) ends as one Japanese line."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        from sqlalchemy.exc import OperationalError, ProgrammingError

        try:
            command(*args, **kwargs)
        except DomainError as refusal:
            raise Refusal(refusal.detail) from refusal
        except (OperationalError, ProgrammingError) as exc:
            raise Refusal("データベースを使えません。先に `.venv/bin/flask --app mobile_api db upgrade` を実行し、"
                          "DATABASE_URL を確かめてください。") from exc

    return wrapper


def _password(given: str | None, from_stdin: bool, what: str) -> str:
    """From --password-stdin (one line), the option, or a hidden prompt asked twice."""
    if from_stdin:
        if given is not None:
            raise Refusal("パスワードは --password-stdin か --password のどちらか一方で指定してください。")
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise Refusal("標準入力からパスワードを読めませんでした（1行で渡してください）。")
        return line
    if given is not None:
        return given
    return str(click.prompt(what, hide_input=True, confirmation_prompt=True))


def _command_line_admin(rt: Any, institution_code: str, admin_login: str | None) -> Principal:
    """Whoever runs the server's command line acts as an admin of the institution (``--as``, else its
    oldest active admin): the services then apply the API's rules and write the API's audit rows, in that
    admin's name."""
    from .services import identity

    institution_id = identity.institution_id_for_code(rt, institution_code)
    with rt.uow() as uow:
        admins = [u for u in uow.users.of_institution(institution_id)
                  if u.role == Role.ADMIN.value and u.revoked_at is None
                  and (admin_login is None or u.login == admin_login)]
        if not admins:
            raise Refusal(f"有効な管理者 {admin_login} が見つかりません。" if admin_login
                          else "この施設には有効な管理者がいません。")
        return Principal(institution_id=institution_id, user_id=admins[0].id, role=Role.ADMIN, device_id=None)


as_admin = click.option("--as", "as_admin", default=None, metavar="LOGIN",
                        help="操作する管理者のログインID（既定: 最初に登録された有効な管理者）。監査ログに記録されます")


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
@click.option("--admin-password", help="省略すると入力を求めます（--password-stdin なら標準入力の1行）")
@click.option("--password-stdin", is_flag=True, help="管理者のパスワードを標準入力の1行から読む")
@one_line_refusals
def institution_create(code: str, name: str, facility_kind: str, admin_login: str, admin_password: str | None,
                       password_stdin: bool) -> None:
    """Create an institution and its first admin."""
    from .services import identity

    institution_id, admin_id = identity.create_institution(
        current_app.extensions["mobile_api"], code=code, name=name, facility_kind=facility_kind,
        admin_login=admin_login, admin_password=_password(admin_password, password_stdin, "管理者のパスワード"))
    click.echo(f"登録しました: institution={institution_id} admin={admin_id}")
    click.echo(f"コンソール: /console/ で 医療機関等コード {code}・ログインID {admin_login} でログインできます。")


@institution_cli.command("visual-password")
@click.option("--institution-code", required=True, help="10-digit institution code (医療機関等コード)")
@click.option("--password", help="省略すると入力を求めます（--password-stdin なら標準入力の1行）")
@click.option("--password-stdin", is_flag=True, help="パスワードを標準入力の1行から読む")
@as_admin
@one_line_refusals
def institution_visual_password(institution_code: str, password: str | None, password_stdin: bool,
                                as_admin: str | None) -> None:
    """Set the institution's visual-check password (目視確認モード, docs/rules.md §2.2): without it no visual
    check can be recorded, so onboarding sets it; audited, and clears a lock as the console's form does."""
    from .services import identity

    rt = current_app.extensions["mobile_api"]
    identity.set_visual_password(rt, _command_line_admin(rt, institution_code, as_admin),
                                 _password(password, password_stdin, "目視確認モードのパスワード"))
    click.echo("目視確認モードのパスワードを設定しました。顔写真と本人を見比べて確認した職員が、端末で入力します。")


staff_cli = AppGroup("staff", help="Staff members of an institution (onboarding without the API).")
device_cli = AppGroup("device", help="Devices of an institution: activation codes and their QR (PNG).")


@staff_cli.command("create")
@click.option("--institution-code", required=True, help="10-digit institution code (医療機関等コード)")
@click.option("--login", required=True, help="ログインID")
@click.option("--name", "display_name", required=True, help="表示名")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.STAFF.value, show_default=True)
@click.option("--password", help="省略すると入力を求めます（--password-stdin なら標準入力の1行）")
@click.option("--password-stdin", is_flag=True, help="パスワードを標準入力の1行から読む")
@as_admin
@one_line_refusals
def staff_create(institution_code: str, login: str, display_name: str, role: str, password: str | None,
                 password_stdin: bool, as_admin: str | None) -> None:
    """Add a staff member (or another admin), as an admin would through the API; audited."""
    from .services import identity

    rt = current_app.extensions["mobile_api"]
    user = identity.create_user(rt, _command_line_admin(rt, institution_code, as_admin), login=login,
                                display_name=display_name, role=role,
                                password=_password(password, password_stdin, "パスワード"))
    click.echo(f"登録しました: staff={user.id} login={login} role={role}")


@device_cli.command("create")
@click.option("--institution-code", required=True, help="10-digit institution code (医療機関等コード)")
@click.option("--label", required=True, help="端末の名前（例: 訪問看護タブレット1）")
@click.option("--qr-png", type=click.Path(dir_okay=False, writable=True), default=None,
              help="アクティベーションQRコードをPNGで書き出すファイル")
@as_admin
@one_line_refusals
def device_create(institution_code: str, label: str, qr_png: str | None, as_admin: str | None) -> None:
    """Create a device and print its single-use 12-digit activation code (and write its QR as PNG)."""
    from .domain.japanese_dates import JST
    from .services import devices
    from .web.activation_qr import activation_uri
    from .web.qr import qr_png as render_png

    rt = current_app.extensions["mobile_api"]
    made = devices.create_device(rt, _command_line_admin(rt, institution_code, as_admin), label)
    expires = made.device.activation_expires_at
    click.echo(f"アクティベーションコード: {made.activation_code}")
    if expires is not None:
        click.echo(f"有効期限: {expires.astimezone(JST).strftime('%Y-%m-%d %H:%M')}（日本時間）まで・1回限り")
    if qr_png:
        with open(qr_png, "wb") as out:
            out.write(render_png(activation_uri(made.activation_code, current_app.config.get("PUBLIC_BASE_URL"))))
        click.echo(f"QRコード: {qr_png}")
    server = current_app.config.get("PUBLIC_BASE_URL") or "<サーバーのURL>"  # no request here: only the setting knows
    click.echo(f"端末で: .venv/bin/device-agent enroll --server {server} --code {made.activation_code}")


client_cli = AppGroup("client", help="Machine clients (OAuth 2.0 client credentials).")
jobs_cli = AppGroup("jobs", help="Background jobs (Huey).")


@client_cli.command("create")
@click.option("--institution-code", required=True, help="10-digit institution code")
@click.option("--name", required=True)
@click.option("--auth-method", type=click.Choice(["private_key_jwt", "client_secret"]), required=True)
@click.option("--public-key", "public_key", type=click.File("r"), help="PEM public key (private_key_jwt)")
@click.option("--scope", "scopes", multiple=True, default=["qualification:check", "qualification:batch"],
              show_default=True)
@one_line_refusals
def client_create(institution_code: str, name: str, auth_method: str, public_key: Any, scopes: tuple[str, ...]
                  ) -> None:
    """Create a machine client; a client_secret is printed once."""
    from .services import clients, identity

    rt = current_app.extensions["mobile_api"]
    made = clients.create_client(rt, None, institution_id=identity.institution_id_for_code(rt, institution_code),
                                 name=name, auth_method=auth_method, scopes=list(scopes),
                                 public_key_pem=public_key.read() if public_key else None)
    click.echo(f"client_id={made.client.id}")
    click.echo(f"key_id={made.credential.credential.key_id}")
    if made.credential.secret:
        click.echo(f"client_secret={made.credential.secret}  (この表示は一度だけです)")


@staff_cli.command("unlock")
@click.option("--institution-code", help="10-digit institution code (医療機関等コード), with --login")
@click.option("--login", help="ロックを解除するスタッフのログインID")
@click.option("--source", help="ロックを解除する接続元アドレス（存在しないアカウントへの失敗で止められたもの）")
@as_admin
@one_line_refusals
def staff_unlock(institution_code: str | None, login: str | None, source: str | None, as_admin: str | None
                 ) -> None:
    """Lift a sign-in lock now (docs/rules.md, "Sign-in lock-out"); audited as auth.unlock."""
    from .services import identity, lockout

    rt = current_app.extensions["mobile_api"]
    if source and not login:
        lifted = lockout.unlock_source(rt, source)
    elif login and institution_code and not source:
        admin = _command_line_admin(rt, institution_code, as_admin)
        lifted = lockout.unlock_user(rt, admin, identity.user_id_for_login(rt, admin.institution_id, login))
    else:
        raise Refusal("--institution-code と --login、または --source のどちらかを指定してください。")
    click.echo("ロックを解除しました。" if lifted else "ロックも失敗の記録もありませんでした（監査ログには記録しました）。")


@client_cli.command("unlock")
@click.option("--institution-code", required=True, help="10-digit institution code")
@click.option("--client-id", required=True)
@as_admin
@one_line_refusals
def client_unlock(institution_code: str, client_id: str, as_admin: str | None) -> None:
    """Lift a machine client's lock now (docs/rules.md, "Sign-in lock-out"); audited as auth.unlock."""
    from .services import clients

    rt = current_app.extensions["mobile_api"]
    lifted = clients.unlock(rt, _command_line_admin(rt, institution_code, as_admin), client_id)
    click.echo("ロックを解除しました。" if lifted else "ロックも失敗の記録もありませんでした（監査ログには記録しました）。")


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
@one_line_refusals
def fallback_post_hoc(limit: int, institution_code: str | None) -> None:
    """Look up the records still waiting for post-hoc confirmation (also a periodic job, every
    POST_HOC_INTERVAL_MINUTES minutes, 10 by default)."""
    from .services import fallback, identity

    rt = current_app.extensions["mobile_api"]
    institution_id = identity.institution_id_for_code(rt, institution_code) if institution_code else None
    report = fallback.confirm_pending(rt, limit=limit, institution_id=institution_id)
    click.echo(f"事後確認: 確認済み {len(report.confirmed)} 件、要確認 {len(report.needs_attention)} 件")
    if report.stopped:
        raise click.ClickException("オンライン資格確認等システムに接続できないため中断しました。残りは次回確認します。")


audit_cli = AppGroup("audit", help="The audit log: monthly partitions and retention (docs/rules.md §7.1).")
maintenance_cli = AppGroup("maintenance", help="Housekeeping also run daily by the job worker.")


@audit_cli.command("partitions")
@one_line_refusals
def audit_partitions() -> None:
    """Make the audit log's partitions of this month and AUDIT_PARTITIONS_AHEAD_MONTHS ahead (PostgreSQL)."""
    from .services import maintenance

    rt = current_app.extensions["mobile_api"]
    made = maintenance.prepare_partitions(rt)
    with rt.uow() as uow:
        partitioned, months = uow.housekeeping.partitioned, uow.housekeeping.audit_partitions()
    if not partitioned:
        click.echo("このデータベース（SQLite）の監査ログは月別に分割しません。保存期間は日付で削除します。")
        return
    click.echo(f"作成した月: {', '.join(f'{m.year}-{m.month:02d}' for m in made) or 'なし'}")
    click.echo(f"月別の区画: {', '.join(f'{m.year}-{m.month:02d}' for m in months)}（ほかは既定の区画）")


@audit_cli.command("retention")
@one_line_refusals
def audit_retention() -> None:
    """Remove the audit rows past AUDIT_RETENTION_MONTHS (whole months); audited as audit.retention."""
    from .domain.japanese_dates import JST
    from .services import maintenance

    report = maintenance.apply_retention(current_app.extensions["mobile_api"])
    click.echo(f"保存期間の起点: {report.cutoff.astimezone(JST):%Y-%m-%d}（日本時間）より前を削除しました: "
               f"月別の区画 {len(report.dropped)} 件、行 {report.deleted_rows} 件")


@maintenance_cli.command("purge")
@one_line_refusals
def maintenance_purge() -> None:
    """Delete ended sessions, stale lock-out counts, expired replay guards and challenges, old idempotency keys."""
    from .services import maintenance

    deleted = maintenance.purge(current_app.extensions["mobile_api"])
    click.echo("削除した行: " + "、".join(f"{table} {count} 件" for table, count in deleted.items()))


# The sandbox announces disasters as OQS would (docs/rules.md §3.5): the commands live here because the
# sandbox package may not import the services.
@sandbox_cli.command("declare-disaster")
@click.option("--name", required=True, help="災害の名称（例: 令和8年12月能登地方の地震）")
@click.option("--from", "starts_on", type=click.DateTime(["%Y-%m-%d"]), required=True, help="開始日（日本時間）")
@click.option("--to", "ends_on", type=click.DateTime(["%Y-%m-%d"]), required=True,
              help="終了日（日本時間、この日を含む）")
@click.option("--prefecture", "prefectures", multiple=True, required=True,
              help="対象地域の都道府県番号（01〜47、複数指定可）")
@click.option("--by", "declared_by", default="OQS（サンドボックス）", show_default=True, help="宣言した者")
@one_line_refusals
def declare_disaster(name: str, starts_on: Any, ends_on: Any, prefectures: tuple[str, ...], declared_by: str) -> None:
    """災害時の閲覧（カードなし）を許す災害の期間と地域を宣言する（OQSの告知を模擬）。"""
    from .services import disaster

    row = disaster.declare(current_app.extensions["mobile_api"], name=name, starts_on=starts_on.date(),
                           ends_on=ends_on.date(), prefectures=list(prefectures), declared_by=declared_by)
    click.echo(f"災害を宣言しました: {row.name}（{row.starts_on}〜{row.ends_on}、都道府県番号 "
               f"{'・'.join(row.prefectures)}）ID: {row.id}")


@sandbox_cli.command("list-disasters")
@one_line_refusals
def list_disasters() -> None:
    """宣言された災害の一覧（開始日の新しい順）。"""
    from .services import disaster

    for row in disaster.all_declarations(current_app.extensions["mobile_api"]):
        click.echo(f"{row.id}  {row.starts_on}〜{row.ends_on}  {'・'.join(row.prefectures)}  {row.name}"
                   f"（宣言: {row.declared_by}）")


def init_app(app: Flask) -> None:
    app.cli.add_command(db_cli)
    app.cli.add_command(institution_cli)
    app.cli.add_command(staff_cli)
    app.cli.add_command(device_cli)
    app.cli.add_command(sandbox_cli)
    app.cli.add_command(client_cli)
    app.cli.add_command(jobs_cli)
    app.cli.add_command(fallback_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(maintenance_cli)
