"""Plain-Japanese notes shown with a visit result, so the nurse knows what to do next (docs/rules.md §2.4,
§3, §4): computed once per read model from values already read, never from the database or the app."""
from __future__ import annotations

from typing import Any

from ..domain.certificate import RenewalAlert
from ..domain.codes import EligibilityStatus, Form, IdentityMethod
from ..domain.consent import WindowReport
from ..domain.qualification import kana_check_notice

GRACE_NOTICE = ("電子証明書の有効期限が切れています（期限後の猶予期間内）。資格情報のみ確認しました。"
                "診療／薬剤情報は閲覧できません。市区町村窓口での電子証明書の更新を案内してください。")
WITHHELD_NOTICE = ("保険者の設定（DV等の支援措置）により、この方の資格情報は表示できません。"
                   "資格確認ができなかった（資格情報なし）ものとして扱ってください。")
STATUS_NOTICES = {
    EligibilityStatus.INVALID_LOST: "資格は無効（喪失）です。表示している喪失前の資格で旧保険者に請求できます。"
                                    "現在の保険について患者に確認してください。",
    EligibilityStatus.INVALID_NEWER_EXISTS: "この資格は無効です。新しい資格があります。患者に現在の保険を確認してください。",
    EligibilityStatus.NO_MATCH: "該当する資格が見つかりません。資格情報のお知らせ、マイナポータルの資格情報画面、"
                                "または被保険者資格申立書で確認してください。",
    EligibilityStatus.MULTIPLE_MATCHES: "複数の資格が該当しました。患者に現在の保険を確認してください。",
}
QUALIFICATION_ONLY_NOTICE = "資格確認限定型のため、診療／薬剤情報は提供されません。"
REQUERY_WITHOUT_CONSENT_NOTICE = ("再照会（カードなし）で資格情報を確認しました。カードで確認したときの同意がないため、"
                                  "診療／薬剤情報は閲覧できません。")
NO_CONSENT_NOTICE = "診療／薬剤情報の提供に同意がないため、資格情報のみ確認しました。"


def visit_notices(*, form: str, method: str, certificate_standing: str, eligibility_status: int,
                  result: dict[str, Any], has_consent: bool, window: WindowReport,
                  renewal: RenewalAlert | None) -> tuple[str, ...]:
    """The notes in the order the device shows them: the card, the person, the qualification, then what the
    window says now (the one report the read model holds)."""
    notes: list[str] = []
    if certificate_standing == "expired_in_grace":
        notes.append(GRACE_NOTICE)
    if renewal is not None and not renewal.expired:
        notes.append(renewal.message)
    kana = kana_check_notice(result.get("qualification"))  # a 「●」 in the name (seed 001)
    if kana is not None:
        notes.append(kana)
    if result.get("data_withheld"):
        notes.append(WITHHELD_NOTICE)
    status_note = STATUS_NOTICES.get(EligibilityStatus(eligibility_status))
    if status_note is not None:
        notes.append(status_note)
    if form == Form.QUALIFICATION_ONLY.value:
        notes.append(QUALIFICATION_ONLY_NOTICE)
    elif has_consent:
        notes.append(window.message)  # what holds NOW: open until…, or closed at… and how to reopen
    elif method == IdentityMethod.REQUERY.value:
        notes.append(REQUERY_WITHOUT_CONSENT_NOTICE)
    elif form == Form.HOME_CONSENT.value and certificate_standing == "valid":
        notes.append(NO_CONSENT_NOTICE)
    return tuple(notes)
