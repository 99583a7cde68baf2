"""Readers are found, not configured: what is plugged in (nfcpy and PC/SC), and which one to use.

``--reader auto`` (the default) takes the only reader there is; with several it takes the one a card is
on, else asks (or, with nobody to ask, raises SeveralReadersError naming them). ``usb:…`` names an
nfcpy reader, ``pcsc:NAME`` a PC/SC reader (the full name, or the start of exactly one name).
Why both: nfcpy drives the RC-S380 and ACR122U, no longer sold; the readers sold today (RC-S300,
ACR1252U, ...) are PC/SC. See docs/rules.md §6 and docs/readers.md.

Each transport's library is imported only when that transport is looked at, so a machine with only
one of them installed works with that one.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from device_agent.card.session import CardSession
from device_agent.card.transport import CardError, ReaderNotFoundError, ReaderServiceError, SeveralReadersError

log = logging.getLogger(__name__)

AUTO = "auto"
PCSC_PREFIX = "pcsc:"


@dataclass(frozen=True)
class Reader:
    transport: str  # "nfc" (nfcpy) | "pcsc"
    name: str  # nfcpy path (usb:054c:06c3) or the PC/SC reader name
    card_present: bool | None = None  # None: the transport cannot tell without polling (nfcpy)

    @property
    def spec(self) -> str:
        """What ``--reader`` takes to choose this one."""
        return self.name if self.transport == "nfc" else PCSC_PREFIX + self.name

    @property
    def card_state(self) -> str:
        return {True: "カードあり", False: "カードなし", None: "かざすと読み取ります"}[self.card_present]


@dataclass(frozen=True)
class Found:
    readers: list[Reader]
    problems: list[CardError]  # a transport that could not be asked (e.g. pcscd not running)


Enumerator = Callable[[], list[Reader]]


def nfc_readers() -> list[Reader]:
    """The supported nfcpy readers that open (each is opened and closed again)."""
    try:
        import nfc.clf

        from device_agent.card.nfc_transport import SUPPORTED_READERS
    except ImportError:
        return []
    found = []
    for path in SUPPORTED_READERS:
        clf = nfc.clf.ContactlessFrontend()
        try:
            if clf.open(path):
                found.append(Reader("nfc", path))
        except OSError as error:
            log.info("nfcpy reader %s not usable: %s", path, error)
        finally:
            clf.close()
    return found


def pcsc_readers() -> list[Reader]:
    """The PC/SC readers the service knows, each with whether a card is on it."""
    try:
        from device_agent.card.pcsc_transport import PcscContext
    except ImportError:
        return []
    with PcscContext() as context:
        return [Reader("pcsc", name, context.card_present(name)) for name in context.readers()]


def find_readers(enumerators: tuple[Enumerator, ...] | None = None) -> Found:
    """Every reader each transport sees; a transport that cannot be asked becomes a problem, not an error."""
    readers: list[Reader] = []
    problems: list[CardError] = []
    for enumerate_ in enumerators or (nfc_readers, pcsc_readers):
        try:
            readers += enumerate_()
        except CardError as error:
            log.info("could not list readers: %s", error)
            problems.append(error)
    return Found(readers, problems)


def choose(found: Found, spec: str | None = AUTO, *, ask: Callable[[list[Reader]], Reader] | None = None) -> Reader:
    """The reader ``spec`` names among those found (see the module docstring for the rules)."""
    spec = spec or AUTO
    if spec.startswith(PCSC_PREFIX):
        return _pcsc_by_name(found, spec[len(PCSC_PREFIX):])
    if spec != AUTO:
        return Reader("nfc", spec)  # nfcpy opens the path itself (and says if it cannot)
    readers = found.readers
    if not readers:
        raise next((p for p in found.problems if isinstance(p, ReaderServiceError)),
                   ReaderNotFoundError("no reader found"))
    if len(readers) == 1:
        return readers[0]
    with_card = [r for r in readers if r.card_present]
    if len(with_card) == 1:
        return with_card[0]
    if ask is None:
        raise SeveralReadersError([r.spec for r in readers])
    return ask(readers)


def _pcsc_by_name(found: Found, name: str) -> Reader:
    pcsc = [r for r in found.readers if r.transport == "pcsc"]
    exact = [r for r in pcsc if r.name == name]
    matches = exact or [r for r in pcsc if r.name.startswith(name)]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise SeveralReadersError([r.spec for r in matches])
    raise next(iter(found.problems), ReaderNotFoundError(f"no PC/SC reader named {name!r}"))


@contextmanager
def reader_session(reader: Reader, *, timeout: float = 30.0) -> Iterator[CardSession]:
    """One card session on ``reader``: wait for a card, then hand out a guarded CardSession."""
    if reader.transport == "pcsc":
        from device_agent.card.pcsc_transport import PcscContext

        with PcscContext() as context:
            transport = context.wait_for_card(reader.name, timeout=timeout)
            try:
                yield CardSession(transport)
            finally:
                transport.close()
        return
    from device_agent.card.nfc_transport import open_reader, wait_for_card

    clf = open_reader(reader.name)
    try:
        yield CardSession(wait_for_card(clf, timeout=timeout))
    finally:
        clf.close()
