"""Standard OAuth clients work as docs/health-check-api.md shows: Authlib's ``PrivateKeyJWT`` as it comes (its
assertions live 3,600 s), every ``invalid_client`` with the status RFC 6749 §5.2 asks, and the spec saying so."""
from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jws
from joserfc.jwk import ECKey
from sqlalchemy import func, select

from device_agent.device_key import generate_key
from mobile_api import create_app
from mobile_api.adapters import orm
from mobile_api.domain.errors import all_error_classes
from tests.integration.conftest import TEST_CONFIG
from tests.integration.test_health_check_api import P01, Integrator, assertion, token_request
from tests.support.harness import Harness
from tests.support.live import serve

DOC = Path(__file__).resolve().parents[2] / "docs" / "health-check-api.md"


@pytest.fixture
def app(app):  # type: ignore[no-untyped-def]
    yield app
    app.extensions["mobile_api"].jobs.stop()


@pytest.fixture
def integrator(h):  # type: ignore[no-untyped-def]
    return Integrator(h)


def secret_client(h: Harness) -> tuple[str, str]:
    tenant = h.institution("health_check")
    r = h.client.post("/api/v1/clients", json={"name": "CSV連携", "auth_method": "client_secret"},
                      headers=tenant.auth())
    assert r.status_code == 201, r.get_json()
    return r.get_json()["client_id"], r.get_json()["client_secret"]


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


# --- private_key_jwt with Authlib, exactly as the docs show ------------------------------------------------

class AuthlibIntegrator:
    """docs/health-check-api.md §1-2 step by step: the key made with cryptography, the public half registered by
    the institution's admin, then Authlib's own ``OAuth2Session`` with ``PrivateKeyJWT`` as it comes. Authlib
    signs with the wall clock, so the server's (frozen) clock is set to it, as a real server's would agree: just
    before the token request, so that a slow set-up on a loaded machine cannot put its ``iat`` in the server's
    future (60 s tolerated)."""

    def __init__(self, h: Harness) -> None:
        self.clock = h.clock
        private = ec.generate_private_key(ec.SECP256R1())
        self.private_pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()).decode()
        public_pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        r = h.client.post("/api/v1/clients", json={"name": "予約システム", "auth_method": "private_key_jwt",
                                                   "public_key_pem": public_pem},
                          headers=h.institution("health_check").auth())
        assert r.status_code == 201, r.get_json()
        self.client_id, self.key_id = r.get_json()["client_id"], r.get_json()["credentials"][0]["key_id"]

    def session(self, base: str) -> OAuth2Session:
        token_url = f"{base}/api/v1/oauth/token"
        session = OAuth2Session(self.client_id, ECKey.import_key(self.private_pem),
                                scope="qualification:check qualification:batch",
                                token_endpoint_auth_method=PrivateKeyJWT(token_url, alg="ES256",
                                                                         headers={"kid": self.key_id}))
        self.clock.set(datetime.now(UTC))
        session.fetch_token(token_url, grant_type="client_credentials")
        return session


def test_authlib_private_key_jwt_gets_a_token_and_runs_a_check(h, app):  # type: ignore[no-untyped-def]
    integrator = AuthlibIntegrator(h)
    with serve(app) as (base, wire):
        session = integrator.session(base)
        assert session.token["token_type"] == "Bearer"
        assert session.token["scope"] == "qualification:batch qualification:check"
        one = session.post(f"{base}/api/v1/qualification-checks", json={"reference": "R-0001", **P01},
                           headers={"Idempotency-Key": uuid.uuid4().hex})
        assert one.status_code == 200, one.text
        assert one.json()["eligibility_status"] == 1 and one.json()["qualification"]["name"] == "佐藤 健一"

    _, _, body = next(req for req in wire.requests if req[1] == "/api/v1/oauth/token")
    sent = parse_qs(body.decode())["client_assertion"][0]
    claims = json.loads(jws.extract_compact(sent.encode()).payload)
    assert claims["exp"] - claims["iat"] == 3600  # Authlib's standard lifetime, accepted by default


def test_an_assertion_living_longer_than_the_setting_is_refused_naming_the_limit(h, integrator):
    hour = token_request(h, integrator.client_id, integrator.key, integrator.kid, exp_in=3600)
    assert hour.status_code == 200, hour.get_json()
    longer = token_request(h, integrator.client_id, integrator.key, integrator.kid, exp_in=3600 + 120)
    assert longer.status_code == 400 and longer.get_json()["error"] == "invalid_client"
    assert "3600 seconds" in longer.get_json()["error_description"]
    assert "CLIENT_ASSERTION_MAX_LIFETIME_SECONDS" in longer.get_json()["error_description"]


def test_the_accepted_lifetime_is_a_setting(database_url, clock):  # type: ignore[no-untyped-def]
    app = create_app({**TEST_CONFIG, "DATABASE_URL": database_url, "CLIENT_ASSERTION_MAX_LIFETIME_SECONDS": 300},
                     clock=clock)
    try:
        h = Harness(app, clock)
        integrator = Integrator(h)
        assert token_request(h, integrator.client_id, integrator.key, integrator.kid, exp_in=300).status_code == 200
        r = token_request(h, integrator.client_id, integrator.key, integrator.kid, exp_in=3600)
        assert r.status_code == 400 and "at most 300 seconds" in r.get_json()["error_description"]
    finally:
        app.extensions["mobile_api"].jobs.stop()
        app.extensions["mobile_api_engine"].dispose()


