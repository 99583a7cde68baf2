"""Japanese labels for what the agent shows: record fields, kinds, forms, times in JST."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

JST = timezone(timedelta(hours=9), "JST")  # Japan has no daylight saving time

KINDS = {"medication": "薬剤情報", "checkups": "特定健診等情報", "clinical": "診療情報", "surgery": "手術情報"}
FORMS = {"home_consent": "② 居宅同意取得型", "qualification_only": "③ 資格確認限定型"}
TOKENS = {"card": "マイナンバーカード", "android": "スマートフォン（Android）", "iphone": "スマートフォン（iPhone）"}

# The fallback methods, their conditions and the reasons are in device_agent/fallback.py.
OUTBOX_STATES = {"pending": "未送信", "sent": "送信済み", "rejected": "要修正"}

FIELDS = {
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


def field_label(key: str) -> str:
    return FIELDS.get(key, key)


def jst(value: str | datetime) -> str:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(JST).strftime("%Y年%m月%d日 %H:%M（日本時間）")


# Era starts (the first day of each era); 明治 is counted from 1868-01-25 (明治元年), good enough for birth dates.
ERAS = ((date(2019, 5, 1), "令和"), (date(1989, 1, 8), "平成"), (date(1926, 12, 25), "昭和"),
        (date(1912, 7, 30), "大正"), (date(1868, 1, 25), "明治"))


def japanese_date(value: str | date | None, *, western: bool = True) -> str:
    """"1984-05-12" → "昭和59年5月12日（1984年）": the era the way people and forms write it, with the
    western year beside it. Anything that is not a date is returned as it came."""
    if value is None or value == "":
        return "—"
    if isinstance(value, datetime):
        value = value.astimezone(JST).date()
    if not isinstance(value, date):
        try:
            value = date.fromisoformat(str(value)[:10])
        except ValueError:
            return str(value)
    for start, era in ERAS:
        if value >= start:
            year = value.year - start.year + 1
            text = f"{era}{'元' if year == 1 else year}年{value.month}月{value.day}日"
            return f"{text}（{value.year}年）" if western else text
    return f"{value.year}年{value.month}月{value.day}日"


def short_date(value: str | date | None) -> str:
    """A recent date (dispensing, checkup) in western style: "2026年11月10日"."""
    if not value:
        return "—"
    try:
        day = date.fromisoformat(str(value)[:10])
    except ValueError:
        return str(value)
    return f"{day.year}年{day.month}月{day.day}日"


def ordered_fields(record: dict[str, Any]) -> list[str]:
    """A record's keys in reading order (the order of FIELDS: date, name, dose...), never alphabetical."""
    order = {name: index for index, name in enumerate(FIELDS)}
    return sorted(record, key=lambda key: (order.get(key, len(order)), key))


def plain(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "はい" if value else "いいえ"
    if isinstance(value, list):
        return "、".join(plain(item) for item in value)
    if isinstance(value, dict):
        if set(value) == {"name", "result"}:
            return f"{value['name']} {plain(value['result'])}"
        return "、".join(f"{field_label(k)}: {plain(v)}" for k, v in value.items())
    return str(value)


def group_medication(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per drug (newest dispensing first): how it is taken, and every dispensing with its date.

    A patient on long-term medication has the same drug refilled every month; listed one record per
    dispensing, seven drugs take metres of scrolling and hide what changed."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for record in sorted(records, key=lambda r: str(r.get("dispensed_on") or ""), reverse=True):
        key = (str(record.get("drug_name") or "—"), str(record.get("strength") or ""))
        group = groups.setdefault(key, {"drug": key[0], "latest": record, "dispensings": []})
        amount = f"{record['quantity']}{record.get('unit') or ''}" if record.get("quantity") is not None else ""
        days = f"{record['days']}日分" if record.get("days") is not None else ""
        group["dispensings"].append({
            "date": short_date(record.get("dispensed_on")), "iso": record.get("dispensed_on"),
            "amount": "・".join(part for part in (days, amount) if part),
            "where": record.get("pharmacy") or record.get("prescribed_by") or "",
            "dose": record.get("dose")})
    for group in groups.values():
        latest = group["latest"]
        group["rows"] = [(field_label(key), plain(latest[key])) for key in ("dose", "dosage_form", "prescribed_by",
                                                                            "pharmacy") if latest.get(key)]
        group["dose_changed"] = len({d["dose"] for d in group["dispensings"]}) > 1
    return list(groups.values())


def record_lines(kind: str, records: list[dict[str, Any]]) -> list[str]:
    """The CLI's text for medical records: medication grouped by drug, other kinds in reading order."""
    if kind == "medication":
        lines = []
        for group in group_medication(records):
            lines.append(f"  ● {field_label('drug_name')}: {group['drug']}")
            lines.extend(f"      {name}: {shown}" for name, shown in group["rows"])
            lines.append("      調剤: " + "、".join(f"{d['date']}（{d['amount']}）" if d["amount"] else d["date"]
                                                  for d in group["dispensings"]))
        return lines
    return ["  - " + "、".join(f"{field_label(k)}: {plain(record[k])}" for k in ordered_fields(record))
            for record in records]
