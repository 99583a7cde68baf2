"""Which facility kinds may use which mobile forms (docs/rules.md §1, seed table 各種施設類型).

The mapping is policy, so it is data: ``FacilityPolicy`` takes the default table
and any overrides from configuration, and every verification asks it.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from .codes import Form
from .errors import FormNotAllowed, IdentifierLookupNotAllowed


class FacilityKind(StrEnum):
    MEDICAL_INSTITUTION = "medical_institution"  # 保険医療機関・薬局 (② where reception is not the normal desk)
    HOME_VISIT_CARE = "home_visit_care"  # 訪問診療・訪問看護・訪問服薬指導・オンライン診療
    TRANSITIONAL_EXEMPTION = "transitional_exemption"  # 経過措置 (2)(4)(6)
    HEALTH_CHECK = "health_check"  # 健診実施機関
    MIDWIFERY = "midwifery"  # 助産所
    NOT_OBLIGATED = "not_obligated"  # 紙レセプトの医療機関・薬局 etc.
    JUDO_THERAPY = "judo_therapy"  # 柔道整復師
    MASSAGE = "massage"  # あん摩マッサージ指圧師
    ACUPUNCTURE = "acupuncture"  # はり師・きゅう師


FACILITY_LABELS_JA = {
    FacilityKind.MEDICAL_INSTITUTION: "保険医療機関・薬局",
    FacilityKind.HOME_VISIT_CARE: "訪問診療・訪問看護・訪問服薬指導・オンライン診療",
    FacilityKind.TRANSITIONAL_EXEMPTION: "経過措置対象施設",
    FacilityKind.HEALTH_CHECK: "健診実施機関",
    FacilityKind.MIDWIFERY: "助産所",
    FacilityKind.NOT_OBLIGATED: "義務化対象外施設",
    FacilityKind.JUDO_THERAPY: "柔道整復師",
    FacilityKind.MASSAGE: "あん摩マッサージ指圧師",
    FacilityKind.ACUPUNCTURE: "はり師・きゅう師",
}

FORM_LABELS_JA = {Form.HOME_CONSENT: "居宅同意取得型", Form.QUALIFICATION_ONLY: "資格確認限定型"}

DEFAULT_ALLOWED_FORMS: Mapping[FacilityKind, frozenset[Form]] = {
    FacilityKind.MEDICAL_INSTITUTION: frozenset({Form.HOME_CONSENT}),
    FacilityKind.HOME_VISIT_CARE: frozenset({Form.HOME_CONSENT}),
    FacilityKind.TRANSITIONAL_EXEMPTION: frozenset({Form.HOME_CONSENT, Form.QUALIFICATION_ONLY}),
    FacilityKind.HEALTH_CHECK: frozenset({Form.QUALIFICATION_ONLY}),
    FacilityKind.MIDWIFERY: frozenset({Form.QUALIFICATION_ONLY}),
    FacilityKind.NOT_OBLIGATED: frozenset({Form.QUALIFICATION_ONLY}),
    FacilityKind.JUDO_THERAPY: frozenset({Form.QUALIFICATION_ONLY}),
    FacilityKind.MASSAGE: frozenset({Form.QUALIFICATION_ONLY}),
    FacilityKind.ACUPUNCTURE: frozenset({Form.QUALIFICATION_ONLY}),
}


# OUR RULE (docs/rules.md §1.1): lookups by 被保険者番号等 without the card, for these kinds only.
DEFAULT_IDENTIFIER_LOOKUP_KINDS: frozenset[FacilityKind] = frozenset({FacilityKind.HEALTH_CHECK})

IDENTIFIER_LOOKUP_REFUSAL_JA = (
    "{kind}は、被保険者番号等だけで資格を照会することはできません（資格確認限定型はマイナンバーカードと"
    "暗証番号または目視確認で本人確認します）。患者さんのマイナンバーカードを読み取り、暗証番号の入力または"
    "目視確認で資格を確認してください。"
)


@dataclass(frozen=True)
class InstitutionFacts:
    """What most use cases need of the caller's institution (its 医療機関コード and kind). Authentication reads
    them with the caller's standing, in the same statement, so a use case need not read the row again."""

    code: str
    facility_kind: FacilityKind


class FacilityPolicy:
    """Decides the forms a facility kind may use."""

    def __init__(self, overrides: Mapping[str, list[str]] | None = None,
                 identifier_lookup_kinds: list[str] | None = None) -> None:
        table = dict(DEFAULT_ALLOWED_FORMS)
        for kind, forms in (overrides or {}).items():
            table[FacilityKind(kind)] = frozenset(Form(f) for f in forms)
        self._table = table
        self._lookup_kinds = (DEFAULT_IDENTIFIER_LOOKUP_KINDS if identifier_lookup_kinds is None
                              else frozenset(FacilityKind(k) for k in identifier_lookup_kinds))

    def allowed_forms(self, kind: FacilityKind) -> frozenset[Form]:
        return self._table.get(kind, frozenset())

    def require(self, kind: FacilityKind, form: Form) -> None:
        if form not in self.allowed_forms(kind):
            raise FormNotAllowed(
                f"{FACILITY_LABELS_JA[kind]}は{FORM_LABELS_JA[form]}を利用できません。",
                facility_kind=kind.value,
                form=form.value,
                allowed_forms=sorted(f.value for f in self.allowed_forms(kind)),
            )

    def may_look_up_by_identifiers(self, kind: FacilityKind) -> bool:
        return kind in self._lookup_kinds

    def require_identifier_lookup(self, kind: FacilityKind) -> None:
        """A free lookup by 被保険者番号等 (no card, no record of the institution's own behind it): only for
        the kinds ``IDENTIFIER_LOOKUP_FACILITY_KINDS`` names (docs/rules.md §1.1). Lookups tied to a record
        the institution holds (its own fallback record, a re-query in continuing care) do not ask this."""
        if not self.may_look_up_by_identifiers(kind):
            raise IdentifierLookupNotAllowed(
                IDENTIFIER_LOOKUP_REFUSAL_JA.format(kind=FACILITY_LABELS_JA[kind]), facility_kind=kind.value,
                guidance="card", allowed_facility_kinds=sorted(k.value for k in self._lookup_kinds))
