import pytest

from mobile_api.domain.codes import Form
from mobile_api.domain.errors import FormNotAllowed
from mobile_api.domain.facility import FacilityKind, FacilityPolicy

HOME = Form.HOME_CONSENT
ONLY = Form.QUALIFICATION_ONLY

EXPECTED = {
    FacilityKind.MEDICAL_INSTITUTION: {HOME},
    FacilityKind.HOME_VISIT_CARE: {HOME},
    FacilityKind.TRANSITIONAL_EXEMPTION: {HOME, ONLY},
    FacilityKind.HEALTH_CHECK: {ONLY},
    FacilityKind.MIDWIFERY: {ONLY},
    FacilityKind.NOT_OBLIGATED: {ONLY},
    FacilityKind.JUDO_THERAPY: {ONLY},
    FacilityKind.MASSAGE: {ONLY},
    FacilityKind.ACUPUNCTURE: {ONLY},
}


@pytest.mark.parametrize("kind", list(FacilityKind))
def test_seed_table(kind):
    policy = FacilityPolicy()
    assert policy.allowed_forms(kind) == EXPECTED[kind]
    for form in Form:
        if form in EXPECTED[kind]:
            policy.require(kind, form)
        else:
            with pytest.raises(FormNotAllowed) as refused:
                policy.require(kind, form)
            assert refused.value.extra["allowed_forms"] == sorted(f.value for f in EXPECTED[kind])


def test_overrides_from_configuration():
    policy = FacilityPolicy({"judo_therapy": ["qualification_only", "home_consent"]})
    policy.require(FacilityKind.JUDO_THERAPY, HOME)
    with pytest.raises(FormNotAllowed):
        policy.require(FacilityKind.HEALTH_CHECK, HOME)


def test_identifier_lookups_are_for_health_check_institutions_unless_a_setting_names_more_kinds():
    """OUR RULE (docs/rules.md §1.1): IDENTIFIER_LOOKUP_FACILITY_KINDS, default ["health_check"]."""
    from mobile_api.domain.errors import IdentifierLookupNotAllowed

    default = FacilityPolicy()
    default.require_identifier_lookup(FacilityKind.HEALTH_CHECK)
    for kind in set(FacilityKind) - {FacilityKind.HEALTH_CHECK}:
        with pytest.raises(IdentifierLookupNotAllowed) as refused:
            default.require_identifier_lookup(kind)
        assert refused.value.status == 403 and "マイナンバーカード" in refused.value.detail
    FacilityPolicy({}, ["health_check", "judo_therapy"]).require_identifier_lookup(FacilityKind.JUDO_THERAPY)
    assert not FacilityPolicy({}, []).may_look_up_by_identifiers(FacilityKind.HEALTH_CHECK)
