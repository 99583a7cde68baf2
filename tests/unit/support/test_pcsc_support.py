"""The PC/SC leg may skip on a developer's machine, never in CI (REQUIRE_PCSC=1, set by .ci/run)."""
from __future__ import annotations

import pytest

from tests.support.pcsc_fixtures import unavailable


def test_a_missing_pcsc_leg_skips_locally(monkeypatch) -> None:
    monkeypatch.delenv("REQUIRE_PCSC", raising=False)
    with pytest.raises(pytest.skip.Exception):
        unavailable("pcscd not found")


def test_a_missing_pcsc_leg_fails_under_require_pcsc(monkeypatch) -> None:
    monkeypatch.setenv("REQUIRE_PCSC", "1")
    with pytest.raises(pytest.fail.Exception, match="REQUIRE_PCSC=1"):
        unavailable("pcscd not found")


def test_ci_requires_the_pcsc_leg() -> None:
    from pathlib import Path

    ci = (Path(__file__).resolve().parents[3] / ".ci" / "run").read_text()
    assert "export REQUIRE_PCSC=1" in ci and "pcscd vsmartcard-vpcd" in ci
