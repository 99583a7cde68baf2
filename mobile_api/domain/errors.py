"""Domain refusals.

Each refusal has a stable ``slug`` (it becomes the problem ``type``), an HTTP
status the API layer uses, and a Japanese ``title`` for the person holding the
device. ``detail`` says what happened this time; ``extra`` carries machine-
readable members (e.g. when a window closed).
"""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    slug = "domain-error"
    status = 400
    title = "処理できませんでした。"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra


class NotFound(DomainError):
    slug = "not-found"
    status = 404
    title = "対象が見つかりません。"


class Conflict(DomainError):
    slug = "conflict"
    status = 409
    title = "現在の状態ではこの操作はできません。"


class DuplicateRecord(Conflict):
    """Something unique already exists (a login, an institution code, a spent one-time value).

    Raised by the unit of work from the database's unique constraint, so the
    check holds under concurrency; ``constraint`` names it for callers that
    must tell which race they lost.
    """

    slug = "duplicate"
    title = "同じものがすでに登録されています。"

    def __init__(self, detail: str | None = None, *, constraint: str | None = None, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.constraint = constraint


class Unauthenticated(DomainError):
    slug = "unauthenticated"
    status = 401
    title = "認証が必要です。もう一度ログインしてください。"


class SignInLocked(Unauthenticated):
    """Too many wrong passwords or client secrets: sign-in is refused until the lock ends (docs/rules.md)."""

    slug = "sign-in-locked"
    title = "ログインが一時的にロックされています。"


class Forbidden(DomainError):
    slug = "forbidden"
    status = 403
    title = "この操作は許可されていません。"


class FormNotAllowed(Forbidden):
    slug = "form-not-allowed"
    title = "この施設種別では、この確認方式は利用できません。"


class IdentifierLookupNotAllowed(Forbidden):
    """Form ③ is the card plus PIN or a visual check (seed 001); a lookup by 被保険者番号等 alone is the
    health-check institutions' bulk path, not a way to read the qualification of someone not present."""

    slug = "identifier-lookup-not-allowed"
    title = "この施設種別では、被保険者番号等だけによる資格照会はできません。"


class MethodNotAllowed(Forbidden):
    slug = "identity-method-not-allowed"
    title = "この本人確認方法は利用できません。"


class ChallengeInvalid(DomainError):
    slug = "challenge-invalid"
    status = 409
    title = "確認の手続きが無効です。最初からやり直してください。"


class ChallengeExpired(ChallengeInvalid):
    slug = "challenge-expired"
    title = "確認の有効時間を過ぎました。最初からやり直してください。"


class ChallengeUsed(ChallengeInvalid):
    slug = "challenge-used"
    title = "この確認はすでに使われています。最初からやり直してください。"


class CardRejected(DomainError):
    slug = "card-rejected"
    status = 422
    title = "マイナンバーカードを確認できませんでした。"


class SignatureInvalid(CardRejected):
    slug = "signature-invalid"
    title = "カードの署名を確認できませんでした。もう一度カードを読み取ってください。"


class CertificateUntrusted(CardRejected):
    slug = "certificate-untrusted"
    title = "信頼できる発行元の電子証明書ではありません。"


class CertificateMalformed(CardRejected):
    slug = "certificate-malformed"
    title = "電子証明書を読み取れませんでした。もう一度カードを読み取ってください。"


class CertificateExpired(CardRejected):
    slug = "certificate-expired"
    title = "電子証明書の有効期限が切れてから猶予期間を過ぎています。"


class CardNotRegistered(CardRejected):
    """Not registered as an insurance card, or the registration was cancelled (seed 001; domain/registration.py)."""

    slug = "card-not-registered"
    title = "このマイナンバーカードは健康保険証として利用登録されていません。"


class CertificateNotYetValid(CardRejected):
    slug = "certificate-not-yet-valid"
    title = "電子証明書の有効期間がまだ始まっていません。"


class PinNotAvailable(CardRejected):
    """A face-recognition card (顔認証マイナンバーカード) has no PIN: only a visual check can confirm it."""

    slug = "pin-not-available"
    title = "このカードは顔認証マイナンバーカードのため暗証番号では確認できません。目視確認で確認してください。"


class VisualPasswordWrong(Forbidden):
    slug = "visual-password-wrong"
    title = "目視確認モードのパスワードが正しくありません。"


class ConsentNotApplicable(DomainError):
    slug = "consent-not-applicable"
    status = 422
    title = "資格確認限定型では同意を登録できません。"


class MedicalInfoRefused(Forbidden):
    slug = "medical-info-refused"
    title = "診療／薬剤情報を表示できません。"


class FormNeverServesMedicalInfo(MedicalInfoRefused):
    slug = "form-never-serves-medical-info"
    title = "資格確認限定型では診療／薬剤情報を閲覧できません。"


class InfoKindNotApplicable(MedicalInfoRefused):
    """The kind cannot hold data for this patient (特定健診等情報 under 40, domain/availability.py)."""

    slug = "info-kind-not-applicable"
    title = "この患者さんにはこの種類の情報はありません。"


class NoConsentForKind(MedicalInfoRefused):
    slug = "no-consent-for-kind"
    title = "この情報の閲覧には患者の同意がありません。"


class ConsentWindowClosed(MedicalInfoRefused):
    slug = "consent-window-closed"
    title = "同意登録後の閲覧期間を過ぎたため閲覧できません。カードで改めて確認と同意を行ってください。"


class ConsentWindowNotOpen(MedicalInfoRefused):
    slug = "consent-window-not-open"
    title = "同意の閲覧期間がまだ始まっていません。"


class QualificationUnavailable(DomainError):
    slug = "qualification-unavailable"
    status = 503
    title = "オンライン資格確認等システムに接続できません。時間をおいて再度お試しください。"


class ServiceUnavailable(DomainError):
    """Our own storage cannot serve right now (down, restarting, locked): transient, retry later."""

    slug = "service-unavailable"
    status = 503
    title = "サーバーが一時的に利用できません。しばらく待ってから再度お試しください。"


class IdempotencyConflict(DomainError):
    slug = "idempotency-key-reused"
    status = 422
    title = "同じ Idempotency-Key が異なる内容で使われました。"


class ValidationFailed(DomainError):
    slug = "validation-failed"
    status = 422
    title = "入力内容に誤りがあります。"


class UnsupportedMediaType(DomainError):
    slug = "unsupported-media-type"
    status = 415
    title = "この Content-Type の本文は受け付けていません。"


class ResultsExpired(Conflict):
    """A batch job's results were deleted after the keeping time (docs/health-check-api.md §4)."""
    slug = "results-expired"
    title = "保存期間を過ぎたため、結果は削除されました。"
class DeviceTimeRefused(ValidationFailed):
    """A device's stated time the server cannot take as the visit's: ahead of its own clock, or older than the
    claim cycle needs (docs/rules.md §5). The server's clock is the authority for every legal date."""

    slug = "device-time-refused"
    title = "端末の記録時刻を受診日として受け付けられません。"


class ActivationCodeUsed(Conflict):
    slug = "activation-code-used"
    title = "このアクティベーションコードは別の端末の登録に使われました。管理者に新しいコードを発行してもらってください。"


def _all_subclasses(cls: type[DomainError]) -> list[type[DomainError]]:
    found: list[type[DomainError]] = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_all_subclasses(sub))
    return found


