"""Fallback evidence (docs/rules.md §5): every field optional, but every field checked for shape.

The nested schemas RAISE on unknown fields like the top level does, so nothing
the provider may not collect (a PIN, the individual number) can slip in under an
unexpected name.
"""
from typing import Any

import marshmallow as ma

from ...domain.codes import Form
from ...domain.fallback import METHOD_LABELS_JA, FallbackMethod, FallbackReason
from ...services.fallback import FallbackStatus
from ..fields import AwareDateTime, Paging, mobile_care_type

COPAYMENT_RATIOS = ["010", "020", "030"]
NOTICE_POST_HOC = "オンライン資格確認ができなかったため、後で資格を確認してください（事後確認）。"
NOTICE_SHARE = "患者負担は通常の割合（3割等）です。10割を求めないでください。"
NOTICE_DESTROY = "被保険者資格申立書の情報は請求のためにだけ使い、請求が確定したら廃棄してください。"


def _text(max_length: int, description: str) -> ma.fields.String:
    return ma.fields.String(validate=ma.validate.Length(max=max_length), metadata={"description": description})


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

    has_valid_qualification = ma.fields.Boolean(metadata={"description": "有効な資格がある"})
    insurance_kind = ma.fields.String(validate=ma.validate.OneOf(["shaho", "kokuho", "kouki", "other", "unknown"]),
                                      metadata={"description": "社保 shaho, 国保 kokuho, 後期 kouki, その他, 不明"})
    insurer_name = _text(100, "保険者名")
    employer_name = _text(100, "事業所名（社保・国保組合・その他・不明のとき）")
    copayment_ratio = ma.fields.String(validate=ma.validate.OneOf([*COPAYMENT_RATIOS, "unknown"]),
                                       metadata={"description": "一部負担金割合（70歳以上・後期）: 030/020/010/unknown"})
    name = _text(100, "氏名")
    name_kana = _text(100, "フリガナ")
    birth_date = ma.fields.Nested(JapaneseDateSchema, metadata={"description": "生年月日（和暦）"})
    sex = ma.fields.String(validate=ma.validate.OneOf(["1", "2"]), metadata={"description": "1 男, 2 女"})
    address = _text(200, "住所（カードの記載どおり）")
    residence_address = _text(200, "居所（住所と異なるとき）")
    declared_on = ma.fields.Date(metadata={"description": "申立日"})
    signed = ma.fields.Boolean(metadata={"description": "署名あり"})
    signed_by = ma.fields.String(validate=ma.validate.OneOf(["self", "guardian"]),
                                 metadata={"description": "本人 self / 代理人 guardian"})
    guardian_relationship = _text(40, "代理人の続柄")
    phone = ma.fields.String(validate=ma.validate.Regexp(r"^[0-9+\-() ]{1,20}$"), metadata={"description": "電話番号"})


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
    free_text = _text(1000, "自由記述（確認した内容の補足）")
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
    patient_reference = ma.fields.String(load_default=None, validate=ma.validate.Length(max=64))
    evidence = ma.fields.Nested(EvidenceSchema, load_default=dict)


class FallbackRecordSchema(ma.Schema):
    id = ma.fields.String()
    care_type = ma.fields.Integer()
    form = ma.fields.String()
    patient_reference = ma.fields.String(allow_none=True)
    method = ma.fields.String()
    method_label = ma.fields.Function(lambda r: METHOD_LABELS_JA[FallbackMethod(r.method)],
                                      metadata={"type": "string"})
    reason = ma.fields.String()
    evidence = ma.fields.Dict()
    device_recorded_at = ma.fields.AwareDateTime(metadata={"description": "端末の時刻（送られたまま）"})
    received_at = ma.fields.AwareDateTime(metadata={"description": "サーバーが受け付けた時刻"})
    status = ma.fields.String(metadata={"description": "pending_post_hoc 事後確認待ち | confirmed | claim_settled"})
    destroy_after_claim = ma.fields.Boolean(metadata={"description": "請求確定後に申立書の情報を廃棄する"})
    staff_id = ma.fields.String(attribute="user_id")
    device_id = ma.fields.String()
    notices = ma.fields.Method("_notices", metadata={"type": "array", "items": {"type": "string"},
                                                     "description": "Japanese notes for the person at the device"})

    def _notices(self, row: Any) -> list[str]:
        notices = [NOTICE_POST_HOC] if row.status == FallbackStatus.PENDING_POST_HOC.value else []
        notices.append(NOTICE_SHARE)
        if row.destroy_after_claim:
            notices.append(NOTICE_DESTROY)
        return notices


class FallbackQuerySchema(Paging):
    status = ma.fields.String(load_default=None, validate=ma.validate.OneOf([s.value for s in FallbackStatus]))
