"""The one CSV writer: every CSV the project writes (claims, batch ``results.csv`` of the API and the console,
the console's ``audit.csv``) goes through ``csv_text``, so none can carry a formula into a spreadsheet.

The files are opened in Excel by an administrator, and some cells hold text from outside (a machine client's
reference, a refused request's path in the audit log, a patient reference): a cell that starts with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return would be run as a formula (``=HYPERLINK(…)``, ``@SUM(…)``), so it
gets a leading apostrophe, which the spreadsheet shows as text and does not display (the claims CSV's rule,
docs/rules.md §5). UTF-8 with a BOM so the Japanese text opens correctly; CRLF line ends.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


def cell(value: Any) -> str:
    """One value as a cell: None is empty, booleans ``true``/``false``, a formula lead neutralised."""
    if value is None:
        return ""
    text = "true" if value is True else "false" if value is False else str(value)
    return "'" + text if text.startswith(FORMULA_LEADS) else text


def csv_text(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    """The whole file: BOM, the header, then every row with each cell made safe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([cell(name) for name in header])
    for row in rows:
        writer.writerow([cell(value) for value in row])
    return BOM + out.getvalue()
