"""How the console shows things: Japan time, care types, outcomes, checkup items with units and reference
ranges (the 特定健診 criteria for health guidance, as printed on a checkup report)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

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


# Every action the server writes to the audit log (``audit.record``/``record_refusal``), in Japanese, grouped as
# the filter's select shows them. tests/integration/test_console_audit.py reads the code for every action
# written and fails when one has no label here.
AUDIT_ACTIONS: dict[str, str] = {
    "auth.login": "ログイン",
    "auth.refresh": "ログインの延長（トークン更新）",
    "auth.lock": "ロック（失敗の繰り返し）",
    "auth.unlock": "ロックの解除",
    "auth.device_token": "端末のトークン発行",
    "institution.create": "施設の登録",
    "institution.rename": "施設名の変更",
    "institution.visual_password.set": "目視確認パスワードの設定",
    "institution.visual_password.lock": "目視確認パスワードのロック",
    "institution.visual_password.unlock": "目視確認パスワードのロック解除",
    "user.create": "スタッフの登録",
    "user.revoke": "スタッフの利用停止",
    "user.password.reset": "スタッフのパスワード再設定",
    "user.role.set": "スタッフの権限の変更",
    "device.create": "端末の登録",
    "device.enrol": "端末の初期設定",
    "device.assert": "端末の認証",
    "device.revoke": "端末の利用停止",
    "verification.start": "資格確認の開始",
    "verification.submit": "資格確認の結果",
    "consent.register": "同意の登録",
    "consent.withdraw": "同意の撤回",
    "consent.list": "同意の一覧の閲覧",
    "consent_link.create": "同意リンクの発行",
    "consent_link.revoke": "同意リンクの取り消し",
    "patient.session_start": "患者のスマートフォンでの開始",
    "patient.authenticate": "患者の本人確認（スマートフォン）",
    "patient.card_error": "患者のスマートフォンでのカードのエラー（暗証番号の誤りなど）",
    "patient_data.access": "患者情報へのアクセス",
    "visit.list": "訪問の一覧の閲覧",
    "visit.read": "訪問の記録の閲覧",
    "visit.requery": "資格の再照会",
    "medical_info.view": "医療情報の閲覧",
    "care.open": "継続的な診療の開始",
    "care.renew": "継続的な診療の更新",
    "care.list": "継続的な診療の一覧の閲覧",
    "care.discharge": "継続的な診療の終了（退院・終診）",
    "fallback.record": "代替確認の記録",
    "fallback.list": "代替確認の一覧の閲覧",
    "fallback.read": "代替確認の記録の閲覧",
    "fallback.update": "代替確認の記録の更新",
    "fallback.post_hoc": "代替確認の事後確認",
    "fallback.settle": "代替確認の請求確定",
    "fallback.declaration_destroyed": "申立書の情報の廃棄",
    "claims.export": "請求の案内の書き出し",
    "disaster.declare": "災害の指定",
    "disaster.lookup": "災害時の資格照会",
    "qualification.challenge": "資格照会の準備",
    "qualification.check": "資格照会（健診機関）",
    "batch.create": "一括照会の登録",
    "batch.done": "一括照会の完了",
    "batch.results": "一括照会の結果の取得",
    "batch.cancel": "一括照会の取り消し",
    "batch.purge": "一括照会の結果の削除",
    "client.create": "APIクライアントの作成",
    "client.credential.add": "APIクライアントの鍵の追加",
    "client.credential.revoke": "APIクライアントの鍵の失効",
    "client.revoke": "APIクライアントの失効",
    "client.token": "APIクライアントのトークン発行",
    "usage.read": "利用状況の閲覧",
    "audit.partitions": "監査ログの月別区画の作成",
    "audit.retention": "保存期間を過ぎた監査ログの削除",
    "maintenance.purge": "不要になった記録の削除",
}
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
