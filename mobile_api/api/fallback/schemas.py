"""Fallback evidence (docs/rules.md §5): every field optional, but every field checked for shape.

The nested schemas RAISE on unknown fields like the top level does, so nothing
the provider may not collect (a PIN, the individual number) can slip in under an
unexpected name.
"""

import marshmallow as ma

from ...domain.claims import ROUTE_MARKS, ClaimRoute
from ...domain.codes import Form
from ...domain.declaration import INSURANCE_KINDS
from ...domain.fallback import METHOD_LABELS_JA, FallbackMethod, FallbackReason
from ...services.fallback import FallbackStatus
from ..fields import AwareDateTime, Boolean, Paging, mobile_care_type, no_individual_number, outside_text

COPAYMENT_RATIOS = ["010", "020", "030"]

def _text(max_length: int, description: str, *, lines: bool = False) -> ma.fields.String:
    return outside_text(max_length, description, lines=lines)


class Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


class JapaneseDateSchema(Strict):
    """A date as written on the declaration: era + year/month/day (和暦)."""

    era = ma.fields.String(required=True, validate=ma.validate.OneOf(["meiji", "taisho", "showa", "heisei", "reiwa"]),
                           metadata={"description": "明治 meiji, 大正 taisho, 昭和 showa, 平成 heisei, 令和 reiwa"})
    year = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=64))
    month = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=12))
    day = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=31))


class DeclarationSchema(Strict):
    """被保険者資格申立書. Used only for the claim; destroyed once the claim is settled."""

    has_valid_qualification = Boolean(metadata={"description": "有効な資格がある"})
    insurance_kind = ma.fields.String(validate=ma.validate.OneOf(INSURANCE_KINDS), metadata={
        "description": "社保 shaho, 国保 kokuho (市町村), 国保組合 kokuho_union, 後期 kouki, その他 other, わからない unknown"})
    insurer_name = _text(100, "保険者名")
    employer_name = _text(100, "事業所名（※1: 社保・国保組合・その他・わからないのとき必須）")
    copayment_ratio = ma.fields.String(validate=ma.validate.OneOf([*COPAYMENT_RATIOS, "unknown"]),
                                       metadata={"description": "一部負担金割合（70歳以上・後期）: 030/020/010/unknown"})
    name = _text(100, "氏名")
    name_kana = _text(100, "フリガナ")
    birth_date = ma.fields.Nested(JapaneseDateSchema, metadata={"description": "生年月日（和暦）"})
    sex = ma.fields.String(validate=ma.validate.OneOf(["1", "2"]), metadata={"description": "1 男, 2 女"})
    address = _text(200, "住所（カードの記載どおり）")
    residence_address = _text(200, "居所（住所と異なるとき）")
    declared_on = ma.fields.Date(metadata={"description": "申立日"})
    signed = Boolean(metadata={"description": "署名あり"})
    signed_by = ma.fields.String(validate=ma.validate.OneOf(["self", "guardian"]),
                                 metadata={"description": "本人 self / 代理人 guardian"})
    guardian_relationship = _text(40, "代理人の続柄")
    phone = ma.fields.String(validate=[ma.validate.Regexp(r"^[0-9+\-() ]{1,20}$"), no_individual_number],
                             metadata={"description": "電話番号"})


