"""The insurer number's check digit on the device, so a mistyped number is caught while the patient is there.

The same rule as the server's (``mobile_api/domain/insurer.py``, docs/rules.md §4), kept here because the
agent is installed without the server; tests/unit/device_agent/test_device_fallback.py pins the two together.
"""
from __future__ import annotations

LENGTHS = (6, 8)  # 国保 6 digits; others 8 (law code 2 + prefecture 2 + insurer 3 + check 1)
WRONG = ("保険者番号に誤りがあります（6桁または8桁で、検証番号が一致する必要があります）。"
         "お知らせ・資格確認書の番号をもう一度確認してください。")  # the server's words for the same refusal


def check_digit(digits: str) -> int:
    """Weights 2, 1, 2, 1 … from the right, the digits of each product summed, ``(10 - sum % 10) % 10``."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        product = int(char) * (2 if position % 2 == 0 else 1)
        total += product // 10 + product % 10
    return (10 - total % 10) % 10


def is_valid(number: str) -> bool:
    if len(number) not in LENGTHS or not number.isascii() or not number.isdigit():
        return False
    return check_digit(number[:-1]) == int(number[-1])
