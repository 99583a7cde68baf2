"""Shared marshmallow fields."""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from typing import Any

import marshmallow as ma

from ..domain.codes import CareType
from ..domain.individual_number import REFUSAL_JA, contains_individual_number


class Base64Bytes(ma.fields.Field):
    """Binary data as base64 (standard or URL-safe alphabet, padding optional)."""

    def __init__(self, *, max_bytes: int, **kwargs: Any) -> None:
        metadata = kwargs.setdefault("metadata", {})
        metadata.setdefault("type", "string")
        metadata.setdefault("format", "byte")
        metadata.setdefault("minLength", 4)  # padded base64 of at least one byte
        metadata.setdefault("maxLength", -(-max_bytes // 3) * 4)
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


def no_individual_number(value: Any) -> None:
    """Refuse text holding an individual number (docs/rules.md §7): 422 with the field's pointer, nothing stored."""
    if isinstance(value, str) and contains_individual_number(value):
        raise ma.ValidationError(REFUSAL_JA)


#: C0 control characters and DEL: NUL (PostgreSQL cannot store it), tab, CR and LF (a name or a filter that
#: spans lines), ESC (a terminal's escape sequences) … None belongs in one line a person typed; a free text
#: may break lines (tab, LF, CR) but holds no other.
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f]")
CONTROL_CHARACTERS_BUT_LINE_BREAKS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: The same rules as the spec publishes them (a JSON Schema ``pattern``), so a generated client refuses them too.
ONE_LINE_PATTERN = "^[^\\x00-\\x1f\\x7f]*$"
FREE_TEXT_PATTERN = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]*$"
CONTROL_REFUSAL_JA = "改行・タブ・NUL などの制御文字は使用できません。"
FREE_TEXT_CONTROL_REFUSAL_JA = "NUL などの制御文字は使用できません（改行とタブは使えます）。"


def no_control_characters(value: Any) -> None:
    """Refuse a control character in one line of text: 422 with the field's pointer (the JSON edge refuses only
    NUL, and a form or a query string never passes it)."""
    if isinstance(value, str) and CONTROL_CHARACTERS.search(value):
        raise ma.ValidationError(CONTROL_REFUSAL_JA)


def no_control_characters_but_line_breaks(value: Any) -> None:
    """The same for a free text, which may break lines."""
    if isinstance(value, str) and CONTROL_CHARACTERS_BUT_LINE_BREAKS.search(value):
        raise ma.ValidationError(FREE_TEXT_CONTROL_REFUSAL_JA)


def outside_text(max_length: int, description: str | None = None, *, min_length: int | None = None,
                 lines: bool = False, **kwargs: Any) -> ma.fields.String:
    """A string that carries what people typed or copied (names, numbers, labels, notes, references, filters):
    bounded, never an individual number, and one line without control characters (``lines``: a free text that
    may also break lines). Use it for every such field of a request, the console's forms included; ``validate``
    adds a field's own rules (a login's characters)."""
    metadata = kwargs.pop("metadata", {})
    if description:
        metadata.setdefault("description", description)
    metadata.setdefault("pattern", FREE_TEXT_PATTERN if lines else ONE_LINE_PATTERN)
    controls = no_control_characters_but_line_breaks if lines else no_control_characters
    own = kwargs.pop("validate", [])
    return ma.fields.String(validate=[ma.validate.Length(min=min_length, max=max_length), controls,
                                      no_individual_number, *own], metadata=metadata, **kwargs)


class Boolean(ma.fields.Boolean):
    """JSON ``true`` or ``false`` only. marshmallow's own takes 1, 0, "yes", "off" … (and ``truthy={True}`` still
    takes 1 and 0, which equal True and False): a client sending ``"blanket": 0`` has a bug we should tell it about,
    not guess around. Use it for every boolean of the API (issue 16)."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


#: Instants the API accepts: far enough out for any birth date or expiry, near enough that converting
#: between offsets can never leave ``datetime``'s range (years 1..9999) or a database's.
MIN_YEAR, MAX_YEAR = 1900, 2200
YEAR_PATTERN = r"^(19[0-9]{2}|2[01][0-9]{2}|2200)-"
#: No listing pages further than this; the database's integer range is far above it.
MAX_OFFSET = 1_000_000


class AwareDateTime(ma.fields.AwareDateTime):
    """An ISO 8601 instant with an explicit offset, in years 1900..2200 as written.

    Naive values are refused (whose clock would they be?), and so are years outside the range,
    whose conversion to UTC could overflow (``0001-01-01T00:00:00+14:00``) or reach a database's limits.
    Use it for every datetime that comes in; the value keeps the offset the client sent.
    """

    default_error_messages = {
        "invalid": "ISO 8601 形式の日時（タイムゾーン付き）で指定してください。",
        "invalid_awareness": "タイムゾーン（例: +09:00）を付けて指定してください。",
        "out_of_range": f"{MIN_YEAR}年から{MAX_YEAR}年までの日時で指定してください。",
    }

    def __init__(self, **kwargs: Any) -> None:
        metadata = kwargs.setdefault("metadata", {})
        metadata.setdefault("pattern", YEAR_PATTERN)
        rule = f"ISO 8601 with an offset, years {MIN_YEAR}..{MAX_YEAR}"
        metadata["description"] = f"{metadata['description']} ({rule})" if metadata.get("description") else rule
        super().__init__(default_timezone=None, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> dt.datetime:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        if not MIN_YEAR <= parsed.year <= MAX_YEAR:
            raise self.make_error("out_of_range")
        # Within these years no offset (at most ±24 h) can push the UTC value out of datetime's range.
        return parsed


def paging(*, default_limit: int = 50, max_limit: int = 500) -> tuple[ma.fields.Integer, ma.fields.Integer]:
    """``limit`` and ``offset`` query fields, both bounded."""
    limit = ma.fields.Integer(load_default=default_limit,
                              validate=ma.validate.Range(min=1, max=max_limit))
    offset = ma.fields.Integer(load_default=0, validate=ma.validate.Range(min=0, max=MAX_OFFSET))
    return limit, offset


def mobile_care_type(description: str) -> ma.fields.Enum:
    """``care_type`` as the mobile forms accept it: 救急 (4) is a code of the national system, never offered here."""
    offered = [c for c in CareType if c is not CareType.EMERGENCY]
    return ma.fields.Enum(CareType, by_value=True, required=True,
                          metadata={"description": description},
                          validate=ma.validate.OneOf(offered, error="救急の資格確認はモバイル端末では行えません。"))


class Paging(ma.Schema):
    limit, offset = paging()
