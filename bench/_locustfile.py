"""Locust users for bench/server_load.py (run headless by it; one user class per run).

The seeded tenant comes from the JSON file named by ``BENCH_SEED`` (written by server_load.py): access tokens
of nurses on enrolled devices, their device keys (for logins), the visits opened for the medical reads, and a
sandbox card. No think time: each user sends its next request as soon as the last one is answered (a closed
loop), so req/s is the server's throughput at that concurrency; unless ``BENCH_RATE_PER_USER`` paces each user
(server_load.py ``--rate``), to measure the latency at an offered rate below saturation.

A verification is two requests (start, then submit with the card's signature over the challenge); besides
each request, the pair is reported as one ``verification`` entry whose time is start + submit.
"""
from __future__ import annotations

import itertools
import json
import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from locust import FastHttpUser, constant_throughput, task

from bench._seed import card_from_json, start_body, submit_body
from device_agent.device_key import make_assertion

SEED: dict[str, Any] = json.loads(Path(os.environ["BENCH_SEED"]).read_text(encoding="utf-8"))
CARD = card_from_json(SEED["card"])  # the seeded certificate and its private key
x509.load_der_x509_certificate(CARD.certificate_der)  # fail early on a bad seed
NURSES = SEED["nurses"]
_next_nurse = itertools.count()


class _Seeded(FastHttpUser):
    abstract = True
    # BENCH_RATE_PER_USER: an open-ish loop instead, each user paced at that many operations per second (the
    # latency at a given offered rate, as opposed to the throughput at saturation).
    if os.environ.get("BENCH_RATE_PER_USER"):
        wait_time = constant_throughput(float(os.environ["BENCH_RATE_PER_USER"]))

    def on_start(self) -> None:
        self.nurse = NURSES[next(_next_nurse) % len(NURSES)]
        self.auth = {"Authorization": f"Bearer {self.nurse['token']}"}


class Floor(_Seeded):
    """The framework's floor: a trivial JSON endpoint on the same server and settings."""

    @task
    def floor(self) -> None:
        self.client.get("/api/v1/_floor", name="floor")


class Healthz(_Seeded):
    """The app's own cheapest endpoint (liveness: answers without the database), same server and settings."""

    @task
    def healthz(self) -> None:
        self.client.get("/healthz", name="healthz")


class FlaskFloor(_Seeded):
    """The 5-line Flask app (bench/_floor_app.py) under the same gunicorn settings: run against its own host."""

    @task
    def flask_floor(self) -> None:
        self.client.get("/", name="flask_floor")


class Verification(_Seeded):
    @task
    def verification(self) -> None:
        started_at = time.perf_counter()
        failure: Exception | None = None
        with self.client.post("/api/v1/verifications", json=start_body(), headers=self.auth,
                              name="verification:start", catch_response=True) as started:
            if started.status_code != 201:
                started.failure(f"start {started.status_code}")
                failure = RuntimeError(f"start {started.status_code}")
            challenge = started.json() if failure is None else {}
        if failure is None:
            with self.client.post(f"/api/v1/verifications/{challenge['challenge_id']}/submit",
                                  json=submit_body(CARD, challenge["challenge"]),
                                  headers={**self.auth, "Idempotency-Key": uuid.uuid4().hex},
                                  name="verification:submit", catch_response=True) as submitted:
                if submitted.status_code != 201:
                    submitted.failure(f"submit {submitted.status_code}")
                    failure = RuntimeError(f"submit {submitted.status_code}")
        self.environment.events.request.fire(
            request_type="OP", name="verification", response_time=(time.perf_counter() - started_at) * 1000,
            response_length=0, exception=failure, context={})


class MedicalRead(_Seeded):
    """A medical-information view inside the window (each view writes its audit row)."""

    @task
    def medical(self) -> None:
        with self.client.get(f"/api/v1/visits/{self.nurse['visit_id']}/medical-information/medication",
                             headers=self.auth, name="medical_read", catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"medical {r.status_code}")


class Login(_Seeded):
    """A staff login on an enrolled device (argon2id at the production cost, a fresh device assertion)."""

    def on_start(self) -> None:
        super().on_start()
        key = serialization.load_pem_private_key(self.nurse["device_key"].encode(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)  # a device key is P-256
        self.key = key

    @task
    def login(self) -> None:
        assertion = make_assertion(self.key, device_id=self.nurse["device_id"], audience=SEED["audience"],
                                   now=datetime.now(UTC))
        with self.client.post("/api/v1/auth/login", json={
                "institution_code": SEED["institution_code"], "login": self.nurse["login"],
                "password": SEED["staff_password"], "device_assertion": assertion},
                name="login", catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"login {r.status_code}")
