"""Codes of the domain, named after the OQS message items (docs/rules.md §1, §3, §4)."""
from __future__ import annotations

from enum import IntEnum, StrEnum


class Form(StrEnum):
    """Mobile confirmation forms. ① (normal, front desk) is out of scope."""

    HOME_CONSENT = "home_consent"  # ② 居宅同意取得型: qualification + medical info with consent
    QUALIFICATION_ONLY = "qualification_only"  # ③ 資格確認限定型: qualification only


class CareType(IntEnum):
    """Care-type codes used in OQS messages (診療区分)."""

    OUTPATIENT = 1  # 外来・往診 (incl. drive-through reception)
    HOME_VISIT = 2  # 訪問診療等
    ONLINE = 3  # オンライン診療等
    EMERGENCY = 4  # 救急 (not offered by the mobile forms)


class IdentityMethod(StrEnum):
    PIN = "pin"  # 4-digit user-auth PIN: the card signs the server's challenge
    VISUAL = "visual"  # 目視確認: staff compare the card photo; needs the visual-mode password
    # 再照会: no card on a later continuing-care visit, on the strength of a card-verified one (docs/rules.md
    # §3.2). A visit's method only: never offered when starting a verification.
    REQUERY = "requery"
    # 災害時の閲覧: no card, found by identifiers during a declared disaster, with oral consent recorded by
    # staff (docs/rules.md §3.5, seed 004). A visit's method only.
    DISASTER = "disaster"


class InfoKind(StrEnum):
    """Medical-information kinds a patient can consent to."""

    MEDICATION = "medication"  # 薬剤情報
    CHECKUPS = "checkups"  # 特定健診等情報
    CLINICAL = "clinical"  # 診療情報
    SURGERY = "surgery"  # 手術情報 (asked separately; the most sensitive)


ALL_INFO_KINDS = frozenset(InfoKind)


class ConsentFlag(IntEnum):
    """Consent flag values in OQS messages."""

    NONE = 0
    CONSENTED = 1
    EXPIRED = 2
    NOT_TAKEN = 3


class EligibilityStatus(IntEnum):
    """資格有効性."""

    VALID = 1
    INVALID_LOST = 2
    INVALID_NEWER_EXISTS = 3
    NO_MATCH = 4
    MULTIPLE_MATCHES = 5
    VALID_UNREGISTERED = 6  # public medical assistance (医療扶助)

    @property
    def is_valid(self) -> bool:
        return self in VALID_STATUSES


#: A valid qualification (statuses 1 and 6).
VALID_STATUSES = (EligibilityStatus.VALID, EligibilityStatus.VALID_UNREGISTERED)
#: A qualification held, valid or not (the answer names the patient's numbers): what "the institution already
#: holds" means for a fallback record's claim guidance (docs/rules.md §5). 4 and 5 found no one.
HOLDING_STATUSES = (*VALID_STATUSES, EligibilityStatus.INVALID_LOST, EligibilityStatus.INVALID_NEWER_EXISTS)


class Role(StrEnum):
    ADMIN = "admin"
    STAFF = "staff"
