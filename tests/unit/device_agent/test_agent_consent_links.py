"""The device's view of a consent link (device_agent/consent_links.py): its state from the server's lists,
on the server's time (docs/rules.md §3.4)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from device_agent.consent_links import state_of

NOW = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
LINK = {"id": "L1", "expires_at": "2026-12-03T15:00:00+00:00", "revoked_at": None}


def _consent(at: str, *, withdrawn: str | None = None, link_id: str = "L1") -> dict:
    return {"link_id": link_id, "registered_at": at, "withdrawn_at": withdrawn, "blanket": False,
            "kinds": ["clinical", "medication"]}


def test_a_link_waits_until_its_expiry_by_the_given_time_then_is_expired() -> None:
    assert state_of(LINK, [_consent("2026-12-01T00:00:00+00:00", link_id="other")], NOW).state == "waiting"
    expires = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
    assert state_of(LINK, [], expires - timedelta(seconds=1)).state == "waiting"
    assert state_of(LINK, [], expires).state == "expired"
    assert state_of({**LINK, "revoked_at": "2026-12-01T00:00:00+00:00"}, [], NOW).label == "リンクは取り消されています"


def test_the_newest_consent_through_the_link_decides_even_after_the_link_expired() -> None:
    withdrawn = _consent("2026-12-01T00:00:00+00:00", withdrawn="2026-12-01T01:00:00+00:00")
    again = _consent("2026-12-01T02:00:00+00:00")
    row = state_of(LINK, [again, withdrawn], NOW + timedelta(days=10))
    assert row.state == "consented" and row.consent is again and row.kinds == "薬剤情報、診療情報"
    assert state_of(LINK, [withdrawn], NOW).label == "同意が取り消されました"


def test_the_pages_script_gets_what_the_page_shows_and_stops_asking_once_nothing_can_change() -> None:
    """The tablet's page refreshes the link's state from this JSON (ui/routes_links.py status)."""
    consented = {**_consent("2026-12-01T00:00:00+00:00"), "window": {"message": "あと24時間閲覧できます。"}}
    assert state_of(LINK, [consented], NOW).as_json() == {
        "state": "consented", "label": "同意されました", "kinds": "薬剤情報、診療情報",
        "window": "あと24時間閲覧できます。", "final": False}, "a consent can still be withdrawn"
    assert state_of(LINK, [], NOW).as_json()["final"] is False
    withdrawn = _consent("2026-12-01T00:00:00+00:00", withdrawn="2026-12-01T01:00:00+00:00")
    assert state_of(LINK, [withdrawn], NOW).as_json()["final"] is True
    assert state_of(LINK, [], NOW + timedelta(days=3)).as_json()["final"] is True  # expired
