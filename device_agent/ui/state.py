"""What the touch UI remembers between pages, in this process's memory only.

One agent serves one device and one signed-in staff member at a time, so the
state is a single object kept on the Flask app, never in a cookie or on disk.
The access token lives in ``agent.api`` (memory); the PIN is never stored here.
"""
from __future__ import annotations

import hmac
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from device_agent.flows import CardRead, VisitRequest


@dataclass
class Draft:
    """The verification being prepared: form, care type, consent, and the card read at the card step."""

    form: str | None = None
    care_type: int = 2
    consent: dict[str, Any] | None = None
    consent_chosen: bool = False
    read: CardRead | None = None
    certificate_notice: str | None = None  # expired-in-grace or renewal note, shown before the PIN

    def request(self) -> VisitRequest:
        assert self.form is not None
        return VisitRequest(form=self.form, care_type=self.care_type, consent=self.consent)


@dataclass
class Outcome:
    """The server's answer to the last verification, with when (agent clock) it arrived."""

    visit: dict[str, Any]
    received_at: datetime
    server_time: datetime | None = None  # the server's time when it answered, if known (else created_at)


@dataclass
class UiState:
    csrf_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    staff_login: str | None = None
    institution: dict[str, Any] | None = None
    draft: Draft = field(default_factory=Draft)
    outcome: Outcome | None = None
    notice: str | None = None  # one-shot message for the next page (e.g. the wrong-PIN text)
    card_lock: threading.Lock = field(default_factory=threading.Lock)
    _attempt: str | None = None
    # After the login ran out: who was signed in and where they were, so the same person carries on.
    expired_login: str | None = None
    resume_path: str | None = None
    # Consent links this device created: id → (URL, QR code SVG). The server shows them once, at creation.
    link_codes: dict[str, tuple[str, bytes]] = field(default_factory=dict)

    @property
    def signed_in(self) -> bool:
        return self.staff_login is not None

    def sign_out(self) -> None:
        self.staff_login = self.institution = self.outcome = self.notice = self._attempt = None
        self.expired_login = self.resume_path = None
        self.draft = Draft()
        self.link_codes = {}

    def expire(self, resume_path: str | None) -> None:
        """The login ran out mid-visit: sign out, but keep the visit (form, consent, card read, result)
        for the same staff member. No PIN is kept: there is none here to keep."""
        if self.staff_login is not None:
            self.expired_login = self.staff_login
        self.resume_path = resume_path
        self.staff_login, self._attempt = None, None

    def resume_for(self, login: str) -> str | None:
        """After a login: where to carry on, if the same person signed in again; else a fresh start."""
        resume, same = self.resume_path, self.expired_login == login
        institution = self.institution
        if not same:
            self.sign_out()
            self.institution = institution
        self.expired_login = self.resume_path = None
        return resume if same else None

    def new_visit(self) -> None:
        self.draft, self.outcome, self.notice, self._attempt = Draft(), None, None, None

    @property
    def flow_form(self) -> str | None:
        """The form whose steps are shown: the visit's, else the only one this institution may use."""
        if self.draft.form:
            return self.draft.form
        if self.outcome is not None:
            return self.outcome.visit.get("form")
        allowed = (self.institution or {}).get("allowed_forms") or []
        return allowed[0] if len(allowed) == 1 else None

    def take_notice(self) -> str | None:
        notice, self.notice = self.notice, None
        return notice

    def issue_attempt(self) -> str:
        """A one-time token for the next card/PIN submission, so a double tap cannot spend a second try."""
        self._attempt = secrets.token_urlsafe(16)
        return self._attempt

    def consume_attempt(self, token: str) -> bool:
        expected, self._attempt = self._attempt, None
        return expected is not None and hmac.compare_digest(expected, token)

    def csrf_ok(self, token: str) -> bool:
        return hmac.compare_digest(self.csrf_token.encode(), token.encode())
