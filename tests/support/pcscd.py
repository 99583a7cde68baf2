"""A throwaway pcsc-lite daemon with the vpcd virtual reader driver, for the PC/SC card tests.

Why isolated: vpcd listens on all interfaces (0.0.0.0:35963/35964) and pcscd always puts its socket in
/run/pcscd, ignoring ``PCSCLITE_CSOCK_NAME``. So the daemon runs in a network and mount namespace of
its own (``unshare``; a user namespace too when not root, so no root is needed): its own loopback, and
/run bound to a temp directory. Clients (pyscard in the test process) find it through
``PCSCLITE_CSOCK_NAME`` = <temp>/pcscd/pcscd.comm, which libpcsclite reads once, on first use: one
daemon per test session, restartable at the same socket path.

The virtual card must reach vpcd's port inside that namespace. A helper in the namespace (this file,
run as a script) connects to it on request and hands the connected TCP socket back over a Unix socket
(SCM_RIGHTS), so the card client in the test process holds a real TCP connection to vpcd.

Missing ``pcscd``/vpcd/pyscard/``unshare`` skips the tests, unless ``REQUIRE_PCSC`` is set (CI
installs them: .ci/run). The daemon runs in the foreground as a child and is stopped by its PID; its output goes
to <temp>/pcscd.log. ``PCSCD_TEST_FLAGS=-d`` adds pcscd options when debugging a test (``-a`` would log the
APDUs, the test PIN included: acceptable only here, in a throwaway daemon with a throwaway card).
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

VPCD_PORT = 35963
VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
READER_CONF = f'FRIENDLYNAME "Virtual PCD"\nDEVICENAME /dev/null:0x8C7B\nLIBPATH {VPCD_DRIVER}\nCHANNELID 0x8C7B\n'
SOCKET_ENV = "PCSCLITE_CSOCK_NAME"
# The helper (a Python start-up), pcscd and vpcd are ready in well under a second when idle; the waits end when
# they are, and a loaded CI machine must not turn a slow start into "pcscd unavailable".
START_SECONDS = 30


class PcscdUnavailable(RuntimeError):
    """pcscd, vpcd, pyscard or unshare is missing, or the namespace could not be made."""


def require_pcsc() -> bool:
    return os.environ.get("REQUIRE_PCSC", "").strip().lower() in {"1", "true", "yes", "on"}


def missing() -> str | None:
    """Why a PC/SC test cannot run here, or None."""
    if shutil.which("pcscd") is None and not Path("/usr/sbin/pcscd").exists():
        return "pcscd not found (apt-get install pcscd)"
    if not Path(VPCD_DRIVER).exists():
        return "vpcd not found (apt-get install vsmartcard-vpcd)"
    if shutil.which("unshare") is None:
        return "unshare not found (util-linux)"
    try:
        import smartcard.scard  # noqa: F401
    except ImportError:
        return "pyscard is not installed (pip install -e '.[pcsc]': needs libpcsclite-dev and swig)"
    return None


class PcscDaemon:
    """pcscd -f with vpcd, in its own network+mount namespace; ``connect_card()`` reaches vpcd."""

    def __init__(self, *, vpcd: bool = True) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="pcscd-"))
        (self.directory / "reader.conf.d").mkdir()
        if vpcd:  # without it: a daemon with no readers at all
            (self.directory / "reader.conf.d" / "vpcd").write_text(READER_CONF)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def socket_path(self) -> str:
        return str(self.directory / "pcscd" / "pcscd.comm")

    @property
    def log_file(self) -> Path:
        return self.directory / "pcscd.log"

    @property
    def pid(self) -> int | None:
        """pcscd's own PID (no PID namespace: it is a plain child process of the helper)."""
        try:
            return int((self.directory / "pcscd-child.pid").read_text())
        except (OSError, ValueError):
            return None

    def start(self) -> PcscDaemon:
        for name in (".ready", "pcscd-child.pid", "card.sock"):
            (self.directory / name).unlink(missing_ok=True)
        command = ["sh", "-c", 'mount --bind "$1" /run && exec "$2" "$3" "$1"', "sh", str(self.directory),
                   sys.executable, __file__]
        log = open(self.log_file, "ab")  # noqa: SIM115 (closed with the process)
        for prefix in _unshare_prefixes():
            # stdin stays open for the daemon's life: if this process dies, EOF stops the helper and pcscd.
            self.process = subprocess.Popen(prefix + command, stdin=subprocess.PIPE, stdout=log,
                                            stderr=subprocess.STDOUT)
            deadline = time.monotonic() + START_SECONDS
            while time.monotonic() < deadline and self.process.poll() is None:
                if (self.directory / ".ready").exists():
                    log.close()
                    return self
                time.sleep(0.05)
            self._kill()
        log.close()
        raise PcscdUnavailable(f"pcscd did not start: {self.log_tail()}")

    def stop(self) -> None:
        """Stop pcscd by its PID (the helper exits with it), then the namespace's first process."""
        if (pid := self.pid) is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        self._kill()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def connect_card(self) -> socket.socket:
        """A TCP socket connected to vpcd inside the namespace (a card 'inserted' in reader 00 00)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as helper:
            helper.connect(str(self.directory / "card.sock"))
            _, fds, _, _ = socket.recv_fds(helper, 1, 1)
        if not fds:
            raise PcscdUnavailable("the namespace helper sent no socket")
        return socket.socket(fileno=fds[0])

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _kill(self) -> None:
        if self.process is not None:
            if self.process.stdin is not None:
                self.process.stdin.close()
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
            self.process = None


def _unshare_prefixes() -> list[list[str]]:
    """A user namespace when allowed (no root needed); as root, plain net+mount namespaces as a fallback."""
    prefixes = [["unshare", "--user", "--map-root-user", "--net", "--mount", "--fork"]]
    if os.geteuid() == 0:
        prefixes.append(["unshare", "--net", "--mount", "--fork"])
    return prefixes


# -- inside the namespace ---------------------------------------------------------------------------
def _loopback_up() -> None:
    """``ip link set lo up`` without iproute2: a fresh network namespace starts with lo down."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s, siocgifflags, request))[1]
        fcntl.ioctl(s, siocsifflags, struct.pack("16sH14x", b"lo", flags | iff_up))


