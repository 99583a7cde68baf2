"""The agent's HTTP client for the server API.

Network errors are retried with exponential backoff, but only where a retry is
safe: GETs, and POSTs that carry an Idempotency-Key (the server answers a
retry with the same result). Problems (RFC 9457) become ``ApiProblem`` with the
server's Japanese title and detail.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests


class NetworkError(Exception):
    """The server could not be reached after the retries (no signal, server down)."""


@dataclass
class ApiProblem(Exception):
    status: int
    problem: dict[str, Any] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        return str(self.problem.get("type", "")).rsplit("/", 1)[-1]

    def __str__(self) -> str:
        return self.problem.get("detail") or self.problem.get("title") or f"HTTP {self.status}"


@dataclass
class ApiClient:
    base_url: str
    timeout: float = 15.0
    retries: int = 3
    backoff: float = 0.5
    session: requests.Session = field(default_factory=requests.Session)
    access_token: str | None = None
    sleep: Callable[[float], None] = time.sleep
    observers: list[Callable[[str, str, dict[str, Any] | None], None]] = field(default_factory=list)

    def request(self, method: str, path: str, *, json: Any = None, idempotency_key: str | None = None,
                auth: bool = True, retry: bool | None = None) -> Any:
        headers = {"Accept": "application/json, application/problem+json"}
        if auth and self.access_token:
            headers["Authorization"] = f"Bearer {self.access_token}"
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        safe_to_retry = retry if retry is not None else (method == "GET" or idempotency_key is not None)
        attempts = self.retries + 1 if safe_to_retry else 1
        for attempt in range(attempts):
            for observe in self.observers:
                observe(method, path, json)
            try:
                response = self.session.request(method, self.base_url.rstrip("/") + path, json=json,
                                                headers=headers, timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt + 1 < attempts:
                    self.sleep(self.backoff * 2**attempt)
                    continue
                raise NetworkError("サーバーに接続できません。電波の状況を確認してください。") from exc
            if response.status_code in (502, 503, 504) and attempt + 1 < attempts:
                self.sleep(self.backoff * 2**attempt)
                continue
            if response.status_code >= 400:
                try:
                    problem = response.json()
                except ValueError:
                    problem = {"title": response.reason}
                raise ApiProblem(response.status_code, problem)
            return response.json() if response.content else None
        raise AssertionError("unreachable")

    # -- endpoints ---------------------------------------------------------------------------------
    def enrol(self, activation_code: str, public_key_pem: str) -> dict[str, Any]:
        return self.request("POST", "/api/v1/devices/enrol", auth=False, retry=False,
                            json={"activation_code": activation_code, "public_key_pem": public_key_pem})

    def login(self, institution_code: str, login: str, password: str, device_assertion: str) -> dict[str, Any]:
        pair = self.request("POST", "/api/v1/auth/login", auth=False, retry=False, json={
            "institution_code": institution_code, "login": login, "password": password,
            "device_assertion": device_assertion})
        self.access_token = pair["access_token"]
        return pair

    def start_verification(self, *, care_type: int, form: str, method: str,
                           patient_reference: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"care_type": care_type, "form": form, "method": method}
        if patient_reference:
            body["patient_reference"] = patient_reference
        # Not idempotent, but harmless to repeat: an unused challenge simply expires.
        return self.request("POST", "/api/v1/verifications", json=body, retry=True)

    def submit_verification(self, challenge_id: str, body: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        return self.request("POST", f"/api/v1/verifications/{challenge_id}/submit", json=body,
                            idempotency_key=idempotency_key)

    def medical_information(self, visit_id: str, kind: str) -> dict[str, Any]:
        return self.request("GET", f"/api/v1/visits/{visit_id}/medical-information/{kind}")

    def post(self, path: str, body: dict[str, Any], idempotency_key: str) -> Any:
        return self.request("POST", path, json=body, idempotency_key=idempotency_key)


def outbox_sender(api: ApiClient) -> Callable[[str, dict[str, Any], str], tuple[int, Any]]:
    """Adapt the client to ``Outbox.sync``: problems become (status, problem), no signal a ConnectionError."""

    def send(path: str, body: dict[str, Any], idempotency_key: str) -> tuple[int, Any]:
        try:
            return 201, api.post(path, body, idempotency_key)
        except ApiProblem as problem:
            return problem.status, problem.problem
        except NetworkError as exc:
            raise ConnectionError(str(exc)) from exc

    return send
