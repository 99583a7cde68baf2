"""How values from the server read on the screen: labels, ratios, times in Japan time.

Pure functions, used as Jinja filters and globals; nothing here talks to the card
or the server.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from device_agent import care
from device_agent.labels import (  # noqa: F401  (re-exported for the routes and templates)  # noqa: F401
    FORMS,
    JST,
    KINDS,
    OUTBOX_STATES,  # noqa: F401
    group_medication,
    japanese_date,
    ordered_fields,
    short_date,
)
from device_agent.labels import field_label as label  # noqa: F401  (the one label lookup, for templates)
from device_agent.labels import plain as value  # the one way a record value is shown

FORM_HINTS = {
    "home_consent": "資格情報と、患者さまが同意した医療情報（お薬・健診など）を確認します。",
    "qualification_only": "資格情報だけを確認します。医療情報は表示されません。",
}
CARE_TYPES = {2: "訪問診療等", 3: "オンライン診療等", 1: "外来・往診"}
# ③ 資格確認限定型 (judo, acupuncture, massage practices, health checks...) has no medical care type to
# choose: those practices are not 訪問診療 or オンライン診療, so the visit is sent as 1 (外来・往診).
QUALIFICATION_ONLY_CARE_TYPE = 1

STEPS = {
    "home_consent": {"start": "確認方式", "consent": "同意（患者さまが選びます）", "card": "カードの読み取り",
                     "identity": "本人確認", "result": "確認結果"},
    "qualification_only": {"start": "確認の開始", "card": "カードの読み取り", "identity": "本人確認",
                           "result": "確認結果"},
}


def step(form: str | None, key: str) -> tuple[int, int, str]:
    """(number, total, label) for a step of this form's flow: "start", "consent", "card", "identity", "result"
    (a step the flow does not have counts as its first)."""
    steps = STEPS.get(form or "", STEPS["home_consent"])
    keys = list(steps)
    index = keys.index(key) if key in steps else 0
    return index + 1, len(keys), steps[keys[index]]


METHODS = {"pin": "暗証番号", "visual": "目視確認", "requery": "再照会（カードなし）"}


def kind_names(kinds: Any) -> str:
    return care.kinds_text(kinds)


def window_state(visit: dict[str, Any]) -> str:
    """The medical-information window of a visit: "open", "not_open", "closed", "withdrawn" or "none".

    ``medical_info_allowed`` means "viewable now" (it turns false when the window closes), so whether the
    visit ever had a window, and how it ended, comes from ``medical_info_window``; a server without it
    answers with the flag alone."""
    window = visit.get("medical_info_window")
    if isinstance(window, dict) and window.get("state"):
        return str(window["state"])
    return "open" if visit.get("medical_info_allowed") else "none"


def care_type_for(form: str, raw: Any) -> int | None:
    if form == "qualification_only":
        return QUALIFICATION_ONLY_CARE_TYPE
    text = str(raw or "")
    return int(text) if text.isdigit() and int(text) in CARE_TYPES else None


KIND_HINTS = {
    "medication": "これまでに処方・調剤されたお薬の情報",
    "checkups": "特定健診などの健康診断の結果",
    "clinical": "受けた診療・検査の結果・アレルギーなどの情報",
    "surgery": "受けた手術・病名・感染症などの情報",
}

RELATIONSHIP = {"insured": "本人", "dependant": "家族"}

RECORD_TYPES = {"diagnosis": "病名", "treatment": "診療行為", "allergy": "アレルギー", "lab_result": "検査結果"}
DATE_FIELDS = ("dispensed_on", "checked_on", "performed_on", "tested_on", "recorded_on", "started_on")
TITLE_FIELDS = ("drug_name", "procedure", "name", "item", "substance", "institution")


def ratio(code: str | None) -> str:
    """"030" → "3割" (the OQS co-payment code is a percentage in three digits)."""
    if not code or not code.isdigit():
        return "—"
    percent = int(code)
    return f"{percent // 10}割" if percent % 10 == 0 else f"{percent}%"


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def jst(text_or_time: str | datetime | None) -> str:
    """A server timestamp in Japan time: 2026年12月2日 09:00."""
    moment = parse_time(text_or_time) if isinstance(text_or_time, str) else text_or_time
    if moment is None:
        return "—"
    local = moment.astimezone(JST)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def duration(seconds: float | None) -> str:
    """Time left, rounded down to the minute: "23時間59分"; "終了" when none is left."""
    if seconds is None:
        return "—"
    if seconds <= 0:
        return "終了"
    minutes = int(seconds) // 60
    hours, minutes = divmod(minutes, 60)
    return f"{hours}時間{minutes}分" if hours else f"{minutes}分"


def record_view(record: dict[str, Any]) -> dict[str, Any]:
    """One medical record for a phone screen: date, title, kind tag, then labelled rows in a sensible order."""
    date_key = next((k for k in DATE_FIELDS if record.get(k)), None)
    title_key = next((k for k in TITLE_FIELDS if record.get(k)), None)
    rest = [k for k in ordered_fields(record) if k not in (date_key, title_key, "record_type")]
    rows = []
    for key in rest:
        if key == "unit" and "quantity" in record:
            continue
        shown = value(record[key])
        if key in ("quantity", "value") and record.get("unit") and shown != "—":
            shown += f" {record['unit']}"
        elif key == "days" and shown != "—":
            shown += "日分"
        rows.append((label(key), shown))
    return {"date": record.get(date_key) if date_key else None, "date_label": label(date_key or ""),
            "title": value(record[title_key]) if title_key else "記録",
            "tag": RECORD_TYPES.get(str(record.get("record_type"))), "rows": rows}
