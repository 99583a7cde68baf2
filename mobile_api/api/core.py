"""Local ``Api`` and ``Blueprint`` that document auth and errors once for every view."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

import flask_smorest
from flask import current_app, g, request

from ..domain.errors import Unauthenticated
from ..runtime import Runtime
from ..services.principal import Principal, authenticate
from .problems import PROBLEM_JSON, ProblemSchema, from_http_exception


def runtime() -> Runtime:
    return current_app.extensions["mobile_api"]


def principal() -> Principal:
    return g.principal


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error: Any) -> Any:
        return from_http_exception(error)


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Authorization: Bearer <アクセストークン> が必要です。")
    return token.strip()


class Blueprint(flask_smorest.Blueprint):
    def problems(self, *statuses: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Document the problem+json answers a view can give."""

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            for status in statuses:
                func = self.alt_response(status, schema=ProblemSchema, content_type=PROBLEM_JSON,
                                         description="application/problem+json (RFC 9457)")(func)
            return func

        return decorator

    def authenticated(self, *, admin: bool = False, staff_on_device: bool = False
                      ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Resolve the caller from the token and the database on every request."""

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            @wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                who = authenticate(runtime(), _bearer())
                if admin:
                    who.require_admin()
                if staff_on_device:
                    who.require_staff_on_device()
                g.principal = who
                return func(*args, **kwargs)

            wrapper = self.doc(security=[{"bearerAuth": []}])(wrapper)
            return self.problems(401, 403)(wrapper)

        return decorator
