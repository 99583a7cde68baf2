"""Consent links for the patient's own phone, from the device (docs/rules.md §3.4).

Staff create a link for online consultation or a later visit and show its QR code on the tablet for the
patient to scan; the patient consents on their phone with the PIN (docs/patient-phone.md). The server shows a
link's URL and QR code once, when it is created, so only the device that created it can show them again.
A link's state (waiting, consented, withdrawn, expired) comes from the server's lists, judged on the
server's time (Agent.now).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from device_agent.care import kinds_text
from device_agent.client import ApiClient

PURPOSES = {"general": "オンライン診療・次回の訪問（日付なし）", "appointment": "診療予定日あり（その日まで有効）"}
CARE_TYPES = {3: "オンライン診療等", 2: "訪問診療等"}
FINAL = frozenset({"withdrawn", "expired", "revoked"})  # nothing more can happen to the link: stop asking
STATES = {"waiting": "患者の同意を待っています", "consented": "同意されました", "withdrawn": "同意が取り消されました",
          "expired": "リンクの有効期限が切れました", "revoked": "リンクは取り消されています"}


@dataclass(frozen=True)
class Created:
    link: dict[str, Any]
    url: str
    qr_svg: bytes


@dataclass(frozen=True)
class LinkRow:
    """One link and what came through it: its state and, once consented, the consent's kinds and window."""

    link: dict[str, Any]
    state: str
    consent: dict[str, Any] | None

    @property
    def label(self) -> str:
        return STATES[self.state]

    @property
    def kinds(self) -> str:
        if self.consent is None:
            return ""
        return "すべての情報（包括同意）" if self.consent.get("blanket") else kinds_text(self.consent.get("kinds"))

    @property
    def window_message(self) -> str:
        return str(((self.consent or {}).get("window") or {}).get("message") or "")

    def as_json(self) -> dict[str, Any]:
        """What the tablet's page shows of the link, for its script to refresh the state without a reload."""
        return {"state": self.state, "label": self.label, "kinds": self.kinds, "window": self.window_message,
                "final": self.state in FINAL}


def create(api: ApiClient, *, purpose: str, care_type: int, planned_date: date | None,
           note: str | None) -> Created:
    body: dict[str, Any] = {"purpose": purpose, "care_type": care_type}
    if planned_date is not None:
        body["planned_date"] = planned_date.isoformat()
    if note:
        body["note"] = note
    made = api.request("POST", "/api/v1/consent-links", json=body)
    return Created(made["link"], made["url"], made["qr_svg"].encode())


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None


def state_of(link: dict[str, Any], consents: list[dict[str, Any]], now: datetime) -> LinkRow:
    """Consented (or withdrawn) by the newest consent that came through the link; else expired or revoked
    by the server's time; else waiting."""
    mine = sorted((c for c in consents if c.get("link_id") == link["id"]), key=lambda c: c["registered_at"])
    if mine:
        newest = mine[-1]
        return LinkRow(link, "withdrawn" if newest.get("withdrawn_at") else "consented", newest)
    if link.get("revoked_at"):
        return LinkRow(link, "revoked", None)
    expires = _time(link.get("expires_at"))
    if expires is not None and now >= expires:
        return LinkRow(link, "expired", None)
    return LinkRow(link, "waiting", None)


def gather(api: ApiClient, now: datetime, limit: int = 50) -> list[LinkRow]:
    """This institution's newest links, each with its state."""
    links = api.request("GET", f"/api/v1/consent-links?limit={limit}")
    consents = api.request("GET", "/api/v1/consents?source=patient_phone&limit=200")
    return [state_of(link, consents, now) for link in links]
