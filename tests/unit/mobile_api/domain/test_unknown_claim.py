"""The unknown claim (不詳レセプト, docs/rules.md §5): 77777777 is accepted only there, and the check digit still
catches every single-digit error of a valid insurer number everywhere else."""
import pytest

from mobile_api.domain.claims import (
    UNKNOWN_CLAIM_IDENTIFIERS,
    BillingIdentifiers,
    ClaimRoute,
    guide,
    is_unknown_claim_identifiers,
)
from mobile_api.domain.insurer import is_valid_insurer_number

VALID = ["01130012", "06135107", "39131008", "01270016", "131177", "271023", "12131017"]


@pytest.mark.parametrize("number", VALID)
def test_every_single_digit_error_of_a_valid_insurer_number_is_caught(number):
    assert is_valid_insurer_number(number)
    for position in range(len(number)):
        for digit in "0123456789":
            if digit == number[position]:
                continue
            typo = number[:position] + digit + number[position + 1:]
            assert not is_valid_insurer_number(typo), typo
            # and none of them turns into an unknown claim: that needs every digit "7"
            assert not is_unknown_claim_identifiers(BillingIdentifiers(typo, None, "7777", None)) or set(typo) == {"7"}


def test_77777777_fails_the_check_digit_and_passes_only_as_an_unknown_claim():
    assert not is_valid_insurer_number("77777777")
    assert is_unknown_claim_identifiers(UNKNOWN_CLAIM_IDENTIFIERS)
    assert is_unknown_claim_identifiers(BillingIdentifiers("777777", None, "777", None))
    assert not is_unknown_claim_identifiers(BillingIdentifiers("77777777", None, "1287", None))
    assert not is_unknown_claim_identifiers(BillingIdentifiers("77777771", None, "7777", None))
    # as "current" numbers the 7-fill is not a qualification: guidance falls through to ③
    sevens = BillingIdentifiers("77777777", None, "77777777", None)
    assert guide(current=sevens).route is ClaimRoute.UNKNOWN
    assert guide(current=BillingIdentifiers("01130012", "44100021", "1287", "00")).route is ClaimRoute.CURRENT
