from typing import Any

import marshmallow as ma

from ..fields import no_individual_number, outside_text
from ..qualification_checks.schemas import CHECK_EXAMPLE, OutcomeSchema


class BatchExamineeSchema(ma.Schema):
    """A row as sent; identifier problems are row errors in the results, not a refused job."""

    reference = outside_text(64, min_length=1, required=True)
    insurer_number = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=16))
    symbol = ma.fields.String(load_default=None, allow_none=True, validate=[ma.validate.Length(max=40), no_individual_number])
    number = ma.fields.String(load_default=None, allow_none=True, validate=[ma.validate.Length(max=40), no_individual_number])
    branch_number = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=4))
    birth_date = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=20),
                                  metadata={"description": "ISO (1984-05-12), Excel's 1984/5/12, 19840512, "
                                                           "S59.5.12 or 昭和59年5月12日 (docs/health-check-api.md)",
                                            "example": "1984/5/12"})


class FileLayoutQuerySchema(ma.Schema):
    columns = ma.fields.String(load_default="ja", validate=ma.validate.OneOf(["ja", "codes"]), metadata={
        "description": "ja: Japanese headers with labels beside the codes (the default); codes: the English "
                       "column names and the JSON's bare values"})


class BatchCreateSchema(ma.Schema):
    examinees = ma.fields.List(ma.fields.Nested(BatchExamineeSchema), required=True,
                               validate=ma.validate.Length(min=1, max=10_000))


class BatchJobSchema(ma.Schema):
    id = ma.fields.String()
    state = ma.fields.String(metadata={"enum": ["queued", "running", "done", "cancelled"]})
    total = ma.fields.Integer()
    done = ma.fields.Integer()
    failed = ma.fields.Integer(metadata={"description": "rows answered with a row error"})
    source = ma.fields.String(metadata={"enum": ["json", "csv"]})
    created_at = ma.fields.AwareDateTime()
    started_at = ma.fields.AwareDateTime(allow_none=True)
    finished_at = ma.fields.AwareDateTime(allow_none=True)
    results_expire_at = ma.fields.AwareDateTime(allow_none=True)
    results_url = ma.fields.Method("_results", metadata={"type": "string"})
    results_csv_url = ma.fields.Method("_results_csv", metadata={"type": "string"})

    def _results(self, job) -> str:
        return f"/api/v1/batch-jobs/{job.id}/results"

    def _results_csv(self, job) -> str:
        return f"/api/v1/batch-jobs/{job.id}/results.csv"


class ResultsQuerySchema(ma.Schema):
    limit = ma.fields.Integer(load_default=1000, validate=ma.validate.Range(min=1, max=10_000))
    offset = ma.fields.Integer(load_default=0, validate=ma.validate.Range(min=0, max=10_000))


class ResultsPageSchema(ma.Schema):
    job = ma.fields.Nested(BatchJobSchema)
    limit = ma.fields.Integer()
    offset = ma.fields.Integer()
    results = ma.fields.List(ma.fields.Nested(OutcomeSchema))


JOB_EXAMPLE = {"id": "0b9f5c1e-7a51-4e0c-9a51-3c2f1d0e9b8a", "state": "done", "total": 2, "done": 2, "failed": 1,
               "source": "csv", "created_at": "2026-11-30T09:00:00+00:00", "started_at": "2026-11-30T09:00:00+00:00",
               "finished_at": "2026-11-30T09:00:01+00:00", "results_expire_at": "2026-12-07T09:00:01+00:00",
               "results_url": "/api/v1/batch-jobs/0b9f5c1e-7a51-4e0c-9a51-3c2f1d0e9b8a/results",
               "results_csv_url": "/api/v1/batch-jobs/0b9f5c1e-7a51-4e0c-9a51-3c2f1d0e9b8a/results.csv"}
ROW_ERROR_EXAMPLE: dict[str, Any] = {"reference": "R-0002", "outcome": "error", "eligibility_status": None, "valid": None,
                     "qualification": None, "candidates": 0, "data_withheld": False,
                     "name_has_unencodable": False, "messages": [],
                     "error": {"type": "insurer-number-invalid", "title": "保険者番号に誤りがあります。",
                               "detail": "保険者番号の検証番号（8桁目）が一致しません。…", "field": "insurer_number",
                               "likely_wrong_positions": [8, 5, 6, 7]}}
RESULTS_EXAMPLE = {"job": JOB_EXAMPLE, "limit": 1000, "offset": 0,
                   "results": [{**CHECK_EXAMPLE, "reference": "R-0001"}, ROW_ERROR_EXAMPLE]}
CSV_EXAMPLE = ("reference,insurer_number,symbol,number,branch_number,birth_date\r\n"
               "R-0001,01130012,44100021,1287,00,1984-05-12\r\nR-0002,01130013,44100021,1287,00,1984-05-12\r\n")