class EvidenceSchema(Strict):
    """What was shown instead of an online confirmation."""

    insurer_number = ma.fields.String(validate=ma.validate.Length(max=8),
                                      metadata={"description": "保険者番号（6桁または8桁、検証番号つき）"})
    insurer_name = _text(100, "保険者名")
    symbol = _text(40, "記号")
    number = _text(40, "番号")
    branch_number = ma.fields.String(validate=ma.validate.Regexp(r"^[0-9]{2}$"), metadata={"description": "枝番"})
    name = _text(100, "氏名")
    name_kana = _text(100, "フリガナ")
    birth_date = ma.fields.Date(metadata={"description": "生年月日"})
    copayment_ratio = ma.fields.String(validate=ma.validate.OneOf(COPAYMENT_RATIOS),
                                       metadata={"description": "一部負担金割合 \"030\" = 3割"})
    free_text = _text(1000, "自由記述（確認した内容の補足）", lines=True)
    card_presented = Boolean(metadata={
        "description": "マイナンバーカードの提示を受けた（お知らせ・マイナポータル・申立書では必須）"})
    nothing_changed = Boolean(metadata={"description": "口頭で資格に変更がないことを確認した（口頭確認で必須）"})
    from_provider_records = Boolean(metadata={"description": (
        "口頭確認のみ: 保険の番号を施設の記録（カルテ・レセコン等）から転記した。このシステムで以前の受診がない"
        "再来患者の口頭確認では、これと保険者番号・番号・生年月日が必要")})
    portal_view = ma.fields.String(validate=ma.validate.OneOf(["screen", "pdf"]),
                                   metadata={"description": "マイナポータルの画面 screen / PDF pdf"})
    valid_until = ma.fields.Date(metadata={"description": "資格確認書の有効期限（交付日・受診日から最長5年）"})
    issued_on = ma.fields.Date(metadata={"description": "資格確認書の交付日（有効開始日）: 有効期限はここから最長5年"})
    declaration = ma.fields.Nested(DeclarationSchema)


class FallbackRecordRequestSchema(Strict):
    care_type = mobile_care_type("1 外来・往診, 2 訪問診療等, 3 オンライン診療等")
    form = ma.fields.Enum(Form, by_value=True, required=True,
                          metadata={"description": "home_consent = ②, qualification_only = ③"})
    method = ma.fields.Enum(FallbackMethod, by_value=True, required=True,
                            metadata={"description": "; ".join(f"{m.value} {label}"
                                                               for m, label in METHOD_LABELS_JA.items())})
    reason = ma.fields.Enum(FallbackReason, by_value=True, required=True,
                            metadata={"description": "オンライン資格確認ができなかった理由"})
    device_recorded_at = AwareDateTime(required=True, metadata={"description": "端末で記録した時刻"})
    patient_reference = outside_text(64, load_default=None)
    evidence = ma.fields.Nested(EvidenceSchema, load_default=dict)


class BillingIdentifiersSchema(ma.Schema):
    insurer_number = ma.fields.String(metadata={"example": "01130012"})
    symbol = ma.fields.String(allow_none=True)
    number = ma.fields.String()
    branch_number = ma.fields.String(allow_none=True)


class ClaimGuidanceSchema(ma.Schema):
    """Which identifiers to bill with (docs/rules.md §5): ① current, ② former, ③ unknown claim (7-fill)."""

    route = ma.fields.Integer(metadata={"enum": [1, 2, 3], "description": "1 ① current, 2 ② former, 3 ③ 不詳"})
    route_mark = ma.fields.String(metadata={"example": "①"})
    source = ma.fields.String(metadata={
        "description": "oqs | lookup | evidence | provider_records | past_visit | invalid_result | unknown"})
    identifiers = ma.fields.Nested(BillingIdentifiersSchema)
    remarks = ma.fields.String(allow_none=True, metadata={"description": "摘要欄 (③: the declaration's address and phone)"})
    message = ma.fields.String(metadata={"description": "Japanese guidance"})


class LookupSchema(ma.Schema):
    at = ma.fields.String(metadata={"description": "when the lookup ran (ISO 8601)"})
    purpose = ma.fields.String(metadata={"description": "fallback_check | post_hoc_confirmation"})
    eligibility_status = ma.fields.Function(lambda lookup: lookup["result"]["status"], metadata={"type": "integer"})
    qualification = ma.fields.Function(lambda lookup: lookup["result"].get("qualification"),
                                       metadata={"type": "object", "nullable": True})


