"""The national system (オンライン資格確認等システム) as seen from this server.

The real OQS is reachable only on a closed network, so the server depends on
this small interface; ``mobile_api.sandbox.gateway.SandboxOQS`` is the embedded
default and a production adapter can replace it without touching the services.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
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


@dataclass(frozen=True)
class IdentifierQuery:
    """A lookup by insurance identifiers (記号・番号 lookup), already normalised and checked
    (``mobile_api.domain.identifiers.Identifiers``): no card, so no identity check and never a
    consent or a viewing window. ``purpose`` names the caller's use for the gateway's own log
    ("qualification_check", "post_hoc_confirmation", "fallback_check", ...)."""

    institution_code: str  # 医療機関等コード (10 digits)
    insurer_number: str  # 8 digits (6 for 国保), or the unknown-claim 77777777 where the caller allows it
    symbol: str | None  # 記号 (NFKC)
    number: str  # 番号 (NFKC)
    branch_number: str | None  # 枝番, two digits; None when the caller does not know it
    birth_date: date
    at: datetime
    purpose: str = "qualification_check"


@dataclass(frozen=True)
class RequeryRequest:
    """A re-query (再照会) on a continuing home-care visit: no card, on the strength of the card-verified
    visit that opened the relationship; ``person_ref`` is the handle OQS gave then."""

    institution_code: str  # 医療機関等コード (10 digits)
    person_ref: str
    care_type: CareType
    consent_kinds: frozenset[InfoKind]  # never wider than the card-verified visit's consent
    at: datetime


class OQSGateway(Protocol):
    def confirm(self, request: ConfirmationRequest) -> QualificationResult:
        """Resolve the person behind the certificate and return their qualification.

        Raises ``QualificationUnavailable`` when the system cannot be reached.
        """

    def lookup(self, query: IdentifierQuery) -> QualificationResult:
        """The qualification held under these identifiers, as for a card check (statuses 1-6).

        Several people matching (e.g. no branch number, twins) is status 5 with ``candidates``; none is
        status 4. The result never carries a consent (``consent_flag`` 0). Raises
        ``QualificationUnavailable`` when the system cannot be reached.
        """

    def requery(self, request: RequeryRequest) -> QualificationResult:
        """A fresh qualification for a person already resolved by a card-verified visit (statuses 1-6).

        An unknown handle is status 4. Raises ``QualificationUnavailable`` when the system cannot be reached.
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
        if name in ("_build", "_target", "_lock"):  # not set yet (copy, pickle): no recursion through here
            raise AttributeError(name)
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
