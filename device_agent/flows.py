"""A verification at the bedside, step by step, as the CLI and the touch UI drive it.

1. ``read_card``: token kind, certificate and PIN tries left (card only, no server).
2a. ``verify_with_pin``: VERIFY on the card first (a wrong PIN never costs a server
    trip), then exactly two HTTP round trips: start (challenge) and submit (the
    card's signature over it).
2b. ``verify_visually``: staff compared the photo; the institution's visual-mode
    password goes to the server with the certificate (no PIN, no signature).

The flow never retries a PIN on its own: a wrong PIN is reported with the tries
left, and the person decides. The PIN is a parameter of one call and is passed
only to the card.
"""
from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from device_agent.card.apdu import PinLocked
from device_agent.card.session import CardIdentity, CardSession
from device_agent.certificate import CertificateDates, dates_of
from device_agent.client import ApiClient


class PinFormatError(ValueError):
    """Not four ASCII digits: refused before the card is touched, so no try is spent."""


@dataclass(frozen=True)
class VisitRequest:
    form: str  # "home_consent" (②) or "qualification_only" (③)
    care_type: int = 2
    consent: dict[str, Any] | None = None  # {"blanket": True} or {"kinds": [...]}; form ② only
    patient_reference: str | None = None


@dataclass(frozen=True)
class CardRead:
    identity: CardIdentity
    tries_left: int | None  # None: already verified in this card session
    pin_usable: bool  # False: locked, or a face-recognition card without a PIN → visual check

    @property
    def certificate_kind(self) -> str | None:
        return self.identity.token.value if self.identity.token else None

    @property
    def certificate_dates(self) -> CertificateDates | None:
        return dates_of(self.identity.certificate_der)

    def certificate_standing(self, now: datetime) -> str:
        """"valid", "renew-soon", "expired-in-grace" (or "unknown"); raises CertificateUnusable past the
        grace, so the person hears it before typing a PIN."""
        dates = self.certificate_dates
        return dates.standing(now) if dates else "unknown"


def check_pin_format(pin: str) -> None:
    if not (len(pin) == 4 and pin.isascii() and pin.isdigit()):
        raise PinFormatError("PIN must be 4 digits")


def read_card(card: CardSession, *, with_token_info: bool = False) -> CardRead:
    """Certificate and tries left: 4 + ⌈certificate/256⌉ APDUs, so a whole PIN verification stays
    within 7 + ⌈certificate/256⌉. Reading the token info (card or smartphone) costs 2 more APDUs;
    ask for it where the difference matters (support, audit of which device the patient used)."""
    identity = card.identify(with_token_info=with_token_info)
    try:
        tries = card.tries_left()
    except PinLocked:
        return CardRead(identity, 0, pin_usable=False)
    return CardRead(identity, tries, pin_usable=True)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _body(read: CardRead, request: VisitRequest, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"certificate": _b64(read.identity.certificate_der), **extra}
    if read.certificate_kind:
        body["certificate_kind"] = read.certificate_kind
    if request.consent is not None and request.form == "home_consent":
        body["consent"] = request.consent
    return body


def verify_with_pin(api: ApiClient, card: CardSession, read: CardRead, request: VisitRequest,
                    pin: str) -> dict[str, Any]:
    """Raises PinFormatError, WrongPin / PinLocked (nothing sent to the server), CardRemovedError,
    ApiProblem, NetworkError, SessionExpired (checked before the card is touched)."""
    check_pin_format(pin)
    api.ensure_session()  # rotate the login first: a PIN accepted by the card must not meet a stale token
    card.verify_pin(pin)
    del pin  # the PIN's job is done; nothing below may see it
    challenge = api.start_verification(care_type=request.care_type, form=request.form, method="pin",
                                       patient_reference=request.patient_reference)
    signature = card.sign_challenge(base64.b64decode(challenge["challenge"]))
    return api.submit_verification(challenge["challenge_id"], _body(read, request, signature=_b64(signature)),
                                   idempotency_key=uuid.uuid4().hex)


def verify_visually(api: ApiClient, read: CardRead, request: VisitRequest, visual_password: str,
                    confirmed_by: str | None = None) -> dict[str, Any]:
    challenge = api.start_verification(care_type=request.care_type, form=request.form, method="visual",
                                       patient_reference=request.patient_reference)
    extra: dict[str, Any] = {"visual_password": visual_password}
    if confirmed_by:
        extra["visual_confirmed_by"] = confirmed_by
    return api.submit_verification(challenge["challenge_id"], _body(read, request, **extra),
                                   idempotency_key=uuid.uuid4().hex)
