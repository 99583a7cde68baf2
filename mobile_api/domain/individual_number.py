"""Individual numbers (マイナンバー, 個人番号) are never accepted (docs/rules.md §7).

A provider may not collect the individual number, and the README promises that no field takes one. Staff type
free text, so the API and the console look at what they are given: a run of exactly 12 digits (half- or
full-width, spaces and hyphens between groups allowed) is taken for an individual number when its last digit is
the check digit of the 総務省令 formula, or when the words マイナンバー / 個人番号 stand right beside it. Shorter
numbers (an 8-digit insurer number, a 10- or 11-digit phone number) and longer ones are left alone, and so is a
12-digit run that starts with "+" (a phone number with its country code, +81-90-1234-5678).
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from .errors import ValidationFailed

#: Separators people put between digit groups (after NFKC: the ASCII hyphen and space; the dashes NFKC keeps).
_SEPARATORS = " \t\u00a0\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc-"
_RUN = re.compile(rf"[0-9](?:[{_SEPARATORS}]*[0-9])*")
_WORDS = re.compile(r"マイナンバー|マイナンバ|個人番号|my\s*number", re.IGNORECASE)
#: How close the words must be to the digits to count as "beside" them (characters, either side).
NEARBY = 12

REFUSAL_JA = ("マイナンバー（個人番号）と思われる12桁の番号は入力できません。医療機関等はマイナンバーを"
              "収集・保存できません。該当の番号を削除してください。")


def check_digit(first_eleven: str) -> int:
    """The check digit of an individual number (総務省令 formula): Pn are the 11 digits counted from the right,
    Qn = n + 1 for n = 1..6 and n - 5 for n = 7..11; r = Σ Pn × Qn mod 11; the check is 0 if r ≤ 1, else 11 - r."""
    digits = [int(c) for c in reversed(first_eleven)]
    total = sum(p * (n + 1 if n <= 6 else n - 5) for n, p in enumerate(digits, start=1))
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


def is_individual_number(digits: str) -> bool:
    """Twelve ASCII digits whose last one is the check digit of the first eleven."""
    return len(digits) == 12 and digits.isascii() and digits.isdigit() and check_digit(digits[:11]) == int(digits[11])


def _twelve_digit_runs(text: str) -> Iterator[tuple[str, int, int]]:
    for match in _RUN.finditer(text):
        digits = re.sub(rf"[{_SEPARATORS}]", "", match.group())
        if len(digits) == 12 and not text[:match.start()].rstrip().endswith("+"):
            yield digits, match.start(), match.end()


def contains_individual_number(text: str) -> bool:
    """True when ``text`` holds what looks like an individual number (see the module's docstring)."""
    normal = unicodedata.normalize("NFKC", text)
    for digits, start, end in _twelve_digit_runs(normal):
        if is_individual_number(digits):
            return True
        if _WORDS.search(normal[max(0, start - NEARBY):start]) or _WORDS.search(normal[end:end + NEARBY]):
            return True
    return False


def refuse_individual_number(text: str | None, *, field: str) -> None:
    """Raise a 422 (rule ``individual-number``) when ``text`` holds an individual number; nothing is stored."""
    if text and contains_individual_number(text):
        raise ValidationFailed(REFUSAL_JA, field=field, rule="individual-number")
