"""Every failure the person at the device can meet, said plainly in Japanese: what happened, what to do.

``explain`` gives a heading as well as the text: a refusal that is the rules working
as designed (an expired certificate, a closed viewing window) gets a neutral
heading, and only a real failure (no signal, a card that left the reader) is
headed "うまくいきませんでした". Nothing here shows a traceback; ``--debug`` does.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from device_agent.agent import NotEnrolled, VirtualCardMissing
from device_agent.card.apdu import FileNotFound, PinLocked, WrongPin
from device_agent.card.guard import PrivacyGuardError
from device_agent.card.transport import (
    CardError,
    CardProtocolError,
    CardRemovedError,
    NoCardError,
    ReaderBusyError,
    ReaderGoneError,
    ReaderNotFoundError,
    ReaderServiceError,
    SeveralReadersError,
)
from device_agent.certificate import CertificateUnusable
from device_agent.client import (
    ActivationCodeRejected,
    ApiProblem,
    BadServerUrl,
    LoginRejected,
    NetworkError,
    SessionExpired,
)
from device_agent.enrolment import ActivationCodeError
from device_agent.flows import CardRead, PinFormatError
from device_agent.labels import japanese_date
from device_agent.prompts import SecretUnavailable

FAILED = "うまくいきませんでした"
NOT_POSSIBLE = "この確認はできません"
CARD_NOT_USABLE = "このカードでは確認できません"
CARD_NOT_REGISTERED = "保険証として利用登録されていないカードです"
NOT_SHOWN = "この情報は表示できません"
SIGN_IN_AGAIN = "もう一度ログインしてください"

CARD_REMOVED = "カードが読み取り中に離れました。もう一度、カードを端末の読み取り位置にしっかりかざしてください。"
NO_CARD = ("カードが見つかりませんでした。マイナンバーカード（またはマイナ保険証を登録したスマートフォン）を、"
           "読み取り位置に置いたまま「読み取る」を押してください。")
NO_READER = ("カードリーダーが見つかりません。NFCリーダーが接続されているか、電源が入っているか、"
             "ほかのアプリが使っていないかを確認してください。")
READER_SERVICE = ("カードリーダーを使うためのサービスが動いていません。Linux では pcscd（sudo systemctl start pcscd）、"
                  "Windows では「Smart Card」サービスを開始してから、もう一度お試しください。")
READER_GONE = ("カードリーダーとの接続が切れました。USBケーブルを差し直して、"
               "カードをもう一度かざしてください。")
READER_BUSY = ("ほかのアプリ（e-Taxソフトやマイナポータルアプリなど）がカードリーダーを使っています。"
               "そのアプリを閉じてから、もう一度お試しください。")
SEVERAL_READERS = "カードリーダーが複数つながっています。使うリーダーを --reader で選んでください: {names}"
WRONG_CARD = "マイナンバーカード（またはマイナ保険証を登録したスマートフォン）ではないようです。カードを確認してください。"
OFFLINE_HINT = "電波が戻らないときは「通信できないときの記録」で、確認した方法を記録できます。"
PIN_LOCKED = ("暗証番号がロックされています（または暗証番号のない顔認証マイナンバーカードです）。"
              "ロックの解除はお住まいの市区町村の窓口で行えます。このまま職員の目視確認で資格確認を続けられます。")
LAST_TRY_WARNING = "次に間違えると暗証番号がロックされます。ロック解除には市区町村の窓口での手続きが必要です。"
PIN_FORMAT = "暗証番号は数字4桁です。4桁の数字を入力してください。"
SESSION_EXPIRED = ("ログインの有効期限が切れました。もう一度ログインしてください。"
                   "確認の途中の内容はそのまま残っています（暗証番号は保存されないため、もう一度入力が必要です）。")
LOGIN_REJECTED = "ログインIDまたはパスワードが正しくありません。入力を確認して、もう一度お試しください。"
ACTIVATION_REJECTED = ("このアクティベーションコードでは登録できません（番号の誤り、有効期限切れ、または登録に使用済み）。"
                       "12桁の数字を確認してください。それでも登録できないときは、管理者に新しいコードを発行してもらってください。")
ACTIVATION_USED = ("このアクティベーションコードはすでに別の端末の登録に使われています。"
                   "コードは1回しか使えません。管理者に新しいコードを発行してもらってください。")
NOT_ENROLLED = ("この端末はまだ登録されていません。管理者から受け取った12桁のアクティベーションコードで、"
                "device-agent enroll --server <URL> --code <コード> を実行して登録してください。")
QUALIFICATION_CERTIFICATE = ("資格確認書（またはマイナンバーカードと「資格情報のお知らせ」／マイナポータルの資格情報画面）"
                             "の提示を受けて、「通信できないときの記録」で確認方法を記録してください。"
                             "電子証明書の更新は市区町村の窓口で行えます。")

PROBLEM_MESSAGES = {
    "certificate-expired": "電子証明書の有効期限切れから3か月を過ぎているため、カードで資格確認できません。"
                           "資格確認書の提示を受けてください。電子証明書の更新は市区町村の窓口で行えます。",
    "form-not-allowed": "この施設の種別では、選んだ確認方式（居宅同意取得型／資格確認限定型）は利用できません。",
    "visual-password-wrong": "目視確認モードのパスワードが正しくありません。",
    "signature-invalid": "カードの署名を確認できませんでした。同じカードで最初からやり直してください。",
    "certificate-untrusted": "このカードの電子証明書は確認できません。",
    "challenge-expired": "確認の有効時間を過ぎました。最初からやり直してください。",
    "unauthenticated": SESSION_EXPIRED,
    "activation-code-used": ACTIVATION_USED,
    "qualification-unavailable": "オンライン資格確認等システムに接続できません。時間をおいて再度お試しください。"
                                 + OFFLINE_HINT,
}
# Refusals that are the rules working, not something broken: headed neutrally.
BY_DESIGN = {
    "certificate-expired": CARD_NOT_USABLE, "certificate-not-yet-valid": CARD_NOT_USABLE,
    "certificate-untrusted": CARD_NOT_USABLE, "pin-not-available": CARD_NOT_USABLE,
    "form-not-allowed": NOT_POSSIBLE, "identity-method-not-allowed": NOT_POSSIBLE,
    "consent-not-applicable": NOT_POSSIBLE, "visual-password-locked": NOT_POSSIBLE,
    "medical-info-refused": NOT_SHOWN, "form-never-serves-medical-info": NOT_SHOWN,
    "no-consent-for-kind": NOT_SHOWN, "consent-window-closed": NOT_SHOWN, "consent-window-not-open": NOT_SHOWN,
    "forbidden": NOT_POSSIBLE, "card-not-registered": CARD_NOT_REGISTERED,
    "info-kind-not-applicable": NOT_SHOWN, "identifier-lookup-not-allowed": NOT_POSSIBLE,
    "requery-not-allowed": NOT_POSSIBLE, "consent-would-widen": NOT_POSSIBLE,
    "care-relationship-ended": NOT_POSSIBLE, "consent-withdrawn": NOT_SHOWN,
}
# The server's own words for these: they say which case it is (a phone's certificate, which registration).
SERVER_WORDS = ("card-not-registered", "info-kind-not-applicable", "identifier-lookup-not-allowed")
NETWORK = {
    "dns": "サーバー名が見つかりません（試したURL: {url}）。URLのつづりを確認してください。"
           "URLが正しければ、電波が届いていない可能性があります。",
    "refused": "サーバーに接続を断られました（試したURL: {url}）。URLのポート番号が正しいか、"
               "サーバーが動いているかを管理者に確認してください。",
    "timeout": "サーバーから応答がありません（試したURL: {url}）。電波の状況を確認して、もう一度お試しください。",
    "tls": "サーバーの証明書を確認できません（試したURL: {url}）。URL（https:// か http:// か）が正しいか、"
           "管理者に確認してください。",
    "bad-url": "サーバーのURLが正しくありません（{url}）。端末を登録し直すか、管理者に確認してください。",
    "other": "サーバーに接続できません（試したURL: {url}）。電波の状況とURLを確認して、もう一度お試しください。",
}


@dataclass(frozen=True)
class Explained:
    heading: str
    text: str
    by_design: bool = False


def pin_prompt(tries_left: int | None, *, warn: bool = True) -> str:
    """``warn=False`` where the screen says the last-try warning once on its own (the touch UI)."""
    # A proxy (family, carer) may type the PIN for the patient (docs/rules.md §2).
    prompt = "マイナンバーカードの暗証番号（数字4桁）を入力してください。ご本人が難しいときは、ご家族や介助の方が代わりに入力できます。"
    if tries_left is not None:
        prompt += f"（残り{tries_left}回）"
        if tries_left == 1 and warn:
            prompt += LAST_TRY_WARNING
    return prompt


def wrong_pin(tries_left: int) -> str:
    text = f"暗証番号が違います。残り{tries_left}回です。"
    return text + LAST_TRY_WARNING if tries_left == 1 else text


def jdate(day: object) -> str:
    return japanese_date(str(day))


def certificate_unusable(error: CertificateUnusable) -> str:
    return (f"このカードの電子証明書は{jdate(error.expired_on)}に有効期限が切れ、猶予期間（{jdate(error.usable_until)}まで）"
            "も過ぎているため、カードでは資格確認できません。" + QUALIFICATION_CERTIFICATE)


def certificate_notice(read: CardRead, now: datetime) -> str | None:
    """Said when the card is read, before any PIN: raises CertificateUnusable past the grace; a note while
    in the grace (qualification only) or within 3 months of expiry (renewal)."""
    standing = read.certificate_standing(now)
    dates = read.certificate_dates
    if standing == "expired-in-grace" and dates:
        return (f"このカードの電子証明書は{jdate(dates.expires_on)}に有効期限が切れています。"
                f"{jdate(dates.usable_until)}までは資格情報だけ確認できます（医療情報は見られません）。"
                "電子証明書の更新を市区町村の窓口でご案内ください。")
    if standing == "renew-soon" and dates:
        return (f"電子証明書の有効期限（{jdate(dates.expires_on)}）が近づいています。"
                "市区町村の窓口での更新をご案内ください。")
    return None


def no_api_at(base_url: str) -> str:
    """Enrolment reached a server, but no API of ours answered there: say the URL tried and what to give."""
    return (f"このURLにはモバイル資格確認のAPIが見つかりません（試したURL: {base_url}/api/v1/devices/enrol）。"
            "--server には管理画面の「端末」ページに表示されるサーバーのURL（例: https://oqs.example.jp）を"
            "指定してください（末尾の /api/v1 は付けても付けなくてもかまいません）。")


def clock_offset(offset: timedelta) -> str:
    """Said once a day (``Agent.clock_notice``): the device's clock is off. Work goes on: times and expiries
    follow the server's clock."""
    hours, minutes = divmod(max(1, round(abs(offset.total_seconds()) / 60)), 60)
    amount = (f"{hours}時間" if hours else "") + (f"{minutes}分" if minutes or not hours else "")
    side = "遅れて" if offset.total_seconds() > 0 else "進んで"
    return (f"この端末の時計はサーバーの時刻より約{amount}{side}います。確認の時刻や有効期限はサーバーの時刻で扱うため、"
            "このまま続けられます。端末の時計の設定（自動設定）を確認してください。")


