"""The device outbox against the real API: plain sync, a sync killed for real, encryption at rest, rejections.

The kill test runs the sync in a separate process that talks HTTP to the app
served on a real socket, and SIGKILLs it after the server has accepted record 2
and before the outbox could mark it sent. The next sync must leave every record
on the server exactly once.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography.exceptions import InvalidTag
from werkzeug.serving import make_server

from device_agent import fallback as agent_fallback
from device_agent.outbox import Outbox

NAME, INSURER = "佐藤 健一", "01130012"


def payload(ref: str, insurer: str = INSURER) -> dict:
    return {"care_type": 2, "form": "home_consent", "method": "notice_with_card", "reason": "offline",
            "patient_reference": ref, "evidence": {"card_presented": True, "insurer_number": insurer, "name": NAME,
                                                   "number": "1287", "birth_date": "1984-05-12"}}


def http_send(base_url: str, token: str):  # type: ignore[no-untyped-def]
    """What the agent's HTTP client will provide: POST with the bearer token and the Idempotency-Key."""
    session = requests.Session()
    session.trust_env = False  # never route 127.0.0.1 through a proxy from the environment

    def send(path: str, body: dict, key: str) -> tuple[int, dict]:
        r = session.post(base_url + path, json=body, timeout=30,
                         headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key})
        return r.status_code, r.json()

    return send


def client_send(h, token: str):  # type: ignore[no-untyped-def]
    def send(path: str, body: dict, key: str) -> tuple[int, dict]:
        r = h.client.post(path, json=body, headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key})
        return r.status_code, r.get_json()

    return send


