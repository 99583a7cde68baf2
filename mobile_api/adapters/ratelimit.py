"""Per-client request limits on the `limits` library (the one behind Flask-Limiter), docs/health-check-api.md.

``RATE_LIMITS`` gives one limit per OAuth scope (``{"qualification:check": "600/minute"}``); each machine
client has its own counter per scope. ``RATE_LIMIT_STORAGE_URL`` says where the counters live:

- ``memory://`` (default): in this process. Right for the embedded default (one process); with several
  gunicorn workers each would count alone, so a client would get N times its limit.
- ``redis://host:6379/0`` (production, deploy/compose.yaml): one shared counter for every worker and
  replica; `limits` updates it atomically (a Lua script), so two workers cannot both let the last request
  through. Memcached and MongoDB URLs work too (``limits`` storage schemes).

The window is a moving window where the store supports one (memory, Redis), else a fixed window. The
windows run on the store's own time (Redis expiry, ``time.time()``), not on the injected clock: a limit is
about real request rates, and a frozen test clock must not stop its windows from ending.

If the shared store cannot be reached the request is let through and a warning is logged: the limit
protects capacity, and a Redis outage must not stop qualification checks.
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping

from limits import RateLimitItem, parse
from limits.storage import MovingWindowSupport, Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter, RateLimiter

from ..domain.errors import RateLimited

log = logging.getLogger(__name__)
NAMESPACE = "mobile-oqs"


class RateLimits:
    def __init__(self, limits: Mapping[str, str], storage_url: str = "memory://") -> None:
        self.items: dict[str, RateLimitItem] = {scope: parse(text) for scope, text in limits.items()}
        self.storage: Storage = storage_from_string(storage_url)
        self.limiter: RateLimiter = (MovingWindowRateLimiter(self.storage) if isinstance(self.storage, MovingWindowSupport)
                                     else FixedWindowRateLimiter(self.storage))

    def hit(self, scope: str, client_id: str) -> None:
        """Count one request of ``client_id`` under ``scope``; over the limit, raise ``RateLimited`` (429) with
        ``retry_after`` = whole seconds until the window lets the next one through."""
        item = self.items.get(scope)
        if item is None:
            return
        try:
            if self.limiter.hit(item, NAMESPACE, scope, client_id):
                return
            reset_at = self.limiter.get_window_stats(item, NAMESPACE, scope, client_id).reset_time
        except Exception as exc:  # noqa: BLE001 - the store is down: let the request through (module docstring)
            log.warning("rate limit store unavailable, request let through: %s", type(exc).__name__)
            return
        retry_after = max(1, math.ceil(reset_at - time.time()))
        raise RateLimited(f"このクライアントの上限（{describe(item)}）を超えました。{retry_after}秒後に再度お試しください。",
                          limit=str(item), retry_after=retry_after)

    def reset(self) -> None:
        """Forget every counter (tests, or an operator lifting a block)."""
        self.storage.reset()


UNITS_JA = {"second": "秒", "minute": "分", "hour": "時間", "day": "日", "month": "か月", "year": "年"}


def describe(item: RateLimitItem) -> str:
    """``600/minute`` as 「1分あたり600回」."""
    unit = UNITS_JA.get(item.GRANULARITY.name, item.GRANULARITY.name)
    return f"{item.multiples}{unit}あたり{item.amount}回"


def build(limits: Mapping[str, str] | None, storage_url: str | None) -> RateLimits | None:
    """None when no limit is configured (``RATE_LIMITS`` empty)."""
    if not limits:
        return None
    return RateLimits(limits, storage_url or "memory://")
