"""``flask sandbox ...``: seed the sandbox CA and issue virtual cards for personas.

The app registers this group (``app.cli.add_command(sandbox_cli)``) and keeps an
object with ``session_factory`` and ``clock`` in
``app.extensions["mobile_api"]``; the CA comes from the database so the card
issued here chains to the CA every worker trusts.
"""
from __future__ import annotations

from pathlib import Path
from typing import cast

import click
from cryptography.hazmat.primitives import hashes
from flask import current_app
from flask.cli import AppGroup

from ..clock import Clock
from .ca import SandboxCA, Variant

sandbox_cli = AppGroup("sandbox", help="組み込みOQSサンドボックス（テスト用CAとテスト用ペルソナ）")


def _ca_and_clock() -> tuple[SandboxCA, Clock]:
    ext = current_app.extensions["mobile_api"]
    return SandboxCA.load_or_create(ext.session_factory, ext.clock), ext.clock


@sandbox_cli.command("seed")
def seed() -> None:
    """サンドボックスCAを用意し、テスト用ペルソナの一覧を表示する。"""
    ca, _ = _ca_and_clock()
    fingerprint = ca.certificate.fingerprint(hashes.SHA256()).hex(":").upper()
    click.echo(f"サンドボックスCA: {ca.certificate.subject.rfc4514_string()}")
    click.echo(f"SHA-256: {fingerprint}")
    click.echo(f"テスト用ペルソナ（{len(ca.personas)}名、{ca.personas.reference_date.isoformat()} 時点）:")
    for persona in ca.personas:
        pin = persona.card.pin or "なし（顔認証カード）"
        click.echo(f"  {persona.id}  {persona.name}  暗証番号: {pin}  — {persona.description}")


@sandbox_cli.command("issue-card")
@click.argument("persona")
@click.option("--variant", type=click.Choice(["card", "android"]), default="card", show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="出力先ディレクトリ")
def issue_card(persona: str, variant: str, out: Path) -> None:
    """ペルソナの仮想カード（key.pem, cert.der, card.json）を発行する。"""
    ca, clock = _ca_and_clock()
    try:
        card = ca.issue_card(persona, variant=cast(Variant, variant), now=clock())
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="PERSONA") from exc
    card.save(out)
    until = card.certificate.not_valid_after_utc.date().isoformat()
    click.echo(f"{persona}（{variant}）の仮想カードを {out} に保存しました。証明書の有効期限: {until}")
