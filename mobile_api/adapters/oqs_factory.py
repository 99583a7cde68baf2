"""Choose the OQS adapter from configuration (only the sandbox ships today)."""
from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from cryptography import x509
from sqlalchemy.orm import Session, sessionmaker

from ..clock import Clock
from .oqs import OQSGateway


class _Lazy:
    """Build the gateway on first use: the sandbox CA lives in the database, which
    may not be migrated yet when the app object is created (e.g. for ``flask db upgrade``)."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self._target: Any = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        if self._target is None:
            with self._lock:
                if self._target is None:
                    self._target = self._build()
        return getattr(self._target, name)


class _WithExtraAnchors:
    def __init__(self, inner: Any, anchors: list[x509.Certificate]) -> None:
        self._inner = inner
        self._anchors = anchors

    def trust_anchors(self) -> list[x509.Certificate]:
        return [*self._inner.trust_anchors(), *self._anchors]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _load_anchors(paths: list[str]) -> list[x509.Certificate]:
    anchors: list[x509.Certificate] = []
    for path in paths:
        with open(path, "rb") as handle:
            anchors.extend(x509.load_pem_x509_certificates(handle.read()))
    return anchors


def build_oqs(cfg: Mapping[str, Any], session_factory: sessionmaker[Session], clock: Clock) -> OQSGateway:
    backend = cfg["OQS_BACKEND"]
    if backend != "sandbox":
        raise ValueError(f"unknown OQS_BACKEND {backend!r} (available: sandbox)")

    def build() -> Any:
        from ..sandbox.ca import SandboxCA
        from ..sandbox.gateway import SandboxOQS
        from ..sandbox.personas import PersonaBook

        gateway = SandboxOQS(SandboxCA.load_or_create(session_factory, clock), PersonaBook.default(), clock=clock)
        extra = _load_anchors(list(cfg["JPKI_TRUST_ANCHORS"]))
        return _WithExtraAnchors(gateway, extra) if extra else gateway

    return _Lazy(build)  # type: ignore[return-value]
