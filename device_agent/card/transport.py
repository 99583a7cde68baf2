"""The one interface every card layer talks through, and the errors common to all of them.

A transport moves one command APDU to the card and returns the whole response APDU (data + SW1 SW2).
Keeping it this small lets the same JPKI commands run over nfcpy, over the virtual card, or through
the privacy guard without any layer knowing which.
"""
from __future__ import annotations

from typing import Protocol


class Transport(Protocol):
    """Anything that can exchange one ISO/IEC 7816-4 APDU with a card."""

    def transmit(self, apdu: bytes) -> bytes:
        """Send a command APDU, return the response APDU including SW1 SW2."""
        ...


class CardError(Exception):
    """Base for everything that can go wrong talking to the card (flows catch this one)."""


class CardRemovedError(CardError):
    """The card left the field or stopped answering; the card session is over.

    The card lost power, so its security status (a verified PIN) is gone too: a new session must start
    from selecting the JPKI AP again.
    """


class CardProtocolError(CardError):
    """The card answered, but not the way a JPKI card does (bad DER header, unknown token, short reply)."""


class ReaderNotFoundError(CardError):
    """No supported NFC reader could be opened (not plugged in, busy, or no permission): not the card's fault."""


class NoCardError(CardError):
    """The reader is there, but nothing answering ISO-DEP was presented before the timeout."""


class ReaderServiceError(ReaderNotFoundError):
    """The smart-card service is not running (pcscd on Linux, the Smart Card service on Windows)."""


class ReaderGoneError(CardError):
    """The reader itself went away mid-session (unplugged, or the service dropped it)."""


class ReaderBusyError(CardError):
    """Another program holds the reader or the card exclusively (a PC/SC sharing violation)."""


class SeveralReadersError(ReaderNotFoundError):
    """More than one reader and no way to ask which: the user must name one with ``--reader``."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(f"several readers: {', '.join(names)}")
        self.names = names
