"""Batch qualification checks (docs/health-check-api.md, docs/background-jobs.md).

A job holds up to ``BatchSettings.max_rows`` examinees sent as JSON or CSV. Creation is idempotent
(Idempotency-Key, the one mechanism of ``idempotency.py``) and answered 202; a background task on
the job runner (``adapters/jobs.py``) works through the rows.

Exactly once, even if a worker is killed: the rows live in ``batch_rows`` with a status. A worker
first takes the job's lease (a conditional UPDATE, one winner), then repeats: read the next pending
rows in order, ask OQS for each, and in ONE transaction renew the lease (only if still its own) and
write the outcomes of rows still pending. A worker killed mid-chunk commits nothing of that chunk;
its lease runs out and the next worker (``recover``) resumes at the first pending row. A worker that
lost its lease writes nothing. So no row is lost and none is written twice.
"""
from __future__ import annotations

import codecs
import csv
import difflib
import io
import uuid
from datetime import datetime
from typing import Any

from ..adapters import orm
from ..domain.errors import (
    BatchTooLarge,
    Conflict,
    QualificationUnavailable,
    ResultsExpired,
    ValidationFailed,
)
from ..domain.individual_number import refuse_individual_number
from ..runtime import BatchSettings, Runtime
from . import audit, idempotency, qualification
from .clients import SCOPE_BATCH
from .principal import Principal

CREATE_SCOPE = "batch.create"
RUN_TASK = "batch.run"
REFERENCE_MAX = 64
# CSV headers: ours, and the Japanese ones reservation systems export.
HEADER_ALIASES = {
    "reference": "reference", "受診者番号": "reference", "受診者id": "reference", "予約番号": "reference",
    "insurer_number": "insurer_number", "保険者番号": "insurer_number",
    "symbol": "symbol", "記号": "symbol",
    "number": "number", "番号": "number",
    "branch_number": "branch_number", "枝番": "branch_number",
    "birth_date": "birth_date", "生年月日": "birth_date",
}
ROW_FIELDS = ("reference", "insurer_number", "symbol", "number", "branch_number", "birth_date")


# --- input ------------------------------------------------------------------------------------------

def decode_csv(raw: bytes) -> str:
    """UTF-8 with or without BOM, else Shift_JIS (cp932), which Japanese reservation systems export.

    A file that starts with the UTF-8 BOM says it is UTF-8: if it does not decode as such it is refused (422), not
    guessed at. NUL, which no reference or identifier contains and PostgreSQL text cannot hold, is refused too."""
    if raw.startswith(codecs.BOM_UTF8):
        try:
            text = raw[len(codecs.BOM_UTF8):].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValidationFailed(f"CSV は BOM 付きの UTF-8 のはずですが、{len(codecs.BOM_UTF8) + exc.start + 1}"
                                   "バイト目を UTF-8 として読み取れません。UTF-8 で保存し直してください。",
                                   field="file") from exc
        return _without_nul(text)
    try:
        return _without_nul(raw.decode("utf-8"))
    except UnicodeDecodeError:
        pass
    try:
        return _without_nul(raw.decode("cp932"))
    except UnicodeDecodeError as exc:
        raise ValidationFailed("CSV の文字コードを判別できません（UTF-8 または Shift_JIS）。", field="file") from exc


def _without_nul(text: str) -> str:
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise ValidationFailed(f"CSV の{line}行目に使用できない文字（NUL）が含まれています。", field="file")
    return text


