"""The HTTP edge refuses hostile input with a 4xx problem, every response carries the safe headers,
and the OpenAPI document tells the truth about what the server answers."""
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBLEM_JSON = "application/problem+json"


def assert_problem(r, *statuses):
    assert r.status_code in statuses, (r.status_code, r.get_data(as_text=True)[:300])
    assert r.mimetype == PROBLEM_JSON
    body = r.get_json()
    assert body["status"] == r.status_code and body["type"].startswith("/problems/") and body["title"]
    return body


def pointers(body):
    return {e["pointer"] for e in body.get("errors", [])}


def post_raw(h, path, raw: str, headers=None):
    return h.client.post(path, data=raw.encode(), headers={"Content-Type": "application/json", **(headers or {})})


# --- strings the database or the UTF-8 encoder cannot take ------------------------------------------------


def test_a_lone_surrogate_in_a_login_field_is_refused_before_anything_runs(h):
    tenant = h.institution()
    raw = f'{{"institution_code": "{tenant.code}", "login": "adm\\ud800in", "password": "x"}}'
    body = assert_problem(post_raw(h, "/api/v1/auth/login", raw), 422)
    assert pointers(body) == {"/login"}


def test_a_lone_surrogate_in_a_nested_key_is_refused_with_a_pointer(h):
    tenant = h.institution()
    nurse = tenant.nurse()
    raw = ('{"care_type": 2, "form": "home_consent", "method": "declaration", "reason": "offline",'
           ' "device_recorded_at": "2026-12-01T09:00:00+09:00", "evidence": {"a/b": ["ok", "\\udfff"],'
           ' "\\ud83d": 1}}')
    r = post_raw(h, "/api/v1/fallback-records", raw,
                 {"Authorization": f"Bearer {nurse}", "Idempotency-Key": "surrogate-key-1"})
    body = assert_problem(r, 422)
    # JSON pointer escaping ("/" is "~1"); the key itself is shown escaped, never as a broken character
    assert pointers(body) == {"/evidence/a~1b/1", "/evidence/\\ud83d"}
    assert h.client.get("/api/v1/fallback-records", headers=tenant.auth()).get_json() == []


def test_a_nul_character_in_body_query_or_path_is_refused(h):
    tenant = h.institution()
    r = post_raw(h, "/api/v1/auth/login",
                 f'{{"institution_code": "{tenant.code}", "login": "admin\\u0000", "password": "x"}}')
    assert pointers(assert_problem(r, 422)) == {"/login"}

    r = h.client.get("/api/v1/visits?patient_reference=a%00b", headers=tenant.auth())
    assert pointers(assert_problem(r, 422)) == {"/query/patient_reference"}

    r = h.client.get("/api/v1/audit-events?user_id=%00", headers=tenant.auth())
    assert pointers(assert_problem(r, 422)) == {"/query/user_id"}

    r = h.client.get("/api/v1/visits/abc%00def", headers=tenant.auth())
    assert pointers(assert_problem(r, 422)) == {"/path/visit_id"}

    r = h.client.post("/api/v1/staff/x%00/revoke", headers=tenant.auth())
    assert pointers(assert_problem(r, 422)) == {"/path/user_id"}

    nurse = tenant.nurse()
    r = h.client.post("/api/v1/fallback-records", json={
        "care_type": 2, "form": "home_consent", "method": "declaration", "reason": "offline",
        "device_recorded_at": "2026-12-01T09:00:00+09:00"},
        headers={"Authorization": f"Bearer {nurse}", "Idempotency-Key": "nul-\x00-key-1"})
    assert pointers(assert_problem(r, 422)) == {"/headers/Idempotency-Key"}


def test_deeply_nested_json_is_refused_without_recursing(h):
    for depth in (1000, 20_000):
        raw = '{"institution_code": "1300000001", "login": ' + "[" * depth + "]" * depth + ', "password": "x"}'
        body = assert_problem(post_raw(h, "/api/v1/auth/login", raw), 400, 422)
        assert body["type"] == "/problems/json-too-deep"


def test_moderately_nested_json_still_reaches_the_schema(h):
    raw = '{"institution_code": "1300000001", "login": ' + "[" * 20 + "]" * 20 + ', "password": "x"}'
    body = assert_problem(post_raw(h, "/api/v1/auth/login", raw), 422)
    assert pointers(body) == {"/login"}


def test_an_unterminated_string_full_of_escaped_quotes_is_scanned_in_linear_time(h):
    import time

    # CPU time of this thread (the test client runs the request in it), not wall time: other processes' load on
    # the CI machine does not count, and a rescanning scan (minutes) is still far above the bound.
    started = time.thread_time()
    r = post_raw(h, "/api/v1/auth/login", '"' + '\\"' * 30_000)  # ~60 KB; a rescanning scan took minutes
    assert time.thread_time() - started < 2
    assert_problem(r, 400)


