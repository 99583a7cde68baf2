"""Insurer-number check digit (docs/rules.md §4).

"Wrong symbol/number" is the commonest reason a claim comes back, so software
should catch a mistyped insurer number before it reaches a claim. An insurer
number is 8 digits (law code 2 + prefecture 2 + insurer 3 + check 1) or, for
national health insurance (国保), 6 digits (prefecture 2 + insurer 3 + check 1).
The check digit is Luhn-like and catches every single-digit error.
"""
from __future__ import annotations

INSURER_NUMBER_LENGTHS = (6, 8)


def insurer_check_digit(number_without_check: str) -> int:
    """Check digit for the digits before it.

    Weight the digits 2, 1, 2, 1 ... starting from the rightmost, add the
    digits of each product, and return ``(10 - sum % 10) % 10``.
    """
    if not number_without_check.isascii() or not number_without_check.isdigit():
        raise ValueError(f"insurer number must be ASCII digits: {number_without_check!r}")
    total = 0
    for position, char in enumerate(reversed(number_without_check)):
        product = int(char) * (2 if position % 2 == 0 else 1)
        total += product // 10 + product % 10
    return (10 - total % 10) % 10


def is_valid_insurer_number(number: str) -> bool:
    """True for a 6- or 8-digit number whose last digit is its check digit."""
    if len(number) not in INSURER_NUMBER_LENGTHS or not number.isascii() or not number.isdigit():
        return False
    return insurer_check_digit(number[:-1]) == int(number[-1])


# --- Added for lookups by identifiers (docs/rules.md §4): the unknown-claim number (不詳レセプト, every digit
# --- "7", exempt from the check digit by definition), and a diagnosis that tells a person which digit to look at
# --- again.

# 法別番号 of the insurers an insurer number can name (public docs: 保険者番号設定要領 / 法別番号一覧).
LAW_CODES = frozenset({
    "01", "02", "03", "04", "06", "07", "31", "32", "33", "34", "39", "63", "67", "72", "73", "74", "75",
})
PREFECTURES = frozenset(f"{n:02d}" for n in range(1, 48))


def is_unknown_claim_number(number: str) -> bool:
    """The 不詳 value: every digit "7" (8 digits, or 6 for 国保)."""
    return len(number) in INSURER_NUMBER_LENGTHS and set(number) == {"7"}


def is_acceptable_insurer_number(number: str, *, allow_unknown_claim: bool = False) -> bool:
    """``is_valid_insurer_number``, optionally also accepting the unknown-claim number (77777777)."""
    return is_valid_insurer_number(number) or (allow_unknown_claim and is_unknown_claim_number(number))


def diagnose_insurer_number(number: str, *, allow_unknown_claim: bool = False) -> tuple[str, tuple[int, ...]] | None:
    """``None`` when the number is acceptable; otherwise a Japanese message and the 1-based positions
    of the digits most likely wrong.

    A check digit says THAT a digit is wrong, not which one: each position has exactly one other digit
    that would pass. So the message points at what the structure can tell: a non-digit, a wrong length,
    an unknown law code (1-2) or prefecture (3-4), two neighbours swapped (the commonest typing slip
    besides a single wrong digit), and otherwise the check digit itself, giving the digit it should be
    for the digits before it.
    """
    if is_acceptable_insurer_number(number, allow_unknown_claim=allow_unknown_claim):
        return None
    for position, char in enumerate(number, start=1):
        if not (char.isascii() and char.isdigit()):
            return (f"保険者番号の{position}桁目「{char}」が数字ではありません。", (position,))
    if len(number) not in INSURER_NUMBER_LENGTHS:
        message = f"保険者番号は8桁（国民健康保険は6桁）です。入力は{len(number)}桁です。"
        if len(number) in (5, 7) and is_valid_insurer_number("0" + number):
            # Excel and pandas read 01130012 as the number 1130012: the file lost its leading zero.
            message += (f"表計算ソフトで先頭の0が消えた可能性があります（0{number}）。"
                        "保険者番号の列を文字列として保存してください。")
        return (message, ())
    offset = 0
    if len(number) == 8:
        offset = 2
        if number[:2] not in LAW_CODES:
            return (f"保険者番号の1～2桁目（法別番号）「{number[:2]}」が誤っている可能性があります。", (1, 2))
    if number[offset:offset + 2] not in PREFECTURES:
        first = offset + 1
        return (f"保険者番号の{first}～{first + 1}桁目（都道府県番号）「{number[offset:offset + 2]}」が"
                "誤っている可能性があります。", (first, first + 1))
    swaps = [i for i in range(len(number) - 1) if number[i] != number[i + 1]
             and is_valid_insurer_number(number[:i] + number[i + 1] + number[i] + number[i + 2:])]
    expected = insurer_check_digit(number[:-1])
    last = len(number)
    message = (f"保険者番号の検証番号（{last}桁目）が一致しません。前の{last - 1}桁からは{last}桁目は「{expected}」に"
               f"なります。{last}桁目、または保険者別番号（{last - 3}～{last - 1}桁目）の入力誤りが考えられます。")
    positions: tuple[int, ...] = (last, last - 3, last - 2, last - 1)
    if len(swaps) == 1:
        i = swaps[0]
        message += (f"{i + 1}桁目と{i + 2}桁目の入れ替わり（{number[:i] + number[i + 1] + number[i] + number[i + 2:]}）"
                    "の可能性もあります。")
        positions = tuple(dict.fromkeys((*positions, i + 1, i + 2)))
    return message, positions
