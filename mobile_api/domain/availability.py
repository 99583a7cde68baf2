"""Information kinds that cannot exist for a patient, so they are not offered as if they could (docs/rules.md §3.6).

特定健診等情報 exists only for patients aged 40 and over (seed 002: the consent screen's 「(40歳以上対象)」 and its
button 「同意しない・40歳未満」): for a younger patient the kind is listed as not available, with the reason, and a
view of it answers with that reason rather than "0件". The age is the legal age (copayment.reaches_age_on) on the
server's date in Japan.
"""
from __future__ import annotations

from datetime import date

from .codes import InfoKind
from .copayment import anniversary
from .errors import InfoKindNotApplicable

CHECKUPS_FROM_AGE = 40
CHECKUPS_TOO_YOUNG_JA = ("特定健診等情報は40歳以上の方が対象です（この方は{age}歳）。"
                         "40歳未満の方には特定健診等情報がないため、閲覧できません。")


def age_on(birth_date: date, day: date) -> int:
    """Completed years on ``day`` (the birthday itself counts: the age is reached at the end of the day before)."""
    years = day.year - birth_date.year
    return years if day >= anniversary(birth_date, years) else years - 1


def unavailable_kinds(birth_date: date | None, today: date) -> dict[InfoKind, str]:
    """The kinds that cannot hold data for this patient today, each with the Japanese reason; {} when the
    birth date is unknown (no qualification shown)."""
    if birth_date is None:
        return {}
    age = age_on(birth_date, today)
    if age < CHECKUPS_FROM_AGE:
        return {InfoKind.CHECKUPS: CHECKUPS_TOO_YOUNG_JA.format(age=age)}
    return {}


def require_available(kind: InfoKind, birth_date: date | None, today: date) -> None:
    """403 ``info-kind-not-applicable`` with the reason, for a kind this patient cannot have."""
    reason = unavailable_kinds(birth_date, today).get(kind)
    if reason is not None:
        raise InfoKindNotApplicable(reason, kind=kind.value, rule="checkups-from-40")
