"""Sign-in, sign-out, the result of a verification, and the consented medical information."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for

from device_agent import messages
from device_agent.agent import NotEnrolled
from device_agent.client import ApiProblem, NetworkError, SessionExpired
from device_agent.ui import display
from device_agent.ui.common import agent, error_page, see_other, signed_in, state
from device_agent.ui.state import Outcome

bp = Blueprint("session", __name__)


@bp.get("/")
def home() -> Any:
    return see_other("care.day" if state().signed_in else "session.login")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        return render_template("login.html", enrolled=agent().enrolled, error=None, notice=state().take_notice(),
                               login=state().expired_login or "")
    login_id = request.form.get("login", "").strip()
    password = request.form.get("password", "")
    try:
        if not agent().enrolled:
            raise NotEnrolled("この端末はまだ登録されていません。")
        agent().login(login_id, password)
        institution = agent().api.institution()
    except NotEnrolled:
        return render_template("login.html", enrolled=False, error=None, login=login_id), 409
    except (ApiProblem, NetworkError, SessionExpired) as exc:
        status = 503 if isinstance(exc, NetworkError) else 401
        return render_template("login.html", enrolled=True, error=messages.describe(exc), login=login_id), status
    finally:
        del password
    state().institution = institution
    resume = state().resume_for(login_id)  # the same person after an expired login carries on
    state().staff_login = login_id
    state().notice = agent().clock_notice() or state().notice  # once a day: this device's clock is off
    return redirect(resume, code=303) if resume else see_other("care.day")  # the home screen: today's visits


@bp.post("/logout")
def logout() -> Any:
    agent().api.forget_session()
    state().sign_out()
    return see_other("session.login")


@bp.get("/result")
@signed_in
def result() -> Any:
    outcome = state().outcome
    if outcome is None:
        return see_other("verify.start")
    visit = outcome.visit
    unavailable = {k["kind"]: k["reason"] for k in visit.get("unavailable_kinds") or []}  # e.g. 健診 under 40
    return render_template("result.html", visit=visit, q=visit.get("qualification") or {},
                           consent=visit.get("consent") or None, seconds_left=seconds_left(outcome, agent().now()),
                           unavailable=unavailable)


def seconds_left(outcome: Outcome, now: datetime) -> float | None:
    """Time left in the consent's viewing window, on the server's time: its time when it answered (a new
    visit: created_at) plus the time since, measured by ``now`` (``Agent.now``, the server's time)."""
    consent = outcome.visit.get("consent")
    if not consent or not outcome.visit.get("medical_info_allowed"):
        return None
    server_then = outcome.server_time or display.parse_time(outcome.visit.get("created_at"))
    closes = display.parse_time(consent.get("window_closes_at"))
    if server_then is None or closes is None:
        return None
    return (closes - server_then - (now - outcome.received_at)).total_seconds()


@bp.get("/visits")
@signed_in
def visits() -> Any:
    """Today's and the last 24 hours' visits, from the server (so they survive a restart of this device)."""
    now = agent().now()
    try:
        listed = agent().api.visits(limit=200)
    except (ApiProblem, NetworkError, SessionExpired) as exc:
        return error_page(exc, back=url_for("verify.start"), back_label="資格確認に戻る",
                          resume=url_for("session.visits"))
    today: list[dict[str, Any]] = []
    earlier: list[dict[str, Any]] = []
    for visit in listed:
        created = display.parse_time(visit.get("created_at"))
        if created is None or now - created > timedelta(hours=24):
            continue
        seconds = seconds_left(Outcome(visit, now, now), now)
        visit = {**visit, "seconds_left": seconds, "window_open": bool(seconds and seconds > 0)}
        same_day = created.astimezone(display.JST).date() == now.astimezone(display.JST).date()
        (today if same_day else earlier).append(visit)
    groups = [(title, group) for title, group in (("今日", today), ("昨日から24時間以内", earlier)) if group]
    return render_template("visits.html", groups=groups, error=None)


@bp.get("/visits/<visit_id>")
@signed_in
def visit(visit_id: str) -> Any:
    """Reopen a visit: its result, and its medical information while the viewing window is open."""
    try:
        found = agent().api.visit(visit_id)
    except (ApiProblem, NetworkError, SessionExpired) as exc:
        return error_page(exc, back=url_for("session.visits"), back_label="一覧に戻る",
                          resume=url_for("session.visit", visit_id=visit_id))
    now = agent().now()
    state().new_visit()
    state().outcome = Outcome(found, now, now)
    return see_other("session.result")


@bp.get("/medical/<kind>")
@signed_in
def medical(kind: str) -> Any:
    outcome = state().outcome
    if outcome is None:
        return see_other("verify.start")
    if kind not in display.KINDS:
        abort(404)
    try:
        info = agent().api.medical_information(outcome.visit["id"], kind)
    except (ApiProblem, NetworkError, SessionExpired) as exc:
        return error_page(exc, back=url_for("session.result"), back_label="確認結果に戻る",
                          resume=url_for("session.medical", kind=kind))
    return render_template("medical.html", kind=kind, info=info, visit=outcome.visit)
