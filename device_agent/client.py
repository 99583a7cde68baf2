"""The agent's HTTP client for the server API.

Network errors and 502/503/504 are retried with exponential backoff (a 503's
``Retry-After`` when the server sends one), but only where a retry is safe:
GETs, and POSTs that carry an Idempotency-Key (the server answers a retry with
the same result). Problems (RFC 9457) become ``ApiProblem`` with the
server's Japanese title and detail.

Sessions last a working round: the access token lives 15 minutes, so before it
runs out (or when the server answers 401 anyway, e.g. clocks apart) the client
rotates the refresh token (``POST /api/v1/auth/refresh``). The server spends a
refresh token once and revokes the whole family when one is presented twice, so
the client forgets a refresh token *before* sending it, never retries that POST,
and swaps in the new pair as one object under a lock (two threads of the touch
UI cannot both spend the same token). When the rotation is refused the caller
gets ``SessionExpired``: the person logs in again, and nothing else is lost.

The server's clock is the authority (a tablet's clock drifts, or is set hours
off): every answer carries the server's time (its ``Server-Time`` header, else
the standard ``Date``), the client keeps the offset to the device's clock, and
``now()`` (the device's clock plus that offset) is what every expiry here, the
device assertion and the agent's recorded times use.
"""
from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests

REFRESH_MARGIN = timedelta(minutes=2)  # rotate this long before the access token runs out
API_PREFIX = "/api/v1"
SERVER_TIME_HEADER = "Server-Time"  # ISO 8601 from the server's one clock (mobile_api/api/edge.py)


class NetworkError(Exception):
    """The server could not be reached after the retries.

    ``kind`` says why, so the message can say what to check: "dns" (no such host: a typo in the
    URL, or no signal at all), "refused" (the host answered but nothing listens: wrong port, server
    stopped), "timeout" (no answer in time: weak signal or a busy server), "tls", or "other".
    """

    def __init__(self, message: str = "", *, url: str = "", kind: str = "other") -> None:
        super().__init__(message or f"cannot reach {url} ({kind})")
        self.url, self.kind = url, kind


class SessionExpired(Exception):
    """There is no usable login any more (refresh refused or impossible): log in again."""


def network_kind(exc: BaseException) -> str:
    """Tell a wrong host name from a refused connection from a timeout, from requests' exception chain."""
    if isinstance(exc, requests.Timeout):
        return "timeout"
    if isinstance(exc, requests.exceptions.SSLError):
        return "tls"
    seen: set[int] = set()
    current: BaseException | None = exc
    text = ""
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return "refused"
        if isinstance(current, TimeoutError):
            return "timeout"
        text += f" {type(current).__name__} {current}"
        current = current.__cause__ or current.__context__ or (current.args[0] if current.args and isinstance(
            current.args[0], BaseException) else None)
    lowered = text.lower()
    if "nameresolution" in lowered or "name or service not known" in lowered or "getaddrinfo" in lowered \
            or "nodename nor servname" in lowered or "temporary failure in name resolution" in lowered:
        return "dns"
    if "refused" in lowered:
        return "refused"
    if "timed out" in lowered or "timeout" in lowered:
        return "timeout"
    return "other"


class BadServerUrl(ValueError):
    """A server URL the agent cannot use (the message is Japanese and says what to type)."""


