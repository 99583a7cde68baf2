"""marshmallow's own validation messages, in Japanese.

A refused request's ``errors[].detail`` is shown to nurses, therapists and the staff of health-check
institutions (the device agent and the console display it as sent), so "Missing data for required field." must
read 必須の項目です。 Our own validators already pass Japanese ``error=`` texts; this replaces the defaults of
marshmallow's fields, validators and schemas, in place, once, when the ``api`` package is imported (before any
schema class is defined: a field copies its messages when it is made). The templates keep marshmallow's
placeholders ({min}, {max}, {choices}, ...).
"""
from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import validate
from marshmallow.fields import _TemporalField  # the base of DateTime / AwareDateTime, whose messages live there

FIELD_MESSAGES: dict[type, dict[str, str]] = {
    ma.fields.Field: {"required": "必須の項目です。", "null": "null は指定できません。",
                      "validator_failed": "値が正しくありません。"},
    ma.fields.String: {"invalid": "文字列で指定してください。", "invalid_utf8": "UTF-8 の文字列で指定してください。"},
    ma.fields.Number: {"invalid": "数値で指定してください。", "too_large": "数値が大きすぎます。"},
    ma.fields.Integer: {"invalid": "整数で指定してください。"},
    ma.fields.Float: {"special": "NaN や無限大は指定できません。"},
    ma.fields.Decimal: {"special": "NaN や無限大は指定できません。"},
    ma.fields.Boolean: {"invalid": "true または false で指定してください。"},
    ma.fields.List: {"invalid": "配列で指定してください。"},
    ma.fields.Tuple: {"invalid": "配列で指定してください。"},
    ma.fields.Nested: {"type": "オブジェクトで指定してください。"},
    ma.fields.Mapping: {"invalid": "オブジェクトで指定してください。"},
    ma.fields.Date: {"invalid": "日付（YYYY-MM-DD）で指定してください。",
                     "format": "日付として書き出せない値です。"},
    _TemporalField: {"invalid": "日時（ISO 8601）で指定してください。",
                     "invalid_awareness": "タイムゾーン付きの日時で指定してください（例: 2026-04-01T09:00:00+09:00）。",
                     "format": "日時として書き出せない値です。"},
    ma.fields.Enum: {"unknown": "次のいずれかを指定してください: {choices}。"},
    ma.fields.UUID: {"invalid_uuid": "UUID で指定してください。"},
    ma.fields.Email: {"invalid": "メールアドレスの形式が正しくありません。"},
    ma.fields.Url: {"invalid": "URL の形式が正しくありません。"},
}

VALIDATOR_MESSAGES: dict[type, dict[str, str]] = {
    validate.Length: {"message_min": "短すぎます（{min} 以上にしてください）。",
                      "message_max": "長すぎます（{max} 以下にしてください）。",
                      "message_all": "長さは {min} 以上 {max} 以下にしてください。",
                      "message_equal": "長さは {equal} にしてください。"},
    # Range builds "{min_op} {{min}}"-style templates from the operator words at validation time.
    validate.Range: {"message_min": "{{min}} {min_op}にしてください。", "message_max": "{{max}} {max_op}にしてください。",
                     "message_all": "{{min}} {min_op}、{{max}} {max_op}にしてください。",
                     "message_gte": "以上", "message_gt": "より大きい値", "message_lte": "以下",
                     "message_lt": "未満"},
    validate.OneOf: {"default_message": "次のいずれかを指定してください: {choices}。"},
    validate.Regexp: {"default_message": "形式が正しくありません。"},
    validate.Equal: {"default_message": "{other} を指定してください。"},
    validate.ContainsOnly: {"default_message": "次の中から選んでください: {choices}。"},
    validate.NoneOf: {"default_message": "この値は使えません。"},
    validate.Predicate: {"default_message": "値が正しくありません。"},
    validate.URL: {"default_message": "URL の形式が正しくありません。"},
    validate.Email: {"default_message": "メールアドレスの形式が正しくありません。"},
}

SCHEMA_MESSAGES = {"type": "入力の形式が正しくありません（オブジェクトで送ってください）。", "unknown": "不明な項目です。"}


def install() -> None:
    """Replace the defaults in place (idempotent)."""
    for field_class, messages in FIELD_MESSAGES.items():
        field_class.__dict__["default_error_messages"].update(messages)
    for validator_class, attributes in VALIDATOR_MESSAGES.items():
        for name, text in attributes.items():
            setattr(validator_class, name, text)
    schema_messages: dict[str, Any] = ma.Schema._default_error_messages
    schema_messages.update(SCHEMA_MESSAGES)


install()
