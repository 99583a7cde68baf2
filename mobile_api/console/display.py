"""How the console shows things: Japan time, care types, outcomes, checkup items with units and reference
ranges (the 特定健診 criteria for health guidance, as printed on a checkup report)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from ..domain.audit_actions import AUDIT_ACTIONS
from ..domain.japanese_dates import JST

CARE_TYPES = {1: "外来・往診", 2: "訪問診療等", 3: "オンライン診療等"}

# key → (label, unit, reference range as shown)
CHECKUP_ITEMS: dict[str, tuple[str, str, str]] = {
    "height_cm": ("身長", "cm", ""),
    "weight_kg": ("体重", "kg", ""),
    "bmi": ("BMI", "kg/m²", "18.5〜24.9"),
    "waist_cm": ("腹囲", "cm", "男性 85未満・女性 90未満"),
    "systolic_bp": ("収縮期血圧", "mmHg", "130未満"),
    "diastolic_bp": ("拡張期血圧", "mmHg", "85未満"),
    "hba1c_percent": ("HbA1c", "%", "5.6未満"),
    "fasting_glucose_mg_dl": ("空腹時血糖", "mg/dL", "100未満"),
    "ldl_mg_dl": ("LDLコレステロール", "mg/dL", "120未満"),
    "hdl_mg_dl": ("HDLコレステロール", "mg/dL", "40以上"),
    "triglycerides_mg_dl": ("中性脂肪", "mg/dL", "150未満"),
    "ast_u_l": ("AST（GOT）", "U/L", "31未満"),
    "alt_u_l": ("ALT（GPT）", "U/L", "31未満"),
    "gamma_gtp_u_l": ("γ-GT", "U/L", "51未満"),
    "creatinine_mg_dl": ("血清クレアチニン", "mg/dL", ""),
    "egfr": ("eGFR", "mL/分/1.73m²", "60以上"),
    "urine_protein": ("尿蛋白", "", "−"),
    "urine_glucose": ("尿糖", "", "−"),
    "metabolic_syndrome": ("メタボリックシンドローム判定", "", ""),
    "health_guidance": ("保健指導レベル", "", ""),
}


def jst(moment: datetime | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if moment is None:
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(JST).strftime(fmt)


def care_type_label(care_type: Any) -> str:
    try:
        return CARE_TYPES.get(int(care_type), str(care_type))
    except (TypeError, ValueError):
        return str(care_type)


AUDIT_OUTCOMES = {"ok": "成功", "refused": "拒否"}
AUDIT_TARGETS = {
    "api_client": "APIクライアント", "batch_job": "一括照会", "care_relationship": "継続的な診療", "challenge": "資格確認",
    "claims": "請求の案内", "consent": "同意", "consent_link": "同意リンク", "device": "端末",
    "disaster_declaration": "災害の指定", "examinee": "受診者", "fallback_record": "代替確認の記録",
    "institution": "施設", "patient_session": "患者のスマートフォン", "person": "患者", "source": "接続元",
    "usage": "利用状況", "user": "スタッフ", "visit": "訪問", "client": "APIクライアント",
    "audit_events": "監査ログ", "housekeeping": "定期保守",
}


def action_label(action: str) -> str:
    """The action's Japanese label; an action without one (an old row) shows its code rather than nothing."""
    return AUDIT_ACTIONS.get(action, action)


def outcome_label(outcome: str) -> str:
    return AUDIT_OUTCOMES.get(outcome, outcome)


def target_label(target_type: str | None) -> str:
    return AUDIT_TARGETS.get(target_type or "", target_type or "")


def staff_label(user: Any) -> str:
    """A staff member as the console names them: display name and login, never the id."""
    return f"{user.display_name}（{user.login}）"