def header_names(header: list[str]) -> list[str]:
    """Each column's field, checked at upload: a header this file format doesn't know (a misspelt
    ``保険者No``) would make every row fail later, so it is refused now with the expected names and
    the closest one. Empty header cells (a trailing comma from Excel) are ignored."""
    names: list[str] = []
    for cell in header:
        text = cell.strip()
        name = HEADER_ALIASES.get(text.lower()) or HEADER_ALIASES.get(text)
        if name is None and text:
            closest = difflib.get_close_matches(text, list(HEADER_ALIASES), n=1, cutoff=0.4)
            hint = f"「{closest[0]}」の誤りではありませんか。" if closest else ""
            raise ValidationFailed(f"CSV の見出し「{text[:40]}」は使えません。{hint}使える見出し: "
                                   f"{'、'.join(HEADER_ALIASES)}。", field="file",
                                   expected_headers=list(HEADER_ALIASES), closest=closest[0] if closest else None)
        names.append(name or "")
    if "reference" not in names:
        raise ValidationFailed("CSV の見出しに reference（受診者番号）がありません。", field="file",
                               expected_headers=list(HEADER_ALIASES))
    return names


def rows_from_csv(raw: bytes, max_rows: int) -> list[dict[str, Any]]:
    text = decode_csv(raw)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration as exc:
        raise ValidationFailed("CSV が空です。", field="file") from exc
    except csv.Error as exc:
        raise ValidationFailed(f"CSV を読み取れません: {exc}", field="file") from exc
    names = header_names(header)
    rows: list[dict[str, Any]] = []
    try:
        for line in reader:
            if not any(cell.strip() for cell in line):
                continue
            if len(rows) >= max_rows:
                raise BatchTooLarge(f"1回の一括照会は{max_rows}件までです。", max_rows=max_rows)
            rows.append({name: (line[i].strip() if i < len(line) else "") for i, name in enumerate(names) if name})
    except csv.Error as exc:
        raise ValidationFailed(f"CSV を読み取れません（{reader.line_num}行目）: {exc}", field="file") from exc
    return rows


def check_rows(rows: list[dict[str, Any]], max_rows: int) -> list[dict[str, Any]]:
    """Job-level checks only (count, references); identifier problems become row errors later."""
    if not rows:
        raise ValidationFailed("受診者が1件もありません。", field="examinees")
    if len(rows) > max_rows:
        raise BatchTooLarge(f"1回の一括照会は{max_rows}件までです。", max_rows=max_rows)
    seen: set[str] = set()
    cleaned = []
    for position, row in enumerate(rows):
        reference = str(row.get("reference") or "").strip()
        if not reference or len(reference) > REFERENCE_MAX:
            raise ValidationFailed(f"{position + 1}件目: reference（受診者番号）は1～{REFERENCE_MAX}文字です。",
                                   field=f"examinees/{position}/reference")
        if reference in seen:
            raise ValidationFailed(f"{position + 1}件目: reference「{reference}」が重複しています。",
                                   field=f"examinees/{position}/reference")
        seen.add(reference)
        request = {name: (None if row.get(name) in (None, "") else str(row[name])) for name in ROW_FIELDS}
        for name in ("reference", "symbol", "number"):  # CSV rows too (docs/rules.md §7)
            refuse_individual_number(request.get(name), field=f"examinees/{position}/{name}")
        request["reference"] = reference
        cleaned.append({"position": position, "reference": reference, "request": request})
    return cleaned


# --- creating, reading, cancelling -------------------------------------------------------------------

def create(rt: Runtime, actor: Principal, rows: list[dict[str, Any]], *, source: str, idempotency_key: str,
           request_hash: str) -> tuple[orm.BatchJob, bool]:
    """A new job (and True), or the job already created under this key (and False)."""
    actor.require_scope(SCOPE_BATCH)
    institution = qualification.institution_for_checks(rt, actor)
    qualification.require_identifier_lookup(rt, actor, institution, "batch.create")  # every row is a lookup
    settings = rt.batch
    with rt.uow() as uow:
        replay = _replay(uow, actor, idempotency_key, request_hash)
        if replay is not None:
            return replay, False
    prepared = check_rows(rows, settings.max_rows)
    now = rt.clock()
    with rt.uow() as uow:
        job = uow.batch_jobs.add(orm.BatchJob(
            institution_id=actor.institution_id, client_id=actor.client_id, state="queued", total=len(prepared),
            done=0, failed=0, source=source, created_at=now))
        uow.flush()
        uow.batch_rows.add_all(job.id, prepared)
        audit.record(uow, at=now, action="batch.create", institution_id=actor.institution_id, target_type="batch_job",
                     target_id=job.id, client_id=actor.client_id, total=len(prepared), source=source)
        idempotency.remember(uow, actor, CREATE_SCOPE, idempotency_key, request_hash, status=202,
                             response={"job_id": job.id}, now=now)
        winner = idempotency.commit_or_replay(uow, job, lambda: _replay(uow, actor, idempotency_key, request_hash))
    if winner is not job:
        return winner, False
    if rt.jobs is not None:
        rt.jobs.enqueue(RUN_TASK, job.id)
    return job, True


