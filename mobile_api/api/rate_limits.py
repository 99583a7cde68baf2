"""Per-client limits at the edge of the machine-client endpoints (adapters/ratelimit.py): 429 problem+json
with ``Retry-After``."""
from __future__ import annotations

from flask import Flask, Response

from ..domain.errors import RateLimited
from ..runtime import Runtime
from ..services.principal import Principal
from .problems import from_domain_error


def enforce(rt: Runtime, who: Principal, scope: str) -> None:
    """Count this request against the client's limit for ``scope`` (after authentication: per client)."""
    if rt.rate_limits is not None and who.client_id is not None:
        rt.rate_limits.hit(scope, who.client_id)


def _too_many(error: RateLimited) -> Response:
    response = from_domain_error(error)
    response.headers["Retry-After"] = str(int(error.extra.get("retry_after", 1)))
    return response


def init_app(app: Flask) -> None:
    app.register_error_handler(RateLimited, _too_many)
