"""Sign-in, sign-out, the result of a verification, and the consented medical information."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for

from device_agent import messages
from device_agent.agent import NotEnrolled
from device_agent.client import ApiProblem, NetworkError, SessionExpired
from device_agent.ui import display
from device_agent.ui.common import agent, error_page, see_other, signed_in, state

bp = Blueprint("session", __name__)


@bp.get("/")
def home() -> Any:
    return see_other("verify.start" if state().signed_in else "session.login")


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
    return redirect(resume, code=303) if resume else see_other("verify.start")


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
    consent = visit.get("consent") or None
    seconds_left = None
    if consent and visit.get("medical_info_allowed"):
        # The server's time, not the tablet's: its created_at plus the time since the answer came.
        server_now = display.parse_time(visit.get("created_at"))
        closes = display.parse_time(consent.get("window_closes_at"))
        if server_now and closes:
            elapsed = agent().clock() - outcome.received_at
            seconds_left = (closes - server_now - elapsed).total_seconds()
    return render_template("result.html", visit=visit, q=visit.get("qualification") or {}, consent=consent,
                           seconds_left=seconds_left)


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
