"""PC/SC as a card transport (pyscard): the readers people own, beside nfcpy. See docs/rules.md §6 and docs/readers.md.

pcsc-lite (pcscd) on Linux and macOS, WinSCard on Windows, both through pyscard's ``smartcard.scard``;
nothing here assumes a platform path. Like ``nfc_transport`` this sits *below* the privacy guard:
``CardSession`` wraps whatever transport it is given, so every APDU still passes the allow-list first.

What a PC/SC reader surfaces that an nfcpy tag does not, handled here so the JPKI layer never sees it:

* ``61xx``: the response waits on the card; fetch it with GET RESPONSE (repeatedly, T=0 style).
* ``6Cxx``: wrong Le; the same command is sent again with Le = xx.
* T=1 contact readers and contactless (T=CL) readers both appear as T=1; T=0 as T=0.

Timeouts: PC/SC has no per-command timeout; the reader waits for the card as long as the card asks
(waiting time extensions), which covers an on-card RSA SIGN of several seconds (up to 20 s is allowed).
The agent adds no shorter limit of its own.

Every failure becomes one typed CardError, so the flows show one Japanese message and no traceback:
card gone -> CardRemovedError, reader gone -> ReaderGoneError, service not running ->
ReaderServiceError, another program holds the reader -> ReaderBusyError.

The card is held exclusively for a session and reset when it ends (``connect``, ``close``).

The card is identified by the JPKI application and its token information only (``CardSession``),
never by ATR (My Number cards answer with several) nor UID (it changes on every read). Nothing here
logs APDU data: a VERIFY carries the PIN.
"""
from __future__ import annotations

import time
from dataclasses import replace

from smartcard import scard

from device_agent.card.apdu import CommandAPDU
from device_agent.card.transport import (
    CardError,
    CardRemovedError,
    NoCardError,
    ReaderBusyError,
    ReaderGoneError,
    ReaderNotFoundError,
    ReaderServiceError,
)

GET_RESPONSE = bytes.fromhex("00C00000")
MAX_GET_RESPONSES = 64  # 61xx chains longer than any JPKI answer mean a confused card, not more data
POLL_MS = 500
BUSY_WAIT = 2.0  # seconds another program may hold the card before we call the reader busy

_CARD_GONE = {scard.SCARD_W_REMOVED_CARD, scard.SCARD_E_NO_SMARTCARD, scard.SCARD_W_RESET_CARD,
              scard.SCARD_W_UNPOWERED_CARD, scard.SCARD_W_UNRESPONSIVE_CARD, scard.SCARD_E_NOT_TRANSACTED,
              scard.SCARD_E_COMM_DATA_LOST, scard.SCARD_F_COMM_ERROR, scard.SCARD_E_PROTO_MISMATCH,
              scard.SCARD_E_INVALID_HANDLE}
_READER_GONE = {scard.SCARD_E_READER_UNAVAILABLE, scard.SCARD_E_UNKNOWN_READER}
_NO_SERVICE = {scard.SCARD_E_NO_SERVICE, scard.SCARD_E_SERVICE_STOPPED}


def pcsc_error(hresult: int, doing: str) -> CardError:
    """The typed error for a PC/SC result code (its text goes to the log message, never the user)."""
    what = f"{doing}: {scard.SCardGetErrorMessage(hresult)} ({hresult & 0xFFFFFFFF:#010x})"
    if hresult in _NO_SERVICE:
        return ReaderServiceError(what)
    if hresult == scard.SCARD_E_NO_READERS_AVAILABLE:
        return ReaderNotFoundError(what)
    if hresult in _READER_GONE:
        return ReaderGoneError(what)
    if hresult == scard.SCARD_E_SHARING_VIOLATION:
        return ReaderBusyError(what)
    if hresult in _CARD_GONE:
        return CardRemovedError(what)
    if not _service_running():  # a service that died mid-call answers odd codes (e.g. 0x8010006a): say why
        return ReaderServiceError(what)
    return CardError(what)


def _service_running() -> bool:
    """Whether pcscd answers now (asked only after an error no code above explains)."""
    hresult, handle = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        return False
    scard.SCardReleaseContext(handle)
    return True


