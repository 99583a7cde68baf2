"""The one CSV writer (adapters/spreadsheet.py): a cell a spreadsheet would run as a formula becomes text."""
from __future__ import annotations

import csv
import io

import pytest

from mobile_api.adapters.spreadsheet import cell, csv_text


@pytest.mark.parametrize("lead", ["=", "+", "-", "@", "\t", "\r"])
def test_each_formula_lead_gets_a_leading_apostrophe(lead: str) -> None:
    assert cell(f"{lead}1+2") == f"'{lead}1+2"


def test_other_values_are_kept_as_they_are() -> None:
    assert [cell(v) for v in ("R-0001", "受診者", 7, None, True, False, " =1", "a=b")] == [
        "R-0001", "受診者", "7", "", "true", "false", " =1", "a=b"]


def test_the_file_has_a_bom_crlf_and_safe_header_and_rows() -> None:
    text = csv_text(["a", "=b"], [["-5", "x"], ["@y", None]])
    assert text.startswith("\ufeff") and text.count("\r\n") == 3
    assert list(csv.reader(io.StringIO(text[1:], newline=""))) == [["a", "'=b"], ["'-5", "x"], ["'@y", ""]]
