"""The nurse's home screen: today's visits and the patients in continuing care, and the second visit.

再照会 (re-query, docs/rules.md §3.2), 終了 (discharge) and the withdrawal recorded by staff (§3.3) each
open a page that says what will happen and asks for a tap before anything is sent (a GET never sends).
The lists come from the server (``device_agent/care.py``); the countdowns run on the server's time.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request, url_for

from device_agent import care, messages
from device_agent.client import ApiProblem, NetworkError, SessionExpired
from device_agent.ui import display
from device_agent.ui.common import agent, error_page, see_other, signed_in, state
from device_agent.ui.state import Outcome

bp = Blueprint("care", __name__)
ACTIONS = ("requery", "discharge", "withdraw")
FAILURES = (ApiProblem, NetworkError, SessionExpired)


@bp.get("/day")
@signed_in
def day() -> Any:
    try:
        listed = care.gather(agent().api, agent().now())
    except FAILURES as exc:
        return error_page(exc, back=url_for("verify.start"), back_label="資格確認へ", resume=url_for("care.day"))
    return render_template("day.html", day=listed, notice=state().take_notice())


def _row(action: str, key: str, resume: str | None = None) -> care.Row | Any:
    """The patient the action is for, read from the server now; or the page that says why not (a key that is
    no longer listed, an action that doesn't exist, the server out of reach)."""
    if action not in ACTIONS:
        return see_other("care.day")
    try:
        listed = care.gather(agent().api, agent().now())
        return listed.visit(key) if action == "withdraw" else listed.patient(key)
    except care.UnknownPatient:
        return _unknown()
    except FAILURES as exc:
        return error_page(exc, back=url_for("care.day"), back_label="一覧に戻る", resume=resume)


@bp.get("/care/<key>/<action>")
@signed_in
def confirm(key: str, action: str) -> Any:
    """What the action will do, for this patient; the button sends it."""
    row = _row(action, key, resume=request.path)
    if not isinstance(row, care.Row):
        return row
    return render_template("care_confirm.html", action=action, row=row, key=key, error=None)


def _unknown() -> Any:
    return render_template("error.html", message=UNKNOWN, back=url_for("care.day"), back_label="一覧に戻る"), 404


UNKNOWN = "この患者は一覧にありません（すでに終了したか、同意が取り消されています）。一覧を開き直してください。"


@bp.post("/care/<key>/<action>")
@signed_in
def send(key: str, action: str) -> Any:
    row = _row(action, key)
    if not isinstance(row, care.Row):
        return row
    if action == "discharge" and not request.form.get("reason", "").strip():
        return render_template("care_confirm.html", action=action, row=row, key=key,
                               error="終了の理由を入力してください（例: 入院のため訪問診療を終了）。"), 422
    try:
        return _do(action, row)
    except ApiProblem as problem:
        if problem.status == 401:
            return error_page(problem, resume=url_for("care.day"))
        return render_template("care_confirm.html", action=action, row=row, key=key,
                               error=messages.describe(problem)), 422
    except (NetworkError, SessionExpired) as exc:
        return error_page(exc, back=url_for("care.day"), back_label="一覧に戻る", resume=url_for("care.day"))


def _do(action: str, row: care.Row) -> Any:
    if action == "requery":
        chosen = [k for k in request.form.getlist("kinds") if k in row.card_kinds]  # never wider
        visit = care.requery(agent().api, row, chosen if 0 < len(chosen) < len(row.card_kinds) else None)
        now = agent().now()
        state().new_visit()
        state().outcome = Outcome(visit, now, now)
        return see_other("session.result")
    if action == "discharge":
        ended = care.discharge(agent().api, row, request.form["reason"].strip())
        state().notice = (f"{row.name}さんの継続的な訪問診療等を終了しました（{display.jst(ended['ended_at'])}）。"
                          "次の訪問では、マイナンバーカードで資格確認してください。")
        return see_other("care.day")
    done = care.withdraw(agent().api, row, request.form.get("note", "").strip() or None)
    state().notice = (f"{row.name}さんの申し出により、この施設でのすべての同意を取り消しました"
                      f"（{display.jst(done['withdrawn_at'])}）。医療情報はもう閲覧できません。")
    return see_other("care.day")