def _replay(uow: Any, actor: Principal, key: str, hashed: str) -> orm.BatchJob | None:
    """The job already created under this Idempotency-Key, or None."""
    stored = idempotency.find(uow, actor, CREATE_SCOPE, key, hashed)
    if stored is None:
        return None
    job = uow.batch_jobs.get(stored.response["job_id"])
    assert job is not None
    return job


def _require_reader(actor: Principal) -> None:
    """Jobs and their results are read by a machine client holding the batch scope (the API), or by the
    institution's admin (the console, where the results of the institution's clients are looked at)."""
    if actor.is_client:
        actor.require_scope(SCOPE_BATCH)
    else:
        actor.require_admin()


def list_jobs(rt: Runtime, actor: Principal, *, limit: int, offset: int) -> list[orm.BatchJob]:
    """A page of the institution's jobs, newest first, with their progress (no examinee data)."""
    _require_reader(actor)
    with rt.uow() as uow:
        return list(uow.batch_jobs.of_institution(actor.institution_id, limit=limit, offset=offset))


def get(rt: Runtime, actor: Principal, job_id: str) -> orm.BatchJob:
    """The caller's institution's job; another institution's id is 404 (tenancy)."""
    _require_reader(actor)
    with rt.uow() as uow:
        return uow.batch_jobs.owned(job_id, actor.institution_id, "一括照会が見つかりません。")


def results(rt: Runtime, actor: Principal, job_id: str, *, limit: int, offset: int) -> tuple[orm.BatchJob, list[dict[str, Any]]]:
    """A page of outcomes keyed by the caller's reference, in the order sent (pending rows included)."""
    job = get(rt, actor, job_id)
    if job.purged_at is not None:
        raise ResultsExpired(rule="results-expired")
    with rt.uow() as uow:
        rows = uow.batch_rows.page(job.id, limit=limit, offset=offset)
        page = [row.outcome if row.outcome is not None else
                {"reference": row.reference, "outcome": "pending"} for row in rows]
        audit.record(uow, at=rt.clock(), action="batch.results", institution_id=actor.institution_id,
                     user_id=actor.user_id, device_id=actor.device_id, target_type="batch_job", target_id=job.id,
                     client_id=actor.client_id, offset=offset, count=len(page))
        uow.commit()
    return job, page


def cancel(rt: Runtime, actor: Principal, job_id: str) -> orm.BatchJob:
    job = get(rt, actor, job_id)
    now = rt.clock()
    with rt.uow() as uow:
        if not uow.batch_jobs.cancel(job.id, now=now, results_expire_at=now + rt.batch.retention):
            raise Conflict("完了した一括照会は取り消せません。", rule="job-finished", state=job.state)
        audit.record(uow, at=now, action="batch.cancel", institution_id=actor.institution_id, target_type="batch_job",
                     target_id=job.id, client_id=actor.client_id)
        uow.commit()
    return get(rt, actor, job_id)


# --- the background task ---------------------------------------------------------------------------

