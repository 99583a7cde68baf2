"""Insurer-number check digit (docs/rules.md §4)."""
from __future__ import annotations

import pytest

from mobile_api.domain.insurer import insurer_check_digit, is_valid_insurer_number


def test_example_from_the_domain_brief() -> None:
    assert insurer_check_digit("0113001") == 2
    assert is_valid_insurer_number("01130012")


@pytest.mark.parametrize("number", ["01130012", "06135107", "39131008", "12131017", "131177", "271023"])
def test_valid_numbers(number: str) -> None:
    assert is_valid_insurer_number(number)


def test_sum_multiple_of_ten_gives_zero() -> None:
    assert insurer_check_digit("3927200") == 0
    assert is_valid_insurer_number("39272000")


@pytest.mark.parametrize("number", ["01130012", "131177"])
def test_every_single_digit_error_is_caught(number: str) -> None:
    for position in range(len(number)):
        for digit in "0123456789":
            if digit == number[position]:
                continue
            typo = number[:position] + digit + number[position + 1 :]
            assert not is_valid_insurer_number(typo), typo


@pytest.mark.parametrize("number", ["", "0113001", "011300120", "1311770", "0113001X", "０１１３００１２", "77777777 "])
def test_wrong_shapes_are_invalid(number: str) -> None:
    assert not is_valid_insurer_number(number)


def test_check_digit_needs_digits() -> None:
    with pytest.raises(ValueError):
        insurer_check_digit("01a3001")
