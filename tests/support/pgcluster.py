"""A throwaway PostgreSQL cluster for tests.

Why: the app targets PostgreSQL (psycopg 3 + SQLAlchemy 2), and SQLite hides
real differences (types, locking, constraints).  Each ``PgCluster`` is a fresh
``initdb`` in a temp directory, started on a free 127.0.0.1 port with
durability switched off (fsync/full_page_writes/synchronous_commit) because the
data is thrown away anyway; that keeps start-up to a second or two.

``initdb`` and ``pg_ctl`` refuse to run as root, and CI runs as root, so when
``os.geteuid() == 0`` every server command runs as the unprivileged
``postgres`` account (``runuser``, falling back to ``su``) inside a temp
directory chowned to it.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from urllib.parse import quote

PG_USER = "postgres"  # both the OS account (when root) and the DB superuser
_START_ATTEMPTS = 3  # a freshly probed port can be grabbed by someone else
_RESUME_ATTEMPTS = 10  # a halted cluster's port, held for a moment by someone else's connection
_LOG_ALL = 100_000
_LOG_TAIL_LINES = 40


class PgClusterError(RuntimeError):
    """PostgreSQL could not be initialised or started (message has the log tail)."""


def find_pg_bin() -> str | None:
    """Directory holding ``initdb``/``pg_ctl``/``postgres``, or None.

    PATH first (symlinks resolved, since /usr/local/bin only links initdb and
    pg_ctl, not ``postgres``), then the newest /usr/lib/postgresql/*/bin.
    ``PG_BIN`` overrides both.
    """

    def ok(d: str) -> bool:
        return all(os.access(os.path.join(d, b), os.X_OK) for b in ("initdb", "pg_ctl", "postgres"))

    candidates = [os.environ.get("PG_BIN", "")]
    if found := shutil.which("initdb"):
        candidates.append(os.path.dirname(os.path.realpath(found)))
    versioned = glob.glob("/usr/lib/postgresql/*/bin")
    versioned.sort(key=lambda p: [int(x) for x in re.findall(r"\d+", p)], reverse=True)
    candidates += versioned
    return next((d for d in candidates if d and ok(d)), None)


