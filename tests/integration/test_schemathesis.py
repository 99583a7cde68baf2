"""Property-based contract test: schemathesis generates requests from the served OpenAPI document
(valid and invalid ones) and every built-in check must hold on both databases: no 5xx, only documented
status codes, content types, headers and bodies, invalid input refused, missing auth refused.

Bounded and deterministic so it can run in every `make test`: a few dozen examples per operation,
derandomized, no deadline (argon2 and the database make timings noisy).
"""
from __future__ import annotations

import os

import hypothesis
import pytest
import schemathesis

from tests.support.harness import ADMIN_PASSWORD, Harness

#: A few dozen per operation keeps the run near a minute; raise it for a deeper hunt.
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25"))


#: U+0000 is valid in a JSON string but the edge refuses it (the API description says so), so it is not
#: generated as "valid" data; invalid-data generation still sends whatever the schema forbids.
CONFIG = {
    "generation": {"allow-x00": False, "deterministic": True, "max-examples": MAX_EXAMPLES},
    # An oversized invalid body is refused before it is parsed: 413 is a correct refusal (documented on every
    # operation that takes a body), next to schemathesis's default list.
    "checks": {"negative_data_rejection": {"expected-statuses": [400, 401, 403, 404, 405, 406, 409, 413, 415, 422,
                                                                 428, 429]}},
    # What a schema cannot express: an X.509 certificate and a signature that verify, a PEM key that parses,
    # an insurer number whose check digit matches. A schema-valid request may still get 422 there.
    "operations": [{"include-path": path, "include-method": "POST",
                    "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", 401, 403, 404, 409, 422]}}}
                   for path in ("/api/v1/verifications/{challenge_id}/submit", "/api/v1/devices/enrol",
                                "/api/v1/fallback-records")],
}


def admin_on_device(h: Harness) -> str:
    """An admin signed in on an enrolled device may call every operation (admin and staff-on-device ones)."""
    tenant = h.institution()
    tenant.set_visual_password()
    device = tenant.enrol_device()
    return tenant.login_on_device("admin", device, password=ADMIN_PASSWORD)


@pytest.fixture
def api_schema(app, h):  # type: ignore[no-untyped-def]
    token = admin_on_device(h)
    # The document the app serves (test_spec_and_schema keeps openapi/openapi.json equal to it).
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app,
                                            config=schemathesis.config.SchemathesisConfig.from_dict(CONFIG))

    @schema.auth()
    class BearerToken:
        """Explicit auth, so the ignored-auth check also probes every operation without it and with a bad one."""

        def get(self, case, context):  # type: ignore[no-untyped-def]
            return token

        def set(self, case, data, context):  # type: ignore[no-untyped-def]
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    return schema


@pytest.fixture(autouse=True)
def _nodeid_for_schemathesis(request):  # type: ignore[no-untyped-def]
    """schemathesis 4.32's lazy schemas read ``node._nodeid``, which pytest 9 no longer sets."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@hypothesis.settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
                     suppress_health_check=list(hypothesis.HealthCheck))
def test_the_api_keeps_its_contract(case):  # type: ignore[no-untyped-def]
    case.call_and_validate()


#: The console's forms and filters (tests/support/console_openapi.py): fewer examples, and one promise only.
CONSOLE_MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_CONSOLE_MAX_EXAMPLES", "12"))


@pytest.fixture
def console_schema(app, h):  # type: ignore[no-untyped-def]
    """An admin's signed-in console session; every generated form carries its CSRF token (a request without it
    is refused with 400 before anything reads the form, which would test nothing)."""
    from tests.integration.test_console_access import Browser
    from tests.support.console_openapi import console_openapi

    browser = Browser(h, h.institution(), "admin", ADMIN_PASSWORD)
    cookie = browser.client.get_cookie("mobile_oqs_console", path="/console").value
    config = schemathesis.config.SchemathesisConfig.from_dict(
        {"generation": {"deterministic": True, "max-examples": CONSOLE_MAX_EXAMPLES}})
    schema = schemathesis.openapi.from_dict(console_openapi(), config=config)
    schema.app = app

    @schema.auth()
    class ConsoleSession:
        def get(self, case, context):  # type: ignore[no-untyped-def]
            return cookie

        def set(self, case, data, context):  # type: ignore[no-untyped-def]
            case.cookies = {**(case.cookies or {}), "mobile_oqs_console": data}
            if case.method == "POST" and isinstance(case.body, dict):
                case.body = {**case.body, "csrf_token": browser.csrf}

    return schema


console = schemathesis.pytest.from_fixture("console_schema")


@console.parametrize()
@hypothesis.settings(max_examples=CONSOLE_MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
                     suppress_health_check=list(hypothesis.HealthCheck))
def test_the_consoles_forms_never_answer_a_server_error(case):  # type: ignore[no-untyped-def]
    case.call_and_validate(checks=[schemathesis.checks.not_a_server_error])
