import marshmallow as ma

from ...domain.codes import InfoKind
from ...domain.disaster import DISASTER_KINDS
from ...domain.errors import DisasterViewingNotAllowed
from ..fields import Boolean, Paging, mobile_care_type
from ..qualification_checks.schemas import QUALIFICATION_EXAMPLE

DECLARATION_EXAMPLE = {
    "id": "9d1c2b3a-4e5f-4a6b-8c7d-0e1f2a3b4c5d", "name": "令和8年12月能登地方の地震", "starts_on": "2026-12-03",
    "ends_on": "2026-12-10", "prefectures": ["13", "17"], "declared_by": "OQS（サンドボックス）",
    "in_force": True, "covers_institution": True}


class DisasterDeclarationSchema(ma.Schema):
    id = ma.fields.String(attribute="row.id")
    name = ma.fields.String(attribute="row.name")
    starts_on = ma.fields.Date(attribute="row.starts_on", metadata={"description": "First day (Japan), included"})
    ends_on = ma.fields.Date(attribute="row.ends_on", metadata={"description": "Last day (Japan), included"})
    prefectures = ma.fields.List(ma.fields.String(), attribute="row.prefectures",
                                 metadata={"description": "The area: two-digit 都道府県番号"})
    declared_by = ma.fields.String(attribute="row.declared_by")
    in_force = Boolean(metadata={"description": "Today (Japan, server clock) is inside the period"})
    covers_institution = Boolean(metadata={
        "description": "The caller's institution is in the area (its code's first two digits, 都道府県番号)"})


class DisasterDeclarationQuerySchema(Paging):
    pass


class DisasterLookupSchema(ma.Schema):
    """The patient's identifiers as staff take them down, and the oral consent they recorded."""

    insurer_number = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=16), metadata={
        "description": "保険者番号 (8 digits, 6 for 国保; check digit verified)", "example": "01130012"})
    symbol = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=40),
                              metadata={"description": "記号", "example": "44100021"})
    number = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40),
                              metadata={"description": "番号", "example": "1287"})
    branch_number = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=4),
                                     metadata={"description": "枝番 (2 digits; omit if unknown)", "example": "00"})
    birth_date = ma.fields.Date(required=True, metadata={"example": "1984-05-12"})
    kinds = ma.fields.List(ma.fields.Enum(InfoKind, by_value=True), required=True,
                           validate=ma.validate.Length(min=1, max=4), metadata={
                               "description": "The kinds the patient consented to orally: "
                                              f"{', '.join(sorted(k.value for k in DISASTER_KINDS))} only "
                                              "(any other is 403 disaster-viewing-not-allowed)"})
    oral_consent = Boolean(required=True, metadata={
        "description": "The staff member signed in confirms the patient consented orally (must be true); "
                       "recorded with that staff member's identity"})
    care_type = mobile_care_type("1 外来・往診, 2 訪問診療等, 3 オンライン診療等")
    patient_reference = ma.fields.String(load_default=None, validate=ma.validate.Length(max=64),
                                         metadata={"description": "The provider's own patient reference"})


LOOKUP_EXAMPLE = {
    "insurer_number": "01130012", "symbol": "44100021", "number": "1287", "branch_number": "00",
    "birth_date": "1984-05-12", "kinds": ["medication", "checkups"], "oral_consent": True, "care_type": 1}

VISIT_EXAMPLE = {
    "id": "5a0c3f7e-0d0e-4b53-a1f5-2f3c9a0c1b11", "created_at": "2026-12-04T00:00:00+00:00", "care_type": 1,
    "form": "home_consent", "method": "disaster", "certificate_standing": "not_presented", "eligibility_status": 1,
    "eligibility_label": "有効", "medical_info_allowed": True, "qualification": QUALIFICATION_EXAMPLE,
    "medical_info_window": {"state": "open", "viewable_now": True, "opens_at": "2026-12-04T00:00:00+00:00",
                            "closes_at": "2026-12-05T00:00:00+00:00", "closed_at": None, "how_to_reopen": None,
                            "message": "同意登録から24時間（2026年12月05日 09:00〈日本時間〉まで）診療／薬剤情報を閲覧できます。"},
    "consent": {"id": "c6f1…", "blanket": False, "kinds": ["checkups", "medication"], "source": "disaster_oral",
                "renews_id": None, "registered_at": "2026-12-04T00:00:00+00:00",
                "window_closes_at": "2026-12-05T00:00:00+00:00", "withdrawn_at": None}}

_TITLE = DisasterViewingNotAllowed.title
REFUSED_EXAMPLES = {
    "outside-period": {"summary": "宣言期間外", "value": {
        "type": "/problems/disaster-viewing-not-allowed", "title": _TITLE, "status": 403,
        "detail": "この地域（都道府県番号 13）の災害の宣言期間外です（本日 2026-12-11）。マイナンバーカードで資格確認を行ってください。",
        "rule": "period", "prefecture": "13"}},
    "outside-area": {"summary": "対象地域外", "value": {
        "type": "/problems/disaster-viewing-not-allowed", "title": _TITLE, "status": 403,
        "detail": "この施設の地域（都道府県番号 27）は、宣言された災害の対象地域ではありません。マイナンバーカードで資格確認を行ってください。",
        "rule": "area", "prefecture": "27"}},
    "other-kind": {"summary": "対象外の情報", "value": {
        "type": "/problems/disaster-viewing-not-allowed", "title": _TITLE, "status": 403,
        "detail": "診療情報は災害時の閲覧の対象外です（対象は薬剤情報と特定健診等情報）。", "rule": "kind",
        "asked_kinds": ["clinical", "medication"]}}}
