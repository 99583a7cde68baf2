"""Smoke test of bench/card_verification.py: one run, no card delays, no timing thresholds.

It checks what the benchmark reports is consistent (APDU counts against the session's documented
budget, and that subtracting the virtual card's CPU leaves a positive agent share), not how fast
anything is.
"""
from __future__ import annotations

import json
import math

import pytest

from bench.card_verification import format_report, main, run_benchmark
from device_agent.card.sim.nfc_virtual import VirtualReaderDevice


@pytest.fixture(scope="module")
def report() -> dict:
    original = VirtualReaderDevice.send_cmd_recv_rsp
    result = run_benchmark(runs=1, modelled_run=False)
    assert VirtualReaderDevice.send_cmd_recv_rsp is original  # the metering patch was undone
    return result


def test_apdu_counts_match_the_budget(report: dict) -> None:
    base = 7 + math.ceil(report["certificate_length"] / 256)
    without, with_token = report["variants"]["without_token_info"], report["variants"]["with_token_info"]

    assert report["aim"]["apdus"] == base
    assert without["apdus"] == base and without["verdict"] == "PASS"
    assert with_token["apdus"] == base + 2 and with_token["verdict"] == "OVER" and with_token["over_by"] == 2
    for variant in (without, with_token):
        traffic = variant["traffic"]
        assert traffic["apdu_bytes_to_card"] > 0 and traffic["apdu_bytes_from_card"] > report["certificate_length"]
        assert traffic["blocks_to_card"] >= variant["apdus"] and traffic["blocks_from_card"] >= variant["apdus"]
        assert traffic["wtx_requests"] == 0  # no card delays, so the card never asks for more time


def test_agent_cpu_is_the_positive_remainder_of_the_process_total(report: dict) -> None:
    for variant in report["variants"].values():
        assert variant["runs"] == 1
        (sample,) = variant["samples"]
        assert sample["apdu_delay"] == sample["sign_delay"] == 0 and sample["modelled_card_time"] == 0
        assert 0 < sample["agent_cpu"] < sample["total_cpu"]
        assert 0 < sample["card_cpu"] <= sample["below_driver_cpu"] < sample["total_cpu"]
        assert sample["agent_cpu"] == pytest.approx(sample["total_cpu"] - sample["below_driver_cpu"])
        assert 0 < variant["cpu"]["agent_cpu"]["median"] < variant["cpu"]["total_cpu"]["median"]
        assert set(sample["phases"]) == {"connect", "identify", "tries_left", "verify_pin", "sign_challenge", "close"}


def test_report_renders(report: dict) -> None:
    text = format_report(report)
    assert "PASS" in text and "OVER (+2)" in text and "agent CPU" in text


def test_command_line_writes_json(tmp_path, capsys) -> None:
    out = tmp_path / "card.json"
    assert main(["--runs", "1", "--no-modelled-run", "--json", str(out)]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["benchmark"] == "card_verification" and data["modelled_run"] is None
    assert "APDU budget" in capsys.readouterr().out