def run(rt: Runtime, job_id: str, *, owner: str | None = None) -> str:
    """Work a job to its end from its first pending row. Returns why it stopped: "done", "cancelled",
    "lease-lost", "not-available" (another worker holds it, or it is finished)."""
    owner = owner or f"w-{uuid.uuid4().hex[:16]}"
    settings: BatchSettings = rt.batch
    with rt.uow() as uow:
        now = rt.clock()
        if not uow.batch_jobs.take_lease(job_id, owner, now=now, until=now + settings.lease):
            return "not-available"
        job = uow.batch_jobs.get(job_id)
        assert job is not None
        facts = uow.institutions.facts(job.institution_id)  # the code only, not the whole row
        assert facts is not None
        code, institution_id, client_id = facts.code, job.institution_id, job.client_id
        uow.commit()
    while True:
        with rt.uow() as uow:
            rows = [(r.id, r.request) for r in uow.batch_rows.pending(job_id, settings.chunk_size)]
        if not rows:
            return _finish(rt, job_id, owner, institution_id, client_id)
        now = rt.clock()
        try:
            outcomes = [{"id": row_id, **_outcome(rt, code, request, now)} for row_id, request in rows]
        except QualificationUnavailable:
            _release(rt, job_id, owner)  # retried by ``recover`` once OQS answers again
            raise
        with rt.uow() as uow:
            failed = sum(1 for o in outcomes if o["status"] == "error")
            if not uow.batch_jobs.advance(job_id, owner, done=len(outcomes), failed=failed,
                                          until=rt.clock() + settings.lease):
                uow.rollback()
                job = uow.batch_jobs.get(job_id)
                return "cancelled" if job is not None and job.state == "cancelled" else "lease-lost"
            written = uow.batch_rows.record_outcomes(outcomes, owner)
            if written != len(outcomes):  # a row already had its outcome: never write one twice
                uow.rollback()
                return "lease-lost"
            uow.commit()


def _outcome(rt: Runtime, code: str, request: dict[str, Any], now: datetime) -> dict[str, Any]:
    outcome = qualification.check_row(rt, code, request, at=now, purpose="qualification_batch")
    return {"status": "error" if outcome["error"] else "done", "outcome": outcome}


def _release(rt: Runtime, job_id: str, owner: str) -> None:
    with rt.uow() as uow:
        uow.batch_jobs.advance(job_id, owner, done=0, failed=0, until=rt.clock())
        uow.commit()


def _finish(rt: Runtime, job_id: str, owner: str, institution_id: str, client_id: str) -> str:
    now = rt.clock()
    with rt.uow() as uow:
        if not uow.batch_jobs.finish(job_id, owner, now=now, results_expire_at=now + rt.batch.retention):
            job = uow.batch_jobs.get(job_id)
            return "cancelled" if job is not None and job.state == "cancelled" else "lease-lost"
        job = uow.batch_jobs.get(job_id)
        assert job is not None
        audit.record(uow, at=now, action="batch.done", institution_id=institution_id, target_type="batch_job",
                     target_id=job_id, client_id=client_id, total=job.total, failed=job.failed)
        uow.commit()
    return "done"


def recover(rt: Runtime) -> list[str]:
    """Re-enqueue unfinished jobs no live worker holds (a worker killed halfway, an OQS outage)."""
    with rt.uow() as uow:
        orphaned = list(uow.batch_jobs.orphaned(rt.clock()))
    if rt.jobs is not None:
        for job_id in orphaned:
            rt.jobs.enqueue(RUN_TASK, job_id)
    return orphaned


def purge_expired(rt: Runtime) -> int:
    """Delete the rows of jobs past their keeping time (``BATCH_RESULT_RETENTION_DAYS``); audited."""
    now = rt.clock()
    purged = 0
    with rt.uow() as uow:
        expired = [(j.id, j.institution_id, j.client_id) for j in uow.batch_jobs.expired(now)]
    for job_id, institution_id, client_id in expired:
        with rt.uow() as uow:
            deleted = uow.batch_rows.delete_of(job_id)
            uow.batch_jobs.mark_purged(job_id, now)
            audit.record(uow, at=now, action="batch.purge", institution_id=institution_id, target_type="batch_job",
                         target_id=job_id, client_id=client_id, rows_deleted=deleted)
            uow.commit()
        purged += 1
    return purged
