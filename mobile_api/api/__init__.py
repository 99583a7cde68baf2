"""HTTP API: flask-smorest under /api/v1, OpenAPI at /api/openapi.json, Swagger UI at /api/docs."""
from __future__ import annotations

from flask import Flask

from . import (
    edge,
    health,
    messages_ja,  # noqa: F401  (first: marshmallow's messages in Japanese before any field is made)
    outages,
    problems,
    rate_limits,
)
from .audit.routes import blp as audit_blp
from .auth.routes import blp as auth_blp
from .batch_jobs.routes import blp as batch_jobs_blp
from .care.routes import blp as care_blp
from .claims.routes import blp as claims_blp
from .clients.routes import blp as clients_blp
from .consent_links.routes import blp as consent_links_blp
from .core import Api
from .devices.routes import blp as devices_blp
from .disaster.routes import blp as disaster_blp
from .fallback.routes import blp as fallback_blp
from .institution.routes import blp as institution_blp
from .oauth.routes import blp as oauth_blp
from .oauth.server import build_server
from .patient.page import page as patient_page
from .patient.routes import blp as patient_blp
from .qualification_checks.routes import blp as qualification_checks_blp
from .staff.routes import blp as staff_blp
from .usage.routes import blp as usage_blp
from .verifications.routes import blp as verifications_blp
from .visits.routes import blp as visits_blp

BLUEPRINTS = (auth_blp, institution_blp, staff_blp, devices_blp, verifications_blp, visits_blp, audit_blp,
              fallback_blp, oauth_blp, clients_blp, qualification_checks_blp, batch_jobs_blp, care_blp,
              consent_links_blp, patient_blp, claims_blp, disaster_blp,
              usage_blp)


def init_app(app: Flask) -> Api:
    problems.init_app(app)
    edge.init_app(app)
    outages.init_app(app)
    rate_limits.init_app(app)
    health.init_app(app)
    api = Api(app, spec_kwargs={"info": {"description": "Mobile online qualification confirmation: "
                                                        "居宅同意取得型 (②) and 資格確認限定型 (③)."},
                                "extra_plugins": [outages.UnavailableResponses()]})
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    api.spec.components.security_scheme("clientCredentials", {
        "type": "oauth2", "description": "Machine clients (health-check institutions): docs/health-check-api.md",
        "flows": {"clientCredentials": {"tokenUrl": "/api/v1/oauth/token", "scopes": {
            "qualification:check": "single qualification checks", "qualification:batch": "batch jobs"}}}})
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    app.register_blueprint(patient_page)  # the patient's HTML page (not part of the JSON API)
    app.extensions["mobile_api_oauth"] = build_server(app, app.extensions["mobile_api"])
    return api
