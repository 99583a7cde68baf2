import marshmallow as ma

from ...services.identity import INSTITUTION_NAME_PATTERN
from ..fields import Boolean, no_control_characters, no_individual_number


class InstitutionSchema(ma.Schema):
    id = ma.fields.String()
    code = ma.fields.String()
    name = ma.fields.String()
    facility_kind = ma.fields.String()
    facility_kind_label = ma.fields.String()
    allowed_forms = ma.fields.List(ma.fields.String())
    visual_password_set = Boolean()
    visual_password_locked = Boolean(
        metadata={"description": "目視確認モードのパスワードが連続誤入力でロック中（管理者が解除または再設定する）"})


class InstitutionNameSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=[ma.validate.Length(min=1, max=200), no_control_characters,
                                                     no_individual_number, ma.validate.Regexp(INSTITUTION_NAME_PATTERN)],
                            metadata={"description": "施設名（前後の空白は除く。コードと施設の種類は変更できない）",
                                      "example": "さくら訪問看護ステーション"})


class VisualPasswordSchema(ma.Schema):
    password = ma.fields.String(required=True, load_only=True, validate=ma.validate.Length(min=8, max=128))
