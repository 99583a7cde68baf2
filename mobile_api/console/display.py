"""How the console shows things: Japan time, care types, outcomes, checkup items with units and reference
ranges (the 特定健診 criteria for health guidance, as printed on a checkup report)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from ..domain.codes import EligibilityStatus
from ..domain.japanese_dates import JST

CARE_TYPES = {1: "外来・往診", 2: "訪問診療等", 3: "オンライン診療等"}
OUTCOMES = {"valid": "資格あり", "invalid": "資格なし・照合できず"}

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


def outcome_of(view: Any) -> str:
    status = view.visit.eligibility_status
    return "valid" if status in (EligibilityStatus.VALID, EligibilityStatus.VALID_UNREGISTERED) else "invalid"
