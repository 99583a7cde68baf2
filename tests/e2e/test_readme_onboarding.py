"""The README's onboarding commands, run as written (parsed from README.md): institution, staff and device from
the command line, the API under gunicorn, the agent enrolled from the QR PNG and a ② visit with the virtual card."""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from pathlib import Path

import requests

from tests.e2e.conftest import E2E_CONFIG

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"<!-- onboarding:(\w+)[^>]*-->\s*```sh\n(.*?)```", re.S)


def readme_blocks() -> dict[str, str]:
    return {name: body for name, body in BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8"))}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=180)


def test_readme_onboarding_commands_work_as_written(tmp_path: Path) -> None:
    blocks = readme_blocks()
    assert set(blocks) >= {"server", "start", "device"}, blocks.keys()
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")  # the commands say .venv/bin/...: `make setup` made it
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
           "DEVICE_AGENT_HOME": str(tmp_path / "agent"),
           "MOBILE_API_JWT_KEYS": json.dumps(E2E_CONFIG["JWT_KEYS"]), "MOBILE_API_JWT_ACTIVE_KID": "test1",
           "MOBILE_API_ARGON2_TIME_COST": "1", "MOBILE_API_ARGON2_MEMORY_COST_KIB": "1024",
           "MOBILE_API_JOBS_EMBEDDED_WORKERS": "0"}
    server_lines = blocks["server"].strip().splitlines()
    assert server_lines[0] == "make setup"  # the venv this test runs in is that one
    setup = run("\n".join(server_lines[1:]), tmp_path, env)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert re.search(r"アクティベーションコード: \d{12}\n", setup.stdout), setup.stdout
    assert (tmp_path / "activation.png").read_bytes().startswith(b"\x89PNG")
    assert "Traceback" not in setup.stderr

    again = run(next(line for line in server_lines if "institution create" in line), tmp_path, env)
    assert again.returncode == 1
    assert again.stderr.strip() == "エラー: この医療機関等コードはすでに登録されています。", again.stderr

    port = free_port()
    start = blocks["start"].strip().replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    server = subprocess.Popen(["bash", "-c", f"exec {start}"], cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/api/openapi.json", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        device = run(blocks["device"].replace("127.0.0.1:8000", f"127.0.0.1:{port}"), tmp_path, env)
        out = device.stdout + device.stderr
        assert device.returncode == 0, out
        assert "資格確認が完了しました" in out and "■ 薬剤情報" in out, out
    finally:
        server.terminate()
        server.wait(timeout=10)
