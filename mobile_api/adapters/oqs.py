"""The national system (オンライン資格確認等システム) as seen from this server.

The real OQS is reachable only on a closed network, so the server depends on
this small interface; ``mobile_api.sandbox.gateway.SandboxOQS`` is the embedded
default and a production adapter can replace it without touching the services.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from cryptography import x509

from ..domain.codes import CareType, Form, IdentityMethod, InfoKind
from ..domain.qualification import QualificationResult


@dataclass(frozen=True)
class ConfirmationRequest:
    institution_code: str  # 医療機関コード (10 digits)
    certificate: x509.Certificate  # the card's user-auth certificate, already verified
    care_type: CareType
    form: Form
    method: IdentityMethod
    consent_kinds: frozenset[InfoKind]  # empty for form ③ or no consent
    at: datetime


class OQSGateway(Protocol):
    def confirm(self, request: ConfirmationRequest) -> QualificationResult:
        """Resolve the person behind the certificate and return their qualification.

        Raises ``QualificationUnavailable`` when the system cannot be reached.
        """

    def medical_information(
        self, *, institution_code: str, person_ref: str, kind: InfoKind, at: datetime
    ) -> list[dict[str, Any]]:
        """The consented records of one kind, fetched at view time (never stored here)."""

    def trust_anchors(self) -> list[x509.Certificate]:
        """JPKI CA certificates this gateway accepts user-auth certificates from."""


class LazyGateway:
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


class WithExtraAnchors:
    def __init__(self, inner: Any, anchors: list[x509.Certificate]) -> None:
        self._inner = inner
        self._anchors = anchors

    def trust_anchors(self) -> list[x509.Certificate]:
        return [*self._inner.trust_anchors(), *self._anchors]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