def test_brackets_inside_strings_do_not_count_as_depth(h):
    tenant = h.institution()
    r = post_raw(h, "/api/v1/auth/login", json.dumps({"institution_code": tenant.code, "login": "[{" * 30,
                                                      "password": "\"[[[" * 40}))
    assert assert_problem(r, 401)["type"] == "/problems/unauthenticated" or r.status_code == 401


# --- paging and datetimes --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/visits", "/api/v1/fallback-records", "/api/v1/audit-events"])
@pytest.mark.parametrize("query", ["offset=100000000000000000000", "offset=-1", "limit=100000000000000000000",
                                   "limit=0"])
def test_paging_parameters_are_bounded(h, path, query):
    tenant = h.institution()
    r = h.client.get(f"{path}?{query}", headers=tenant.auth())
    assert pointers(assert_problem(r, 422)) == {f"/query/{query.split('=')[0]}"}


def test_a_large_but_sane_offset_is_an_empty_page(h):
    tenant = h.institution()
    r = h.client.get("/api/v1/visits?offset=1000000", headers=tenant.auth())
    assert r.status_code == 200 and r.get_json() == []


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00",
                                   "1899-12-31T23:59:59+00:00", "2201-01-01T00:00:00Z", "2026-12-01T09:00:00"])
def test_extreme_or_naive_datetimes_are_refused_in_queries(h, value):
    tenant = h.institution()
    r = h.client.get("/api/v1/audit-events", query_string={"since": value}, headers=tenant.auth())
    assert pointers(assert_problem(r, 422)) == {"/query/since"}


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00",
                                   "2026-12-01T09:00:00"])
def test_extreme_or_naive_datetimes_are_refused_in_bodies(h, value):
    tenant = h.institution()
    nurse = tenant.nurse()
    r = h.client.post("/api/v1/fallback-records", json={
        "care_type": 2, "form": "home_consent", "method": "declaration", "reason": "offline",
        "device_recorded_at": value}, headers={"Authorization": f"Bearer {nurse}", "Idempotency-Key": "dt-key-01"})
    assert pointers(assert_problem(r, 422)) == {"/device_recorded_at"}


def test_an_ordinary_aware_datetime_filter_still_works(h):
    tenant = h.institution()
    r = h.client.get("/api/v1/audit-events", query_string={"since": "2026-11-30T00:00:00+09:00"},
                     headers=tenant.auth())
    assert r.status_code == 200, r.get_json()


# --- headers ---------------------------------------------------------------------------------------------


def test_every_api_response_is_no_store_and_nosniff(h):
    tenant = h.institution()
    responses = [
        h.client.post("/api/v1/auth/login", json={"institution_code": tenant.code, "login": "admin",
                                                  "password": "admin-password-1"}),
        h.client.get("/api/v1/visits", headers=tenant.auth()),
        h.client.get("/api/v1/visits"),  # 401
        h.client.get("/api/v1/nothing-here"),  # 404
        h.client.put("/api/v1/auth/login", json={}),  # 405
    ]
    for r in responses:
        assert r.headers.get("Cache-Control") == "no-store", (r.status_code, r.headers)
        assert r.headers.get("X-Content-Type-Options") == "nosniff", (r.status_code, r.headers)
    assert h.client.get("/api/openapi.json").headers.get("X-Content-Type-Options") == "nosniff"


def test_every_answer_carries_the_servers_clock(h):
    """Devices date their assertions and expiries by it (issue 19): the injected clock, not the wall clock."""
    from datetime import datetime, timedelta

    tenant = h.institution()
    h.clock.advance(hours=13, milliseconds=250)
    for r in (h.client.get("/healthz"), h.client.get("/api/v1/visits", headers=tenant.auth()),
              h.client.get("/api/v1/visits")):
        told = datetime.fromisoformat(r.headers["Server-Time"].replace("Z", "+00:00"))
        assert abs(told - h.clock()) < timedelta(milliseconds=1), (r.status_code, r.headers)


def test_method_not_allowed_says_which_methods_are(h):
    r = h.client.put("/api/v1/auth/login", json={})
    assert_problem(r, 405)
    assert {m.strip() for m in r.headers["Allow"].split(",")} >= {"POST"}


# --- the OpenAPI document --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spec():
    return json.loads((ROOT / "openapi" / "openapi.json").read_text())


def test_problem_allows_extension_members(spec):
    assert spec["components"]["schemas"]["Problem"].get("additionalProperties", True) is not False