def secret_unavailable(error: SecretUnavailable) -> str:
    return (f"{error.what}を入力する画面（端末）がありません。環境変数 {error.env} に設定してください。"
            "標準入力（--pin-stdin）はカードの暗証番号だけに使い、ほかの入力には使いません。")


def network(error: NetworkError) -> str:
    text = NETWORK.get(error.kind, NETWORK["other"]).format(url=error.url or "（未設定）")
    return text + OFFLINE_HINT if error.kind in ("dns", "timeout", "other") else text


def _login_rejected(error: LoginRejected) -> Explained:
    detail = error.problem.get("detail") or ""
    text = LOGIN_REJECTED if "パスワード" in detail or not detail else f"{detail}管理者に確認してください。"
    return Explained("ログインできませんでした", text)


def _activation_rejected(error: ActivationCodeRejected) -> Explained:
    text = ACTIVATION_USED if error.slug == "activation-code-used" else ACTIVATION_REJECTED
    return Explained("登録できませんでした", text)


def _api_problem(error: ApiProblem) -> Explained:
    """The server's refusal: our wording for the slugs we know, the server's own where it says which case
    (a phone's certificate has no grace: the card's wording would be wrong)."""
    server_words = error.slug in SERVER_WORDS or error.problem.get("medium") == "smartphone"
    text = str(error) if server_words else PROBLEM_MESSAGES.get(error.slug) or str(error)
    if error.slug in BY_DESIGN:
        return Explained(BY_DESIGN[error.slug], text, by_design=True)
    if error.status == 401:
        return Explained(SIGN_IN_AGAIN, SESSION_EXPIRED)
    return Explained(FAILED, text)