class PcscContext:
    """One SCardEstablishContext; ``readers()`` and ``connect()`` raise typed CardErrors."""

    def __init__(self) -> None:
        hresult, self.handle = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hresult != scard.SCARD_S_SUCCESS:
            raise pcsc_error(hresult, "establishing the PC/SC context")

    def close(self) -> None:
        scard.SCardReleaseContext(self.handle)

    def __enter__(self) -> PcscContext:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def readers(self) -> list[str]:
        hresult, names = scard.SCardListReaders(self.handle, [])
        if hresult == scard.SCARD_E_NO_READERS_AVAILABLE:
            return []
        if hresult != scard.SCARD_S_SUCCESS:
            raise pcsc_error(hresult, "listing the readers")
        return list(names)

    def card_present(self, reader: str, *, timeout_ms: int = 0) -> bool:
        """Whether a card is on ``reader``, waiting up to ``timeout_ms`` for one to arrive."""
        hresult, states = scard.SCardGetStatusChange(self.handle, 0, [(reader, scard.SCARD_STATE_UNAWARE)])
        if hresult != scard.SCARD_S_SUCCESS:
            raise pcsc_error(hresult, f"asking {reader} for its state")
        state = states[0][1]
        if state & scard.SCARD_STATE_PRESENT or timeout_ms <= 0:
            return bool(state & scard.SCARD_STATE_PRESENT)
        hresult, states = scard.SCardGetStatusChange(self.handle, timeout_ms, [(reader, state)])
        if hresult == scard.SCARD_E_TIMEOUT:
            return False
        if hresult != scard.SCARD_S_SUCCESS:
            raise pcsc_error(hresult, f"waiting for a card on {reader}")
        return bool(states[0][1] & scard.SCARD_STATE_PRESENT)

    def wait_for_card(self, reader: str, *, timeout: float = 30.0) -> PcscTransport:
        """Wait for a card on ``reader`` and connect to it (exclusively, T=0 or T=1 as the card offers)."""
        deadline = time.monotonic() + timeout
        while not self.card_present(reader, timeout_ms=POLL_MS):
            if time.monotonic() >= deadline:
                raise NoCardError(f"no card was presented on {reader}")
        return self.connect(reader)

    def connect(self, reader: str, *, busy_wait: float = BUSY_WAIT) -> PcscTransport:
        """Connect *exclusively*: with a shared connection another program could send its own commands between
        ours, select another application under the guard's feet, or SIGN on the PIN our patient just verified.

        Another program's brief look at a freshly presented card (Windows' certificate propagation does that)
        is waited out for ``busy_wait`` seconds before the reader counts as busy."""
        deadline = time.monotonic() + busy_wait
        while True:
            hresult, card, protocol = scard.SCardConnect(
                self.handle, reader, scard.SCARD_SHARE_EXCLUSIVE, scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
            if hresult != scard.SCARD_E_SHARING_VIOLATION or time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        if hresult != scard.SCARD_S_SUCCESS:
            raise pcsc_error(hresult, f"connecting to the card on {reader}")
        return PcscTransport(card, protocol)


class PcscTransport:
    """``transmit`` over one PC/SC card handle, with 61xx and 6Cxx resolved."""

    def __init__(self, card: int, protocol: int) -> None:
        self._card, self.protocol = card, protocol
        self.apdus = self.bytes_sent = self.bytes_received = 0  # for the benchmark

    def transmit(self, apdu: bytes) -> bytes:
        response = self._exchange(apdu)
        if response[-2] == 0x6C:  # wrong Le: the card says which
            response = self._exchange(_with_le(apdu, response[-1]))
        data = b""
        for _ in range(MAX_GET_RESPONSES):
            if response[-2] != 0x61:
                return data + response
            data += response[:-2]
            response = self._exchange(GET_RESPONSE + response[-1:])
        raise CardRemovedError("the card kept answering 61xx")

    def close(self) -> None:
        """Reset the card on the way out: a verified PIN must not outlive this session."""
        scard.SCardDisconnect(self._card, scard.SCARD_RESET_CARD)

    def _exchange(self, apdu: bytes) -> bytes:
        hresult, response = scard.SCardTransmit(self._card, self.protocol, list(apdu))
        if hresult != scard.SCARD_S_SUCCESS:
            raise pcsc_error(hresult, "sending a command to the card")
        if len(response) < 2:
            raise CardRemovedError("no status word from the card")
        self.apdus += 1
        self.bytes_sent += len(apdu)
        self.bytes_received += len(response)
        return bytes(response)


def _with_le(apdu: bytes, le: int) -> bytes:
    """The same command with Le = ``le`` (00 means 256, as in a short APDU)."""
    return replace(CommandAPDU.decode(apdu), le=le or 256).encode()
