"""The virtual JPKI card served to vpcd (vsmartcard's virtual reader for pcsc-lite), so the PC/SC path
runs through a real pcscd: pyscard -> libpcsclite -> pcscd -> vpcd driver -> this card client.

vpcd's card protocol: every message is a 2-byte big-endian length and its bytes. A 1-byte message is a
control (0 power off, 1 power on, 2 reset, 4 "send your ATR"); anything longer is a command APDU,
answered with the response APDU. Connecting is inserting the card into the reader; closing the socket
is taking it away.

Without TCP_QUICKACK the kernel delays each ACK and every APDU costs ~45 ms (vpcd waits for it);
TCP_NODELAY stops Nagle from holding the small responses. QUICKACK is not sticky, so it is set again
after every receive. Nothing here logs APDU contents: a VERIFY carries the PIN.

``t0_style`` makes the card answer the way a T=0 card behind some readers does, to exercise the
transport's handling: data comes back as 61xx and must be fetched with GET RESPONSE, and a READ BINARY
asking past the end of a file gets 6Cxx (re-send with that Le).
"""
from __future__ import annotations

import contextlib
import socket
import threading
import time

from device_agent.card.sim.virtual_card import VirtualJpkiCard
from device_agent.card.transport import CardRemovedError

VPCD_PORT = 35963
POWER_OFF, POWER_ON, RESET, GET_ATR = 0, 1, 2, 4
# The ATR a PC/SC contactless reader makes up for an ISO 14443-4 Type B card (PC/SC part 3): T=1.
# Never used to identify the card: My Number cards answer with several ATRs.
# 3B 88 80 01, ATQB application data and protocol info, then TCK (XOR of T0 .. the last historical byte).
ATR_CONTACTLESS_B = bytes.fromhex("3B8880010000000000518000") + bytes((0x88 ^ 0x80 ^ 0x01 ^ 0x51 ^ 0x80,))
ATR_T0 = bytes.fromhex("3B021450")  # T=0 only (no TD1), for the 61xx/6Cxx paths


class VpcdCard:
    """A VirtualJpkiCard on a socket to vpcd; ``remove()`` takes it out of the reader."""

    def __init__(self, card: VirtualJpkiCard, *, t0_style: bool = False, atr: bytes | None = None) -> None:
        self.card, self.t0_style = card, t0_style
        self.atr = atr or (ATR_T0 if t0_style else ATR_CONTACTLESS_B)
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._pending = b""  # T=0 style: response data still to be fetched with GET RESPONSE
        self._pending_sw = b""
        self.messages = 0  # APDUs exchanged over vpcd (GET RESPONSE and re-sends included)

    def insert(self, connection: socket.socket | None = None, *, host: str = "127.0.0.1", port: int = VPCD_PORT) -> None:
        """Put the card in the reader: connect to vpcd (or use ``connection``) and start answering."""
        self.remove()
        sock = connection or socket.create_connection((host, port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.card.insert()
        self._socket = sock
        self._thread = threading.Thread(target=self._serve, args=(sock,), name="vpcd-card", daemon=True)
        self._thread.start()

    def remove(self) -> None:
        """Take the card away: it loses power and vpcd sees the connection close."""
        sock, self._socket = self._socket, None
        self.card.remove()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._thread = None

    def _serve(self, sock: socket.socket) -> None:
        try:
            while (message := _receive(sock)) is not None:
                reply = self._answer(message)
                if reply is not None:
                    sock.sendall(len(reply).to_bytes(2, "big") + reply)
        except CardRemovedError:  # the card left in the middle of a command: the reader sees it go
            sock.close()
        except OSError:
            pass  # removed: the socket was closed under us

    def _answer(self, message: bytes) -> bytes | None:
        if len(message) == 1:
            if message[0] == GET_ATR:
                return self.atr
            if message[0] in (POWER_OFF, POWER_ON, RESET):
                self.card.reset()
                self._pending = b""
            return None
        self.messages += 1
        if self.t0_style and message[:4] == b"\x00\xc0\x00\x00" and self._pending:
            return self.get_response(message[4] if len(message) > 4 else 0)
        response, busy = self.card.process(message)
        if busy > 0:
            time.sleep(busy)
            if not self.card.present:
                raise CardRemovedError("removed while computing")
        return self._t0(message, response) if self.t0_style else response

    def _t0(self, command: bytes, response: bytes) -> bytes:
        """What a T=0 card says: 6Cxx for a wrong Le, 61xx while data waits for GET RESPONSE."""
        data, sw = response[:-2], response[-2:]
        if sw == b"\x62\x82" and data and command[1] == 0xB0:
            return bytes((0x6C, len(data) & 0xFF))
        if data:
            self._pending, self._pending_sw = data, sw
            return bytes((0x61, len(data) & 0xFF))
        return response

    def get_response(self, le: int) -> bytes:
        chunk, self._pending = self._pending[: le or 256], self._pending[le or 256 :]
        return chunk + (bytes((0x61, len(self._pending) & 0xFF)) if self._pending else self._pending_sw)


def _receive(sock: socket.socket) -> bytes | None:
    header = _exactly(sock, 2)
    if header is None:
        return None
    return _exactly(sock, int.from_bytes(header, "big"))


def _exactly(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if hasattr(socket, "TCP_QUICKACK"):  # Linux only; not sticky, so after every receive
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        if not chunk:
            return None
        data += chunk
    return data


def serve_card_files(directory: str, connection: socket.socket | None = None, *, port: int = VPCD_PORT) -> VpcdCard:
    """A sandbox-issued card (``flask sandbox issue-card``) inserted into the local vpcd reader."""
    from pathlib import Path

    from device_agent.card.sim.card_files import VirtualCardFiles

    served = VpcdCard(VirtualCardFiles.load(Path(directory)).card())
    served.insert(connection, port=port)
    return served


def main(argv: list[str] | None = None) -> int:
    """``python -m device_agent.card.sim.vpcd CARD_DIR``: the virtual card on a developer's pcscd + vpcd, for
    trying the PC/SC path by hand (``device-agent verify --reader pcsc:"Virtual PCD 00 00"``). Ctrl+C removes it.
    Only on a development machine: vpcd listens on all interfaces (docs/readers.md)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("card_dir")
    parser.add_argument("--port", type=int, default=VPCD_PORT)
    args = parser.parse_args(argv)
    served = serve_card_files(args.card_dir, port=args.port)
    print(f"virtual card {args.card_dir} is in vpcd's reader (port {args.port}); Ctrl+C to take it out", flush=True)
    try:
        while served._thread is not None and served._thread.is_alive():  # noqa: SLF001
            served._thread.join(0.5)  # noqa: SLF001
    except KeyboardInterrupt:
        pass
    served.remove()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
