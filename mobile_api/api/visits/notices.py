"""Plain-Japanese notes shown with a visit result, so the nurse knows what to do next."""
from __future__ import annotations

from ...adapters import orm
from ...domain.certificate import RenewalAlert, renewal_alert
from ...domain.codes import EligibilityStatus, Form
from ...domain.consent import WindowReport
from ...domain.japanese_dates import hours_ja, jst_text
from ...domain.qualification import kana_check_notice
from ..core import runtime


def renewal_for(visit: orm.Visit) -> RenewalAlert | None:
    """The renewal alert as of the visit: from ``CERTIFICATE_RENEWAL_ALERT_MONTHS`` before the certificate expires,
    and through the grace of ``CERTIFICATE_GRACE_MONTHS`` (docs/rules.md §2.4)."""
    not_after = getattr(visit, "certificate_not_after", None)
    if not_after is None:
        return None
    rules = runtime().rules
    return renewal_alert(not_after=not_after, now=visit.created_at, alert_months=rules.renewal_alert_months,
                         grace_months=rules.certificate_grace_months)


def notices_for(visit: orm.Visit, consent: orm.Consent | None, window: WindowReport | None = None) -> list[str]:  # noqa: C901 - being rewritten in issue 21 (the read side)
    notes: list[str] = []
    status = EligibilityStatus(visit.eligibility_status)
    if visit.certificate_standing == "expired_in_grace":
        notes.append("電子証明書の有効期限が切れています（期限後の猶予期間内）。資格情報のみ確認しました。"
                     "診療／薬剤情報は閲覧できません。市区町村窓口での電子証明書の更新を案内してください。")
    alert = renewal_for(visit)
    if alert is not None and not alert.expired:
        notes.append(alert.message)
    kana = kana_check_notice(visit.result.get("qualification"))  # a 「●」 in the name (seed 001)
    if kana is not None:
        notes.append(kana)
    if visit.result.get("data_withheld"):
        notes.append("保険者の設定（DV等の支援措置）により、この方の資格情報は表示できません。"
                     "資格確認ができなかった（資格情報なし）ものとして扱ってください。")
    if status is EligibilityStatus.INVALID_LOST:
        notes.append("資格は無効（喪失）です。表示している喪失前の資格で旧保険者に請求できます。"
                     "現在の保険について患者に確認してください。")
    elif status is EligibilityStatus.INVALID_NEWER_EXISTS:
        notes.append("この資格は無効です。新しい資格があります。患者に現在の保険を確認してください。")
    elif status is EligibilityStatus.NO_MATCH:
        notes.append("該当する資格が見つかりません。資格情報のお知らせ、マイナポータルの資格情報画面、"
                     "または被保険者資格申立書で確認してください。")
    elif status is EligibilityStatus.MULTIPLE_MATCHES:
        notes.append("複数の資格が該当しました。患者に現在の保険を確認してください。")
    if visit.form == Form.QUALIFICATION_ONLY.value:
        notes.append("資格確認限定型のため、診療／薬剤情報は提供されません。")
    elif consent is not None and window is not None:
        notes.append(window.message)  # what holds NOW: open until…, or closed at… and how to reopen
    elif consent is not None:
        span = hours_ja(consent.expires_at - consent.registered_at)
        notes.append(f"同意登録から{span}（{jst_text(consent.expires_at)}〈日本時間〉まで）診療／薬剤情報を閲覧できます。")
    elif visit.method == "requery":
        notes.append("再照会（カードなし）で資格情報を確認しました。カードで確認したときの同意がないため、"
                     "診療／薬剤情報は閲覧できません。")
    elif visit.form == Form.HOME_CONSENT.value and visit.certificate_standing == "valid":
        notes.append("診療／薬剤情報の提供に同意がないため、資格情報のみ確認しました。")
    return notes
