"""pytest fixtures for the PC/SC leg: one namespaced pcscd + vpcd per session, and the virtual card in it.

Registered in tests/conftest.py. ``PCSCLITE_CSOCK_NAME`` is set when pytest starts, before anything can
load libpcsclite (which reads it once): every PC/SC call in the test process goes to the throwaway
daemon (or finds no service), never to a pcscd of the machine's own.

Missing pcscd/vpcd/pyscard skips, unless REQUIRE_PCSC=1 (CI): then it fails, like REQUIRE_POSTGRES.
"""
from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from device_agent.card.session import CardSession
from device_agent.card.sim.virtual_card import VirtualJpkiCard
from device_agent.card.sim.vpcd import VpcdCard
from tests.support.pcscd import SOCKET_ENV, PcscDaemon, PcscdUnavailable, missing, require_pcsc

READER = "Virtual PCD 00 00"  # vpcd's first slot: where the card client lands
OTHER_READER = "Virtual PCD 00 01"  # vpcd always shows a second, empty one
_daemon: PcscDaemon | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _daemon
    _daemon = PcscDaemon()
    os.environ[SOCKET_ENV] = _daemon.socket_path


def pytest_unconfigure(config: pytest.Config) -> None:
    if _daemon is not None:
        _daemon.close()


def unavailable(reason: str) -> None:
    if require_pcsc():
        pytest.fail(f"REQUIRE_PCSC=1 but the PC/SC leg cannot run: {reason}", pytrace=False)
    pytest.skip(f"PC/SC unavailable (set REQUIRE_PCSC=1 to fail instead): {reason}")


@pytest.fixture(scope="session")
def pcscd() -> Iterator[PcscDaemon]:
    """The session's pcscd with vpcd, started on first use (stop()/start() keep the socket path)."""
    assert _daemon is not None
    if (reason := missing()) is not None:
        unavailable(reason)
    try:
        _daemon.start()
    except PcscdUnavailable as error:
        unavailable(str(error))
    yield _daemon
    _daemon.stop()


class VpcdSlot:
    """Reader ``Virtual PCD 00 00`` of the session's pcscd: put a virtual card in, take it out."""

    def __init__(self, daemon: PcscDaemon) -> None:
        self.daemon = daemon
        self.card: VpcdCard | None = None

    def insert(self, card: VirtualJpkiCard, **options: object) -> VpcdCard:
        """Insert ``card``; vpcd stops accepting cards after a command failed on a closed connection (a
        removal mid-command), so when pcscd does not see the card come, the daemon is restarted once."""
        self.remove()
        self.card = VpcdCard(card, **options)  # type: ignore[arg-type]
        for attempt in range(2):
            self.card.insert(self.daemon.connect_card())
            try:
                self.wait_until(present=True, timeout=10.0)  # pcscd polls every 0.4 s; a loaded machine is slower
                return self.card
            except TimeoutError:
                if attempt:
                    raise
                self.card.remove()
                self.daemon.stop()
                self.daemon.start()
        raise AssertionError("unreachable")

    def remove(self) -> None:
        if self.card is not None:
            self.card.remove()
            self.card = None
            self.wait_until(present=False)

    def wait_until(self, *, present: bool, timeout: float = 5.0) -> None:
        """pcscd polls vpcd about every 0.4 s: wait until it has seen the card come or go."""
        from device_agent.card.pcsc_transport import PcscContext

        deadline = time.monotonic() + timeout
        with PcscContext() as context:
            while context.card_present(READER) != present:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"pcscd did not see the card {'arrive' if present else 'leave'}")
                time.sleep(0.05)

    @contextmanager
    def session(self, card: VirtualJpkiCard, **options: object) -> Iterator[CardSession]:
        """Like ``virtual_session``: a CardSession with ``card`` on the reader (inserted if not yet)."""
        from device_agent.card.readers import Reader, reader_session

        if self.card is None or self.card.card is not card or not card.present:
            self.insert(card, **options)
        with reader_session(Reader("pcsc", READER), timeout=5) as session:
            yield session


@pytest.fixture
def pcsc_slot(pcscd: PcscDaemon) -> Iterator[VpcdSlot]:
    slot = VpcdSlot(pcscd)
    yield slot
    slot.remove()
