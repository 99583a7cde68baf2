"""How values from the server read on the screen: labels, ratios, times in Japan time.

Pure functions, used as Jinja filters and globals; nothing here talks to the card
or the server.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

JST = timezone(timedelta(hours=9), "JST")

FORMS = {"home_consent": "② 居宅同意取得型", "qualification_only": "③ 資格確認限定型"}
FORM_HINTS = {
    "home_consent": "資格情報と、患者さまが同意した医療情報（お薬・健診など）を確認します。",
    "qualification_only": "資格情報だけを確認します。医療情報は表示されません。",
}
CARE_TYPES = {2: "訪問診療等", 3: "オンライン診療等", 1: "外来・往診"}

# The four kinds, in the order and words the patient sees them (domain.md §3).
KINDS = {
    "medication": "薬剤情報",
    "checkups": "特定健診等情報",
    "clinical": "診療情報",
    "surgery": "手術情報",
}
KIND_HINTS = {
    "medication": "これまでに処方・調剤されたお薬の情報",
    "checkups": "特定健診などの健康診断の結果",
    "clinical": "受けた診療・検査の結果・アレルギーなどの情報",
    "surgery": "受けた手術・病名・感染症などの情報",
}

RELATIONSHIP = {"insured": "本人", "dependant": "家族"}
SEX = {"1": "男", "2": "女", "3": "未設定"}

FIELD_LABELS = {
    # medication
    "dispensed_on": "調剤日", "drug_name": "薬剤名", "strength": "規格", "dosage_form": "剤形",
    "dose": "用法・用量", "days": "日数", "quantity": "数量", "unit": "単位", "prescribed_by": "処方医療機関",
    "pharmacy": "薬局",
    # checkups
    "checked_on": "受診日", "institution": "医療機関", "height_cm": "身長 (cm)", "weight_kg": "体重 (kg)",
    "bmi": "BMI", "waist_cm": "腹囲 (cm)", "systolic_bp": "収縮期血圧", "diastolic_bp": "拡張期血圧",
    "triglycerides_mg_dl": "中性脂肪 (mg/dL)", "hdl_mg_dl": "HDLコレステロール (mg/dL)",
    "ldl_mg_dl": "LDLコレステロール (mg/dL)", "ast_u_l": "AST (U/L)", "alt_u_l": "ALT (U/L)",
    "gamma_gtp_u_l": "γ-GTP (U/L)", "fasting_glucose_mg_dl": "空腹時血糖 (mg/dL)", "hba1c_percent": "HbA1c (%)",
    "urine_glucose": "尿糖", "urine_protein": "尿蛋白", "creatinine_mg_dl": "血清クレアチニン (mg/dL)",
    "egfr": "eGFR", "metabolic_syndrome": "メタボリックシンドローム判定", "health_guidance": "保健指導レベル",
    # clinical
    "record_type": "種類", "performed_on": "実施日", "tested_on": "検査日", "recorded_on": "記録日",
    "started_on": "開始日", "name": "名称", "item": "項目", "value": "値", "reference_range": "基準範囲",
    "flag": "判定", "substance": "原因物質", "reaction": "症状", "severity": "重症度", "outcome": "転帰",
    "icd10": "ICD-10",
    # surgery
    "procedure": "手術", "anesthesia": "麻酔", "disease_names": "病名", "infections": "感染症",
    "result": "結果",
}
RECORD_TYPES = {"diagnosis": "病名", "treatment": "診療行為", "allergy": "アレルギー", "lab_result": "検査結果"}
DATE_FIELDS = ("dispensed_on", "checked_on", "performed_on", "tested_on", "recorded_on", "started_on")
TITLE_FIELDS = ("drug_name", "procedure", "name", "item", "substance", "institution")
_ORDER = {name: index for index, name in enumerate(FIELD_LABELS)}


def ratio(code: str | None) -> str:
    """"030" → "3割" (the OQS co-payment code is a percentage in three digits)."""
    if not code or not code.isdigit():
        return "—"
    percent = int(code)
    return f"{percent // 10}割" if percent % 10 == 0 else f"{percent}%"


def value(raw: Any) -> str:
    """A record value as text: lists joined, booleans as はい／いいえ, missing as a dash."""
    if raw is None or raw == "" or raw == []:
        return "—"
    if isinstance(raw, bool):
        return "はい" if raw else "いいえ"
    if isinstance(raw, list):
        return "、".join(value(item) for item in raw)
    if isinstance(raw, dict):
        if set(raw) == {"name", "result"}:  # e.g. an infection test: "HBs抗原 陰性"
            return f"{raw['name']} {value(raw['result'])}"
        return "、".join(f"{label(k)}: {value(v)}" for k, v in raw.items())
    return str(raw)


def label(field: str) -> str:
    return FIELD_LABELS.get(field, field)


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


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
    rest = sorted((k for k in record if k not in (date_key, title_key, "record_type")),
                  key=lambda k: (_ORDER.get(k, len(_ORDER)), k))
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
            "tag": RECORD_TYPES.get(str(record.get("record_type")), None), "rows": rows}