def check_server_url(url: str) -> str:
    """The server URL as the agent will use it (with or without ``/api/v1`` and a trailing slash); BadServerUrl
    when it cannot be one."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadServerUrl(f"サーバーのURL「{url}」は http:// または https:// から始めてください"
                         "（例: https://oqs.example.jp）。")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise BadServerUrl(f"サーバーのURL「{url}」のポート番号が正しくありません。") from None
    return _without_api_prefix(url.rstrip("/"))


def _without_api_prefix(url: str) -> str:
    """The base the client appends ``/api/v1/…`` to: a URL given with ``/api/v1`` (as the demo prints it) is
    the same server (issue 19)."""
    return url[: -len(API_PREFIX)].rstrip("/") if url.endswith(API_PREFIX) else url


@dataclass
class ApiProblem(Exception):
    status: int
    problem: dict[str, Any] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        return str(self.problem.get("type", "")).rsplit("/", 1)[-1]

    def __str__(self) -> str:
        return self.problem.get("detail") or self.problem.get("title") or f"HTTP {self.status}"


class ActivationCodeRejected(ApiProblem):
    """Enrolment refused: the code is wrong or expired (401), or already used (activation-code-used)."""


class LoginRejected(ApiProblem):
    """Login refused (401): wrong login or password, or this device may not sign in there."""


@dataclass
class ApiClient:
    base_url: str
    timeout: float = 15.0
    retries: int = 3
    backoff: float = 0.5
    max_retry_after: float = 10.0  # wait at most this long when a 503 says Retry-After; longer: give up now
    session: requests.Session = field(default_factory=requests.Session)
    access_token: str | None = None
    sleep: Callable[[float], None] = time.sleep
    observers: list[Callable[[str, str, dict[str, Any] | None], None]] = field(default_factory=list)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    access_expires_at: datetime | None = None
    refresh_token: str | None = field(default=None, repr=False)
    refresh_expires_at: datetime | None = None
    server_offset: timedelta | None = None  # the server's clock minus the device's, from its last answer
    _session_lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    # -- the server's clock ------------------------------------------------------------------------
    def now(self) -> datetime:
        """The server's time as best known: the device's clock plus the last offset learned."""
        return self.clock() + (self.server_offset or timedelta(0))

    def _learn_time(self, response: requests.Response) -> None:
        told = _server_time(response.headers)
        if told is not None:
            self.server_offset = told - self.clock()

    def learn_server_time(self) -> timedelta | None:
        """Ask the server its time (``GET /healthz``, no login); the offset, or None when unreachable."""
        # A problem answer still taught the time; no answer leaves the last offset.
        with contextlib.suppress(ApiProblem, NetworkError):
            self.request("GET", "/healthz", auth=False)
        return self.server_offset

    # -- the login session -------------------------------------------------------------------------
    def _keep_pair(self, pair: dict[str, Any]) -> None:
        with self._session_lock:
            self.access_token = pair["access_token"]
            self.access_expires_at = _when(pair.get("access_expires_at"))
            self.refresh_token = pair.get("refresh_token")
            self.refresh_expires_at = _when(pair.get("refresh_expires_at"))

    def forget_session(self) -> None:
        with self._session_lock:
            self.access_token = self.refresh_token = None
            self.access_expires_at = self.refresh_expires_at = None

    def refresh(self) -> None:
        """Rotate the refresh token once. Raises SessionExpired when that is refused or impossible,
        NetworkError when the server cannot be reached (the spent token is not sent again)."""
        with self._session_lock:
            token, self.refresh_token = self.refresh_token, None  # forgotten before it is sent: never twice
            if not token or (self.refresh_expires_at is not None and self.now() >= self.refresh_expires_at):
                self.forget_session()
                raise SessionExpired("refresh token missing or expired")
            try:
                pair = self.request("POST", "/api/v1/auth/refresh", json={"refresh_token": token}, auth=False,
                                    retry=False)
            except ApiProblem as problem:
                self.forget_session()
                raise SessionExpired(str(problem)) from problem
            self._keep_pair(pair)

    def ensure_session(self) -> None:
        """Make sure the access token has time left, rotating it first if needed (before a step that must
        not fail half-way, such as the PIN). Raises SessionExpired when there is no login to keep."""
        with self._session_lock:
            if self.access_token is None:
                if self.refresh_token is None:
                    raise SessionExpired("not signed in")
                self.refresh()
            elif self.access_expires_at is not None and self.refresh_token is not None \
                    and self.now() >= self.access_expires_at - REFRESH_MARGIN:
                self.refresh()
            elif self.access_expires_at is not None and self.now() >= self.access_expires_at:
                self.forget_session()
                raise SessionExpired("access token expired and no refresh token")

    def request(self, method: str, path: str, *, json: Any = None, idempotency_key: str | None = None,
                auth: bool = True, retry: bool | None = None) -> Any:
        if auth and (self.access_token or self.refresh_token):
            self.ensure_session()
        try:
            return self._request(method, path, json=json, idempotency_key=idempotency_key, auth=auth, retry=retry)
        except ApiProblem as problem:
            # A 401 although the token looked fresh (the server's clock runs ahead, a key rotated):
            # rotate once and repeat. Safe for any method: a 401 is given before anything is done.
            if not (auth and problem.status == 401 and self.refresh_token):
                raise
        self.refresh()
        return self._request(method, path, json=json, idempotency_key=idempotency_key, auth=auth, retry=retry)

    def _retry_after(self, response: requests.Response, *, default: float) -> float | None:
        """Seconds to wait before retrying a 502/503/504: the server's Retry-After (seconds or an HTTP date)
        when it sends one, else ``default``; None when the server asks for longer than ``max_retry_after``
        (a long outage: the caller gets the problem at once, e.g. to offer the fallback methods)."""
        header = response.headers.get("Retry-After", "").strip()
        if not header:
            return default
        if header.isdigit():
            wait = float(header)
        else:
            try:
                when = parsedate_to_datetime(header)
            except (TypeError, ValueError):
                return default
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            wait = max(0.0, (when - self.now()).total_seconds())
        return wait if wait <= self.max_retry_after else None

    def _request(self, method: str, path: str, *, json: Any = None, idempotency_key: str | None = None,
                 auth: bool = True, retry: bool | None = None) -> Any:
        headers = {"Accept": "application/json, application/problem+json"}
        if auth and self.access_token:
            headers["Authorization"] = f"Bearer {self.access_token}"
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        safe_to_retry = retry if retry is not None else (method == "GET" or idempotency_key is not None)
        attempts = self.retries + 1 if safe_to_retry else 1
        for attempt in range(attempts):
            more = attempt + 1 < attempts
            for observe in self.observers:
                observe(method, path, json)
            response = self._attempt(method, path, json=json, headers=headers, attempt=attempt, more=more)
            if response is None:
                continue  # the connection failed and the backoff was waited out
            if response.status_code in (502, 503, 504) and more:
                wait = self._retry_after(response, default=self.backoff * 2**attempt)
                if wait is not None:
                    self.sleep(wait)
                    continue
            return _answer(response)
        raise AssertionError("unreachable")

    def _attempt(self, method: str, path: str, *, json: Any, headers: dict[str, str], attempt: int,
                 more: bool) -> requests.Response | None:
        """One round trip; None when the connection failed and another attempt is worth waiting for."""
        url = self.base_url.rstrip("/") + path
        try:
            response = self.session.request(method, url, json=json, headers=headers, timeout=self.timeout)
        except (requests.ConnectionError, requests.Timeout) as exc:
            kind = network_kind(exc)
            if more and kind != "dns":  # a name that does not resolve will not by waiting
                self.sleep(self.backoff * 2**attempt)
                return None
            raise NetworkError(url=self.base_url, kind=kind) from exc
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                requests.exceptions.InvalidSchema) as exc:
            raise NetworkError(url=self.base_url, kind="bad-url") from exc
        self._learn_time(response)
        return response

    # -- endpoints ---------------------------------------------------------------------------------
    def enrol(self, activation_code: str, public_key_pem: str) -> dict[str, Any]:
        try:
            return self.request("POST", "/api/v1/devices/enrol", auth=False, retry=False,
                                json={"activation_code": activation_code, "public_key_pem": public_key_pem})
        except ApiProblem as problem:
            if problem.status in (401, 409):
                raise ActivationCodeRejected(problem.status, problem.problem) from None
            raise

    def login(self, institution_code: str, login: str, password: str, device_assertion: str) -> dict[str, Any]:
        self.forget_session()
        try:
            pair = self.request("POST", "/api/v1/auth/login", auth=False, retry=False, json={
                "institution_code": institution_code, "login": login, "password": password,
                "device_assertion": device_assertion})
        except ApiProblem as problem:
            if problem.status == 401:
                raise LoginRejected(problem.status, problem.problem) from None
            raise
        self._keep_pair(pair)
        return pair

    def institution(self) -> dict[str, Any]:
        return self.request("GET", "/api/v1/institution")

    def visits(self, limit: int = 100) -> list[dict[str, Any]]:
        return self.request("GET", f"/api/v1/visits?limit={limit}")

    def visit(self, visit_id: str) -> dict[str, Any]:
        return self.request("GET", f"/api/v1/visits/{visit_id}")

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

    def care_relationships(self, limit: int = 200) -> list[dict[str, Any]]:
        return self.request("GET", f"/api/v1/care-relationships?limit={limit}")

    def medical_information(self, visit_id: str, kind: str) -> dict[str, Any]:
        return self.request("GET", f"/api/v1/visits/{visit_id}/medical-information/{kind}")

    def post(self, path: str, body: dict[str, Any], idempotency_key: str) -> Any:
        return self.request("POST", path, json=body, idempotency_key=idempotency_key)


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _server_time(headers: Any) -> datetime | None:
    """The server's time from its answer: ``Server-Time`` (ms precision), else ``Date`` (seconds)."""
    try:
        if headers.get(SERVER_TIME_HEADER):
            return _when(headers[SERVER_TIME_HEADER])
        if headers.get("Date"):
            moment = parsedate_to_datetime(headers["Date"])
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (TypeError, ValueError):
        pass
    return None


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


def _answer(response: requests.Response) -> Any:
    """The JSON body of a success (None when empty); an error status as ``ApiProblem``."""
    if response.status_code >= 400:
        try:
            problem = response.json()
        except ValueError:
            problem = {"title": response.reason}
        raise ApiProblem(response.status_code, problem)
    return response.json() if response.content else None