def test_every_problem_response_is_documented_as_problem_json(spec):
    def problem_ref(content):
        return any("Problem" in json.dumps(media.get("schema", {})) for media in content.values())

    default = spec["components"]["responses"]["DEFAULT_ERROR"]
    assert list(default["content"]) == [PROBLEM_JSON]
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            for status, response in op["responses"].items():
                if "$ref" in response:
                    response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
                content = response.get("content", {})
                if status.startswith(("4", "5")) or status == "default":
                    assert content, (path, method, status)  # an error always has a documented body
                if problem_ref(content):
                    assert list(content) == [PROBLEM_JSON], (path, method, status)


def test_path_parameter_kind_is_an_enum(spec):
    params = spec["paths"]["/api/v1/visits/{visit_id}/medical-information/{kind}"]["parameters"]
    kind = next(p for p in params if p["name"] == "kind")
    assert set(kind["schema"]["enum"]) == {"medication", "checkups", "clinical", "surgery"}


def test_every_schema_property_has_a_type(spec):
    untyped = []

    def walk(name, schema):
        for prop, sub in schema.get("properties", {}).items():
            if not ({"type", "$ref", "allOf", "oneOf", "anyOf"} & set(sub)):
                untyped.append(f"{name}.{prop}")
            if sub.get("type") == "array" and not ({"type", "$ref"} & set(sub.get("items", {}))):
                untyped.append(f"{name}.{prop}[]")

    for name, schema in spec["components"]["schemas"].items():
        walk(name, schema)
    assert untyped == []
    certificate = spec["components"]["schemas"]["Submit"]["properties"]["certificate"]
    assert certificate["type"] == "string" and certificate["format"] == "byte"


def test_a_kind_outside_the_documented_enum_is_still_a_validation_error(h):
    nurse = h.institution().nurse()
    r = h.client.get("/api/v1/visits/some-id/medical-information/genome", headers={"Authorization": f"Bearer {nurse}"})
    assert pointers(assert_problem(r, 422)) == {"/kind"}


# --- the contract: required bodies are required, booleans are JSON booleans ------------------------------


def test_a_missing_body_is_refused_where_the_contract_requires_one(h):
    tenant = h.institution()
    nurse = tenant.nurse()
    visit = h.verify_pin(nurse, h.card("P01-valid-30"), consent={"kinds": ["medication"]}).get_json()
    client = h.client.post("/api/v1/clients", json={"name": "CSV連携", "auth_method": "client_secret"},
                           headers=tenant.auth()).get_json()
    for path in (f"/api/v1/clients/{client['client_id']}/credentials",
                 f"/api/v1/visits/{visit['id']}/consent-withdrawal"):
        for raw in ("", "  "):
            r = h.client.post(path, data=raw, headers={**tenant.auth(), "Content-Type": "application/json"})
            body = assert_problem(r, 422)
            assert body["errors"] == [{"pointer": "/", "detail": "リクエスト本文（JSON オブジェクト）が必要です。"}]
        assert_problem(h.client.post(path, headers=tenant.auth()), 422)  # no Content-Type either
    # nothing happened: one secret still, the consent still open; an empty object is a body, and works
    listed = h.client.get("/api/v1/clients", headers=tenant.auth()).get_json()
    assert [len(c["credentials"]) for c in listed] == [1]
    assert h.medical(nurse, visit["id"]).status_code == 200
    withdrawn = h.client.post(f"/api/v1/visits/{visit['id']}/consent-withdrawal", json={}, headers=tenant.auth())
    assert withdrawn.status_code == 200 and withdrawn.get_json()["consents_withdrawn"] == 1


@pytest.mark.parametrize("value", [0, 1, "true", "false", "yes", "1", None])
def test_a_boolean_is_only_true_or_false(h, value):
    nurse = h.institution().nurse()
    started = h.start(nurse).get_json()
    body = h.pin_body(h.card("P01-valid-30"), started["challenge"], consent={"blanket": value})
    r = h.submit(nurse, started["challenge_id"], body)
    problem = assert_problem(r, 422)
    assert pointers(problem) == {"/consent/blanket"}
    assert h.client.get("/api/v1/visits", headers={"Authorization": f"Bearer {nurse}"}).get_json() == []


def test_every_boolean_the_api_reads_is_strict():
    import importlib
    import pkgutil

    import marshmallow as ma

    import mobile_api.api
    from mobile_api.api import fields as api_fields

    for module in pkgutil.walk_packages(mobile_api.api.__path__, "mobile_api.api."):
        importlib.import_module(module.name)
    loose = [f"{schema.__module__}.{schema.__name__}.{name}" for schema in _schema_classes(ma.Schema)
             for name, field in schema._declared_fields.items()
             if isinstance(field, ma.fields.Boolean) and not isinstance(field, api_fields.Boolean)]
    assert loose == []


def _schema_classes(base):
    for sub in base.__subclasses__():
        if sub.__module__.startswith("mobile_api.api"):
            yield sub
        yield from _schema_classes(sub)
