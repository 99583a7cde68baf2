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
