"""Local ``Api`` and ``Blueprint`` that document auth and errors once for every view."""
from __future__ import annotations

import enum
import http
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from functools import wraps
from typing import Any

import flask_smorest
import marshmallow as ma
from apispec import BasePlugin
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.openapi import OpenAPIConverter
from flask import current_app, g, request
from flask_smorest.utils import prepare_response
from werkzeug.routing import BaseConverter

from ..domain.codes import InfoKind
from ..domain.errors import Forbidden, Unauthenticated, ValidationFailed
from ..runtime import Runtime
from ..services import audit
from ..services.principal import Principal, authenticate
from ..web.http import download as download  # the API's routes take them from here
from ..web.http import public_url as public_url
from . import rate_limits
from .examples import RETRY_AFTER, SERVER_TIME, SERVER_TIME_HEADER
from .problems import PROBLEM_JSON, ProblemSchema, from_http_exception


def runtime() -> Runtime:
    return current_app.extensions["mobile_api"]


def principal() -> Principal:
    return g.principal


class _Converter(OpenAPIConverter):
    """Documents a schema's ``Meta.min_properties`` (a body that must name at least one field) as
    ``minProperties``, so the spec says what the schema-level check refuses."""

    def schema2jsonschema(self, schema: Any) -> dict[str, Any]:
        jsonschema: dict[str, Any] = super().schema2jsonschema(schema)
        min_properties = getattr(getattr(schema, "Meta", None), "min_properties", None)
        if min_properties:
            jsonschema["minProperties"] = min_properties
        return jsonschema


class _MarshmallowPlugin(MarshmallowPlugin):
    """Adds the attribute function before any plugin or component converts a schema."""

    Converter = _Converter

    def init_spec(self, spec: Any) -> None:
        super().init_spec(spec)
        assert self.converter is not None  # made by init_spec
        self.converter.add_attribute_function(_json_type_of_enums_and_constants)


class _ServerTimePlugin(BasePlugin):
    """Every answer carries ``Server-Time`` (api/edge.py): declared once, on every response of every operation,
    so a client generated from the spec knows the clock it must date by (docs/rules.md §2.3)."""

    def init_spec(self, spec: Any) -> None:
        spec.components.header("Server-Time", SERVER_TIME)

    def operation_helper(self, path: str | None = None, operations: dict[str, Any] | None = None,
                         **kwargs: Any) -> None:
        for operation in (operations or {}).values():
            for response in (operation.get("responses") or {}).values():
                if isinstance(response, dict):  # a name is a component response: _register_responses has it
                    response["headers"] = {**response.get("headers", {}), **SERVER_TIME_HEADER}


class InfoKindConverter(BaseConverter):
    """A path segment documented as an ``InfoKind``; any other value still reaches the view, which answers 422
    (``info_kind``)."""


def info_kind(kind: str) -> InfoKind:
    """The ``<info_kind:kind>`` path segment as an ``InfoKind``, else 422 on field ``kind``."""
    try:
        return InfoKind(kind)
    except ValueError:
        raise ValidationFailed("情報の種類は medication, checkups, clinical, surgery のいずれかです。",
                               field="kind") from None


class Api(flask_smorest.Api):
    """flask-smorest's Api, with every error documented and answered as application/problem+json."""

    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error: Any) -> Any:
        return from_http_exception(error)

    def init_app(self, app: Any, *args: Any, **kwargs: Any) -> None:
        app.url_map.converters["info_kind"] = InfoKindConverter
        super().init_app(app, *args, **kwargs)
        self.register_converter(InfoKindConverter, lambda converter: {
            "type": "string", "enum": [kind.value for kind in InfoKind]})

    def _init_spec(self, **kwargs: Any) -> None:
        kwargs.setdefault("marshmallow_plugin", _MarshmallowPlugin())
        kwargs["extra_plugins"] = (*kwargs.get("extra_plugins", ()), _ServerTimePlugin())
        super()._init_spec(**kwargs)

    def _register_responses(self) -> None:
        """The lazily registered error responses (DEFAULT_ERROR, UNPROCESSABLE_ENTITY, ...) are problem+json."""
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase, "headers": dict(SERVER_TIME_HEADER)}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
                prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "application/problem+json (RFC 9457)", "schema": self.ERROR_SCHEMA,
                    "headers": dict(SERVER_TIME_HEADER)}
        prepare_response(response, self.spec, PROBLEM_JSON)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, response, lazy=True)


def _json_type_of_enums_and_constants(self: Any, field: ma.fields.Field, ret: dict[str, Any],
                                      **kwargs: Any) -> dict[str, Any]:
    """apispec gives Enum and Constant fields no ``type`` and ignores a OneOf that narrows an Enum."""
    if "$ref" in ret or "allOf" in ret:
        return {}
    if isinstance(field, ma.fields.Enum):
        enum_class: type[enum.Enum] = field.enum
        members = list(enum_class)
        for validator in field.validators:
            if isinstance(validator, ma.validate.OneOf):
                members = [m for m in members if m in validator.choices]
        values = [m.value if field.by_value else m.name for m in members]
        found: dict[str, Any] = {"enum": values}
    elif isinstance(field, ma.fields.Constant):
        values, found = [field.constant], {}
    else:
        return {}
    if "type" not in ret:
        for python_type, json_type in ((bool, "boolean"), (int, "integer"), ((int, float), "number"),
                                       (str, "string")):
            if all(isinstance(v, python_type) for v in values):
                found["type"] = json_type
                break
    return found


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Authorization: Bearer <アクセストークン> が必要です。")
    return token.strip()


