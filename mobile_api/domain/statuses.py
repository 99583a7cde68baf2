"""The states and kinds the server's records take, one StrEnum each: the ORM stores them as their values and the
database refuses any other (a CHECK per column, migration 0012), so a typo in a status cannot be written."""
from __future__ import annotations

from enum import StrEnum


class ConsentSource(StrEnum):
    """How a consent was given (docs/rules.md §3)."""

    CARD = "card"  # at a card-verified visit
    REQUERY = "requery"  # 再照会 within continuing care (§3.2)
    PATIENT_PHONE = "patient_phone"  # on the patient's own phone (§3.4)
    DISASTER_ORAL = "disaster_oral"  # orally, under a disaster declaration (§3.5)


class CertificateKind(StrEnum):
    """What carried the user-auth certificate, as the device says (docs/rules.md §2.4: the server decides grace
    from the certificate itself, never from this)."""

    CARD = "card"
    ANDROID = "android"
    IPHONE = "iphone"


class WithdrawalChannel(StrEnum):
    """Who withdrew a consent (§3.3)."""

    PATIENT_PHONE = "patient_phone"
    STAFF_ON_REQUEST = "staff_on_request"


class FallbackStatus(StrEnum):
    """pending_post_hoc → confirmed | needs_attention → claim_settled (docs/rules.md §5), every step audited."""

    PENDING_POST_HOC = "pending_post_hoc"  # 事後確認待ち
    CONFIRMED = "confirmed"  # the lookup found this qualification, valid
    NEEDS_ATTENTION = "needs_attention"  # lost, a newer qualification, not found, several, or no numbers to look up
    CLAIM_SETTLED = "claim_settled"  # 請求確定: declaration data destroyed


class PostHocOutcome(StrEnum):
    """What the latest lookup of a fallback record meant (§5)."""

    CONFIRMED = "confirmed"
    LOST = "lost"
    DIFFERENT_QUALIFICATION = "different_qualification"
    NOT_FOUND = "not_found"
    MULTIPLE = "multiple"
    NO_IDENTIFIERS = "no_identifiers"


class CopaymentBasis(StrEnum):
    """How a fallback record's co-payment share was decided (domain/copayment.py)."""

    AGE = "age"
    STATED = "stated"
    PROVISIONAL = "provisional"
    PAST_VISIT = "past_visit"  # the ratio the provider already holds from an earlier visit (oral revisit, §5)


class ClientAuthMethod(StrEnum):
    PRIVATE_KEY_JWT = "private_key_jwt"
    CLIENT_SECRET = "client_secret"


class BatchState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"


class BatchSource(StrEnum):
    JSON = "json"
    CSV = "csv"


class BatchRowStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    ERROR = "error"


class CareEndReason(StrEnum):
    """Why a continuing-care relationship ended (§3.2)."""

    DISCHARGED = "discharged"
    WITHDRAWN = "withdrawn"
    IDLE = "idle"


class LinkPurpose(StrEnum):
    """A consent link for any visit, or for a planned consultation date (§3.4)."""

    GENERAL = "general"
    APPOINTMENT = "appointment"


class PatientSessionPurpose(StrEnum):
    REGISTER = "register"
    MANAGE = "manage"


class PatientSessionStatus(StrEnum):
    PENDING = "pending"
    ANSWERING = "answering"  # claimed by one answer (single use), being checked
    AUTHENTICATED = "authenticated"
    REFUSED = "refused"


class ConsoleEndReason(StrEnum):
    """Why a console session ended (docs/console.md)."""

    LOGOUT = "logout"
    IDLE = "idle"
    EXPIRED = "expired"
    REVOKED = "revoked"
    USER_REVOKED = "user-revoked"
    PASSWORD_RESET = "password-reset"
    ROLE_CHANGE = "role-change"
    DEVICE_REVOKED = "device-revoked"
