"""Shared marshmallow fields."""
from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Any

import marshmallow as ma


class Base64Bytes(ma.fields.Field):
    """Binary data as base64 (standard or URL-safe alphabet, padding optional)."""

    def __init__(self, *, max_bytes: int, **kwargs: Any) -> None:
        metadata = kwargs.setdefault("metadata", {})
        metadata.setdefault("type", "string")
        metadata.setdefault("format", "byte")
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


#: Instants the API accepts: far enough out for any birth date or expiry, near enough that converting
#: between offsets can never leave ``datetime``'s range (years 1..9999) or a database's.
MIN_YEAR, MAX_YEAR = 1900, 2200
#: No listing pages further than this; the database's integer range is far above it.
MAX_OFFSET = 1_000_000


class AwareDateTime(ma.fields.AwareDateTime):
    """An ISO 8601 instant with an explicit offset, in years 1900..2200 (UTC and as written).

    Naive values are refused (whose clock would they be?), and so are values whose UTC
    conversion overflows (``0001-01-01T00:00:00+14:00``) or lies outside the range.
    Use it for every datetime that comes in; the value keeps the offset the client sent.
    """

    default_error_messages = {
        "invalid": "ISO 8601 形式の日時（タイムゾーン付き）で指定してください。",
        "invalid_awareness": "タイムゾーン（例: +09:00）を付けて指定してください。",
        "out_of_range": f"{MIN_YEAR}年から{MAX_YEAR}年までの日時で指定してください。",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(default_timezone=None, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> dt.datetime:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        try:
            utc = parsed.astimezone(dt.timezone.utc)
        except (OverflowError, ValueError) as exc:
            raise self.make_error("out_of_range") from exc
        if not all(MIN_YEAR <= year <= MAX_YEAR for year in (parsed.year, utc.year)):
            raise self.make_error("out_of_range")
        return parsed


def paging(*, default_limit: int = 50, max_limit: int = 500) -> tuple[ma.fields.Integer, ma.fields.Integer]:
    """``limit`` and ``offset`` query fields, both bounded."""
    limit = ma.fields.Integer(load_default=default_limit,
                              validate=ma.validate.Range(min=1, max=max_limit))
    offset = ma.fields.Integer(load_default=0, validate=ma.validate.Range(min=0, max=MAX_OFFSET))
    return limit, offset


class Paging(ma.Schema):
    limit, offset = paging()