class Blueprint(flask_smorest.Blueprint):
    def register_views_in_doc(self, api: Any, app: Any, spec: Any, *, name: str, parameters: Any) -> None:
        """Every operation gets an ``operationId``, ``<blueprint>_<view>`` (``batch_jobs_create``), unless
        a view sets its own: clients generated from the spec (openapi-python-client) name their functions
        by it instead of by the path, and a test keeps them unique."""
        for endpoint, info in self._docs.items():
            methods = [method for method in info if method != "parameters"]
            for method in methods:
                operation_id = f"{self.name}_{endpoint}" + (f"_{method}" if len(methods) > 1 else "")
                info[method].setdefault("manual_doc", {}).setdefault("operationId", operation_id)
        super().register_views_in_doc(api, app, spec, name=name, parameters=parameters)

    def problems(self, *statuses: int, examples: dict[str, Any] | None = None
                 ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Document the problem+json answers a view can give (``examples``: named OpenAPI examples for them).

        A 429 documents its ``Retry-After`` header (rate_limits.py sets it on every one).
        """

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            for status in statuses:
                func = self.alt_response(status, schema=ProblemSchema, content_type=PROBLEM_JSON,
                                         description="application/problem+json (RFC 9457)", examples=examples,
                                         headers=RETRY_AFTER if status == 429 else None)(func)
            return func

        return decorator

    def arguments(self, schema: Any, *, location: str = "json", **kwargs: Any
                  ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Parse a request part; a view that takes a body also documents the 413 every oversized body gets.

        A schema class is instantiated once here: given a class, webargs builds a new instance (a deep copy of
        every field) on every request."""
        if isinstance(schema, type):
            schema = schema()
        parse = super().arguments(schema, location=location, **kwargs)
        if location not in ("json", "form", "files"):
            return parse
        if location == "json" and kwargs.get("required", True):
            return lambda func: self.problems(413)(_body_required(parse(func)))
        return lambda func: self.problems(413)(parse(func))


    def authenticated(self, *, admin: bool = False, staff_on_device: bool | str = False, patient_data: bool = False,
                      client_scope: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Resolve the caller from the token and the database on every request.

        ``patient_data=True`` marks a view that returns patient data: only an admin or a staff
        member on a registered device may call it (``Principal.require_patient_data_reader``), and a refused
        call is audited (``patient_data.access``, outcome refused).
        ``client_scope`` marks a machine-client endpoint: only a client token with that scope; without
        it, client tokens are refused (403 ``insufficient-scope``).
        """

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            @wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                who = authenticate(runtime(), _bearer())
                if client_scope is not None:
                    who.require_scope(client_scope)  # machine-client endpoints (OAuth scopes)
                    rate_limits.enforce(runtime(), who, client_scope)  # 429 + Retry-After past the client's limit
                else:
                    who.require_not_client()  # every other endpoint is for people and devices
                if admin:
                    who.require_admin()
                with patient_data_refusals_audited(who, kwargs) if patient_data else nullcontext():
                    if staff_on_device:  # True, or the act's name for the refusal (医療情報の閲覧)
                        who.require_staff_on_device(*([staff_on_device] if isinstance(staff_on_device, str) else []))
                    if patient_data:
                        who.require_patient_data_reader()
                g.principal = who
                return func(*args, **kwargs)

            security = [{"clientCredentials": [client_scope]}] if client_scope else [{"bearerAuth": []}]
            wrapper = self.doc(security=security)(wrapper)
            return self.problems(401, 403)(wrapper)

        return decorator


BODY_REQUIRED = "リクエスト本文（JSON オブジェクト）が必要です。"


def _body_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """422 for a request with no body where the contract requires one (every JSON body is documented required).

    Without it webargs parses a missing body as ``{}``, and a schema whose fields are all optional lets it through:
    an empty PATCH would act as a request to change nothing, yet still move state (issue 16)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not request.get_data(cache=True).strip():
            flask_smorest.abort(422, messages={"json": [BODY_REQUIRED]})
        return view(*args, **kwargs)

    return wrapper


@contextmanager
def patient_data_refusals_audited(who: Principal, path_values: dict[str, Any] | None = None) -> Iterator[None]:
    """A refused attempt at patient data (``Forbidden`` from the access rules checked inside) is audited, then
    raised: who tried, which route, which id, and why (docs/rules.md §2.3). The API's ``authenticated`` and the
    console's pages both check through here. The id from the path is kept only if it fits the column: it is
    whatever the caller sent."""
    try:
        yield
    except Forbidden as refusal:
        values = path_values or {}
        kind, target = next(((kind, str(values[key])) for key, kind in _PATH_TARGETS if key in values),
                            (None, None))
        fits = target is not None and len(target) <= 64
        audit.record_refusal(runtime(), who, "patient_data.access", refusal, method=request.method,
                             route=request.url_rule.rule if request.url_rule else None,
                             target_type=kind if fits else None, target_id=target if fits else None)
        raise


_PATH_TARGETS = (("visit_id", "visit"), ("record_id", "fallback_record"), ("consent_id", "consent"))


def request_json() -> Any:
    """The JSON body as sent: what an Idempotency-Key's request hash covers, the same way for every view."""
    return request.get_json(silent=True)