def error_class_for(slug: str) -> type[DomainError]:
    """Rebuild a stored refusal (idempotent replays return the very same problem)."""
    classes: list[type[DomainError]] = [DomainError, *_all_subclasses(DomainError)]
    for cls in classes:
        if cls.slug == slug:
            return cls
    return DomainError


def all_error_classes() -> list[type[DomainError]]:
    return [DomainError, *_all_subclasses(DomainError)]


class VisualPasswordLocked(Forbidden):
    """Too many consecutive wrong visual-mode passwords: refused, even the right one, until an
    admin unlocks or rotates it (docs/rules.md)."""

    slug = "visual-password-locked"
    title = ("目視確認モードのパスワードが続けて誤入力されたため、ロックされています。"
             "管理者にロックの解除（またはパスワードの再設定）を依頼してください。")


class InsurerNumberInvalid(ValidationFailed):
    """An insurer number fails its check digit or shape; ``likely_wrong_positions`` (1-based) says where
    to look (docs/rules.md §4)."""

    slug = "insurer-number-invalid"
    title = "保険者番号に誤りがあります。"


class InvalidScope(Forbidden):
    """A machine client's token lacks the scope an endpoint needs, or a machine client called an
    endpoint for staff, devices or admins."""

    slug = "insufficient-scope"
    title = "このクライアントにはこの操作の権限がありません。"


class RateLimited(DomainError):
    slug = "rate-limited"
    status = 429
    title = "リクエストが多すぎます。時間をおいて再度お試しください。"


class BatchTooLarge(DomainError):
    slug = "batch-too-large"
    status = 413
    title = "一括照会の件数が上限を超えています。"


class ConsentWithdrawn(MedicalInfoRefused):
    """The patient withdrew every consent at this institution (docs/rules.md §3.3): no window is open."""

    slug = "consent-withdrawn"
    title = "患者が同意を取り消したため、診療／薬剤情報は閲覧できません。"


class RequeryNotAllowed(Forbidden):
    """No active continuing-care relationship: only a card verification works (docs/rules.md §3.2)."""

    slug = "requery-not-allowed"
    title = "継続的な訪問診療等の関係がないため再照会できません。マイナンバーカードで資格確認を行ってください。"


class ConsentWouldWiden(ValidationFailed):
    """A re-query asked for a kind the card-verified visit's consent did not cover (docs/rules.md §3.2)."""

    slug = "consent-would-widen"
    title = "再照会では、カードで確認したときに同意された情報の範囲を超えることはできません。"


class CareRelationshipEnded(Conflict):
    slug = "care-relationship-ended"
    title = "この継続的な訪問診療等の関係はすでに終了しています。"


class ConsentLinkUnknown(NotFound):
    slug = "consent-link-unknown"
    title = "この同意登録用リンクは見つかりません。医療機関にお問い合わせください。"


class ConsentLinkGone(DomainError):
    """An expired or revoked patient consent link (docs/rules.md §3.4)."""

    slug = "consent-link-gone"
    status = 410
    title = "この同意登録用リンクは有効期限切れ、または取り消されています。医療機関に新しいリンクを依頼してください。"


class PatientSessionInvalid(DomainError):
    slug = "patient-session-invalid"
    status = 409
    title = "本人確認の手続きが無効です。最初からやり直してください。"


class DisasterViewingNotAllowed(Forbidden):
    """Viewing without the card outside a declared disaster's period or area, or for a kind other than
    medication and checkups (docs/rules.md §3.5, seed 004)."""

    slug = "disaster-viewing-not-allowed"
    title = ("災害時の閲覧（カードなし）は、宣言された災害の期間中に対象地域の施設だけが、薬剤情報と特定健診等情報について"
             "利用できます。マイナンバーカードで資格確認を行ってください。")
