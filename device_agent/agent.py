"""The agent's own state on the device: where it is enrolled, its key, its outbox.

Everything lives in one data folder (``$DEVICE_AGENT_HOME``, default
``~/.local/share/mobile-oqs-agent``), created owner-only. The device's private
key never leaves it; the login's tokens live in memory only (``ApiClient``
rotates them), never on disk.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from device_agent import device_key
from device_agent.card.session import CardSession
from device_agent.client import ApiClient
from device_agent.labels import JST

DEFAULT_AUDIENCE = "mobile-oqs-api"
CLOCK_NOTICE_OFFSET = timedelta(minutes=1)  # a device clock this far from the server's is pointed out once a day
CLOCK_NOTICE_CHANGE = timedelta(minutes=1)  # … and again the same day when its offset has moved this much
CardSource = Callable[[], AbstractContextManager[CardSession]]


def default_home() -> Path:
    return Path(os.environ.get("DEVICE_AGENT_HOME") or Path.home() / ".local/share/mobile-oqs-agent")


@dataclass
class AgentHome:
    path: Path

    def __post_init__(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)

    @property
    def key_path(self) -> Path:
        return self.path / "device-key.pem"

    @property
    def config_path(self) -> Path:
        return self.path / "agent.json"

    @property
    def outbox_path(self) -> Path:
        return self.path / "outbox.sqlite3"

    @property
    def outbox_key_path(self) -> Path:
        return self.path / "outbox.key"

    def cards_dir(self) -> Path:
        return self.path / "cards"

    def config(self) -> dict[str, Any]:
        if not self.config_path.exists():
            return {}
        return json.loads(self.config_path.read_text(encoding="utf-8"))

    def save_config(self, values: dict[str, Any]) -> None:
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(values, ensure_ascii=False, indent=2), encoding="utf-8")
        os.replace(tmp, self.config_path)


class NotEnrolled(Exception):
    pass


class VirtualCardMissing(Exception):
    """``--virtual-card`` names neither a folder nor a card issued into the agent's cards folder."""

    def __init__(self, name: str, tried: list[Path]) -> None:
        super().__init__(name)
        self.name, self.tried = name, tried


@dataclass
class Agent:
    """``clock`` is the device's own clock; ``now()`` is the server's time (the device's plus the offset the
    server's answers taught, kept in agent.json for offline work), used for everything the agent dates."""

    home: AgentHome
    api: ApiClient = field(init=False)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def __post_init__(self) -> None:
        config = self.home.config()
        self.api = ApiClient(config.get("server_url", "http://127.0.0.1:8000"), clock=self.clock)
        if "server_offset_seconds" in config:
            self.api.server_offset = timedelta(seconds=float(config["server_offset_seconds"]))

    def now(self) -> datetime:
        return self.api.now()

    def clock_notice(self) -> str | None:
        """The Japanese note that this device's clock is off (the work goes on by the server's), once a day.

        Every CLI command is a new process that signs in, so what was said is kept in agent.json (the day in
        Japan by the server's clock, and the offset said; nothing personal): it is said again on a new day,
        when the offset has moved by ``CLOCK_NOTICE_CHANGE`` since, or after the clock was put right and drifted
        again (docs/rules.md §2.3)."""
        offset, config = self.api.server_offset, self.home.config()
        said = config.get("clock_notice") or {}
        if offset is None or abs(offset) < CLOCK_NOTICE_OFFSET:
            if said and offset is not None:  # put right: a later drift is news again
                self.home.save_config({k: v for k, v in config.items() if k != "clock_notice"})
            return None
        today = self.now().astimezone(JST).date().isoformat()
        moved = abs(offset.total_seconds() - float(said.get("offset_seconds", 0))) >= CLOCK_NOTICE_CHANGE.total_seconds()
        if said.get("day") == today and not moved:
            return None
        if config:
            self.home.save_config({**config, "clock_notice": {"day": today, "offset_seconds": offset.total_seconds()}})
        from device_agent.messages import clock_offset

        return clock_offset(offset)

    def _keep_offset(self) -> None:
        config = self.home.config()
        if self.api.server_offset is not None and config:
            self.home.save_config({**config, "server_offset_seconds": self.api.server_offset.total_seconds()})

    @property
    def enrolled(self) -> bool:
        return bool(self.home.config().get("device_id")) and self.home.key_path.exists()

    def enroll(self, server_url: str, activation_code: str) -> dict[str, Any]:
        """Make this device's key pair, register the public half with the one-time code."""
        self.api.base_url = server_url
        key = device_key.generate_key()
        answer = self.api.enrol(activation_code, device_key.public_key_pem(key))
        device_key.save_private_key(key, self.home.key_path)
        self.home.save_config({"server_url": server_url, "device_id": answer["device_id"],
                               "institution_code": answer["institution_code"],
                               "institution_name": answer["institution_name"]})
        self._keep_offset()
        return answer

    def assertion(self) -> str:
        config = self.home.config()
        if not self.enrolled:
            raise NotEnrolled("この端末はまだ登録されていません。device-agent enroll で登録してください。")
        key = device_key.load_private_key(self.home.key_path)
        return device_key.make_assertion(key, device_id=config["device_id"],
                                         audience=config.get("audience", DEFAULT_AUDIENCE), now=self.now())

    def login(self, login: str, password: str) -> dict[str, Any]:
        """Signs in with an assertion dated by the server's clock: the time is asked first (no login needed),
        so a tablet minutes or hours off is not refused as expired or from the future."""
        self.assertion()  # NotEnrolled first: an unenrolled folder has no institution code
        self.api.learn_server_time()
        self._keep_offset()
        return self.api.login(self.home.config()["institution_code"], login, password, self.assertion())
