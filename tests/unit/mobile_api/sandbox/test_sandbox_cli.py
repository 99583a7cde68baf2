"""``flask sandbox seed`` and ``flask sandbox issue-card`` against a minimal app."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from mobile_api.clock import FrozenClock
from mobile_api.domain.certificate import add_months
from mobile_api.sandbox.ca import IssuedCard, SandboxCA, SandboxCARecord
from mobile_api.sandbox.cli import sandbox_cli as sandbox
from mobile_api.sandbox.personas import PersonaBook


@pytest.fixture
def app(session_factory: sessionmaker[Session], clock: FrozenClock) -> Flask:
    app = Flask("sandbox-cli-test")
    app.extensions["mobile_api"] = SimpleNamespace(session_factory=session_factory, clock=clock)
    app.cli.add_command(sandbox)
    return app


def test_seed_creates_the_ca_once_and_lists_personas_in_japanese(
    app: Flask, session_factory: sessionmaker[Session], book: PersonaBook
) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["sandbox", "seed"])
    second = runner.invoke(args=["sandbox", "seed"])
    assert first.exit_code == 0, first.output
    assert second.exit_code == 0
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(SandboxCARecord)) == 1
    for persona in book:
        assert persona.id in first.output and persona.description in first.output
    assert "顔認証" in first.output
    assert first.output.splitlines()[1] == second.output.splitlines()[1]  # same CA fingerprint


def test_issue_card_writes_a_virtual_card_chaining_to_the_persisted_ca(
    app: Flask, session_factory: sessionmaker[Session], clock: FrozenClock, tmp_path: Path
) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["sandbox", "issue-card", "P21-cert-expired-1m", "--out", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    card = IssuedCard.load(tmp_path / "c")
    ca = SandboxCA.load_or_create(session_factory, clock)
    card.certificate.verify_directly_issued_by(ca.certificate)
    assert card.persona_id == "P21-cert-expired-1m" and card.variant == "card"
    assert card.certificate.not_valid_after_utc == add_months(clock().replace(microsecond=0), -1)


def test_issue_card_android_variant(app: Flask, tmp_path: Path) -> None:
    result = app.test_cli_runner().invoke(
        args=["sandbox", "issue-card", "P24-android", "--variant", "android", "--out", str(tmp_path / "phone")]
    )
    assert result.exit_code == 0, result.output
    assert IssuedCard.load(tmp_path / "phone").token == b"JPKIAPGPSETOKEN"


@pytest.mark.parametrize("args", [["P99-nobody"], ["P01-valid-30", "--variant", "android"]])
def test_issue_card_refuses_what_the_persona_does_not_have(app: Flask, tmp_path: Path, args: list[str]) -> None:
    result = app.test_cli_runner().invoke(args=["sandbox", "issue-card", *args, "--out", str(tmp_path / "x")])
    assert result.exit_code != 0
    assert not (tmp_path / "x").exists()
