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
