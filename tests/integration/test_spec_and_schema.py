"""The checked-in OpenAPI document and the migrations both match the code."""
import json
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from mobile_api.adapters import orm
from mobile_api.adapters.db import make_engine
from mobile_api.adapters.migrations import include_name
from mobile_api.sandbox import ca as _sandbox_tables  # noqa: F401  (sandbox_ca is migrated too)

ROOT = Path(__file__).resolve().parents[2]


def test_openapi_json_is_in_sync(app):
    with app.app_context():
        generated = app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()
    checked_in = json.loads((ROOT / "openapi" / "openapi.json").read_text())
    assert checked_in == json.loads(json.dumps(generated)), (
        "openapi/openapi.json is stale: run `make openapi` and commit the result")


def test_openapi_documents_problem_json_and_bearer_auth():
    spec = json.loads((ROOT / "openapi" / "openapi.json").read_text())
    submit = spec["paths"]["/api/v1/verifications/{challenge_id}/submit"]["post"]
    assert "application/problem+json" in submit["responses"]["422"]["content"]
    assert submit["security"] == [{"bearerAuth": []}]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in submit["parameters"])


def test_migrations_match_the_models(database_url):
    engine = make_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False,
                                                                  "include_name": include_name}), orm.Base.metadata)
    engine.dispose()
    assert diff == [], "models changed without a migration: run `flask db revision -m ...`"


def test_every_operation_has_a_unique_operation_id() -> None:
    """Generated clients name their functions by operationId (docs/health-check-api.md)."""
    spec = json.loads((ROOT / "openapi" / "openapi.json").read_text())
    ids = [operation.get("operationId") for path in spec["paths"].values()
           for method, operation in path.items() if method in ("get", "post", "put", "patch", "delete")]
    assert None not in ids and len(ids) == len(set(ids))
    assert "batch_jobs_create" in ids and "qualification_checks_check" in ids


def test_every_response_declares_the_server_time_header() -> None:
    """Every answer carries Server-Time (api/edge.py; the device dates by it, docs/rules.md §2.3): the spec says
    so on every response, directly or through the component response it refers to."""
    spec = json.loads((ROOT / "openapi" / "openapi.json").read_text())
    assert spec["components"]["headers"]["Server-Time"]["schema"]["format"] == "date-time"
    reference = {"$ref": "#/components/headers/Server-Time"}
    components = spec["components"]["responses"]
    responses = [response for path in spec["paths"].values() for method, operation in path.items()
                 if method in ("get", "post", "put", "patch", "delete") for response in operation["responses"].values()]
    assert len(responses) > 100
    for response in responses:
        declared = components[response["$ref"].rsplit("/", 1)[1]] if "$ref" in response else response
        assert declared["headers"]["Server-Time"] == reference, response
    retry = spec["paths"]["/api/v1/auth/login"]["post"]["responses"]["429"]["headers"]
    assert set(retry) == {"Retry-After", "Server-Time"}, "the header is added, not put in place of another"
