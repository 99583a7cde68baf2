"""``HttpOQS``: the national system over the network (``OQSGateway``), with timeouts, retries and a breaker.

The API must answer quickly when OQS is slow or down, so the nurse can switch to a fallback method
(docs/rules.md §5) instead of waiting on a spinner:

- **Timeouts**: a connect timeout and a read timeout per attempt (``OQS_CONNECT_TIMEOUT_SECONDS``,
  ``OQS_READ_TIMEOUT_SECONDS``).
- **Bounded retries** (urllib3 ``Retry``): only failures that happen *before* OQS did any work (connection
  refused or failed, 502/503/504 at the gateway), at most ``OQS_RETRIES`` times with a short backoff, never a
  ``Retry-After`` that would hold the request. A read timeout is not retried: the caller already waited.
  The calls are queries (no state changes at OQS), so a retried POST cannot do anything twice.
- **Circuit breaker** (pybreaker): after ``OQS_BREAKER_FAILURES`` consecutive failures every call fails at once
  for ``OQS_BREAKER_RESET_SECONDS``, then one trial call decides. While it is open no worker thread waits on a
  dead system. A domain answer (e.g. status 4 "no match", a refused face-recognition card) is not a failure.

Every failure is ``QualificationUnavailable``: the API's 503 problem+json with Retry-After and, during a
confirmation, the fallback options; the services record the attempt (nothing is lost). The wire format is
the one ``mobile_api.sandbox.server`` serves (docs/sandbox.md); a real OQS gateway would replace the encoding
here and keep the resilience.
"""
from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from dataclasses import fields
from datetime import date, datetime
from typing import Any

import pybreaker
import urllib3
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from urllib3.util.retry import Retry

from ..domain import errors as domain_errors
from ..domain.codes import ConsentFlag, EligibilityStatus, InfoKind
from ..domain.errors import DomainError, QualificationUnavailable
from ..domain.qualification import ElderlyCertificate, Qualification, QualificationResult, SpecifiedDisease
from .oqs import ConfirmationRequest, IdentifierQuery, RequeryRequest

UNAVAILABLE_DETAIL = "オンライン資格確認等システムが応答しません。"
TRUST_ANCHORS_TTL_SECONDS = 300.0
_JSON_HEADERS = {"Content-Type": "application/json"}


# -- the wire format (shared with mobile_api.sandbox.server) -------------------------------------------------------

def encode_confirmation(request: ConfirmationRequest) -> dict[str, Any]:
    return {"institution_code": request.institution_code,
            "certificate": base64.b64encode(request.certificate.public_bytes(Encoding.DER)).decode(),
            "care_type": int(request.care_type), "form": str(request.form), "method": str(request.method),
            "consent_kinds": sorted(str(kind) for kind in request.consent_kinds), "at": request.at.isoformat()}


def decode_confirmation(raw: dict[str, Any]) -> ConfirmationRequest:
    from ..domain.codes import CareType, Form, IdentityMethod

    return ConfirmationRequest(
        institution_code=raw["institution_code"],
        certificate=x509.load_der_x509_certificate(base64.b64decode(raw["certificate"])),
        care_type=CareType(raw["care_type"]), form=Form(raw["form"]), method=IdentityMethod(raw["method"]),
        consent_kinds=frozenset(InfoKind(kind) for kind in raw["consent_kinds"]),
        at=datetime.fromisoformat(raw["at"]))


def encode_query(query: IdentifierQuery) -> dict[str, Any]:
    return {"institution_code": query.institution_code, "insurer_number": query.insurer_number,
            "symbol": query.symbol, "number": query.number, "branch_number": query.branch_number,
            "birth_date": query.birth_date.isoformat(), "at": query.at.isoformat(), "purpose": query.purpose}