class FallbackRecordSchema(ma.Schema):
    """A ``FallbackRead`` (queries/fallback.py)."""

    id = ma.fields.String()
    care_type = ma.fields.Integer()
    form = ma.fields.String()
    patient_reference = ma.fields.String(allow_none=True)
    method = ma.fields.String()
    method_label = ma.fields.Function(lambda read: read.method_label, metadata={"type": "string"})
    reason = ma.fields.String()
    evidence = ma.fields.Dict(metadata={
        "description": "As sent; after settlement the declaration is replaced by {destroyed, destroyed_at, destroyed_by}"})
    device_recorded_at = ma.fields.AwareDateTime(metadata={"description": "端末の時刻（送られたまま）"})
    received_at = ma.fields.AwareDateTime(metadata={"description": "サーバーが受け付けた時刻"})
    visit_on = ma.fields.Date(allow_none=True, metadata={
        "description": "受診日（日本時間）: the device's time bounded by the server's receipt (never after it); "
                       "which methods are valid, and the claim month"})
    qualification_source = ma.fields.Function(lambda read: read.qualification_source, metadata={
        "type": "string", "nullable": True, "enum": ["past_visit", "provider_records", None],
        "description": "口頭確認の資格情報の出所: past_visit このシステムでの以前の受診・記録, "
                       "provider_records 施設の記録（カルテ・レセコン等）から転記した番号"})
    status = ma.fields.String(metadata={
        "enum": [s.value for s in FallbackStatus],
        "description": "pending_post_hoc 事後確認待ち → confirmed 確認済み | needs_attention 要確認 → claim_settled 請求確定"})
    post_hoc_outcome = ma.fields.String(allow_none=True, metadata={
        "description": "confirmed | lost | different_qualification | not_found | multiple | no_identifiers"})
    lookup = ma.fields.Nested(LookupSchema, allow_none=True)
    confirmed_at = ma.fields.AwareDateTime(allow_none=True)
    copayment_ratio = ma.fields.String(allow_none=True, metadata={
        "description": "患者負担の割合 \"030\" = 3割 (never 100 %)"})
    copayment_basis = ma.fields.String(allow_none=True, metadata={
        "description": "age | stated | provisional | past_visit"})
    destroy_after_claim = Boolean(metadata={"description": "請求確定後に申立書の情報を廃棄する"})
    settled_at = ma.fields.AwareDateTime(allow_none=True)
    claim_route = ma.fields.Integer(allow_none=True)
    staff_id = ma.fields.String()
    device_id = ma.fields.String()
    claim_guidance = ma.fields.Function(lambda read: read.claim_guidance.to_dict(), metadata={
        "type": "object", "description": "Which identifiers to bill with (see ClaimGuidanceSchema)"})
    notices = ma.fields.Function(lambda read: list(read.notices), metadata={
        "type": "array", "items": {"type": "string"}, "description": "Japanese notes for the person at the device"})


class IdentifiersUpdateSchema(Strict):
    """The numbers learned later (the patient brought the notice, the insurer answered)."""

    class Meta(Strict.Meta):
        min_properties = 1  # documented as minProperties (api.core._Converter); checked below

    insurer_number = ma.fields.String(validate=ma.validate.Length(max=8),
                                      metadata={"description": "保険者番号（検証番号つき。77777777 は使えません）"})
    insurer_name = _text(100, "保険者名")
    symbol = _text(40, "記号")
    number = _text(40, "番号")
    branch_number = ma.fields.String(validate=ma.validate.Regexp(r"^[0-9]{2}$"), metadata={"description": "枝番"})
    birth_date = ma.fields.Date(metadata={"description": "生年月日"})

    @ma.validates_schema
    def _something_to_update(self, data, **kwargs) -> None:
        """An empty update changes nothing, so it must not send the record back to post-hoc confirmation."""
        if not data:
            raise ma.ValidationError("更新する項目を1つ以上指定してください。")


class BilledSchema(Strict):
    insurer_number = ma.fields.String(required=True, validate=ma.validate.Length(min=6, max=8),
                                      metadata={"description": "③ then every digit 7: 77777777", "example": "77777777"})
    symbol = _text(40, "記号")
    number = outside_text(40, min_length=1, required=True)
    branch_number = ma.fields.String(validate=ma.validate.Regexp(r"^[0-9]{2}$"))


class SettleSchema(Strict):
    route = ma.fields.Integer(required=True, validate=ma.validate.OneOf([int(r) for r in ClaimRoute]), metadata={
        "description": "; ".join(f"{int(r)} {ROUTE_MARKS[r]}" for r in ClaimRoute) + " (3 = 不詳レセプト)"})
    billed = ma.fields.Nested(BilledSchema, load_default=None, metadata={
        "description": "The identifiers the claim used; route 3 defaults to the 7-fill; route 1 needs them unless "
                       "the record's claim_guidance is ① already"})


class FallbackQuerySchema(Paging):
    status = ma.fields.String(load_default=None, validate=ma.validate.OneOf([s.value for s in FallbackStatus]))
