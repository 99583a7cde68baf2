"""The sandbox OQS as its own HTTP process: what ``OQS_BACKEND=http`` talks to in prod-local and compose.

    gunicorn -b 127.0.0.1:8100 'mobile_api.sandbox.server:create_app()'

It serves ``SandboxOQS`` over the wire format of ``mobile_api.adapters.oqs_http`` (JSON over HTTP; 200 with
the answer, 422 with a domain refusal, 503 when the simulated system is down). Its CA lives in the database
named by ``DATABASE_URL`` (table ``sandbox_ca``, the same migration as the API), so cards issued with
``flask --app mobile_api sandbox ...`` against that database are the ones it recognises.
"""
from __future__ import annotations

import os
from typing import Any

from flask import Flask, Response, jsonify, request

from ..adapters.db import make_engine, make_session_factory
from ..adapters.oqs import LazyGateway
from ..adapters.oqs_http import decode_confirmation, decode_query, decode_requery, encode_refusal
from ..clock import Clock, system_clock
from ..domain.codes import InfoKind
from ..domain.errors import DomainError, QualificationUnavailable


def create_app(database_url: str | None = None, *, clock: Clock = system_clock, gateway: Any = None) -> Flask:
    app = Flask(__name__)
    if gateway is None:
        url = database_url or os.environ["DATABASE_URL"]
        session_factory = make_session_factory(make_engine(url, unpooled=True))

        from .gateway import SandboxOQS

        gateway = LazyGateway(lambda: SandboxOQS.from_database(session_factory, clock))
    app.extensions["sandbox_oqs"] = gateway

    @app.errorhandler(QualificationUnavailable)
    def _down(error: QualificationUnavailable) -> tuple[Response, int]:
        return jsonify(encode_refusal(error)), 503

    @app.errorhandler(DomainError)
    def _refused(error: DomainError) -> tuple[Response, int]:
        return jsonify(encode_refusal(error)), 422

    @app.post("/oqs/v1/confirm")
    def confirm() -> Response:
        return jsonify(gateway.confirm(decode_confirmation(request.get_json())).to_dict())

    @app.post("/oqs/v1/lookup")
    def lookup() -> Response:
        return jsonify(gateway.lookup(decode_query(request.get_json())).to_dict())

    @app.post("/oqs/v1/requery")
    def requery() -> Response:
        return jsonify(gateway.requery(decode_requery(request.get_json())).to_dict())

    @app.post("/oqs/v1/medical-information")
    def medical_information() -> Response:
        from datetime import datetime

        body = request.get_json()
        records = gateway.medical_information(institution_code=body["institution_code"],
                                              person_ref=body["person_ref"], kind=InfoKind(body["kind"]),
                                              at=datetime.fromisoformat(body["at"]))
        return jsonify(records=records)

    @app.get("/oqs/v1/trust-anchors")
    def trust_anchors() -> Response:
        from cryptography.hazmat.primitives.serialization import Encoding

        return jsonify(certificates=[c.public_bytes(Encoding.PEM).decode() for c in gateway.trust_anchors()])

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok")

    return app
