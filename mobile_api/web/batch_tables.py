"""Batch results as the files an office opens (docs/health-check-api.md §4 "Results").

Two layouts of the same values:
- ``ja`` (the default): Japanese headers, and labels beside the codes (資格の状態 「有効」 next to
  資格有効性コード 1, 性別 「女」 next to 性別コード 2, 一部負担金割合 「3割」 next to 030), for the person
  who opens the file in Excel;
- ``codes``: the English column names and bare codes, the same values as the JSON, for programs.

The xlsx download writes every cell as text: Excel keeps 01130012 and branch 00 as typed, where a CSV
opened by double-click turns them into 1130012 and 0. A text cell is never a formula either, so a
reference such as ``=HYPERLINK(…)`` stays the text it was sent as.
"""
from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from ..adapters import spreadsheet
from ..domain.codes import EligibilityStatus
from ..runtime import Runtime
from ..services import batch
from ..services.principal import Principal

CODE_COLUMNS = ("reference", "outcome", "eligibility_status", "valid", "insurer_number", "insurer_name", "symbol",
                "number", "branch_number", "name", "name_kana", "sex", "birth_date", "relationship",
                "copayment_ratio", "acquired_on", "lost_on", "loss_reason", "valid_until", "candidates",
                "data_withheld", "messages", "error_type", "error_field", "error_detail")
QUALIFICATION_COLUMNS = ("insurer_number", "insurer_name", "symbol", "number", "branch_number", "name", "name_kana",
                         "sex", "birth_date", "relationship", "copayment_ratio", "acquired_on", "lost_on",
                         "loss_reason", "valid_until")
LAYOUTS = ("ja", "codes")

STATUS_LABELS = {EligibilityStatus.VALID: "有効", EligibilityStatus.INVALID_LOST: "無効（資格喪失）",
                 EligibilityStatus.INVALID_NEWER_EXISTS: "無効（新しい資格あり）",
                 EligibilityStatus.NO_MATCH: "該当資格なし", EligibilityStatus.MULTIPLE_MATCHES: "複数該当",
                 EligibilityStatus.VALID_UNREGISTERED: "有効（医療扶助）"}
OUTCOME_LABELS = {"checked": "照会済", "error": "エラー", "pending": "未処理"}
SEX_LABELS = {"1": "男", "2": "女"}
RELATIONSHIP_LABELS = {"insured": "本人", "dependant": "家族"}

# (Japanese header, how the cell is made from the flat code values)
JA_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("受診者番号", "reference"),
    ("結果", lambda v: OUTCOME_LABELS.get(v["outcome"], v["outcome"])),
    ("資格の状態", lambda v: _status_label(v["eligibility_status"])),
    ("資格有効性コード", "eligibility_status"),
    ("資格の有無", lambda v: {True: "あり", False: "なし"}.get(v["valid"])),
    ("保険者番号", "insurer_number"), ("保険者名", "insurer_name"), ("記号", "symbol"), ("番号", "number"),
    ("枝番", "branch_number"), ("氏名", "name"), ("氏名カナ", "name_kana"),
    ("性別", lambda v: SEX_LABELS.get(v["sex"] or "", v["sex"])), ("性別コード", "sex"),
    ("生年月日", "birth_date"),
    ("本人・家族", lambda v: RELATIONSHIP_LABELS.get(v["relationship"] or "", v["relationship"])),
    ("一部負担金割合", lambda v: _ratio_label(v["copayment_ratio"])), ("一部負担金割合コード", "copayment_ratio"),
    ("資格取得日", "acquired_on"), ("資格喪失日", "lost_on"), ("喪失事由", "loss_reason"), ("有効期限", "valid_until"),
    ("該当件数", "candidates"), ("情報の非表示", lambda v: {True: "あり", False: "なし"}.get(v["data_withheld"])),
    ("メッセージ", "messages"), ("エラー種別", "error_type"), ("エラー項目", "error_field"), ("エラー内容", "error_detail"),
)


def _status_label(code: Any) -> str | None:
    try:
        return STATUS_LABELS.get(EligibilityStatus(int(code)))
    except (TypeError, ValueError):
        return None


def _ratio_label(code: Any) -> str | None:
    """"030" → 3割 (the ratio in tenths of a percent: "010" = 10 %, docs/rules.md §4)."""
    if not code or not str(code).isdigit():
        return code
    percent = int(code)
    return f"{percent // 10}割" if percent % 10 == 0 else f"{percent}%"


def flat_values(outcome: dict[str, Any]) -> dict[str, Any]:
    """One outcome flattened to the code columns (the JSON's values)."""
    q = outcome.get("qualification") or {}
    error = outcome.get("error") or {}
    return {"reference": outcome.get("reference"), "outcome": outcome.get("outcome"),
            "eligibility_status": outcome.get("eligibility_status"), "valid": outcome.get("valid"),
            **{name: q.get(name) for name in QUALIFICATION_COLUMNS},
            "candidates": outcome.get("candidates"), "data_withheld": outcome.get("data_withheld"),
            "messages": " / ".join(outcome.get("messages") or []), "error_type": error.get("type"),
            "error_field": error.get("field"), "error_detail": error.get("detail")}


def _text(value: Any) -> str:
    return "" if value is None else "true" if value is True else "false" if value is False else str(value)


def header(layout: str) -> list[str]:
    return list(CODE_COLUMNS) if layout == "codes" else [name for name, _ in JA_COLUMNS]


def row(outcome: dict[str, Any], layout: str) -> list[str]:
    """One outcome as the cells of a line, in ``layout``."""
    values = flat_values(outcome)
    if layout == "codes":
        return [_text(values[c]) for c in CODE_COLUMNS]
    return [_text(values[make] if isinstance(make, str) else make(values)) for _, make in JA_COLUMNS]


def table(outcomes: Iterable[dict[str, Any]], layout: str) -> Iterable[list[str]]:
    yield header(layout)
    for outcome in outcomes:
        yield row(outcome, layout)


def xlsx_bytes(lines: Iterable[list[str]], sheet: str = "照会結果") -> bytes:
    """The lines as an Excel workbook whose every cell is text (format "@", type string)."""
    from openpyxl import Workbook  # the download only: imported when asked for
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet_ = book.create_sheet(sheet)
    for line in lines:
        cells = []
        for value in line:
            cell = WriteOnlyCell(sheet_, value=value)
            cell.data_type = "s"  # never a number (leading zeros) nor a formula (a leading "=")
            cell.number_format = "@"
            cells.append(cell)
        sheet_.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _all_outcomes(rt: Runtime, who: Principal, job_id: str) -> list[dict[str, Any]]:
    """Every outcome of the job (the downloads: the API's and the console's)."""
    total = batch.get(rt, who, job_id).total
    return batch.results(rt, who, job_id, limit=max(total, 1), offset=0)[1]


def results_csv_text(rt: Runtime, who: Principal, job_id: str, layout: str = "ja") -> str:
    """Every row of the job as CSV (``adapters/spreadsheet.py``: BOM, CRLF, formula-safe) in ``layout``: this
    download and the console's."""
    lines = table(_all_outcomes(rt, who, job_id), layout)
    return spreadsheet.csv_text(next(iter(lines)), lines)


def results_xlsx_bytes(rt: Runtime, who: Principal, job_id: str, layout: str = "ja") -> bytes:
    """Every row of the job as an Excel workbook whose cells are all text (xlsx_bytes)."""
    return xlsx_bytes(table(_all_outcomes(rt, who, job_id), layout))