def _virtual_card_missing(error: VirtualCardMissing) -> Explained:
    tried = "、".join(str(path) for path in error.tried)
    return Explained("仮想カードが見つかりません",
                     f"仮想カード「{error.name}」が見つかりません（探した場所: {tried}）。"
                     "フォルダー名を確認するか、flask sandbox issue-card で発行してください。")


# Each error kind with what to show for it, in order: the first that matches wins, so a subclass comes before
# its base (CardRemovedError before CardError, LoginRejected and SessionExpired before ApiProblem).
_EXPLAINERS: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], Callable[[Any], Explained]], ...] = (
    (WrongPin, lambda e: Explained("暗証番号が違います", wrong_pin(e.tries_left))),
    (PinLocked, lambda e: Explained("暗証番号がロックされています", PIN_LOCKED, by_design=True)),
    (PinFormatError, lambda e: Explained("暗証番号は数字4桁です", PIN_FORMAT)),
    (CertificateUnusable, lambda e: Explained(CARD_NOT_USABLE, certificate_unusable(e), by_design=True)),
    (SeveralReadersError,
     lambda e: Explained("カードリーダーを選んでください", SEVERAL_READERS.format(names="、".join(e.names)))),
    (ReaderServiceError, lambda e: Explained("カードリーダーを使えません", READER_SERVICE)),
    (ReaderNotFoundError, lambda e: Explained("カードリーダーが見つかりません", NO_READER)),
    (ReaderGoneError, lambda e: Explained("カードリーダーが外れました", READER_GONE)),
    (ReaderBusyError, lambda e: Explained("カードリーダーが使用中です", READER_BUSY)),
    (NoCardError, lambda e: Explained("カードが見つかりません", NO_CARD)),
    (CardRemovedError, lambda e: Explained(FAILED, CARD_REMOVED)),
    ((FileNotFound, CardProtocolError), lambda e: Explained(FAILED, WRONG_CARD)),
    (PrivacyGuardError,
     lambda e: Explained(NOT_POSSIBLE, "この操作はできません（個人番号の領域にはアクセスしません）。", by_design=True)),
    (CardError, lambda e: Explained(FAILED, "カードを読み取れませんでした。もう一度かざしてください。")),
    (NetworkError, lambda e: Explained(FAILED, network(e))),
    (SessionExpired, lambda e: Explained(SIGN_IN_AGAIN, SESSION_EXPIRED)),
    (LoginRejected, _login_rejected),
    (ActivationCodeRejected, _activation_rejected),
    (ApiProblem, _api_problem),
    (NotEnrolled, lambda e: Explained("この端末は登録されていません", NOT_ENROLLED)),
    (VirtualCardMissing, _virtual_card_missing),
    ((ActivationCodeError, BadServerUrl), lambda e: Explained("入力を確認してください", str(e))),
    (SecretUnavailable, lambda e: Explained("入力を確認してください", secret_unavailable(e))),
    ((KeyboardInterrupt, EOFError), lambda e: Explained("中止しました", "操作を中止しました。")),
)
UNEXPECTED = Explained(FAILED, "予期しないエラーが発生しました。もう一度お試しください。"
                               "繰り返すときは --debug を付けて実行し、表示された内容を管理者に伝えてください。")


def explain(error: BaseException) -> Explained:
    """What to show for an error met anywhere in the CLI or the UI."""
    for kinds, explained in _EXPLAINERS:
        if isinstance(error, kinds):
            return explained(error)
    return UNEXPECTED


def describe(error: BaseException) -> str:
    """The message to show for an error raised during a verification."""
    return explain(error).text


def fallbacks_of(error: BaseException) -> list[str]:
    """The Japanese names of the fallbacks the server says still apply (a card not registered), else []."""
    if not isinstance(error, ApiProblem):
        return []
    from device_agent.fallback import METHODS

    return [METHODS.get(code, code) for code in error.problem.get("fallbacks") or []]
