"""The examples in the OpenAPI document are true: every response example matches its own schema, and every
request example that can be sent on its own is accepted and answered as its response example says.

Placeholders (api/examples.py PLACEHOLDERS: the institution code, device assertion, tokens, activation code,
card certificate and signature) are replaced with live values before sending; everything else is sent as
documented.
"""
from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from typing import Any

import jsonschema_rs

from device_agent.device_key import generate_key, public_key_pem
from mobile_api.api import examples as ex
from tests.support.harness import EnrolledDevice, b64

DOCUMENTED = {  # operations integrators start from (issues 7 and 11): request and response examples
    ("post", "/api/v1/auth/login"), ("post", "/api/v1/auth/refresh"), ("post", "/api/v1/auth/device-token"),
    ("post", "/api/v1/devices"), ("post", "/api/v1/devices/enrol"), ("post", "/api/v1/staff"),
    ("post", "/api/v1/verifications"), ("post", "/api/v1/verifications/{challenge_id}/submit"),
    ("post", "/api/v1/fallback-records")}


def _spec(app: Any) -> dict[str, Any]:
    with app.app_context():
        return app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()


def _as_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema: ``nullable`` becomes a null type; objects with listed properties
    refuse unlisted ones (so an example with a misspelt member fails) unless they say otherwise."""
    if isinstance(node, list):
        return [_as_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _as_json_schema(v) for k, v in node.items()}
    if out.pop("nullable", False):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    if out.get("type") == "object" and "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def _examples(media: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    if "example" in media:
        yield "example", media["example"]
    for name, example in media.get("examples", {}).items():
        yield name, example["value"]


def _response_examples(spec: dict[str, Any]) -> Iterator[tuple[str, Any, dict[str, Any]]]:
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict):  # the path's own parameters
                continue
            for status, response in operation.get("responses", {}).items():
                for media_type, media in response.get("content", {}).items():
                    if "schema" in media and "json" in media_type:
                        for name, value in _examples(media):
                            yield f"{method.upper()} {path} {status} {media_type} {name}", value, media["schema"]


def _validate(spec: dict[str, Any], schema: dict[str, Any], value: Any) -> list[str]:
    validator = jsonschema_rs.Draft4Validator(
        {**_as_json_schema(schema), "components": _as_json_schema(spec["components"])})
    return [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator.iter_errors(value)]


def _request_example(spec: dict[str, Any], method: str, path: str, name: str = "example") -> dict[str, Any]:
    media = spec["paths"][path][method]["requestBody"]["content"]["application/json"]
    return copy.deepcopy(dict(_examples(media))[name])


def _response_example(spec: dict[str, Any], method: str, path: str, status: str) -> Any:
    return copy.deepcopy(spec["paths"][path][method]["responses"][status]["content"]["application/json"]["example"])


def _response_schema(spec: dict[str, Any], method: str, path: str, status: str) -> dict[str, Any]:
    return spec["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]


def _answer(spec: dict[str, Any], response: Any, status: int, method: str, path: str) -> dict[str, Any]:
    """The answer has the documented status, matches the schema, and has the same members as the example."""
    body = response.get_json()
    assert response.status_code == status, body
    assert _validate(spec, _response_schema(spec, method, path, str(status)), body) == []
    assert set(body) == set(_response_example(spec, method, path, str(status))), f"{method} {path}"
    return body


def test_every_response_example_matches_its_schema(app):
    spec = _spec(app)
    checked = {where: _validate(spec, schema, value) for where, value, schema in _response_examples(spec)}
    assert {where: errors for where, errors in checked.items() if errors} == {}
    documented = {(where.split()[0].lower(), where.split()[1]) for where in checked}
    assert DOCUMENTED | {("get", "/api/v1/visits/{visit_id}/medical-information/{kind}")} <= documented
    assert any("/medical-information/{kind} 403 application/problem+json consent-window-closed" in w for w in checked)


def test_every_main_operation_has_a_request_example(app):
    spec = _spec(app)
    for method, path in DOCUMENTED:
        media = spec["paths"][path][method]["requestBody"]["content"]["application/json"]
        assert list(_examples(media)), f"{method} {path} has no request example"


def test_429_and_503_document_retry_after_and_batch_creation_its_location(app):
    spec = _spec(app)
    for path in ("/api/v1/qualification-checks", "/api/v1/batch-jobs"):
        assert "Retry-After" in spec["paths"][path]["post"]["responses"]["429"]["headers"]
    assert "Retry-After" in spec["components"]["responses"]["SERVICE_UNAVAILABLE_RETRY"]["headers"]
    assert "Location" in spec["paths"]["/api/v1/batch-jobs"]["post"]["responses"]["202"]["headers"]


def test_onboarding_and_sign_in_examples_work_as_documented(app, h):
    spec = _spec(app)
    t = h.institution()
    admin_login = _request_example(spec, "post", "/api/v1/auth/login", "admin")
    admin_login["institution_code"] = t.code
    admin = _answer(spec, h.client.post("/api/v1/auth/login", json=admin_login), 200, "post", "/api/v1/auth/login")
    admin_auth = {"Authorization": f"Bearer {admin['access_token']}"}

    staff = _answer(spec, h.client.post("/api/v1/staff", json=_request_example(spec, "post", "/api/v1/staff"),
                                        headers=admin_auth), 201, "post", "/api/v1/staff")
    expected = _response_example(spec, "post", "/api/v1/staff", "201")
    assert {k: staff[k] for k in ("login", "display_name", "role")} == \
        {k: expected[k] for k in ("login", "display_name", "role")}

    device = _answer(spec, h.client.post("/api/v1/devices", json=_request_example(spec, "post", "/api/v1/devices"),
                                         headers=admin_auth), 201, "post", "/api/v1/devices")
    assert device["device"]["state"] == "awaiting_enrolment"
    key = generate_key()
    enrol = _request_example(spec, "post", "/api/v1/devices/enrol", "enrol")
    enrol.update(activation_code=device["activation_code"], public_key_pem=public_key_pem(key))
    enrolled = _answer(spec, h.client.post("/api/v1/devices/enrol", json=enrol), 201, "post", "/api/v1/devices/enrol")
    t.devices.append(EnrolledDevice(enrolled["device_id"], key))

    on_device = _request_example(spec, "post", "/api/v1/auth/login", "on_device")
    on_device.update(institution_code=t.code, device_assertion=t.assertion(t.devices[-1]))
    pair = _answer(spec, h.client.post("/api/v1/auth/login", json=on_device), 200, "post", "/api/v1/auth/login")
    assert pair["device_id"] == enrolled["device_id"] and pair["user_id"] == staff["id"]

    refresh = _request_example(spec, "post", "/api/v1/auth/refresh", "refresh")
    refresh["refresh_token"] = pair["refresh_token"]
    _answer(spec, h.client.post("/api/v1/auth/refresh", json=refresh), 200, "post", "/api/v1/auth/refresh")

    device_token = _request_example(spec, "post", "/api/v1/auth/device-token", "device")
    device_token["assertion"] = t.assertion(t.devices[-1])
    _answer(spec, h.client.post("/api/v1/auth/device-token", json=device_token), 200, "post",
            "/api/v1/auth/device-token")


def _ids_removed(visit: dict[str, Any]) -> dict[str, Any]:
    visit = copy.deepcopy(visit)
    for name in ("id", "staff_id", "device_id"):
        visit.pop(name)
    visit["consent"].pop("id")
    visit["care_relationship"].pop("id")
    visit["care_relationship"].pop("opened_by_visit_id")
    return visit


def test_verification_examples_give_the_documented_visit_and_medical_information(app, h, clock):
    spec = _spec(app)
    t = h.institution()
    token = t.nurse()
    auth = {"Authorization": f"Bearer {token}"}
    submit_path = "/api/v1/verifications/{challenge_id}/submit"
    card = h.card("P01-valid-30")  # the persona the examples show

    challenge = _answer(spec, h.client.post("/api/v1/verifications", headers=auth, json=_request_example(
        spec, "post", "/api/v1/verifications", "pin")), 201, "post", "/api/v1/verifications")
    pin = _request_example(spec, "post", submit_path, "pin")
    pin.update(certificate=b64(card.certificate_der), signature=b64(h.sign(card, challenge["challenge"])))
    visit = _answer(spec, h.submit(token, challenge["challenge_id"], pin), 201, "post", submit_path)
    assert _ids_removed(visit) == _ids_removed(_response_example(spec, "post", submit_path, "201"))

    medical_path = "/api/v1/visits/{visit_id}/medical-information/{kind}"
    medication = _answer(spec, h.medical(token, visit["id"]), 200, "get", medical_path)
    example = _response_example(spec, "get", medical_path, "200")
    assert all(record in medication["records"] for record in example["records"])
    assert medication["window_closes_at"] == example["window_closes_at"]
    assert medication["seconds_left"] == example["seconds_left"]

    clock.advance(hours=25)
    token = t.login_on_device("nurse1", t.devices[-1])
    closed = h.medical(token, visit["id"])
    media = spec["paths"][medical_path]["get"]["responses"]["403"]["content"]["application/problem+json"]
    documented = media["examples"]["consent-window-closed"]["value"]
    assert closed.status_code == 403
    assert {k: v for k, v in closed.get_json().items() if k != "instance"} == \
        {k: v for k, v in documented.items() if k != "instance"}


def test_visual_submit_example_is_accepted(app, h):
    spec = _spec(app)
    t = h.institution()
    t.set_visual_password(ex.VISUAL_PASSWORD)
    token = t.nurse()
    card = h.card("P01-valid-30")
    challenge = h.client.post("/api/v1/verifications", headers={"Authorization": f"Bearer {token}"},
                              json=_request_example(spec, "post", "/api/v1/verifications", "visual")).get_json()
    visual = _request_example(spec, "post", "/api/v1/verifications/{challenge_id}/submit", "visual")
    visual["certificate"] = b64(card.certificate_der)
    visit = _answer(spec, h.submit(token, challenge["challenge_id"], visual), 201, "post",
                    "/api/v1/verifications/{challenge_id}/submit")
    assert visit["method"] == "visual" and visit["consent"]["blanket"] is True


def test_fallback_record_example_gives_the_documented_record(app, h, clock):
    spec = _spec(app)
    t = h.institution()
    t.nurse()
    clock.advance(hours=1, minutes=20)  # received 10:20 in Japan, five minutes after the device recorded it
    token = t.login_on_device("nurse1", t.devices[-1])
    path = "/api/v1/fallback-records"
    answer = h.client.post(path, json=_request_example(spec, "post", path), headers={
        "Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex})
    record = _answer(spec, answer, 201, "post", path)
    ids = ("id", "staff_id", "device_id")
    assert {k: v for k, v in record.items() if k not in ids} == \
        {k: v for k, v in _response_example(spec, "post", path, "201").items() if k not in ids}
    media = spec["paths"][path]["post"]["responses"]["422"]["content"]["application/problem+json"]
    refusals = {"device-time-refused": {**_request_example(spec, "post", path),
                                        "device_recorded_at": "2026-12-01T10:30:00+09:00"},
                "individual-number": {**_request_example(spec, "post", path), "evidence": {
                    **_request_example(spec, "post", path)["evidence"], "free_text": "マイナンバー 123456789018"}}}
    for name, body in refusals.items():
        refused = h.client.post(path, json=body, headers={"Authorization": f"Bearer {token}",
                                                          "Idempotency-Key": uuid.uuid4().hex})
        assert refused.status_code == 422 and refused.get_json() == media["examples"][name]["value"], name


def test_placeholders_are_named_in_the_examples_that_use_them(app):
    """An integrator reading an example learns which values are theirs to replace."""
    spec = _spec(app)
    descriptions = [example.get("description", "") for operation in spec["paths"].values()
                    for o in operation.values() if isinstance(o, dict) and "requestBody" in o
                    for media in o["requestBody"]["content"].values()
                    for example in media.get("examples", {}).values()]
    assert [name for name in ex.PLACEHOLDERS if not any(f"`{name}`" in d for d in descriptions)] == []
