"""nfcpy as a card transport: a Type 4 tag behind ``transmit``, and opening the readers we support.

Uses ``Type4Tag.transceive`` rather than ``send_apdu`` so that the status word comes back to our own
APDU layer untouched and each command gets the timeout it needs: generous for SIGN (on-card RSA has no
published timing; implementations allow up to 20 s), normal otherwise. Every nfcpy communication
failure means the same thing to a flow: the card is gone, start again, so they all become
CardRemovedError.

nfcpy logs every frame at DEBUG (tt4 transceive, the frontend exchange, the USB transport). While a
VERIFY with data is in flight those records would contain the PIN, so a filter on nfcpy's loggers
drops records below INFO for exactly that exchange.
"""
from __future__ import annotations

import logging
import pkgutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import nfc
import nfc.clf
import nfc.tag
import nfc.tag.tt4

from device_agent.card.transport import CardRemovedError, NoCardError, ReaderNotFoundError

__all__ = ["NfcTransport", "NoCardError", "ReaderNotFoundError", "open_reader", "wait_for_card"]

log = logging.getLogger(__name__)

SIGN_TIMEOUT = 20.0
DEFAULT_TIMEOUT = 2.0
POLL_TARGETS = ("106B", "106A")  # the card answers as Type B; phones may answer as A or B
SUPPORTED_READERS = {
    "usb:054c:06c3": "Sony RC-S380",
    "usb:054c:06c1": "Sony RC-S380 (S)",
    "usb:072f:2200": "ACS ACR122U",
}


class NfcTransport:
    """``transmit`` over an activated nfcpy Type 4 tag (Type 4A or 4B)."""

    def __init__(self, tag: nfc.tag.tt4.Type4Tag, *, timeout: float = DEFAULT_TIMEOUT, sign_timeout: float = SIGN_TIMEOUT) -> None:
        self._tag, self._timeout, self._sign_timeout = tag, timeout, sign_timeout

    def transmit(self, apdu: bytes) -> bytes:
        is_sign = len(apdu) >= 2 and apdu[0] == 0x80 and apdu[1] == 0x2A
        is_verify_with_data = len(apdu) > 4 and apdu[1] == 0x20
        try:
            with _quiet_nfcpy(is_verify_with_data):
                response = self._tag.transceive(bytearray(apdu), timeout=self._sign_timeout if is_sign else self._timeout)
        except (nfc.tag.TagCommandError, nfc.clf.CommunicationError, TimeoutError, OSError) as error:
            raise CardRemovedError(f"card stopped answering: {type(error).__name__}") from None
        if not response:
            raise CardRemovedError("no response from the card")
        return bytes(response)


def open_reader(path: str | None = None) -> nfc.clf.ContactlessFrontend:
    """Open ``path``, or the first supported reader found (RC-S380, then ACR122U)."""
    for candidate in [path] if path else list(SUPPORTED_READERS):
        clf = nfc.clf.ContactlessFrontend()
        try:
            if clf.open(candidate):
                log.info("opened NFC reader %s", clf)
                return clf
        except OSError as error:  # present but busy or no permission
            log.warning("cannot open reader %s: %s", candidate, error)
    raise ReaderNotFoundError(f"no supported NFC reader on {path or ', '.join(SUPPORTED_READERS)}")


def wait_for_card(clf: nfc.clf.ContactlessFrontend, *, timeout: float = 30.0) -> NfcTransport:
    """Poll Type B then Type A until an ISO-DEP card or phone is activated; returns its transport."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tag = clf.connect(
            rdwr={
                "targets": list(POLL_TARGETS),
                "on-connect": lambda tag: False,  # keep the tag; we drive it ourselves
                "beep-on-connect": False,
                "iterations": 2,  # sense, pause, sense: no busy loop when nothing is there
                "interval": 0.2,
            },
            terminate=lambda: time.monotonic() >= deadline,
        )
        if isinstance(tag, nfc.tag.tt4.Type4Tag):
            return NfcTransport(tag)
    raise NoCardError("no My Number card or phone was presented")


# -- PIN-safe logging of nfcpy ----------------------------------------------------------------------
_in_verify = threading.local()


class _DropFrameLogsDuringVerify(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.INFO or not getattr(_in_verify, "active", False)


_FILTER = _DropFrameLogsDuringVerify()


def _install_filter() -> None:
    names = {"nfc", "nfc.clf", "nfc.tag"}
    for package in (nfc.clf, nfc.tag):
        names.update(f"{package.__name__}.{m.name}" for m in pkgutil.iter_modules(package.__path__))
    for name in names:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


_install_filter()


@contextmanager
def _quiet_nfcpy(active: bool) -> Iterator[None]:
    previous = getattr(_in_verify, "active", False)
    _in_verify.active = previous or active
    try:
        yield
    finally:
        _in_verify.active = previous
