"""A small OpenAPI description of the console's forms and filters (the console is HTML, so the app serves none):
enough for schemathesis to send generated and hostile values to each of them (tests/integration/
test_schemathesis.py), where the only promise checked is the console's: never a 5xx. The schemas are loose on
purpose (any string, any length) so that what console/forms.py refuses is sent too."""
from __future__ import annotations

from typing import Any

TEXT = {"type": "string"}


def _form(*names: str, required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
        "type": "object", "properties": {name: TEXT for name in names}, "required": list(required)}}}}


def _query(*names: str) -> list[dict[str, Any]]:
    return [{"name": name, "in": "query", "required": False, "schema": TEXT} for name in names]


def _path(name: str) -> list[dict[str, Any]]:
    return [{"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}]


_ANSWERS = {"200": {"description": "a page"}, "303": {"description": "see other"},
            "default": {"description": "a refusal page (4xx)"}}


def _get(parameters: list[dict[str, Any]]) -> dict[str, Any]:
    return {"get": {"parameters": parameters, "responses": _ANSWERS}}


def _post(body: dict[str, Any], parameters: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"post": {"parameters": parameters or [], "requestBody": body, "responses": _ANSWERS}}


def console_openapi() -> dict[str, Any]:
    filters = ("from", "to", "staff", "form", "care_type", "outcome", "patient_reference", "offset")
    audit = ("from", "to", "action", "staff", "device", "patient_reference")
    return {
        "openapi": "3.0.3",
        "info": {"title": "console forms (tests only)", "version": "1"},
        "paths": {
            "/console/login": {**_get(_query("next")),
                               **_post(_form("institution_code", "login", "password", "next", "device_assertion",
                                             required=("institution_code", "login", "password")))},
            "/console/visits": _get(_query(*filters)),
            "/console/audit": _get(_query(*audit)),
            "/console/audit.csv": _get(_query(*audit)),
            "/console/batch-jobs": _get(_query("offset")),
            "/console/claims.csv": _get(_query("month")),
            "/console/staff": _post(_form("login", "display_name", "role", "password",
                                          required=("login", "display_name", "password"))),
            "/console/staff/{user_id}/role": _post(_form("role", required=("role",)), _path("user_id")),
            "/console/staff/{user_id}/password": _post(_form("password", required=("password",)),
                                                       _path("user_id")),
            "/console/devices": _post(_form("label")),
            "/console/settings/name": _post(_form("name", required=("name",))),
            "/console/settings/visual-password": _post(_form("password", "password_again",
                                                             required=("password",))),
        },
    }
