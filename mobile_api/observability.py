"""Request ids, JSON logs and Prometheus metrics (docs in deploy/README.md, "Observability").

- **Request id.** A client's ``X-Request-ID`` (a short token of letters, digits, ``.``, ``_``, ``-``) is kept,
  otherwise one is made; it is echoed on the response and carried by every log line of the request, so one
  line in the proxy's log, ours and the device agent's can be joined.
- **Logs.** ``JsonFormatter`` writes one JSON object per line. The request line holds the route *template*
  (``/api/v1/visits/<visit_id>``), never the path, query string, headers or body: no patient, staff or token
  data reaches a log through it. gunicorn's own access log (which prints the raw path) is off in
  deploy/gunicorn.conf.py for the same reason.
- **Metrics.** prometheus_client counters and histograms; with ``PROMETHEUS_MULTIPROC_DIR`` set (gunicorn,
  several worker processes) every worker writes its own mmap file and ``/metrics`` sums them, so the figures
  are the whole server's whatever worker answers the scrape. ``/metrics`` is closed by default: only a scraper
  that sends ``METRICS_TOKEN`` as its bearer token reads it, unless ``METRICS_PUBLIC`` opens it (a demo, or a
  port that only the scraper reaches). Labels are bounded: the route *template*, and the method from a fixed
  list (a made-up method counts as ``other``), so no request can add series at will.
"""
from __future__ import annotations

import hmac
import json
import logging
import os
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import REGISTRY as DEFAULT_REGISTRY

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
access_log = logging.getLogger("mobile_api.access")

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
HTTP_REQUESTS = Counter("mobile_api_http_requests_total", "HTTP requests answered",
                        ["method", "route", "status"])
HTTP_LATENCY = Histogram("mobile_api_http_request_duration_seconds", "Time to answer an HTTP request",
                         ["method", "route"], buckets=_LATENCY_BUCKETS)
VERIFICATIONS = Counter("mobile_api_verifications_total",
                        "Card verification submits by outcome (verified, or the problem type)", ["outcome"])
OQS_LATENCY = Histogram("mobile_api_oqs_call_duration_seconds", "Time of a call to the national system (OQS)",
                        ["operation"], buckets=_LATENCY_BUCKETS)
OQS_ERRORS = Counter("mobile_api_oqs_call_errors_total", "OQS calls that failed (unavailable, timeout, ...)",
                     ["operation", "error"])

VERIFICATION_SUBMIT_ENDPOINTS = frozenset({"verifications.submit"})
#: The methods that get their own label; any other (``FOO``, ``PROPFIND``) is counted as ``other``.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def request_id() -> str | None:
    return g.get("request_id") if has_request_context() else None


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, the request id, and ``extra`` fields
    passed as ``extra={"fields": {...}}``. An exception's traceback is kept (it carries code, not data)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "msg": record.getMessage()}
        rid = getattr(record, "request_id", None) or request_id()
        if rid:
            entry["request_id"] = rid
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def metrics_registry() -> CollectorRegistry:
    """The registry ``/metrics`` shows: every worker's files in multiprocess mode, else this process."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return DEFAULT_REGISTRY


def _method() -> str:
    return request.method if request.method in KNOWN_METHODS else "other"


def _route() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else "<unmatched>"


def _verification_outcome(response: Response) -> str:
    if response.status_code < 400:
        return "verified"
    body = response.get_json(silent=True) if (response.mimetype or "").endswith("json") else None
    kind = body.get("type") if isinstance(body, dict) else None
    return str(kind).rsplit("/", 1)[-1] if kind else f"http-{response.status_code}"


def init_app(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        g.request_started = time.perf_counter()
        sent = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = sent if _REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex

    @app.after_request
    def _finish(response: Response) -> Response:
        rid = g.get("request_id") or uuid.uuid4().hex
        response.headers[REQUEST_ID_HEADER] = rid
        started = g.get("request_started")
        elapsed = time.perf_counter() - started if started is not None else 0.0
        route = _route()
        if route != "/metrics":
            HTTP_REQUESTS.labels(_method(), route, str(response.status_code)).inc()
            HTTP_LATENCY.labels(_method(), route).observe(elapsed)
        if request.endpoint in VERIFICATION_SUBMIT_ENDPOINTS:
            VERIFICATIONS.labels(_verification_outcome(response)).inc()
        if access_log.isEnabledFor(logging.INFO):
            access_log.info("request", extra={"request_id": rid, "fields": {
                "method": _method(), "route": route, "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 2)}})
        return response

    if app.config.get("METRICS_ENABLED", True):
        _metrics_route(app)


def _metrics_route(app: Flask) -> None:
    """``/metrics``: with METRICS_TOKEN, only for the scraper that sends it (Prometheus: ``authorization:
    {credentials: ...}``), so it stays private even where the network or the proxy does not keep it so; without
    one, closed (403) unless METRICS_PUBLIC says it is meant to be open."""
    token = app.config.get("METRICS_TOKEN")
    expected = f"Bearer {token}".encode() if token else None
    public = bool(app.config.get("METRICS_PUBLIC", False)) and expected is None

    @app.get("/metrics")
    def metrics() -> Response:
        if expected is None and not public:
            return Response("metrics are closed: set MOBILE_API_METRICS_TOKEN (or MOBILE_API_METRICS_PUBLIC)\n",
                            status=403, mimetype="text/plain")
        if expected is not None and not hmac.compare_digest(request.headers.get("Authorization", "").encode(),
                                                            expected):
            return Response("metrics need the scrape token\n", status=401, mimetype="text/plain",
                            headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        return Response(generate_latest(metrics_registry()), mimetype=CONTENT_TYPE_LATEST)


class InstrumentedGateway:
    """Wraps an ``OQSGateway``: the latency of every call, and the errors by kind (the exception's class)."""

    OPERATIONS = ("confirm", "lookup", "requery", "medical_information", "trust_anchors")

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._inner, name)
        if name not in self.OPERATIONS:
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return target(*args, **kwargs)
            except Exception as error:
                OQS_ERRORS.labels(name, type(error).__name__).inc()
                raise
            finally:
                OQS_LATENCY.labels(name).observe(time.perf_counter() - started)

        return call
