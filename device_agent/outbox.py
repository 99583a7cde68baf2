"""The device's encrypted outbox for fallback records made without signal (docs/rules.md §5).

At a patient's home the card cannot be confirmed online, so the nurse records
the fallback evidence here; it is sent to ``POST /api/v1/fallback-records`` when
the signal returns, each record exactly once.

Why exactly once: a record's id is generated here, once, and is sent as its
Idempotency-Key on every attempt. The server stores the key with the record in
one transaction, so after it has accepted a record the only thing left is the
local mark "sent". If the sync dies between the server's answer and that mark,
the record is still pending here and the next sync sends the same body under
the same key; the server answers with the record it already made. So nothing is
lost (a record leaves "pending" only after the server holds it, or refused it)
and nothing is recorded twice (a resend is an idempotent replay).

At rest each payload is encrypted with AES-256-GCM under a key the device keeps
in its own file (never in the database), with the record id as associated data
so a ciphertext cannot be moved to another row. SQLite runs in WAL mode with
synchronous=FULL and commits every change on its own, so what ``add`` returned
survives a crash or a battery pull.
"""
from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PATH = "/api/v1/fallback-records"
PENDING, SENT, REJECTED = "pending", "sent", "rejected"
RETRY_LATER = frozenset({401, 408, 429})  # token to refresh, timeout, throttled: not the record's fault

Send = Callable[[str, dict[str, Any], str], tuple[int, Any]]
"""``send(path, body, idempotency_key) -> (status_code, json)``; raises OSError (incl. ConnectionError,
TimeoutError, requests' errors) when the network is not there."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- the order the nurse recorded them in
    id TEXT NOT NULL UNIQUE,                -- uuid; also the Idempotency-Key
    created_at TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'rejected')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,                        -- JSON: the server's problem, or the network error
    nonce BLOB NOT NULL,
    ciphertext BLOB NOT NULL,
    server_record_id TEXT,
    answer_nonce BLOB,                      -- the server's answer to a sent record (its co-payment, claim
    answer_ciphertext BLOB                  -- guidance and notices), encrypted like the payload
)
"""
_ADDED_COLUMNS = {"answer_nonce": "BLOB", "answer_ciphertext": "BLOB"}  # outboxes made before they existed


@dataclass(frozen=True)
class OutboxRecord:
    id: str
    created_at: str
    state: str
    attempts: int
    last_error: dict[str, Any] | None
    server_record_id: str | None
    payload: dict[str, Any]
    answer: dict[str, Any] | None = None  # what the server answered when it accepted the record


@dataclass
class SyncReport:
    sent: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    stopped: str | None = None  # why the sync stopped early (the rest stays pending), None if it went through

    @property
    def complete(self) -> bool:
        return self.stopped is None