def _wait_for_vpcd(pcscd: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline and pcscd.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", VPCD_PORT), timeout=0.2).close()  # a card that leaves
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("vpcd did not listen")


def _stop_on_eof(pcscd: subprocess.Popen[bytes]) -> None:
    """The test process holds our stdin open; when it is gone (even killed), stop pcscd and leave."""
    sys.stdin.buffer.read()
    pcscd.terminate()
    os._exit(0)


def _serve(directory: Path) -> None:
    _loopback_up()
    pcscd_binary = shutil.which("pcscd") or "/usr/sbin/pcscd"
    pcscd = subprocess.Popen([pcscd_binary, "--foreground", *os.environ.get("PCSCD_TEST_FLAGS", "").split(), "--config", str(directory / "reader.conf.d")])
    (directory / "pcscd-child.pid").write_text(str(pcscd.pid))
    signal.signal(signal.SIGTERM, lambda *_: (pcscd.terminate(), sys.exit(0)))
    threading.Thread(target=_stop_on_eof, args=(pcscd,), daemon=True).start()
    if (directory / "reader.conf.d" / "vpcd").exists():
        _wait_for_vpcd(pcscd)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(directory / "card.sock"))
        listener.listen(4)
        listener.settimeout(0.5)
        (directory / ".ready").touch()
        while pcscd.poll() is None:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            with client, socket.create_connection(("127.0.0.1", VPCD_PORT)) as card:  # noqa: SIM117
                socket.send_fds(client, [b"s"], [card.fileno()])


if __name__ == "__main__":
    _serve(Path(sys.argv[1]))
