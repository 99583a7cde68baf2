"""A tenant on a running server (prod-local), driven over real HTTP like a device: for the benchmark and the
smoke and fault tests.

The institution and its admin are created in-process against the server's database (the operator's step,
``flask institution create``); everything else goes through the API: staff, device enrolment with an
activation code, login with a device assertion, a card verification with a card the sandbox CA issues, a
medical-information view.
"""
from __future__ import annotations

import base64
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding

from device_agent.device_key import generate_key, make_assertion, public_key_pem

PERSONA = "P01-valid-30"
ADMIN_PASSWORD = "admin-password-bench-1"
STAFF_PASSWORD = "staff-password-bench-1"
AUDIENCE = "mobile-oqs-api"
CONSENT = {"kinds": ["medication"]}


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def create_institution(database_url: str, code: str | None = None, facility_kind: str = "home_visit_care") -> str:
    """The operator's step (``flask institution create``), in-process against the same database."""
    from mobile_api import create_app
    from mobile_api.services import identity

    code = code or "13" + "".join(secrets.choice("0123456789") for _ in range(8))
    app = create_app({"DATABASE_URL": database_url, "JWT_KEYS": {"seed": secrets.token_urlsafe(48)},
                      "JWT_ACTIVE_KID": "seed", "JOBS_EMBEDDED_WORKERS": 0})
    try:
        identity.create_institution(app.extensions["mobile_api"], code=code, name=f"負荷試験{code}",
                                    facility_kind=facility_kind, admin_login="admin",
                                    admin_password=ADMIN_PASSWORD)
    finally:
        app.extensions["mobile_api_engine"].dispose()
    return code


def issue_card(database_url: str, persona: str = PERSONA) -> Any:
    """A card from the sandbox CA in the server's database (the one the OQS sandbox process trusts)."""
    from mobile_api.adapters.db import make_engine, make_session_factory
    from mobile_api.clock import system_clock
    from mobile_api.sandbox.ca import SandboxCA

    engine = make_engine(database_url, unpooled=True)
    try:
        return SandboxCA.load_or_create(make_session_factory(engine), system_clock).issue_card(
            persona, variant="card", now=system_clock())
    finally:
        engine.dispose()


def card_from_json(card: dict[str, str]) -> Any:
    """A card as ``submit_body`` takes it, from its JSON form (base64 certificate, PEM private key)."""
    return SimpleNamespace(certificate_der=base64.b64decode(card["certificate"]),
                           private_key=serialization.load_pem_private_key(card["private_key"].encode(), password=None))


@dataclass
class Nurse:
    login: str
    device_id: str
    key: ec.EllipticCurvePrivateKey
    token: str = ""


@dataclass
class Tenant:
    base_url: str
    code: str
    http: requests.Session = field(default_factory=requests.Session)
    admin_token: str = ""

    def post(self, path: str, body: Any, token: str | None = None, **headers: str) -> requests.Response:
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.post(self.base_url + path, json=body, headers=headers, timeout=30)

    def login_admin(self) -> None:
        r = self.post("/api/v1/auth/login", {"institution_code": self.code, "login": "admin",
                                             "password": ADMIN_PASSWORD})
        r.raise_for_status()
        self.admin_token = r.json()["access_token"]

    def nurse(self, login: str) -> Nurse:
        r = self.post("/api/v1/staff", {"login": login, "display_name": "看護 花子", "role": "staff",
                                        "password": STAFF_PASSWORD}, self.admin_token)
        assert r.status_code == 201, r.text
        r = self.post("/api/v1/devices", {"label": f"端末{login}"}, self.admin_token)
        assert r.status_code == 201, r.text
        key = generate_key()
        r = self.post("/api/v1/devices/enrol", {"activation_code": r.json()["activation_code"],
                                                "public_key_pem": public_key_pem(key)})
        assert r.status_code == 201, r.text
        nurse = Nurse(login, r.json()["device_id"], key)
        r = self.login(nurse)
        assert r.status_code == 200, r.text
        nurse.token = r.json()["access_token"]
        return nurse

    def login_body(self, nurse: Nurse) -> dict[str, Any]:
        return {"institution_code": self.code, "login": nurse.login, "password": STAFF_PASSWORD,
                "device_assertion": make_assertion(nurse.key, device_id=nurse.device_id, audience=AUDIENCE,
                                                   now=datetime.now(UTC))}

    def login(self, nurse: Nurse, http: Any = None) -> Any:
        return (http or self.http).post(self.base_url + "/api/v1/auth/login", json=self.login_body(nurse),
                                        timeout=30)


def start_body() -> dict[str, Any]:
    return {"care_type": 2, "form": "home_consent", "method": "pin"}


def submit_body(card: Any, challenge_b64: str) -> dict[str, Any]:
    signature = card.private_key.sign(base64.b64decode(challenge_b64), padding.PKCS1v15(), hashes.SHA256())
    return {"certificate": b64(card.certificate_der), "signature": b64(signature), "consent": CONSENT}


def verify(http: Any, base_url: str, token: str, card: Any, key: str | None = None,
           name_start: str | None = None, name_submit: str | None = None) -> Any:
    """start + submit; returns the submit response (or the failed start's). ``http`` may be a locust client."""
    auth = {"Authorization": f"Bearer {token}"}
    extra = {"name": name_start} if name_start else {}
    started = http.post(base_url + "/api/v1/verifications", json=start_body(), headers=auth, timeout=30, **extra)
    if started.status_code != 201:
        return started
    challenge = started.json()
    extra = {"name": name_submit} if name_submit else {}
    return http.post(f"{base_url}/api/v1/verifications/{challenge['challenge_id']}/submit",
                     json=submit_body(card, challenge["challenge"]),
                     headers={**auth, "Idempotency-Key": key or uuid.uuid4().hex}, timeout=30, **extra)


def seed(base_url: str, database_url: str, nurses: int = 1) -> tuple[Tenant, list[Nurse], Any]:
    tenant = Tenant(base_url, create_institution(database_url))
    tenant.login_admin()
    staff = [tenant.nurse(f"nurse{i}") for i in range(nurses)]
    return tenant, staff, issue_card(database_url)
