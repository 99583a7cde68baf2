"""Where the card comes from: a real NFC reader, or (when the user asks for one) a virtual card.

Both yield a ``CardSession`` over nfcpy's own ISO-DEP stack, so the flows and
the tests exercise the same path a tablet with a reader does. The simulator
(``device_agent.card.sim``) is imported only inside ``virtual_card_source``,
so a tablet with a reader never loads it.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from device_agent.agent import CardSource, VirtualCardMissing
from device_agent.card.nfc_transport import open_reader, wait_for_card
from device_agent.card.session import CardSession


def choose(*, virtual_card: str | None, reader: str | None, cards_dir: Path) -> CardSource:
    """The virtual card named (a directory, or a card issued into ``cards_dir``), else the NFC reader."""
    if virtual_card:
        candidates = [Path(virtual_card), cards_dir / virtual_card]
        directory = next((c for c in candidates if (c / "card.json").is_file()), None)
        if directory is None:
            raise VirtualCardMissing(virtual_card, candidates)
        return virtual_card_source(directory)
    return lambda: reader_session(reader)


def virtual_card_source(directory: Path) -> CardSource:
    from device_agent.card.sim.card_files import VirtualCardFiles
    from device_agent.card.sim.nfc_virtual import virtual_session

    card = VirtualCardFiles.load(directory).card()  # one card object: its try counter persists
    return lambda: virtual_session(card)


@contextmanager
def reader_session(path: str | None = None, *, timeout: float = 30.0) -> Iterator[CardSession]:
    clf = open_reader(path)
    try:
        yield CardSession(wait_for_card(clf, timeout=timeout))
    finally:
        clf.close()