def decode_query(raw: dict[str, Any]) -> IdentifierQuery:
    return IdentifierQuery(institution_code=raw["institution_code"], insurer_number=raw["insurer_number"],
                           symbol=raw["symbol"], number=raw["number"], branch_number=raw["branch_number"],
                           birth_date=date.fromisoformat(raw["birth_date"]), at=datetime.fromisoformat(raw["at"]),
                           purpose=raw.get("purpose", "qualification_check"))


def encode_requery(request: RequeryRequest) -> dict[str, Any]:
    return {"institution_code": request.institution_code, "person_ref": request.person_ref,
            "care_type": int(request.care_type),
            "consent_kinds": sorted(str(kind) for kind in request.consent_kinds), "at": request.at.isoformat()}


def decode_requery(raw: dict[str, Any]) -> RequeryRequest:
    from ..domain.codes import CareType

    return RequeryRequest(institution_code=raw["institution_code"], person_ref=raw["person_ref"],
                          care_type=CareType(raw["care_type"]),
                          consent_kinds=frozenset(InfoKind(kind) for kind in raw["consent_kinds"]),
                          at=datetime.fromisoformat(raw["at"]))


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if value else None


def decode_result(raw: dict[str, Any]) -> QualificationResult:
    """The inverse of ``QualificationResult.to_dict``."""
    q = raw.get("qualification")
    qualification = None
    if q is not None:
        values = dict(q)
        for name in ("birth_date", "acquired_on", "lost_on", "issued_on", "valid_from", "valid_until"):
            values[name] = _date(values.get(name))
        elderly = values.get("elderly_certificate")
        if elderly is not None:
            values["elderly_certificate"] = ElderlyCertificate(
                valid_from=date.fromisoformat(elderly["valid_from"]), valid_until=_date(elderly["valid_until"]),
                copayment_ratio=elderly["copayment_ratio"])
        values["specified_diseases"] = tuple(SpecifiedDisease(**d) for d in values.get("specified_diseases") or ())
        known = {f.name for f in fields(Qualification)}
        qualification = Qualification(**{k: v for k, v in values.items() if k in known})
    return QualificationResult(status=EligibilityStatus(raw["status"]), qualification=qualification,
                               person_ref=raw.get("person_ref"), consent_flag=ConsentFlag(raw.get("consent_flag", 0)),
                               data_withheld=bool(raw.get("data_withheld", False)),
                               candidates=int(raw.get("candidates", 0)), messages=tuple(raw.get("messages") or ()))


def encode_refusal(error: DomainError) -> dict[str, Any]:
    return {"slug": error.slug, "detail": error.detail, "extra": error.extra}


def _domain_error_classes() -> dict[str, type[DomainError]]:
    found: dict[str, type[DomainError]] = {}
    pending: list[type[DomainError]] = [DomainError]
    while pending:
        cls = pending.pop()
        found.setdefault(cls.slug, cls)
        pending.extend(cls.__subclasses__())
    return found


def decode_refusal(raw: dict[str, Any]) -> DomainError:
    """A refusal OQS gave (e.g. ``pin-not-available``) as the same domain error the embedded sandbox raises."""
    cls = _domain_error_classes().get(str(raw.get("slug")), domain_errors.DomainError)
    return cls(raw.get("detail"), **(raw.get("extra") or {}))


# -- the client ---------------------------------------------------------------------------------------------------

class _Unavailable(Exception):
    """A failed call, as the breaker counts it (converted to ``QualificationUnavailable`` on the way out)."""


