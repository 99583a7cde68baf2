"""Where the card comes from: a reader (nfcpy or PC/SC, found by ``card.readers``), or (when the user
asks for one) a virtual card.

All yield a guarded ``CardSession``; the virtual card runs over nfcpy's own ISO-DEP stack, so the flows
and the tests exercise the same path a tablet with a reader does. The simulator
(``device_agent.card.sim``) is imported only inside ``virtual_card_source``,
so a tablet with a reader never loads it.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from device_agent.agent import CardSource, VirtualCardMissing
from device_agent.card import readers
from device_agent.card.session import CardSession

Ask = Callable[[list[readers.Reader]], readers.Reader]


def choose(*, virtual_card: str | None, reader: str | None, cards_dir: Path, ask: Ask | None = None) -> CardSource:
    """The virtual card named (a directory, or a card issued into ``cards_dir``), else the reader ``reader``
    names (``auto``: found when a session starts, so a reader plugged in later is used)."""
    if virtual_card:
        candidates = [Path(virtual_card), cards_dir / virtual_card]
        directory = next((c for c in candidates if (c / "card.json").is_file()), None)
        if directory is None:
            raise VirtualCardMissing(virtual_card, candidates)
        return virtual_card_source(directory)
    return ReaderSource(reader, ask)


class ReaderSource:
    """A CardSource on a real reader that can also say which reader it would use and whether a card is on it
    (the touch UI shows that on its card page)."""

    def __init__(self, spec: str | None, ask: Ask | None = None) -> None:
        self.spec, self.ask = spec, ask

    def __call__(self) -> AbstractContextManager[CardSession]:
        return reader_session(self.spec, ask=self.ask)

    def reader(self) -> readers.Reader:
        """The reader a session would open now; raises the CardError that opening would raise."""
        return readers.choose(_find(self.spec), self.spec)


def virtual_card_source(directory: Path) -> CardSource:
    from device_agent.card.sim.card_files import VirtualCardFiles
    from device_agent.card.sim.nfc_virtual import virtual_session

    card = VirtualCardFiles.load(directory).card()  # one card object: its try counter persists
    return lambda: virtual_session(card)


@contextmanager
def reader_session(spec: str | None = None, *, ask: Ask | None = None, timeout: float = 30.0) -> Iterator[CardSession]:
    """A session on the reader ``spec`` names (see ``card.readers.choose``)."""
    with readers.reader_session(readers.choose(_find(spec), spec, ask=ask), timeout=timeout) as session:
        yield session


def _find(spec: str | None) -> readers.Found:
    """The readers to choose among: an nfcpy path needs no search (nfcpy opens it directly), a PC/SC name only
    the PC/SC list (no USB probing of nfcpy readers)."""
    if spec and spec.startswith(readers.PCSC_PREFIX):
        return readers.find_readers((readers.pcsc_readers,))
    if spec and spec != readers.AUTO:
        return readers.Found([], [])
    return readers.find_readers()
