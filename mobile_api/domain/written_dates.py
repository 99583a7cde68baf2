"""Dates as offices write them (docs/health-check-api.md "Dates"): one parser for every form a
reservation system, Excel or a person in a Japanese office produces.

Excel saves a date cell as ``1984/5/12`` (no zero padding) when a sheet is saved as CSV, and Japanese
forms write the era: ``S59.5.12``, ``昭和59年5月12日``, ``平成元年1月8日``. Refusing those made every row
of a real examinee file fail, so the batch and the single check read them all here. Full-width digits
and letters are folded first (NFKC), as offices type them on a Japanese keyboard.

A date that names a day outside its era (``昭和64年1月8日``: 平成 had begun) is refused with the era's
own message (``japanese_dates.era_to_date``), never silently moved into the next era.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import date

from .errors import ValidationFailed
from .japanese_dates import era_to_date

# Era by its kanji name or its initial, as 和暦 is abbreviated on forms (M/T/S/H/R).
_ERA_KEYS = {"明治": "meiji", "大正": "taisho", "昭和": "showa", "平成": "heisei", "令和": "reiwa",
             "M": "meiji", "T": "taisho", "S": "showa", "H": "heisei", "R": "reiwa"}

_WESTERN = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_ERA = re.compile(r"(明治|大正|昭和|平成|令和|[MTSHR])(元|\d{1,2})[-/.年](\d{1,2})[-/.月](\d{1,2})日?")

EXAMPLES = "1984-05-12、1984/5/12、19840512、S59.5.12、昭和59年5月12日"


def parse_written_date(value: str, *, field: str = "birth_date") -> date:
    """The day a written date names, in any of the forms of ``EXAMPLES``; ``ValidationFailed`` (in
    Japanese, naming the accepted forms) for anything else."""
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", value)).upper()
    if match := _WESTERN.fullmatch(text) or _COMPACT.fullmatch(text):
        year, month, day = (int(part) for part in match.groups())
        try:
            return date(year, month, day)
        except ValueError:
            raise ValidationFailed(f"{year}年{month}月{day}日という日付はありません。", field=field) from None
    if match := _ERA.fullmatch(text):
        era, era_year, era_month, era_day = match.groups()
        return era_to_date(_ERA_KEYS[era], 1 if era_year == "元" else int(era_year), int(era_month), int(era_day),
                           field=field)
    raise ValidationFailed(f"日付を読み取れません: 「{value[:20]}」（書き方の例: {EXAMPLES}）。", field=field)
