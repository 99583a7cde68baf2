"""RFC 9457 problem details for every error the API returns.

``type`` is a stable relative URI ``/problems/<slug>``; a GET on it returns the
problem's Japanese title, so people and machines can look a type up.
Validation errors list the fields (``errors``: pointer + detail).
"""
from __future__ import annotations

import logging
from typing import Any

import marshmallow as ma
from flask import Flask, Response, json, request
from marshmallow.exceptions import SCHEMA
from werkzeug.exceptions import HTTPException

from ..domain.errors import DomainError, all_error_classes

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)

HTTP_TITLES_JA = {
    400: ("bad-request", "リクエストの形式が正しくありません。"),
    401: ("unauthenticated", "認証が必要です。もう一度ログインしてください。"),
    403: ("forbidden", "この操作は許可されていません。"),
    404: ("not-found", "対象が見つかりません。"),
    405: ("method-not-allowed", "このメソッドは利用できません。"),
    409: ("conflict", "現在の状態ではこの操作はできません。"),
    413: ("payload-too-large", "リクエストが大きすぎます。"),
    415: ("unsupported-media-type", "Content-Type は application/json にしてください。"),
    422: ("validation-failed", "入力内容に誤りがあります。"),
    428: ("precondition-required", "必要なヘッダーがありません。"),
    500: ("internal-error", "サーバー内部で問題が発生しました。時間をおいて再度お試しください。"),
}

#: Problem types the edge uses besides the HTTP statuses and the domain errors.
EXTRA_SLUGS = {
    "malformed-json": "JSON の形式が正しくありません。",
    "json-too-deep": "JSON の入れ子が深すぎます。",
}


class ProblemFieldError(ma.Schema):
    pointer = ma.fields.String(metadata={"description": "JSON pointer (or header/query name) of the field"})
    detail = ma.fields.String()


class ProblemSchema(ma.Schema):
    """application/problem+json (RFC 9457).

    Problems carry extension members (RFC 9457 §3.2) that say more about this
    occurrence; the common ones are listed, and any other member may appear.
    """

    class Meta:
        unknown = ma.INCLUDE  # documented as additionalProperties: true

    type = ma.fields.String(metadata={"example": "/problems/consent-window-closed"})
    title = ma.fields.String()
    status = ma.fields.Integer()
    detail = ma.fields.String()
    instance = ma.fields.String()
    errors = ma.fields.List(ma.fields.Nested(ProblemFieldError))
    rule = ma.fields.String(metadata={"description": "Which rule refused the request"})
    allowed_forms = ma.fields.List(ma.fields.String(), metadata={"description": "Forms the facility may use"})
    window_opens_at = ma.fields.AwareDateTime(metadata={"description": "When the viewing window opens"})
    window_closed_at = ma.fields.AwareDateTime(metadata={"description": "When the viewing window closed"})


def problem_response(status: int, slug: str, title: str, detail: str | None = None,
                     **members: Any) -> Response:
    body: dict[str, Any] = {"type": f"/problems/{slug}", "title": title, "status": status}
    if detail and detail != title:
        body["detail"] = detail
    body["instance"] = request.path
    body.update({k: v for k, v in members.items() if v is not None})
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_JSON)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="mobile-oqs"'
    return response


def from_domain_error(error: DomainError) -> Response:
    extra = dict(error.extra)
    field = extra.pop("field", None)
    errors = [{"pointer": f"/{field}", "detail": error.detail}] if field else None
    return problem_response(error.status, error.slug, error.title, error.detail, errors=errors, **extra)


def _field_errors(messages: Any, prefix: str = "") -> list[dict[str, str]]:
    found: list[dict[str, str]] = []
    if isinstance(messages, dict):
        for key, value in messages.items():  # a schema-level error is about the object itself
            found.extend(_field_errors(value, prefix if key == SCHEMA else f"{prefix}/{key}"))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        found.extend({"pointer": prefix or "/", "detail": m} for m in messages)
    elif isinstance(messages, list):
        for index, value in enumerate(messages):
            found.extend(_field_errors(value, f"{prefix}/{index}"))
    else:
        found.append({"pointer": prefix or "/", "detail": str(messages)})
    return found


def from_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    slug, title = HTTP_TITLES_JA.get(status, ("http-error", error.name))
    data = getattr(error, "data", None) or {}
    messages = data.get("messages")
    errors = None
    if messages:
        # webargs nests by location: {"json": {...}, "headers": {...}}; keep the location as the pointer root
        # only for non-body locations, since the body is what a JSON pointer addresses.
        flat: list[dict[str, str]] = []
        for location, fields in messages.items():
            root = "" if location == "json" else f"/{location}"
            flat.extend(_field_errors(fields, root))
        errors = flat
        if status == 400:
            slug, title = "malformed-json", EXTRA_SLUGS["malformed-json"]
    # werkzeug's descriptions are English; the Japanese title says it for the people at the device.
    detail = data.get("message")
    response = problem_response(status, slug, title, detail, errors=errors)
    # Keep the headers the exception carries (405's Allow, 429/503's Retry-After), but not its Content-Type.
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def init_app(app: Flask) -> None:
    app.register_error_handler(DomainError, from_domain_error)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:  # pragma: no cover - last resort
        if isinstance(error, HTTPException):
            return from_http_exception(error)
        log.exception("unhandled error")
        return problem_response(500, *HTTP_TITLES_JA[500])

    slugs = {cls.slug: cls.title for cls in all_error_classes()}
    slugs.update({slug: title for slug, title in HTTP_TITLES_JA.values()})
    slugs.update(EXTRA_SLUGS)

    @app.get("/problems/<slug>")
    def _problem_type(slug: str) -> Any:
        if slug not in slugs:
            return problem_response(404, "not-found", HTTP_TITLES_JA[404][1])
        return {"type": f"/problems/{slug}", "title": slugs[slug]}
