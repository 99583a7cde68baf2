"""``device-agent readers`` and ``--reader auto`` against real pcsc-lite daemons: none, two readers, a card
on one, the service not running. Each answer is plain Japanese with no traceback."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from device_agent import card_source
from device_agent.card import readers
from device_agent.cli import main
from tests.support.pcsc_fixtures import OTHER_READER, READER
from tests.support.pcscd import SOCKET_ENV, PcscDaemon


def run_cli(*args: str, socket_path: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a fresh process (libpcsclite reads PCSCLITE_CSOCK_NAME once per process)."""
    env = {**os.environ, SOCKET_ENV: socket_path}
    return subprocess.run([sys.executable, "-m", "device_agent.cli", *args], capture_output=True, text=True,
                          env=env, timeout=60)


@pytest.fixture
def no_nfc(monkeypatch):
    """No nfcpy reader on this machine, whatever is plugged into it."""
    monkeypatch.setattr(readers, "nfc_readers", lambda: [])


def test_zero_readers(pcscd, tmp_path) -> None:
    empty = PcscDaemon(vpcd=False)  # a running service with no reader at all
    try:
        empty.start()
        result = run_cli("readers", socket_path=empty.socket_path)
    finally:
        empty.close()
    assert result.returncode == 2
    assert "カードリーダーが見つかりません" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_the_service_not_running(pcscd, tmp_path) -> None:
    result = run_cli("readers", socket_path=str(tmp_path / "nothing" / "pcscd.comm"))
    assert result.returncode == 2
    assert "pcscd" in result.stdout and "サービスが動いていません" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_two_readers_without_a_card_are_listed_and_auto_asks(pcscd, no_nfc, capsys) -> None:
    assert main(["readers"]) == 0
    out = capsys.readouterr().out
    assert f"pcsc:{READER}（PC/SC、カードなし）" in out and f"pcsc:{OTHER_READER}（PC/SC、カードなし）" in out
    assert "複数" in out and "--reader" in out and "→" not in out
    assert main(["readers", "--reader", f"pcsc:{OTHER_READER}"]) == 0
    assert f"使うリーダー: pcsc:{OTHER_READER}" in capsys.readouterr().out


def test_the_reader_with_the_card_is_the_one_auto_takes(pcsc_slot, identity, no_nfc, capsys) -> None:
    pcsc_slot.insert(identity.card())
    assert main(["readers"]) == 0
    out = capsys.readouterr().out
    assert f"→ pcsc:{READER}（PC/SC、カードあり）" in out and f"使うリーダー: pcsc:{READER}" in out
    with card_source.reader_session("auto", timeout=2) as session:  # what verify and the UI open
        assert session.identify().certificate_der == identity.certificate_der


def test_several_readers_with_someone_to_ask(pcsc_slot, identity, no_nfc, monkeypatch, capsys) -> None:
    from device_agent import cli

    pcsc_slot.insert(identity.card())
    monkeypatch.setattr(readers, "pcsc_readers", lambda: [readers.Reader("pcsc", READER, False),
                                                          readers.Reader("pcsc", OTHER_READER, False)])
    answers = iter(["9", "1"])  # out of range first: asked again
    monkeypatch.setattr("builtins.input", lambda _prompt: next(answers))
    with card_source.reader_session("auto", ask=cli._ask_reader, timeout=2) as session:  # noqa: SLF001
        assert session.identify(with_token_info=False).certificate_der == identity.certificate_der
    out = capsys.readouterr().out
    assert f"1. pcsc:{READER}" in out and f"2. pcsc:{OTHER_READER}" in out


def test_an_nfc_and_a_pcsc_reader_side_by_side(pcscd, monkeypatch, capsys) -> None:
    monkeypatch.setattr(readers, "nfc_readers", lambda: [readers.Reader("nfc", "usb:054c:06c3")])
    assert main(["readers", "--reader", "usb:054c:06c3"]) == 0
    out = capsys.readouterr().out
    assert "→ usb:054c:06c3（NFC（nfcpy）、かざすと読み取ります）" in out and f"pcsc:{READER}" in out