def test_an_hour_long_assertion_is_single_use_until_it_expires(h, integrator):
    """The jti is remembered until the assertion's exp: a replay 59 minutes later is still refused."""
    signed = assertion(integrator.client_id, integrator.key, integrator.kid, h.clock(), exp_in=3600)
    form = {"grant_type": "client_credentials", "client_assertion": signed,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}
    assert h.client.post("/api/v1/oauth/token", data=form).status_code == 200
    h.clock.advance(minutes=59)
    replay = h.client.post("/api/v1/oauth/token", data=form)
    assert replay.status_code == 400 and replay.get_json()["error_description"] == "the assertion (jti) was already used"


# --- invalid_client as RFC 6749 §5.2 says --------------------------------------------------------------------

def test_invalid_client_is_401_with_www_authenticate_after_http_basic(h):
    client_id, secret = secret_client(h)
    good = h.client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"},
                         headers=basic(client_id, secret))
    assert good.status_code == 200, good.get_json()
    for who, what in ((client_id, secret + "x"), (str(uuid.uuid4()), secret), ("not-a-client", "x")):
        r = h.client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"}, headers=basic(who, what))
        assert r.status_code == 401 and r.get_json()["error"] == "invalid_client", (who, r.get_json())
        assert r.headers["WWW-Authenticate"].startswith("Basic ")


@pytest.mark.parametrize("header", ["Basic !!!", "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(), "Basic ",
                                    "Bearer eyJ.e30.sig", "Basic " + base64.b64encode(b"no-colon").decode()])
def test_a_malformed_authorization_header_is_401_invalid_client_not_a_500(h, header):
    r = h.client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"},
                      headers={"Authorization": header})
    assert r.status_code == 401 and r.get_json()["error"] == "invalid_client", (r.status_code, r.get_data()[:300])
    assert r.headers["WWW-Authenticate"].startswith("Basic ")


def test_invalid_client_is_400_without_www_authenticate_in_the_form(h, integrator):
    client_id, secret = secret_client(h)
    refused = [
        h.client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                                   "client_secret": secret + "x"}),
        h.client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials", "client_id": str(uuid.uuid4()),
                                                   "client_secret": secret}),
        h.client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"}),
        token_request(h, integrator.client_id, generate_key(), integrator.kid),
    ]
    for r in refused:
        assert r.status_code == 400 and r.get_json()["error"] == "invalid_client", r.get_json()
        assert "WWW-Authenticate" not in r.headers


def test_a_locked_client_gets_the_status_of_the_way_it_authenticated(app, h):  # type: ignore[no-untyped-def]
    client_id, secret = secret_client(h)
    for _ in range(app.extensions["mobile_api"].rules.sign_in_max_failures):
        h.client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                                   "client_secret": "wrong"})
    form = h.client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                                      "client_secret": secret})
    header = h.client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"},
                           headers=basic(client_id, secret))
    assert form.status_code == 400 and form.get_json()["error_description"].startswith("locked")
    assert header.status_code == 401 and header.get_json()["error_description"].startswith("locked")
    assert header.headers["WWW-Authenticate"].startswith("Basic ")


def test_authlib_client_secret_basic_gets_a_token(h, app):  # type: ignore[no-untyped-def]
    """Authlib's default for a client with a secret is HTTP Basic (client_secret_basic)."""
    client_id, secret = secret_client(h)
    with serve(app) as (base, _):
        token = OAuth2Session(client_id, secret).fetch_token(f"{base}/api/v1/oauth/token",
                                                             grant_type="client_credentials")
    assert token["token_type"] == "Bearer" and "qualification:check" in token["scope"]


def test_the_spec_documents_both_statuses_of_invalid_client(h):
    responses = h.client.get("/api/openapi.json").get_json()["paths"]["/api/v1/oauth/token"]["post"]["responses"]
    assert "invalid_client" in responses["400"]["description"]
    assert "Authorization header" in responses["401"]["description"]
    assert "WWW-Authenticate" in responses["401"]["headers"]


# --- the documented problem types -----------------------------------------------------------------------------

DOCUMENTED = re.compile(r"(\d{3})(?:\s+problem\+json)?\s+`([a-z]+(?:-[a-z]+)+)`")


def test_every_problem_type_in_the_health_check_docs_is_one_the_server_answers(h):
    """docs/health-check-api.md names problem types next to their status ("409 `results-expired`"): each must be
    a refusal the server has, with that status, and its type URI must resolve."""
    statuses = {cls.slug: cls.status for cls in all_error_classes()}
    documented = DOCUMENTED.findall(DOC.read_text(encoding="utf-8"))
    assert {"results-expired", "insurer-number-invalid", "rate-limited", "challenge-used",
            "identifier-lookup-not-allowed", "unsupported-media-type"} <= {slug for _, slug in documented}
    for status, slug in documented:
        assert statuses.get(slug) == int(status), (slug, status, statuses.get(slug))
        assert h.client.get(f"/problems/{slug}").status_code == 200, slug


def test_the_batch_answers_the_documented_413_and_415(h, integrator):
    """§4: more than 10,000 examinees is 413 ``batch-too-large`` (nothing queued); text/plain is 415."""
    rows = "\n".join(f"R-{i},01130012,44100021,1287,00,1984/5/12" for i in range(10_001))
    csv_body = f"reference,insurer_number,symbol,number,branch_number,birth_date\n{rows}\n".encode()
    auth = integrator.auth()
    big = h.client.post("/api/v1/batch-jobs", data=csv_body, headers={**auth, "Content-Type": "text/csv"})
    assert big.status_code == 413 and big.get_json()["type"] == "/problems/batch-too-large", big.get_json()
    assert "10000件まで" in big.get_json()["detail"]
    plain = h.client.post("/api/v1/batch-jobs", data=csv_body[:200], headers={**auth, "Content-Type": "text/plain"})
    assert plain.status_code == 415 and plain.get_json()["type"] == "/problems/unsupported-media-type"
    with h.rt.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(orm.BatchJob)) == 0