class HttpOQS:
    """Implements ``mobile_api.adapters.oqs.OQSGateway`` over HTTP."""

    def __init__(self, base_url: str, *, connect_timeout: float = 1.0, read_timeout: float = 3.0,
                 retries: int = 2, breaker_failures: int = 5, breaker_reset: float = 15.0,
                 backoff: float = 0.05, pool_size: int = 8,
                 request_id: Callable[[], str | None] = lambda: None) -> None:
        """``request_id``: the id of the request being served, sent as ``X-Request-ID`` so that our log and
        the gateway's can be joined (observability.py)."""
        self.base_url = base_url.rstrip("/")
        self._request_id = request_id
        self.retry = Retry(total=retries, connect=retries, read=0, status=retries, other=0,
                           status_forcelist=(502, 503, 504), allowed_methods=None, backoff_factor=backoff,
                           backoff_max=0.5, respect_retry_after_header=False, raise_on_status=False)
        self.breaker = pybreaker.CircuitBreaker(fail_max=breaker_failures, reset_timeout=breaker_reset,
                                                exclude=[DomainError])
        # urllib3's pool of keep-alive connections to the one host (thread-safe), not requests on top of it:
        # requests re-reads proxy settings from the environment and rebuilds its session state on every call,
        # and a PoolManager parses the URL and looks its pool up by a normalised key on every call; together
        # they cost more CPU than the rest of the OQS call (docs/performance.md, "Third pass").
        self._http = urllib3.connection_from_url(self.base_url, maxsize=pool_size, retries=self.retry,
                                                 timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout))
        self._path = urllib3.util.parse_url(self.base_url).path or ""  # a gateway behind a path prefix
        self._anchors: tuple[float, list[x509.Certificate]] | None = None
        self._anchors_lock = threading.Lock()

    def _send(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        try:
            headers = dict(_JSON_HEADERS) if body is not None else {}
            request_id = self._request_id()
            if request_id:
                headers["X-Request-ID"] = request_id
            response = self._http.request(method, self._path + path,
                                          body=None if body is None else json.dumps(body).encode(), headers=headers)
        except urllib3.exceptions.HTTPError as error:  # refused, reset, timed out, retries exhausted
            raise _Unavailable(type(error).__name__) from error
        try:
            if response.status == 422:
                raise decode_refusal(json.loads(response.data))
            if response.status != 200:
                raise _Unavailable(f"HTTP {response.status}")
            return json.loads(response.data)
        except ValueError as error:  # not JSON (a proxy's error page)
            raise _Unavailable("invalid JSON") from error

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            return self.breaker.call(self._send, method, path, body)
        except pybreaker.CircuitBreakerError as error:
            raise QualificationUnavailable(UNAVAILABLE_DETAIL, circuit="open") from error
        except _Unavailable as error:
            raise QualificationUnavailable(UNAVAILABLE_DETAIL) from error

    def confirm(self, request: ConfirmationRequest) -> QualificationResult:
        return decode_result(self._call("POST", "/oqs/v1/confirm", encode_confirmation(request)))

    def lookup(self, query: IdentifierQuery) -> QualificationResult:
        return decode_result(self._call("POST", "/oqs/v1/lookup", encode_query(query)))

    def requery(self, request: RequeryRequest) -> QualificationResult:
        return decode_result(self._call("POST", "/oqs/v1/requery", encode_requery(request)))

    def medical_information(self, *, institution_code: str, person_ref: str, kind: InfoKind,
                            at: datetime) -> list[dict[str, Any]]:
        return list(self._call("POST", "/oqs/v1/medical-information", {
            "institution_code": institution_code, "person_ref": person_ref, "kind": str(kind),
            "at": at.isoformat()})["records"])

    def trust_anchors(self) -> list[x509.Certificate]:
        """Fetched once and kept for a few minutes: every verification needs them, and they change rarely."""
        cached = self._anchors
        if cached is not None and time.monotonic() - cached[0] < TRUST_ANCHORS_TTL_SECONDS:
            return cached[1]
        with self._anchors_lock:
            cached = self._anchors
            if cached is not None and time.monotonic() - cached[0] < TRUST_ANCHORS_TTL_SECONDS:
                return cached[1]
            pems = self._call("GET", "/oqs/v1/trust-anchors")["certificates"]
            anchors = [x509.load_pem_x509_certificate(pem.encode()) for pem in pems]
            self._anchors = (time.monotonic(), anchors)
            return anchors