def _runas_prefix() -> list[str] | None:
    """argv prefix to drop root privileges ([] when not root, None if impossible)."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(PG_USER)
    except KeyError:
        return None
    if runuser := shutil.which("runuser"):
        return [runuser, "-u", PG_USER, "--"]
    if su := shutil.which("su"):
        return [su, PG_USER, "-s", "/bin/sh", "-c"]  # command is joined into one string
    return None


def pg_available() -> bool:
    """Cheap check (no server start): binaries found and, as root, a way to drop to ``postgres``."""
    return find_pg_bin() is not None and _runas_prefix() is not None


def require_postgres() -> bool:
    """True when ``REQUIRE_POSTGRES`` is set (CI): a missing/broken PostgreSQL must fail, not skip."""
    return os.environ.get("REQUIRE_POSTGRES", "").strip().lower() in {"1", "true", "yes", "on"}


def free_port() -> int:
    """A port free on 127.0.0.1 right now (the OS's pick; someone may still take it before use)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _all_traversable(path: str) -> bool:
    """Can an unprivileged account reach ``path``?  (every ancestor needs o+x)"""
    path = os.path.realpath(path)
    while True:
        if not os.stat(path).st_mode & stat.S_IXOTH:
            return False
        parent = os.path.dirname(path)
        if parent == path:
            return True
        path = parent


class PgCluster:
    """One throwaway cluster.  Use as ``with PgCluster() as pg:`` or ``start()``/``stop()``.

    ``settings`` are extra ``-c name=value`` server options.
    """

    def __init__(self, settings: dict[str, str] | None = None) -> None:
        self.settings = dict(settings or {})
        self.bin_dir: str | None = None
        self.base_dir: str | None = None  # temp dir: data/, sock/, server.log
        self.port: int | None = None
        self._runas: list[str] = []
        self._running = False

    # -- paths -----------------------------------------------------------
    @property
    def data_dir(self) -> str:
        return os.path.join(self._base(), "data")

    @property
    def socket_dir(self) -> str:
        return os.path.join(self._base(), "sock")

    @property
    def log_file(self) -> str:
        return os.path.join(self._base(), "server.log")

    def _base(self) -> str:
        if self.base_dir is None:
            raise PgClusterError("cluster not started")
        return self.base_dir

    # -- lifecycle -------------------------------------------------------
    def start(self) -> PgCluster:
        """initdb + pg_ctl start; on any failure clean up and raise PgClusterError."""
        if self._running:
            return self
        self.bin_dir = find_pg_bin()
        runas = _runas_prefix()
        if self.bin_dir is None:
            raise PgClusterError("PostgreSQL binaries (initdb, pg_ctl, postgres) not found "
                                 "in PATH or /usr/lib/postgresql/*/bin (set PG_BIN)")
        if runas is None:
            raise PgClusterError(f"running as root but cannot switch to the {PG_USER!r} account "
                                 "(needs the account plus runuser or su)")
        self._runas = runas
        atexit.register(self.stop)  # safety net if the caller never stops us
        try:
            self._make_dirs()
            self._run("initdb", "-D", self.data_dir, "-A", "trust", "-U", PG_USER,
                      "--no-sync", "-E", "UTF8", "--locale=C", what="initdb")
            self._start_server()
        except BaseException:
            self.stop()
            raise
        return self

    def _make_dirs(self) -> None:
        parent = tempfile.gettempdir()
        if self._runas and not _all_traversable(parent):
            parent = "/tmp"  # a TMPDIR under /root would be unreachable for postgres
        self.base_dir = tempfile.mkdtemp(prefix="pgcluster-", dir=parent)
        os.mkdir(self.socket_dir, 0o700)
        if self._runas:
            pw = pwd.getpwnam(PG_USER)
            for d in (self.base_dir, self.socket_dir):
                os.chown(d, pw.pw_uid, pw.pw_gid)

    def _pg_ctl_start(self, port: int) -> None:
        opts = {"listen_addresses": "127.0.0.1", "fsync": "off",
                "synchronous_commit": "off", "full_page_writes": "off", **self.settings}
        o = [f"-p {port}", f"-k {self.socket_dir}"] + [f"-c {k}={v}" for k, v in opts.items()]
        # -l is essential: without it the postmaster inherits our stdout
        # pipe and subprocess.run() never returns.
        self._run("pg_ctl", "-D", self.data_dir, "-l", self.log_file, "-w", "-t", "60",
                  "-o", " ".join(o), "start", what="pg_ctl start")

    def _start_server(self) -> None:
        for attempt in range(1, _START_ATTEMPTS + 1):
            port = free_port()
            if os.path.exists(self.log_file):
                os.remove(self.log_file)  # so the bind check below only sees this attempt
            try:
                self._pg_ctl_start(port)
            except PgClusterError:
                if attempt < _START_ATTEMPTS and "could not bind" in self.log_tail():
                    continue  # port race: someone took it between probe and bind
                raise
            self.port, self._running = port, True
            return

    def stop(self) -> None:
        """Immediate shutdown and rm -rf of the temp dir; idempotent and never raises."""
        atexit.unregister(self.stop)
        if self.base_dir is None:
            return
        if os.path.exists(os.path.join(self.data_dir, "postmaster.pid")):
            try:
                self._run("pg_ctl", "-D", self.data_dir, "-m", "immediate", "-w", "stop",
                          what="pg_ctl stop")
            except Exception:
                self._kill_postmaster()
        shutil.rmtree(self.base_dir, ignore_errors=True)
        self.base_dir, self.port, self._running = None, None, False

    def halt(self) -> None:
        """Simulate an outage: immediate shutdown (like a crash), keeping the data for ``resume()``."""
        if not self._running:
            raise PgClusterError("cluster not started")
        self._run("pg_ctl", "-D", self.data_dir, "-m", "immediate", "-w", "stop", what="pg_ctl stop")

    def resume(self) -> None:
        """Start a halted cluster again on the same port (crash recovery replays the WAL).

        The port was free while the cluster was down, and on a shared machine another process's connection may
        hold it for a moment (an outgoing connection's local port is picked from the same range): then try again
        shortly, on the same port, which is the one the clients know."""
        if not self._running or self.port is None:
            raise PgClusterError("cluster not started")
        for attempt in range(1, _RESUME_ATTEMPTS + 1):
            refused = self.log_tail(_LOG_ALL).count("could not bind")
            try:
                self._pg_ctl_start(self.port)
                return
            except PgClusterError:
                if attempt < _RESUME_ATTEMPTS and self.log_tail(_LOG_ALL).count("could not bind") > refused:
                    time.sleep(1)
                    continue
                raise

    def _kill_postmaster(self) -> None:
        """Fallback when pg_ctl stop fails: SIGQUIT (= immediate shutdown) from postmaster.pid."""
        try:
            with open(os.path.join(self.data_dir, "postmaster.pid")) as f:
                os.kill(int(f.readline()), signal.SIGQUIT)
        except (OSError, ValueError):
            pass

    def __enter__(self) -> PgCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- helpers ---------------------------------------------------------
    def _run(self, binary: str, *args: str, what: str) -> None:
        argv = [os.path.join(self.bin_dir or "", binary), *args]
        su_shell = bool(self._runas) and self._runas[-1] == "-c"  # su wants a single shell string
        cmd = [*self._runas, shlex.join(argv)] if su_shell else [*self._runas, *argv]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}  # no stray PGDATA/PGPORT
        env["LC_ALL"] = "C"
        try:
            # cwd=base_dir: postgres may not be able to read the caller's cwd.
            proc = subprocess.run(cmd, cwd=self.base_dir, env=env, stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PgClusterError(f"{what} failed: {exc}\n{self._log_section()}") from exc
        if proc.returncode != 0:
            raise PgClusterError(
                f"{what} failed (exit {proc.returncode}): {shlex.join(cmd)}\n"
                f"--- output ---\n{proc.stdout}{proc.stderr}\n{self._log_section()}")

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """Last lines of the server log ('' if there is none yet)."""
        try:
            with open(self.log_file, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except (OSError, PgClusterError):
            return ""

    def _log_section(self) -> str:
        tail = self.log_tail()
        return f"--- server log tail ---\n{tail}" if tail else "(no server log)"

    # -- client side -----------------------------------------------------
    def url(self, dbname: str = "postgres") -> str:
        """SQLAlchemy URL string ``postgresql+psycopg://postgres@127.0.0.1:PORT/dbname``.

        A plain str (not ``sqlalchemy.URL``) so it can go straight into Flask
        config, Alembic ``sqlalchemy.url`` or an env var.
        """
        if not self._running:
            raise PgClusterError("cluster not started")
        return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/{quote(dbname, safe='')}"

    def create_database(self, name: str) -> str:
        """CREATE DATABASE ``name`` (safely quoted); returns its URL."""
        import psycopg
        from psycopg import sql

        if not self._running:
            raise PgClusterError("cluster not started")
        with psycopg.connect(host="127.0.0.1", port=self.port, user=PG_USER,
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)