def server_records(h, token: str) -> list[dict]:
    r = h.client.get("/api/v1/fallback-records", query_string={"limit": 500},
                     headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


@pytest.fixture
def live_server(h) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The app on a real socket (127.0.0.1, free port), served from a thread of this process."""
    server = make_server("127.0.0.1", 0, h.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)


@pytest.fixture
def paths(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "device" / "outbox.sqlite3", tmp_path / "device-keys" / "outbox.key"


def test_plain_sync_of_three_records(h, paths):
    nurse = h.institution().nurse()
    box = Outbox(*paths, clock=h.clock)
    ids = [box.add(payload(f"P-{i}")) for i in range(3)]
    report = box.sync(client_send(h, nurse))
    assert report.complete and report.sent == ids
    on_server = server_records(h, nurse)
    assert len(on_server) == 3
    assert {r["id"] for r in on_server} == {box.get(i).server_record_id for i in ids}
    assert all(box.get(i).state == "sent" for i in ids)
    box.close()


def _sync_and_freeze_after_second_acceptance(outbox_path: str, key_path: str, base_url: str, token: str,
                                             conn) -> None:  # type: ignore[no-untyped-def]
    """Child process: sync; once the server has accepted record 2, tell the parent and wait to be killed
    (inside ``send``, i.e. after the server's answer and before the outbox marks the record sent)."""
    box = Outbox(Path(outbox_path), Path(key_path))
    send = http_send(base_url, token)
    accepted = 0

    def send_then_freeze(path: str, body: dict, key: str) -> tuple[int, dict]:
        nonlocal accepted
        status, answer = send(path, body, key)
        if 200 <= status < 300:
            accepted += 1
            if accepted == 2:
                conn.send((key, answer["id"]))
                time.sleep(600)  # SIGKILLed here
        return status, answer

    box.sync(send_then_freeze)
    conn.send(("not killed", None))


def test_sync_killed_between_the_servers_answer_and_the_local_mark_loses_and_doubles_nothing(
        h, paths, live_server):
    nurse = h.institution().nurse()
    box = Outbox(*paths, clock=h.clock)
    ids = [box.add(payload(f"P-{i}")) for i in range(3)]

    ctx = multiprocessing.get_context("spawn")  # a clean child: no threads or DB handles inherited
    reader, writer = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_sync_and_freeze_after_second_acceptance,
                        args=(str(paths[0]), str(paths[1]), live_server, nurse, writer), daemon=True)
    child.start()
    try:
        assert reader.poll(120), "the child never reported the server's acceptance of record 2"
        key, server_id_of_second = reader.recv()
        # The child is alive and frozen: the server holds record 2, the outbox still has it pending.
        assert key == ids[1]
        assert box.get(ids[0]).state == "sent" and box.get(ids[1]).state == "pending"
        assert box.get(ids[1]).attempts == 1 and box.get(ids[2]).attempts == 0
        assert len(server_records(h, nurse)) == 2
        os.kill(child.pid, signal.SIGKILL)
        child.join(30)
        assert child.exitcode == -signal.SIGKILL
    finally:
        if child.is_alive():
            child.kill()
            child.join(10)

    report = box.sync(http_send(live_server, nurse))  # the signal is back: the next sync
    assert report.complete and report.sent == ids[1:]

    on_server = server_records(h, nurse)
    assert len(on_server) == 3, "a record was lost or recorded twice"
    assert sorted(r["patient_reference"] for r in on_server) == ["P-0", "P-1", "P-2"]
    assert box.get(ids[1]).server_record_id == server_id_of_second  # the resend got the first answer back
    assert box.get(ids[1]).attempts == 2
    assert {box.get(i).server_record_id for i in ids} == {r["id"] for r in on_server}
    assert box.pending() == [] and all(box.get(i).state == "sent" for i in ids)
    box.close()


def test_no_network_leaves_the_records_pending(h, paths, live_server):
    nurse = h.institution().nurse()
    box = Outbox(*paths, clock=h.clock)
    ids = [box.add(payload(f"P-{i}")) for i in range(2)]
    with socket.socket() as held:  # bound, never listening: refused, and nobody else can take the port meanwhile
        held.bind(("127.0.0.1", 0))
        report = box.sync(http_send(f"http://127.0.0.1:{held.getsockname()[1]}", nurse))
    assert report.stopped == "network" and [r.id for r in box.pending()] == ids
    assert box.sync(http_send(live_server, nurse)).sent == ids
    assert len(server_records(h, nurse)) == 2
    box.close()


def test_payloads_are_encrypted_at_rest(h, paths):
    nurse = h.institution().nurse()
    box = Outbox(*paths, clock=h.clock)
    record_id = box.add(payload("P-secret"))
    on_disk = b"".join(p.read_bytes() for p in paths[0].parent.iterdir() if p.is_file())
    assert on_disk, "the outbox files are empty"
    for secret in (NAME, INSURER, "P-secret"):
        assert secret.encode() not in on_disk
    assert box.get(record_id).payload["evidence"]["name"] == NAME

    intruder = Outbox(paths[0], paths[0].parent.parent / "another.key")
    with pytest.raises(InvalidTag):
        intruder.get(record_id)
    intruder.close()
    assert box.sync(client_send(h, nurse)).sent == [record_id]
    assert server_records(h, nurse)[0]["evidence"]["name"] == NAME
    box.close()


def test_a_rejected_record_is_kept_with_its_problem_and_does_not_block_the_rest(h, paths):
    nurse = h.institution().nurse()
    box = Outbox(*paths, clock=h.clock)
    ids = [box.add(payload("P-0")), box.add(payload("P-1", insurer="01130013")), box.add(payload("P-2"))]
    report = box.sync(client_send(h, nurse))
    assert report.complete and report.sent == [ids[0], ids[2]] and report.rejected == [ids[1]]
    rejected = box.get(ids[1])
    assert rejected.state == "rejected" and rejected.server_record_id is None
    assert rejected.last_error["type"] == "/problems/validation-failed"
    assert [e["pointer"] for e in rejected.last_error["errors"]] == ["/evidence/insurer_number"]
    assert rejected.payload["evidence"]["insurer_number"] == "01130013"  # nothing lost: the nurse fixes it
    assert sorted(r["patient_reference"] for r in server_records(h, nurse)) == ["P-0", "P-2"]
    assert box.sync(client_send(h, nurse)).sent == []  # a rejected record is not resent blindly
    box.close()


def test_a_device_clock_running_ahead_is_refused_by_the_server_and_the_outbox_keeps_its_reason(h, paths):
    """The server judges the date (docs/rules.md §5): the device keeps the server's verdict in Japanese."""
    from datetime import timedelta

    nurse = h.institution().nurse()
    box = Outbox(*paths, clock=lambda: h.clock() + timedelta(days=3))  # the tablet's clock is 3 days ahead
    record_id = box.add(payload("P-ahead"))
    report = box.sync(client_send(h, nurse))
    assert report.rejected == [record_id] and server_records(h, nurse) == []
    refused = box.get(record_id)
    assert refused.last_error["type"] == "/problems/device-time-refused"
    assert refused.last_error["rule"] == "recorded-in-future" and "端末の日付と時刻" in refused.last_error["detail"]
    shown = agent_fallback.describe_problem(refused.last_error)  # what the agent's outbox screen prints
    assert shown == [f"記録した時刻: {refused.last_error['detail']}"]
    box.fix(record_id, {"device_recorded_at": h.clock().isoformat()})  # the nurse corrects the time
    assert box.sync(client_send(h, nurse)).sent == [record_id]
    box.close()
