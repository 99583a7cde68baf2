"""Answers when a dependency is down: 503 application/problem+json with ``Retry-After``.

- The database unreachable, restarting, locked past the busy timeout or out of
  connections (``adapters.db.database_unavailable``) is ``service-unavailable``,
  not a 500: the device agent retries after ``Retry-After`` and live submits
  recover by themselves (they carry an Idempotency-Key).
- The national system (OQS) down is ``qualification-unavailable``; during a
  qualification confirmation the problem also carries ``fallback``: the other
  ways to confirm the patient's insurance (docs/rules.md §5), with the codes a
  fallback record takes and their Japanese labels, and what to do next.

Other database errors stay what they are (a bug: 500, logged); a unique
violation that escaped the unit of work (an autoflush) is still the 409 it maps to.
"""
from __future__ import annotations

import logging
from typing import Any

import marshmallow as ma
from apispec import APISpec, BasePlugin
from flask import Flask, Response, current_app, request
from sqlalchemy import exc as sa_exc

from ..adapters.db import database_unavailable
from ..adapters.integrity import duplicate_from
from ..domain.errors import QualificationUnavailable, ServiceUnavailable
from ..domain.fallback import FallbackMethod, fallback_guidance
from .examples import SERVER_TIME_HEADER
from .problems import HTTP_TITLES_JA, PROBLEM_JSON, ProblemSchema, from_domain_error, problem_response

log = logging.getLogger(__name__)

# Blueprints whose OQS call is a qualification confirmation (the fallback methods replace exactly that).
CONFIRMING_BLUEPRINTS = frozenset({"verifications"})


def _with_retry_after(response: Response, setting: str) -> Response:
    response.headers["Retry-After"] = str(int(current_app.config[setting]))
    return response


def _qualification_unavailable(error: QualificationUnavailable) -> Response:
    if request.blueprint in CONFIRMING_BLUEPRINTS:
        error = type(error)(error.detail, **{**error.extra, "fallback": fallback_guidance()})
    return _with_retry_after(from_domain_error(error), "OQS_RETRY_AFTER_SECONDS")


def _database_error(error: Exception) -> Response:
    if isinstance(error, sa_exc.IntegrityError) and (duplicate := duplicate_from(error)) is not None:
        return from_domain_error(duplicate)
    if database_unavailable(error):
        # No traceback: an outage is an operational event, and the driver's text stays out of the answer.
        log.warning("database unavailable: %s: %s", type(error).__name__, str(error).splitlines()[0][:200])
        return _with_retry_after(from_domain_error(ServiceUnavailable()), "DB_RETRY_AFTER_SECONDS")
    log.exception("database error")
    return problem_response(500, *HTTP_TITLES_JA[500])


def init_app(app: Flask) -> None:
    app.register_error_handler(QualificationUnavailable, _qualification_unavailable)
    app.register_error_handler(sa_exc.DBAPIError, _database_error)
    app.register_error_handler(sa_exc.TimeoutError, _database_error)


# -- the contract ---------------------------------------------------------------------------------------------------

class FallbackOptionSchema(ma.Schema):
    method = ma.fields.Enum(FallbackMethod, by_value=True, metadata={
        "description": "The code to send as `method` in POST /api/v1/fallback-records"})
    label = ma.fields.String(metadata={"description": "Japanese label to show"})
    condition = ma.fields.String(metadata={"description": "When this method applies (Japanese)"})
    valid_from = ma.fields.String(allow_none=True, metadata={
        "description": "First day (visit date in Japan) the method is valid, or null", "example": "2025-12-02"})
    valid_until = ma.fields.String(allow_none=True, metadata={
        "description": "Last day (visit date in Japan) the method is valid, or null", "example": "2026-03-31"})


class FallbackGuidanceSchema(ma.Schema):
    reason = ma.fields.String(metadata={"description": "The `reason` to send with a fallback record",
                                        "example": "system_down"})
    methods = ma.fields.List(ma.fields.Nested(FallbackOptionSchema))
    next_step = ma.fields.String(metadata={"description": "What to do now (Japanese)"})


class UnavailableProblemSchema(ProblemSchema):
    """application/problem+json for 503: retry after ``Retry-After`` seconds."""

    fallback = ma.fields.Nested(FallbackGuidanceSchema, metadata={
        "description": "Only on `qualification-unavailable` while confirming a qualification: the other ways "
                       "to confirm it (docs/rules.md §5)"})


UNAVAILABLE_RESPONSE = "SERVICE_UNAVAILABLE_RETRY"


class UnavailableResponses(BasePlugin):
    """apispec plugin: every operation documents 503 + Retry-After, since every one needs the database."""

    def init_spec(self, spec: APISpec) -> None:
        super().init_spec(spec)
        spec.components.response(UNAVAILABLE_RESPONSE, {
            "description": "Temporarily unavailable (`service-unavailable`: the database; "
                           "`qualification-unavailable`: the national system). Retry after Retry-After seconds.",
            "headers": {"Retry-After": {"description": "Seconds to wait before retrying",
                                        "schema": {"type": "integer", "minimum": 0}}, **SERVER_TIME_HEADER},
            "content": {PROBLEM_JSON: {"schema": UnavailableProblemSchema}},
        }, lazy=True)

    def operation_helper(self, path: str | None = None, operations: dict[str, Any] | None = None,
                         **kwargs: Any) -> None:
        for operation in (operations or {}).values():
            if isinstance(operation, dict):
                operation.setdefault("responses", {}).setdefault("503", UNAVAILABLE_RESPONSE)
