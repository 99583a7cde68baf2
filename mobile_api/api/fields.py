"""Shared marshmallow fields."""
from __future__ import annotations

import base64
import binascii
from typing import Any

import marshmallow as ma


class Base64Bytes(ma.fields.Field):
    """Binary data as base64 (standard or URL-safe alphabet, padding optional)."""

    def __init__(self, *, max_bytes: int, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {}).setdefault("format", "byte")
        super().__init__(**kwargs)
        self.max_bytes = max_bytes

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else base64.b64encode(value).decode()

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bytes:
        if not isinstance(value, str):
            raise ma.ValidationError("base64 文字列で指定してください。")
        text = value.strip().replace("-", "+").replace("_", "/")
        text += "=" * (-len(text) % 4)
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ma.ValidationError("base64 として読み取れません。") from exc
        if not raw:
            raise ma.ValidationError("空のデータは指定できません。")
        if len(raw) > self.max_bytes:
            raise ma.ValidationError(f"{self.max_bytes} バイト以下にしてください。")
        return raw


class Paging(ma.Schema):
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=500))
    offset = ma.fields.Integer(load_default=0, validate=ma.validate.Range(min=0))
