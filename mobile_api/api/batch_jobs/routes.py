"""Batch qualification checks: up to 10,000 examinees a job, JSON or CSV in, paged JSON or CSV out."""
from typing import Any

import marshmallow as ma
from flask import current_app, request

from ...adapters import spreadsheet
from ...domain.errors import UnsupportedMediaType, ValidationFailed
from ...services import batch, idempotency
from ...web import batch_tables as tables
from ...web.batch_tables import results_csv_text, results_xlsx_bytes
from ..core import Blueprint, download, principal, runtime
from ..examples import IDENTIFIER_LOOKUP_NOT_ALLOWED
from ..qualification_checks.schemas import IdempotencyHeaderSchema
from .schemas import (
    CSV_EXAMPLE,
    JOB_EXAMPLE,
    RESULTS_EXAMPLE,
    BatchCreateSchema,
    BatchJobSchema,
    FileLayoutQuerySchema,
    ResultsPageSchema,
    ResultsQuerySchema,
)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

blp = Blueprint("batch_jobs", __name__, url_prefix="/api/v1/batch-jobs", description="一括資格確認（APIクライアント）")

@blp.url_value_preprocessor
def _raise_body_limit(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """Runs before the edge checks read the body: only job creation may send up to 10,000 rows."""
    if request.method == "POST" and endpoint == "batch_jobs.create":
        request.max_content_length = current_app.config["BATCH_MAX_CONTENT_LENGTH"]


def csv_row(outcome: dict[str, Any]) -> list[str]:
    """One outcome as a CSV line in the ``codes`` layout: the same values as the JSON, flattened, each cell
    formula-safe (``adapters/spreadsheet.py``)."""
    return [spreadsheet.cell(value) for value in tables.row(outcome, "codes")]


@blp.post("")
@blp.authenticated(client_scope="qualification:batch")
@blp.arguments(IdempotencyHeaderSchema, location="headers")
@blp.doc(requestBody={"required": True, "content": {
    "application/json": {"schema": BatchCreateSchema, "example": {"examinees": [
        {"reference": "R-0001", "insurer_number": "01130012", "symbol": "44100021", "number": "1287",
         "branch_number": "00", "birth_date": "1984-05-12"}]}},
    "text/csv": {"schema": {"type": "string"}, "example": CSV_EXAMPLE,
                 "description": "UTF-8 (with or without BOM) or Shift_JIS; headers reference, insurer_number, "
                                "symbol, number, branch_number, birth_date (or 受診者番号, 保険者番号, 記号, 番号, 枝番, "
                                "生年月日). The same file may be sent as multipart/form-data, field `file` (a browser "
                                "form's upload); it is described here, not listed as a third content type, because "
                                "openapi-python-client 0.29 generates a client that fails on import for an operation "
                                "with two supported request types (its bug #1451)."}}})
@blp.response(202, BatchJobSchema, example={**JOB_EXAMPLE, "state": "queued", "done": 0, "failed": 0,
                                            "started_at": None, "finished_at": None, "results_expire_at": None},
              headers={"Location": {"description": "The job: GET it to follow its progress",
                                    "schema": {"type": "string", "example": f"/api/v1/batch-jobs/{JOB_EXAMPLE['id']}"}}})
@blp.problems(413, 415, 422, 429)
@blp.problems(403, examples=IDENTIFIER_LOOKUP_NOT_ALLOWED)
def create(headers: dict[str, Any]) -> Any:
    """Create a batch job (idempotent: the same Idempotency-Key and body give the same job). 202 + Location.

    Every row is a lookup by identifiers: only for the facility kinds ``IDENTIFIER_LOOKUP_FACILITY_KINDS`` names
    (403 ``identifier-lookup-not-allowed`` otherwise, docs/rules.md §1.1)."""
    rt = runtime()
    if request.mimetype == "application/json":
        body = _load_json()
        rows, source, hashed = body["examinees"], "json", idempotency.request_hash(request.get_json())
    elif request.mimetype in ("text/csv", "multipart/form-data"):
        raw = request.files["file"].read() if request.mimetype == "multipart/form-data" and "file" in request.files \
            else request.get_data()
        rows = batch.rows_from_csv(raw, rt.batch.max_rows)
        source, hashed = "csv", idempotency.request_hash({"csv": raw})
    else:
        raise UnsupportedMediaType("Content-Type は application/json、text/csv または multipart/form-data です。")
    job, _ = batch.create(rt, principal(), rows, source=source, idempotency_key=headers["idempotency_key"],
                          request_hash=hashed)
    return job, 202, {"Location": f"/api/v1/batch-jobs/{job.id}"}


def _load_json() -> dict[str, Any]:
    document = request.get_json(silent=True)
    if document is None:
        raise ValidationFailed("JSON を読み取れません。", field="body")
    try:
        return BatchCreateSchema().load(document)
    except ma.ValidationError as exc:
        first = next(iter(exc.normalized_messages()), "examinees")
        raise ValidationFailed(f"入力内容に誤りがあります: {str(exc.normalized_messages())[:300]}",
                               field=str(first)) from exc


@blp.get("/<job_id>")
@blp.authenticated(client_scope="qualification:batch")
@blp.response(200, BatchJobSchema, example=JOB_EXAMPLE)
@blp.problems(404)
def show(job_id: str) -> Any:
    """Progress: done / total."""
    return batch.get(runtime(), principal(), job_id)


@blp.post("/<job_id>/cancel")
@blp.authenticated(client_scope="qualification:batch")
@blp.response(200, BatchJobSchema)
@blp.problems(404, 409)
def cancel(job_id: str) -> Any:
    """Cancel a job that has not finished (rows already checked keep their results)."""
    return batch.cancel(runtime(), principal(), job_id)


@blp.get("/<job_id>/results")
@blp.authenticated(client_scope="qualification:batch")
@blp.arguments(ResultsQuerySchema, location="query")
@blp.response(200, ResultsPageSchema, example=RESULTS_EXAMPLE)
@blp.problems(404, 409)
def results(query: dict[str, Any], job_id: str) -> Any:
    """A page of results, keyed by your reference, in the order sent."""
    job, page = batch.results(runtime(), principal(), job_id, limit=query["limit"], offset=query["offset"])
    return {"job": job, "limit": query["limit"], "offset": query["offset"], "results": page}


@blp.get("/<job_id>/results.csv")
@blp.authenticated(client_scope="qualification:batch")
@blp.arguments(FileLayoutQuerySchema, location="query")
@blp.response(200, {"type": "string"}, content_type="text/csv",
              example="\ufeff" + ",".join(tables.header("ja")) + "\r\n")
@blp.problems(404, 409)
def results_csv(query: dict[str, Any], job_id: str) -> Any:
    """Every result as CSV (UTF-8 with BOM, so Excel opens it): Japanese headers with labels beside the codes,
    or ``columns=codes`` for the English column names and the JSON's bare values."""
    return download(results_csv_text(runtime(), principal(), job_id, query["columns"]), f"batch-{job_id}.csv")


@blp.get("/<job_id>/results.xlsx")
@blp.authenticated(client_scope="qualification:batch")
@blp.arguments(FileLayoutQuerySchema, location="query")
@blp.response(200, {"type": "string", "format": "binary"}, content_type=XLSX)
@blp.problems(404, 409)
def results_xlsx(query: dict[str, Any], job_id: str) -> Any:
    """Every result as an Excel workbook in which every cell is text, so 01130012 and branch 00 keep their
    leading zeros; the same layouts as the CSV."""
    return download(results_xlsx_bytes(runtime(), principal(), job_id, query["columns"]), f"batch-{job_id}.xlsx",
                    XLSX)
