"""The device outbox alone, with a fake ``send``: what stays pending, what stops a sync, what is rejected."""
import sqlite3
import stat
from datetime import UTC

import pytest
from cryptography.exceptions import InvalidTag

from device_agent.outbox import PATH, Outbox


class FakeServer:
    """Answers like the API: 201 with a record, the same record again for a key it has seen."""

    def __init__(self, answers=None):
        self.answers = list(answers or [])  # scripted (status, json) or exceptions, then 201s
        self.records: dict[str, dict] = {}
        self.calls: list[tuple[str, dict, str]] = []

    def __call__(self, path, body, key):
        self.calls.append((path, body, key))
        if self.answers:
            answer = self.answers.pop(0)
            if isinstance(answer, BaseException):
                raise answer
            return answer
        self.records.setdefault(key, {"id": f"srv-{len(self.records) + 1}", **body})
        return 201, self.records[key]


@pytest.fixture
def outbox(tmp_path):
    box = Outbox(tmp_path / "data" / "outbox.sqlite3", tmp_path / "keys" / "outbox.key")
    yield box
    box.close()


def fill(outbox, n=3):
    return [outbox.add({"method": "oral_revisit", "patient_reference": f"P-{i}"}) for i in range(n)]


def test_the_device_time_comes_from_the_agents_clock(tmp_path):
    from datetime import datetime

    at = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)
    box = Outbox(tmp_path / "outbox.sqlite3", tmp_path / "outbox.key", clock=lambda: at)
    try:
        record = box.get(box.add({"method": "oral_revisit"}))
        assert record.payload["device_recorded_at"] == at.isoformat() and record.created_at == at.isoformat()
    finally:
        box.close()


def test_add_keeps_the_payload_and_the_device_time(outbox):
    record_id = outbox.add({"method": "oral_revisit"})
    record = outbox.get(record_id)
    assert record.state == "pending" and record.attempts == 0
    assert record.payload["method"] == "oral_revisit" and record.payload["device_recorded_at"]
    assert [r.id for r in outbox.pending()] == [record_id]


def test_key_and_folders_are_owner_only_and_the_key_is_reused(tmp_path, outbox):
    key = tmp_path / "keys" / "outbox.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_bytes()) == 32
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "data" / "outbox.sqlite3").stat().st_mode) == 0o600
    record_id = outbox.add({"x": 1})
    reopened = Outbox(tmp_path / "data" / "outbox.sqlite3", key)
    assert reopened.get(record_id).payload["x"] == 1
    reopened.close()


def test_durable_settings(outbox):
    assert outbox._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert outbox._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_sync_sends_in_order_with_the_record_id_as_the_key(outbox):
    ids = fill(outbox)
    server = FakeServer()
    report = outbox.sync(server)
    assert report.complete and report.sent == ids
    assert [(path, key) for path, _, key in server.calls] == [(PATH, i) for i in ids]
    assert [outbox.get(i).server_record_id for i in ids] == ["srv-1", "srv-2", "srv-3"]
    assert outbox.pending() == []


@pytest.mark.parametrize("error", [ConnectionError("no route"), TimeoutError("timed out"), OSError("network down")])
def test_a_network_error_leaves_everything_pending(outbox, error):
    ids = fill(outbox)
    server = FakeServer([error])
    report = outbox.sync(server)
    assert report.stopped == "network" and report.sent == []
    assert len(server.calls) == 1
    assert [r.id for r in outbox.pending()] == ids
    first = outbox.get(ids[0])
    assert first.attempts == 1 and first.last_error["network"] == type(error).__name__


@pytest.mark.parametrize("status", [500, 502, 503, 401, 408, 429])
def test_server_trouble_stops_the_sync_and_keeps_the_rest(outbox, status):
    ids = fill(outbox)
    server = FakeServer([(201, {"id": "srv-a"}), (status, {"type": "/problems/x"})])
    report = outbox.sync(server)
    assert report.sent == ids[:1] and report.stopped == f"http {status}"
    assert len(server.calls) == 2  # the third was not tried
    assert [r.id for r in outbox.pending()] == ids[1:]
    assert outbox.get(ids[1]).last_error["status"] == status


def test_a_4xx_is_rejected_with_its_problem_and_does_not_block_the_rest(outbox):
    ids = fill(outbox)
    problem = {"type": "/problems/validation-failed", "status": 422,
               "errors": [{"pointer": "/evidence/insurer_number", "detail": "保険者番号に誤りがあります。"}]}
    report = outbox.sync(FakeServer([(422, problem)]))
    assert report.complete and report.rejected == ids[:1] and report.sent == ids[1:]
    rejected = outbox.get(ids[0])
    assert rejected.state == "rejected" and rejected.last_error == problem
    assert rejected.payload["patient_reference"] == "P-0"  # kept for the nurse to fix
    assert [r.id for r in outbox.rejected()] == ids[:1]


def test_a_crash_after_the_server_accepted_resends_the_same_key(outbox):
    ids = fill(outbox, 2)
    server = FakeServer()

    def dies_after_answer(path, body, key):
        server(path, body, key)
        raise SystemExit("killed before the local mark")

    with pytest.raises(SystemExit):
        outbox.sync(dies_after_answer)
    assert outbox.get(ids[0]).state == "pending" and len(server.records) == 1
    assert outbox.sync(server).sent == ids
    assert len(server.records) == 2 and outbox.get(ids[0]).server_record_id == "srv-1"


def test_another_key_cannot_decrypt(tmp_path, outbox):
    outbox.add({"name": "佐藤 健一"})
    thief = Outbox(tmp_path / "data" / "outbox.sqlite3", tmp_path / "other.key")
    with pytest.raises(InvalidTag):
        thief.pending()
    thief.close()


def test_a_ciphertext_cannot_be_moved_to_another_row(tmp_path, outbox):
    a, b = outbox.add({"who": "a"}), outbox.add({"who": "b"})
    db = sqlite3.connect(tmp_path / "data" / "outbox.sqlite3", isolation_level=None)
    nonce, ciphertext = db.execute("SELECT nonce, ciphertext FROM outbox WHERE id = ?", (a,)).fetchone()
    db.execute("UPDATE outbox SET nonce = ?, ciphertext = ? WHERE id = ?", (nonce, ciphertext, b))
    db.close()
    with pytest.raises(InvalidTag):
        outbox.get(b)
