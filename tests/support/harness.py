"""Drive the real app through HTTP (Flask test client) the way a device would."""
from __future__ import annotations

import base64
import itertools
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from flask import Flask

from device_agent.device_key import generate_key, make_assertion, public_key_pem
from mobile_api.clock import FrozenClock
from mobile_api.sandbox.ca import SandboxCA

T0 = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
ADMIN_PASSWORD = "admin-password-1"
STAFF_PASSWORD = "staff-password-1"
VISUAL_PASSWORD = "mokushi-2026"
_codes = itertools.count(1)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@dataclass
class EnrolledDevice:
    id: str
    key: ec.EllipticCurvePrivateKey


@dataclass
class Tenant:
    h: Harness
    code: str
    admin_token: str
    devices: list[EnrolledDevice] = field(default_factory=list)

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.admin_token}"}

    def create_staff(self, login: str = "nurse1", role: str = "staff", display_name: str = "看護 花子") -> str:
        r = self.h.client.post("/api/v1/staff", json={"login": login, "display_name": display_name, "role": role,
                                                      "password": STAFF_PASSWORD}, headers=self.auth())
        assert r.status_code == 201, r.get_json()
        return r.get_json()["id"]

    def enrol_device(self, label: str = "タブレット1") -> EnrolledDevice:
        r = self.h.client.post("/api/v1/devices", json={"label": label}, headers=self.auth())
        assert r.status_code == 201, r.get_json()
        key = generate_key()
        r2 = self.h.client.post("/api/v1/devices/enrol", json={
            "activation_code": r.get_json()["activation_code"], "public_key_pem": public_key_pem(key)})
        assert r2.status_code == 201, r2.get_json()
        device = EnrolledDevice(r2.get_json()["device_id"], key)
        self.devices.append(device)
        return device

    def assertion(self, device: EnrolledDevice) -> str:
        return make_assertion(device.key, device_id=device.id, audience=self.h.audience, now=self.h.clock())

    def login_on_device(self, login: str, device: EnrolledDevice, password: str = STAFF_PASSWORD) -> str:
        r = self.h.client.post("/api/v1/auth/login", json={
            "institution_code": self.code, "login": login, "password": password,
            "device_assertion": self.assertion(device)})
        assert r.status_code == 200, r.get_json()
        return r.get_json()["access_token"]

    def set_visual_password(self, password: str = VISUAL_PASSWORD) -> None:
        r = self.h.client.put("/api/v1/institution/visual-password", json={"password": password},
                              headers=self.auth())
        assert r.status_code == 204, r.get_json()

    def nurse(self, login: str = "nurse1") -> str:
        """A staff member signed in on a freshly enrolled device: the usual caller of a verification."""
        self.create_staff(login)
        return self.login_on_device(login, self.enrol_device())


class Harness:
    def __init__(self, app: Flask, clock: FrozenClock) -> None:
        self.app = app
        self.clock = clock
        self.client = app.test_client()
        self.rt = app.extensions["mobile_api"]
        self.audience = app.config["JWT_AUDIENCE"]
        self._ca: SandboxCA | None = None

    def institution(self, kind: str = "home_visit_care", code: str | None = None) -> Tenant:
        from mobile_api.services import identity

        code = code or f"13{next(_codes):08d}"
        identity.create_institution(self.rt, code=code, name=f"テスト施設{code}", facility_kind=kind,
                                    admin_login="admin", admin_password=ADMIN_PASSWORD)
        r = self.client.post("/api/v1/auth/login", json={"institution_code": code, "login": "admin",
                                                         "password": ADMIN_PASSWORD})
        assert r.status_code == 200, r.get_json()
        return Tenant(self, code, r.get_json()["access_token"])

    @property
    def ca(self) -> SandboxCA:
        if self._ca is None:
            self._ca = SandboxCA.load_or_create(self.rt.session_factory, self.clock)
        return self._ca

    def card(self, persona_id: str, variant: str = "card") -> Any:
        return self.ca.issue_card(persona_id, variant=variant, now=self.clock())

    def start(self, token: str, *, form: str = "home_consent", method: str = "pin", care_type: int = 2) -> Any:
        return self.client.post("/api/v1/verifications", json={"care_type": care_type, "form": form,
                                                               "method": method},
                                headers={"Authorization": f"Bearer {token}"})

    def submit(self, token: str, challenge_id: str, body: dict[str, Any], key: str | None = None) -> Any:
        return self.client.post(f"/api/v1/verifications/{challenge_id}/submit", json=body, headers={
            "Authorization": f"Bearer {token}", "Idempotency-Key": key or uuid.uuid4().hex})

    @staticmethod
    def sign(card: Any, challenge_b64: str) -> bytes:
        return card.private_key.sign(base64.b64decode(challenge_b64), padding.PKCS1v15(), hashes.SHA256())

    def pin_body(self, card: Any, challenge_b64: str, consent: dict[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"certificate": b64(card.certificate_der),
                                "signature": b64(self.sign(card, challenge_b64))}
        if consent is not None:
            body["consent"] = consent
        return body

    def verify_pin(self, token: str, card: Any, *, form: str = "home_consent",
                   consent: dict[str, Any] | None = None, care_type: int = 2) -> Any:
        started = self.start(token, form=form, care_type=care_type)
        assert started.status_code == 201, started.get_json()
        challenge = started.get_json()
        return self.submit(token, challenge["challenge_id"], self.pin_body(card, challenge["challenge"], consent))

    def medical(self, token: str, visit_id: str, kind: str = "medication") -> Any:
        return self.client.get(f"/api/v1/visits/{visit_id}/medical-information/{kind}",
                               headers={"Authorization": f"Bearer {token}"})