class Outbox:
    def __init__(self, path: Path, key_path: Path, *, clock: Callable[[], datetime] | None = None) -> None:
        """``clock``: the agent's one clock (``Agent.now``: the device's clock corrected by the offset the server's
        answers taught), for ``created_at`` and a record's ``device_recorded_at``; still the device's claim (the
        server orders by its own clock)."""
        self._clock = clock or _utc_now
        self._aead = AESGCM(_load_or_create_key(Path(key_path)))
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))  # owner-only; SQLite's -wal/-shm follow it
        # isolation_level=None: autocommit, so no transaction stays open while ``send`` waits on the network.
        self._db = sqlite3.connect(path, isolation_level=None, timeout=15)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(_SCHEMA)
        present = {row[1] for row in self._db.execute("PRAGMA table_info(outbox)")}
        for column, kind in _ADDED_COLUMNS.items():
            if column not in present:
                self._db.execute(f"ALTER TABLE outbox ADD COLUMN {column} {kind}")

    def close(self) -> None:
        self._db.close()

    def _now(self) -> str:
        return self._clock().isoformat()

    def add(self, payload: dict[str, Any]) -> str:
        """Keep a record to send later; durable when this returns. Returns its id (its Idempotency-Key)."""
        record_id = str(uuid.uuid4())
        payload = dict(payload)
        payload.setdefault("device_recorded_at", self._now())
        nonce, ciphertext = self._seal(payload, record_id)
        self._db.execute("INSERT INTO outbox (id, created_at, state, nonce, ciphertext) VALUES (?, ?, ?, ?, ?)",
                         (record_id, self._now(), PENDING, nonce, ciphertext))
        return record_id

    def fix(self, record_id: str, payload: dict[str, Any]) -> None:
        """Replace a refused record's payload after the nurse corrected it, and queue it again under the
        same id (the same Idempotency-Key: the server does not remember refusals under a key, so the
        corrected body is accepted, and a lost answer is still replayed exactly once)."""
        record = self.get(record_id)
        if record is None or record.state != REJECTED:
            raise KeyError(record_id)
        nonce, ciphertext = self._seal({**record.payload, **payload}, record_id)
        self._db.execute("UPDATE outbox SET state = ?, last_error = NULL, nonce = ?, ciphertext = ? "
                         "WHERE id = ? AND state = ?", (PENDING, nonce, ciphertext, record_id, REJECTED))

    def recent(self, limit: int = 50) -> list[OutboxRecord]:
        """Every state, newest first: what the sync-state screen lists."""
        return self._select("ORDER BY seq DESC LIMIT ?", (limit,))

    def get(self, record_id: str) -> OutboxRecord | None:
        rows = self._select("WHERE id = ?", (record_id,))
        return rows[0] if rows else None

    def pending(self) -> list[OutboxRecord]:
        return self._select("WHERE state = ? ORDER BY seq", (PENDING,))

    def rejected(self) -> list[OutboxRecord]:
        """Refused by the server: the nurse must fix these; they are kept, never dropped."""
        return self._select("WHERE state = ? ORDER BY seq", (REJECTED,))

    def counts(self) -> dict[str, int]:
        """How many records are in each state (every state present, zero if none)."""
        found = dict(self._db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall())
        return {state: int(found.get(state, 0)) for state in (PENDING, REJECTED, SENT)}

    def sync(self, send: Send) -> SyncReport:
        """Send every pending record in order; stop at the first sign the network or server is not ready."""
        report = SyncReport()
        for record in self.pending():
            self._db.execute("UPDATE outbox SET attempts = attempts + 1 WHERE id = ?", (record.id,))
            try:
                status, answer = send(PATH, record.payload, record.id)
            except (ConnectionError, TimeoutError, OSError) as exc:
                self._set(record.id, PENDING, {"network": type(exc).__name__, "detail": str(exc)})
                report.stopped = "network"
                break
            # If the process dies here, the server may hold the record while it is still pending below:
            # the next sync resends it under the same key and the server replays its answer (exactly once).
            if 200 <= status < 300:
                server_id = answer.get("id") if isinstance(answer, dict) else None
                self._set(record.id, SENT, None, server_id, answer if isinstance(answer, dict) else None)
                report.sent.append(record.id)
            elif 400 <= status < 500 and status not in RETRY_LATER:
                self._set(record.id, REJECTED, answer if isinstance(answer, dict) else {"status": status})
                report.rejected.append(record.id)
            else:
                self._set(record.id, PENDING, {"status": status, "problem": answer})
                report.stopped = f"http {status}"
                break
        return report

    def _set(self, record_id: str, state: str, error: dict[str, Any] | None, server_id: str | None = None,
             answer: dict[str, Any] | None = None) -> None:
        nonce, ciphertext = self._seal(answer, f"{record_id}/answer") if answer is not None else (None, None)
        self._db.execute("UPDATE outbox SET state = ?, last_error = ?, server_record_id = COALESCE(?, "
                         "server_record_id), answer_nonce = COALESCE(?, answer_nonce), "
                         "answer_ciphertext = COALESCE(?, answer_ciphertext) WHERE id = ?",
                         (state, None if error is None else json.dumps(error, ensure_ascii=False), server_id,
                          nonce, ciphertext, record_id))

    def _select(self, where: str, params: tuple[Any, ...]) -> list[OutboxRecord]:
        rows = self._db.execute("SELECT id, created_at, state, attempts, last_error, server_record_id, nonce, "
                                f"ciphertext, answer_nonce, answer_ciphertext FROM outbox {where}", params).fetchall()
        return [OutboxRecord(id=r[0], created_at=r[1], state=r[2], attempts=r[3],
                             last_error=json.loads(r[4]) if r[4] else None, server_record_id=r[5],
                             payload=self._open(r[6], r[7], r[0]),
                             answer=self._open(r[8], r[9], f"{r[0]}/answer") if r[9] else None)
                for r in rows]

    def _seal(self, value: dict[str, Any], associated: str) -> tuple[bytes, bytes]:
        """(nonce, ciphertext) of a JSON value, bound to its row by the associated data."""
        nonce = os.urandom(12)
        return nonce, self._aead.encrypt(nonce, json.dumps(value, ensure_ascii=False).encode(), associated.encode())

    def _open(self, nonce: bytes, ciphertext: bytes, associated: str) -> Any:
        return json.loads(self._aead.decrypt(nonce, ciphertext, associated.encode()))


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _load_or_create_key(key_path: Path) -> bytes:
    """A 256-bit key in an owner-only file, written whole then linked into place: another process
    sees either no key or the complete key, and only one key can ever win."""
    key_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not key_path.exists():
        temporary = key_path.with_name(f".{key_path.name}.{uuid.uuid4().hex}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(AESGCM.generate_key(bit_length=256))
            handle.flush()
            os.fsync(handle.fileno())  # losing the key would lose every record it encrypted
        try:
            os.link(temporary, key_path)
        except FileExistsError:
            pass  # another process made the key first: use theirs
        finally:
            temporary.unlink()
        _fsync_dir(key_path.parent)
    key = key_path.read_bytes()
    if len(key) != 32:
        raise ValueError(f"outbox key {key_path} is not a 256-bit key")
    return key


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
