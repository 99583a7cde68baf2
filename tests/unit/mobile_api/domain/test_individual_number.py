"""Individual numbers are recognised in any form staff may type them, and nothing else is (docs/rules.md §7)."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mobile_api.domain.errors import ValidationFailed
from mobile_api.domain.individual_number import (
    check_digit,
    contains_individual_number,
    is_individual_number,
    refuse_individual_number,
)

VALID = "123456789018"  # the number of issue 17: its check digit is right


def _full_width(text: str) -> str:
    return text.translate(str.maketrans("0123456789-", "０１２３４５６７８９－"))


def test_the_check_digit_follows_the_ministry_formula():
    # P1..P11 from the right of 12345678901: 1,0,9,8,7,6,5,4,3,2,1 × Q 2,3,4,5,6,7,2,3,4,5,6 = 212; 212 mod 11 = 3
    assert check_digit("12345678901") == 8
    assert check_digit("00000000000") == 0  # r = 0
    assert is_individual_number(VALID)
    assert not is_individual_number("123456789012") and not is_individual_number("12345678901")


@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_exactly_one_last_digit_completes_eleven_digits(first):
    assert [d for d in range(10) if is_individual_number(first + str(d))] == [check_digit(first)]


@pytest.mark.parametrize("text", [
    VALID, "マイナンバー 123456789018 を控えた", "1234 5678 9018", "1234-5678-9018", _full_width(VALID),
    _full_width("1234-5678-9018"), "１２３４　５６７８　９０１８", "番号は1234‐5678‐9018です",
    # any 12 digits right beside the words, whatever the check digit
    "マイナンバー：1234-5678-9012", "個人番号 123456789012", "123456789012（個人番号）", "ﾏｲﾅﾝﾊﾞｰ123456789012",
])
def test_individual_numbers_are_found(text):
    assert contains_individual_number(text)


@pytest.mark.parametrize("text", [
    "01130012", "39131008", "44100021 1287",  # insurer numbers, 記号・番号
    "03-1234-5678", "090-1234-5678", "09012345678", "+81-90-1234-5678",  # phone numbers, with a country code
    "123456789012", "1234 5678 9012",  # 12 digits, wrong check digit, no words beside them
    "1234567890189", "マイナンバーカードを提示", "令和8年12月4日 10:30", "",
    "マイナンバーカードを提示。 電話 03-1234-5678",
])
def test_other_numbers_are_left_alone(text):
    assert not contains_individual_number(text)


@given(st.text(alphabet="0123456789", min_size=1, max_size=11), st.sampled_from(["", " ", "-", "　"]))
def test_fewer_than_twelve_digits_are_never_refused(digits, separator):
    assert not contains_individual_number(separator.join([digits[:4], digits[4:]]))


def test_the_refusal_is_a_japanese_422_naming_the_field():
    with pytest.raises(ValidationFailed) as refused:
        refuse_individual_number("マイナンバー 123456789018", field="evidence/free_text")
    assert refused.value.status == 422 and "マイナンバー" in refused.value.detail
    assert refused.value.extra == {"field": "evidence/free_text", "rule": "individual-number"}
    refuse_individual_number(None, field="x")
    refuse_individual_number("01130012", field="x")
