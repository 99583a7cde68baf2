"""HTTP API: flask-smorest under /api/v1, OpenAPI at /api/openapi.json, Swagger UI at /api/docs."""
from __future__ import annotations

from flask import Flask

from . import edge, outages, problems
from .audit.routes import blp as audit_blp
from .auth.routes import blp as auth_blp
from .core import Api
from .devices.routes import blp as devices_blp
from .fallback.routes import blp as fallback_blp
from .institution.routes import blp as institution_blp
from .staff.routes import blp as staff_blp
from .verifications.routes import blp as verifications_blp
from .visits.routes import blp as visits_blp

BLUEPRINTS = (auth_blp, institution_blp, staff_blp, devices_blp, verifications_blp, visits_blp, audit_blp,
              fallback_blp)


def init_app(app: Flask) -> Api:
    problems.init_app(app)
    edge.init_app(app)
    outages.init_app(app)
    api = Api(app, spec_kwargs={"info": {"description": "Mobile online qualification confirmation: "
                                                        "居宅同意取得型 (②) and 資格確認限定型 (③)."},
                                "extra_plugins": [outages.UnavailableResponses()]})
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    return api
