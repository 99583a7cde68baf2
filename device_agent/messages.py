"""Every failure the person at the device can meet, said plainly in Japanese."""
from __future__ import annotations

from device_agent.card.apdu import FileNotFound, PinLocked, WrongPin
from device_agent.card.guard import PrivacyGuardError
from device_agent.card.transport import CardError, CardProtocolError, CardRemovedError
from device_agent.client import ApiProblem, NetworkError

CARD_REMOVED = "カードが読み取り中に離れました。もう一度、カードを端末の読み取り位置にしっかりかざしてください。"
WRONG_CARD = "マイナンバーカード（またはマイナ保険証を登録したスマートフォン）ではないようです。カードを確認してください。"
NO_SIGNAL = ("サーバーに接続できません（電波がない可能性があります）。カードでの資格確認にはサーバーとの通信が必要です。"
             "電波の届く場所で再度お試しいただくか、「通信できないときの記録」で確認方法を記録してください。")
PIN_LOCKED = ("暗証番号がロックされています（または暗証番号のない顔認証マイナンバーカードです）。"
              "ロックの解除はお住まいの市区町村の窓口で行えます。このまま職員の目視確認で資格確認を続けられます。")
LAST_TRY_WARNING = "次に間違えると暗証番号がロックされます。ロック解除には市区町村の窓口での手続きが必要です。"

PROBLEM_MESSAGES = {
    "certificate-expired": "電子証明書の有効期限切れから3か月を過ぎているため、カードで資格確認できません。"
                           "資格確認書の提示を受けてください。電子証明書の更新は市区町村の窓口で行えます。",
    "form-not-allowed": "この施設の種別では、選んだ確認方式（居宅同意取得型／資格確認限定型）は利用できません。",
    "visual-password-wrong": "目視確認モードのパスワードが正しくありません。",
    "signature-invalid": "カードの署名を確認できませんでした。同じカードで最初からやり直してください。",
    "certificate-untrusted": "このカードの電子証明書は確認できません。",
    "challenge-expired": "確認の有効時間を過ぎました。最初からやり直してください。",
    "unauthenticated": "ログインの有効期限が切れました。もう一度ログインしてください。",
    "qualification-unavailable": "オンライン資格確認等システムに接続できません。時間をおいて再度お試しください。",
}


def pin_prompt(tries_left: int | None) -> str:
    prompt = "患者さまご本人が、マイナンバーカードの暗証番号（数字4桁）を入力してください。"
    if tries_left is not None:
        prompt += f"（残り{tries_left}回）"
        if tries_left == 1:
            prompt += LAST_TRY_WARNING
    return prompt


def wrong_pin(tries_left: int) -> str:
    text = f"暗証番号が違います。残り{tries_left}回です。"
    return text + LAST_TRY_WARNING if tries_left == 1 else text


def describe(error: BaseException) -> str:
    """The message to show for an error raised during a verification."""
    if isinstance(error, WrongPin):
        return wrong_pin(error.tries_left)
    if isinstance(error, PinLocked):
        return PIN_LOCKED
    if isinstance(error, CardRemovedError):
        return CARD_REMOVED
    if isinstance(error, (FileNotFound, CardProtocolError)):
        return WRONG_CARD
    if isinstance(error, PrivacyGuardError):
        return "この操作はできません（個人番号の領域にはアクセスしません）。"
    if isinstance(error, CardError):
        return "カードを読み取れませんでした。もう一度かざしてください。"
    if isinstance(error, NetworkError):
        return NO_SIGNAL
    if isinstance(error, ApiProblem):
        return PROBLEM_MESSAGES.get(error.slug) or str(error)
    return "予期しないエラーが発生しました。もう一度お試しください。"
