"""A card that is not (or no longer) registered as an insurance card (docs/rules.md §2.6, seed 001).

Seed 001 names three groups who receive a 資格確認書 without applying: A, cards never registered for
insurance use (利用登録をしていない方); B, registrations cancelled on the holder's request through the insurer
(利用登録を解除した方); C, holders who did not renew the certificate (未更新のままだと利用登録が解除). Such a card
cannot confirm qualification, so OQS refuses it and the server says why, with the fallbacks that apply.
"""
from __future__ import annotations

from enum import StrEnum

from .errors import CardNotRegistered
from .fallback import FallbackMethod


class Registration(StrEnum):
    REGISTERED = "registered"
    NOT_REGISTERED = "not_registered"  # seed 001 A
    DEREGISTERED = "deregistered"  # seed 001 B: on request, through the insurer
    LAPSED = "lapsed"  # seed 001 C: the certificate was not renewed


# The fallbacks of docs/rules.md §5 that still apply: not the card with the notice (the card is not an
# insurance card), but the 資格確認書 the insurer sends, the oral check on a revisit and the declaration.
FALLBACKS = (FallbackMethod.QUALIFICATION_CERTIFICATE, FallbackMethod.ORAL_REVISIT, FallbackMethod.DECLARATION)

_WHY = {
    Registration.NOT_REGISTERED: "このマイナンバーカードは健康保険証としての利用登録がされていません。",
    Registration.DEREGISTERED: "このマイナンバーカードは、ご本人の申請により健康保険証としての利用登録が解除されています。",
    Registration.LAPSED: "電子証明書が期限内に更新されなかったため、このマイナンバーカードの健康保険証としての"
                         "利用登録は解除されています。",
}
_REGISTER_AGAIN = {
    Registration.NOT_REGISTERED: "マイナ保険証として使うには、マイナポータルまたは医療機関等のカードリーダーで利用登録ができます。",
    Registration.DEREGISTERED: "再びマイナ保険証として使う場合は、マイナポータル等で利用登録ができます（解除の申請先は加入している保険者です）。",
    Registration.LAPSED: "更新した電子証明書で、マイナポータルまたはカードリーダーから利用登録をし直せます。",
}
_FALLBACK_TEXT = ("保険者から交付された資格確認書の提示を受けてください。資格確認書がない場合は、再診なら口頭での確認、"
                  "初診なら被保険者資格申立書で受け付けられます。")


def refusal(registration: Registration) -> CardNotRegistered:
    """The Japanese refusal for a card OQS will not confirm, pointing to the 資格確認書 and the registration."""
    return CardNotRegistered(
        _WHY[registration] + "このカードでは資格確認できません。" + _FALLBACK_TEXT + _REGISTER_AGAIN[registration],
        registration=registration.value, guidance="qualification-certificate",
        fallbacks=[m.value for m in FALLBACKS])
