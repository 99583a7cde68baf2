"""The nurse's day: today's visits and the patients in continuing care, and the second visit's actions.

Re-query (再照会), discharge (終了) and withdrawal recorded by staff are the server's (docs/rules.md §3.2,
§3.3); this module only gathers what the CLI's ``visits`` and the touch UI's home screen show, and finds the
patient a command names. A patient in continuing care is named by the first characters of the
relationship's id as the list shows them; a visit of today by its id's first characters.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from device_agent.client import ApiClient
from device_agent.labels import JST, KINDS

SHORT_ID = 8  # characters of an id the lists show and the commands accept
WINDOW_STATES = {"open": "閲覧できます", "not_open": "まだ閲覧できません", "closed": "閲覧期間が終わりました",
                 "withdrawn": "同意が取り消されました", "none": "同意なし"}
METHODS = {"pin": "暗証番号", "visual": "目視確認", "requery": "再照会"}


class UnknownPatient(LookupError):
    """The id given matches no patient in the list (or more than one)."""

    def __init__(self, key: str, matches: int) -> None:
        super().__init__(key)
        self.key, self.matches = key, matches


@dataclass(frozen=True)
class Window:
    """A visit's viewing window as the device shows it: its state and, while open, the seconds left."""

    state: str
    seconds_left: float | None

    @property
    def label(self) -> str:
        return WINDOW_STATES.get(self.state, self.state)


@dataclass(frozen=True)
class Row:
    """One line of the list: a visit of today, or a patient in continuing care (``relationship_id`` set)."""

    visit: dict[str, Any]
    window: Window
    relationship_id: str | None = None
    card_kinds: tuple[str, ...] = ()  # what the card-verified visit's consent covered: a re-query's cap

    @property
    def key(self) -> str:
        return (self.relationship_id or self.visit["id"])[:SHORT_ID]

    @property
    def name(self) -> str:
        return (self.visit.get("qualification") or {}).get("name") or self.visit.get("patient_reference") or "（氏名なし）"


@dataclass(frozen=True)
class Day:
    today: list[Row]
    continuing: list[Row]

    def patient(self, key: str) -> Row:
        """The continuing-care patient whose relationship id starts with ``key``; UnknownPatient otherwise."""
        return _one(key, self.continuing, lambda row: row.relationship_id or "")

    def visit(self, key: str) -> Row:
        """A continuing-care patient's card visit, or a visit of today, by its shown id."""
        try:
            return self.patient(key)
        except UnknownPatient:
            return _one(key, self.today, lambda row: row.visit["id"])


def _one(key: str, rows: list[Row], ident: Any) -> Row:
    key = key.strip().lower()
    found = [row for row in rows if key and ident(row).lower().startswith(key)]
    if len(found) != 1:
        raise UnknownPatient(key, len(found))
    return found[0]


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None


def window_of(visit: dict[str, Any], now: datetime) -> Window:
    """The visit's window by the server's report, its countdown by ``now`` (the server's time, Agent.now)."""
    report = visit.get("medical_info_window") or {}
    state = report.get("state") or "none"
    closes = _time(report.get("closes_at"))
    if state == "open" and closes is not None:
        left = (closes - now).total_seconds()
        return Window("open", left) if left > 0 else Window("closed", None)
    return Window(state, None)


def countdown(seconds: float | None) -> str:
    if not seconds or seconds <= 0:
        return ""
    minutes = int(seconds) // 60
    return f"あと{minutes // 60}時間{minutes % 60}分"


def kinds_text(kinds: Any) -> str:
    """In the usual order (薬剤・特定健診等・診療・手術), whatever order the server sent."""
    order = list(KINDS)
    ordered = sorted(kinds or (), key=lambda k: order.index(k) if k in order else len(order))
    return "、".join(KINDS.get(k, k) for k in ordered) or "なし"


def gather(api: ApiClient, now: datetime) -> Day:
    """Today's visits (by Japan's date on the server's clock) and every active continuing-care patient, each
    with the window of its latest visit (a re-query today renews it)."""
    visits = api.visits(limit=200)
    by_id = {v["id"]: v for v in visits}
    today_jst = now.astimezone(JST).date()
    today = [Row(v, window_of(v, now)) for v in visits
             if (created := _time(v.get("created_at"))) and created.astimezone(JST).date() == today_jst]
    continuing = []
    for rel in api.care_relationships():
        if not rel.get("active"):
            continue
        card = by_id.get(rel["card_visit_id"]) or api.visit(rel["card_visit_id"])
        latest = next((v for v in visits if v["id"] == rel["card_visit_id"]
                       or v.get("requery_of") == rel["opened_by_visit_id"]), card)  # the list is newest first
        continuing.append(Row(latest, window_of(latest, now), rel["id"],
                              tuple((card.get("consent") or {}).get("kinds") or ())))
    return Day(today, continuing)


def requery(api: ApiClient, row: Row, kinds: list[str] | None = None) -> dict[str, Any]:
    """A fresh qualification and a fresh 24-hour window for the card visit's kinds, or narrower ones (never wider:
    the server refuses that, 422 consent-would-widen)."""
    body = {"kinds": kinds} if kinds is not None else {}
    return api.post(f"/api/v1/visits/{row.visit.get('requery_of') or row.visit['id']}/requery", body,
                    idempotency_key=uuid.uuid4().hex)


def discharge(api: ApiClient, row: Row, reason: str) -> dict[str, Any]:
    return api.request("POST", f"/api/v1/care-relationships/{row.relationship_id}/discharge", json={"reason": reason})


def withdraw(api: ApiClient, row: Row, note: str | None = None) -> dict[str, Any]:
    """Every consent of the patient here withdrawn at their request, recorded as done by staff."""
    body = {"note": note} if note else {}
    return api.request("POST", f"/api/v1/visits/{row.visit['id']}/consent-withdrawal", json=body)

