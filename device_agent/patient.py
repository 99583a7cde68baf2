"""The agent in the *patient* role: the JPKI client on the patient's own phone (docs/patient-phone.md).

The patient's page (served by mobile_api at ``/p/<token>``) hands over a challenge as
``mobileoqs-jpki://sign?session=<session URL>``. This client reads the session (the challenge and where to
answer), has the card verify the PIN and sign the challenge (the same ``CardSession`` as the staff flow:
nfcpy, the privacy guard, nothing but the JPKI user-authentication application), and posts the
certificate and the signature. The PIN goes only to the card. The page sees the result by itself.

It is not a staff device: no enrolment, no login, no device key. A real phone app fills the same role
(docs/patient-phone.md).
"""
from __future__ import annotations

import base64
import contextlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlparse

import requests

from device_agent.agent import CardSource
from device_agent.card.apdu import PinLocked, WrongPin

HANDOFF_SCHEME = "mobileoqs-jpki"


class HandoffInvalid(ValueError):
    """Not a hand-off link of the patient's page."""


@dataclass(frozen=True)
class PatientAnswer:
    status_code: int
    body: dict[str, Any]

    @property
    def authenticated(self) -> bool:
        return self.status_code == 200 and self.body.get("status") == "authenticated"


def session_url(handoff_uri: str) -> str:
    parsed = urlparse(handoff_uri.strip())
    urls = parse_qs(parsed.query).get("session", [])
    if parsed.scheme != HANDOFF_SCHEME or parsed.netloc != "sign" or len(urls) != 1:
        raise HandoffInvalid("本人確認のリンクではありません（mobileoqs-jpki://sign?session=… の形式です）。")
    url = urls[0]
    if urlparse(url).scheme not in ("http", "https"):
        raise HandoffInvalid("本人確認のリンクの宛先が正しくありません。")
    return url


def sign_handoff(handoff_uri: str, card_source: CardSource, pin: str, *, http: Any = None,
                 timeout: float = 15.0) -> PatientAnswer:
    """Answer the page's challenge with the card: PIN (to the card only), signature, certificate."""
    http = http or requests.Session()
    status = http.get(session_url(handoff_uri), timeout=timeout)
    status.raise_for_status()
    session = status.json()
    if session.get("status") != "pending" or not session.get("challenge") or not session.get("answer_url"):
        return PatientAnswer(409, {"title": "この本人確認はすでに終わっているか、無効です。", **session})
    with card_source() as card:
        identity = card.identify()
        try:
            card.verify_pin(pin)  # never retried here
        except (WrongPin, PinLocked) as refused:  # the page says so too; the caller explains it here
            _report_card_error(http, session_url(handoff_uri), refused, timeout)
            raise
        signature = card.sign_challenge(base64.b64decode(session["challenge"]))
    body: dict[str, Any] = {"certificate": base64.b64encode(identity.certificate_der).decode(),
                            "signature": base64.b64encode(signature).decode()}
    if identity.token is not None:
        body["certificate_kind"] = identity.token.value
    answered = http.post(session["answer_url"], json=body, timeout=timeout)
    return PatientAnswer(answered.status_code, answered.json())


def _report_card_error(http: Any, status_url: str, refused: WrongPin | PinLocked, timeout: float) -> None:
    """Tell the page that the card refused the PIN (how many tries remain, never the PIN), so the patient
    is not left waiting. Best effort: the card's answer is what the caller acts on."""
    body: dict[str, Any] = ({"reason": "wrong-pin", "tries_left": refused.tries_left}
                            if isinstance(refused, WrongPin) else {"reason": "locked"})
    with contextlib.suppress(requests.RequestException):
        http.post(f"{status_url}/card-error", json=body, timeout=timeout)
