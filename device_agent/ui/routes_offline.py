"""通信できないときの記録: the outbox from the touch UI, the same records as ``device-agent outbox record``.

Recording needs no signal: the record is encrypted into the device's outbox at once. Sending needs the
server; a record the server refuses comes back "要修正" with its reason, and the nurse fixes it here and
sends it again under the same id (its Idempotency-Key), so it is still recorded exactly once.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Blueprint, abort, render_template, request, url_for

from device_agent import fallback
from device_agent.client import SessionExpired, outbox_sender
from device_agent.outbox import Outbox
from device_agent.ui import display
from device_agent.ui.common import agent, see_other, signed_in, state, to_login

bp = Blueprint("offline", __name__, url_prefix="/offline")


@contextmanager
def outbox() -> Iterator[Outbox]:
    box = Outbox(agent().home.outbox_path, agent().home.outbox_key_path, clock=agent().now)
    try:
        yield box
    finally:
        box.close()


def _forms() -> list[str]:
    allowed = (state().institution or {}).get("allowed_forms") or list(display.FORMS)
    return [form for form in display.FORMS if form in allowed]


def _payload(form_data: Any, recorded_at: str) -> tuple[dict[str, Any] | None, list[tuple[str, str]]]:
    """The record from the form, or what the nurse must still fill in (field, Japanese message)."""
    form = form_data.get("form", "")
    if form not in _forms():
        return None, [("form", "確認方式を選んでください。")]
    care = display.care_type_for(form, form_data.get("care_type"))
    if care is None:
        return None, [("care_type", "診療の種類を選んでください。")]
    payload, errors = fallback.build(form_data, recorded_at=recorded_at, care_type=care, form=form)
    return (None if errors else payload), errors


def _render_form(values: dict[str, Any], *, recorded_at: str, errors: list[tuple[str, str]] | None = None,
                 record: Any = None, status: int = 200) -> Any:
    problem = record.last_error if record else None
    invalid = {name for name, _ in errors or []} | fallback.problem_fields(problem)
    day = fallback.visit_day(recorded_at)
    return render_template("offline_form.html", values=values, forms=_forms(), errors=errors or [], record=record,
                           problem=fallback.describe_problem(problem), invalid=invalid,
                           valid_today=fallback.methods_on(day), today=day.isoformat(), f=fallback,
                           rules=fallback.form_rules(day)), status


@bp.get("")
@signed_in
def index() -> Any:
    with outbox() as box:
        records, counts = box.recent(), box.counts()
    return render_template("offline.html", records=records, counts=counts, notice=state().take_notice(),
                           f=fallback)


@bp.route("/new", methods=["GET", "POST"])
@signed_in
def new() -> Any:
    now = agent().now().isoformat()
    if request.method == "GET":
        forms = _forms()
        return _render_form({"method": request.args.get("method", ""), "reason": request.args.get("reason", "offline"),
                             "form": forms[0] if len(forms) == 1 else "", "care_type": 2}, recorded_at=now)
    payload, errors = _payload(request.form, now)
    if payload is None:
        return _render_form(request.form.to_dict(), recorded_at=now, errors=errors, status=422)
    with outbox() as box:
        box.add(payload)
    state().notice = "端末に記録しました（暗号化して保存しています）。電波が戻ったら「送信する」を押してください。"
    return see_other("offline.index")


@bp.route("/<record_id>/fix", methods=["GET", "POST"])
@signed_in
def fix(record_id: str) -> Any:
    with outbox() as box:
        record = box.get(record_id)
        if record is None or record.state != "rejected":
            abort(404)
        # The visit happened when it was first recorded: that day decides which methods were valid.
        recorded_at = record.payload.get("device_recorded_at") or agent().now().isoformat()
        if request.method == "GET":
            return _render_form(fallback.flatten(record.payload), recorded_at=recorded_at, record=record)
        payload, errors = _payload(request.form, recorded_at)
        if payload is None:
            return _render_form(request.form.to_dict(), recorded_at=recorded_at, errors=errors, record=record,
                                status=422)
        box.fix(record_id, payload)
    return _sync()


@bp.post("/sync")
@signed_in
def sync() -> Any:
    return _sync()


def _sync() -> Any:
    try:
        with outbox() as box:
            report = box.sync(outbox_sender(agent().api))
    except SessionExpired:
        return to_login(url_for("offline.index"))
    parts = [f"送信済み {len(report.sent)} 件"]
    if report.rejected:
        parts.append(f"要修正 {len(report.rejected)} 件（理由を確認して修正してください）")
    if report.stopped == "network":
        parts.append("電波が届かないため送信を中断しました。残りは次回送信します。")
    elif report.stopped:
        parts.append("サーバーが受け付けられない状態のため送信を中断しました。時間をおいて再度お試しください。")
    state().notice = "。".join(parts) if len(parts) > 1 else parts[0] + "。"
    return see_other("offline.index")

