"""marshmallow's own validation messages reach the person at the device in Japanese (api/messages_ja.py)."""
from __future__ import annotations

from typing import Any

from tests.support.harness import Harness


def details(r: Any) -> dict[str, str]:
    assert r.status_code == 422, r.get_json()
    return {e["pointer"]: e["detail"] for e in r.get_json()["errors"]}


def start(h: Harness, token: str, body: Any) -> Any:
    return h.client.post("/api/v1/verifications", json=body, headers={"Authorization": f"Bearer {token}"})


def test_missing_wrong_type_unknown_and_out_of_choices_are_explained_in_japanese(h: Harness) -> None:
    nurse = h.institution().nurse()
    missing = details(start(h, nurse, {"form": "home_consent", "method": "pin"}))
    assert missing == {"/care_type": "必須の項目です。"}

    wrong = details(start(h, nurse, {"care_type": "二", "form": "home_consent", "method": "pin",
                                     "patient_reference": 12, "extra": 1}))
    assert wrong["/care_type"] == "次のいずれかを指定してください: 1, 2, 3, 4。"
    assert wrong["/patient_reference"] == "文字列で指定してください。"
    assert wrong["/extra"] == "不明な項目です。"

    choice = details(start(h, nurse, {"care_type": 2, "form": "walk_in", "method": "pin"}))
    assert choice["/form"].startswith("次のいずれかを指定してください: ")
    assert "home_consent" in choice["/form"]


def test_no_validation_message_is_left_in_english(h: Harness) -> None:
    """Every field problem a fuzzer-like body can cause has Japanese in its detail (none is ASCII only)."""
    nurse = h.institution().nurse()
    bodies: list[Any] = [[], "text", {"care_type": None, "form": 3, "method": [], "patient_reference": "x" * 500},
                         {"care_type": 10**30, "form": "", "method": {"a": 1}}]
    for body in bodies:
        r = start(h, nurse, body)
        assert r.status_code == 422, (body, r.get_json())
        for error in r.get_json().get("errors", []):
            assert not error["detail"].isascii(), (body, error)
