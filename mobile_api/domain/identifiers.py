"""Insurance identifiers as people type them (docs/rules.md §4): insurer number, 記号, 番号, 枝番.

Reservation systems and people send the same identifier in many shapes: full-width digits
(１２３), half-width katakana (ﾐﾅﾄ), ideographic spaces, a one-digit branch number. OQS compares
the identifiers as registered, so they are normalised once here (Unicode NFKC, spaces removed,
the branch number as two digits) before any lookup. Only the insurer number has a check digit
(``insurer.py``); the symbol and number have none, so for them only the shape is checked.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from .errors import InsurerNumberInvalid, ValidationFailed
from .insurer import diagnose_insurer_number

_SPACES = re.compile(r"\s+")
SYMBOL_MAX = 20
NUMBER_MAX = 20


def normalise(text: str | None) -> str | None:
    """NFKC (full-width letters and digits to ASCII, half-width katakana to full-width), no spaces;
    an empty value is ``None``."""
    if text is None:
        return None
    cleaned = _SPACES.sub("", unicodedata.normalize("NFKC", text))
    return cleaned or None


@dataclass(frozen=True)
class Identifiers:
    """Normalised identifiers of one insured person, checked for shape and check digit."""

    insurer_number: str
    symbol: str | None
    number: str
    branch_number: str | None
    birth_date: date

    @classmethod
    def parse(cls, *, insurer_number: str | None, symbol: str | None, number: str | None,
              branch_number: str | None, birth_date: date | None, allow_unknown_claim: bool = False
              ) -> Identifiers:
        """Normalise and check, in the order a person would fix them. Raises ``InsurerNumberInvalid``
        (which digit is likely wrong) or ``ValidationFailed`` (with the field)."""
        insurer = normalise(insurer_number)
        if insurer is None:
            raise ValidationFailed("保険者番号がありません。", field="insurer_number")
        problem = diagnose_insurer_number(insurer, allow_unknown_claim=allow_unknown_claim)
        if problem is not None:
            message, positions = problem
            raise InsurerNumberInvalid(message, field="insurer_number", likely_wrong_positions=list(positions))
        if birth_date is None:
            raise ValidationFailed("生年月日がありません。", field="birth_date")
        num = normalise(number)
        if num is None:
            raise ValidationFailed("被保険者番号（番号）がありません。", field="number")
        if len(num) > NUMBER_MAX:
            raise ValidationFailed(f"番号は{NUMBER_MAX}文字までです。", field="number")
        sym = normalise(symbol)
        if sym is not None and len(sym) > SYMBOL_MAX:
            raise ValidationFailed(f"記号は{SYMBOL_MAX}文字までです。", field="symbol")
        branch = normalise(branch_number)
        if branch is not None:
            if not (branch.isascii() and branch.isdigit() and len(branch) <= 2):
                raise ValidationFailed("枝番は2桁の数字です。", field="branch_number")
            branch = branch.zfill(2)
        return cls(insurer_number=insurer, symbol=sym, number=num, branch_number=branch, birth_date=birth_date)
