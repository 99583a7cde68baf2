"""Helpers shared by the UI's routes: the per-app objects, the sign-in guard, the error page."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import current_app, redirect, render_template, request, url_for

from device_agent import messages
from device_agent.agent import Agent, CardSource
from device_agent.card.transport import CardError
from device_agent.client import ApiProblem, SessionExpired
from device_agent.ui.state import UiState


def agent() -> Agent:
    return current_app.extensions["touch_ui"]["agent"]


def card_source() -> CardSource:
    return current_app.extensions["touch_ui"]["card_source"]


def reader_status() -> str | None:
    """The reader a card read would use and whether a card is on it, or why there is none (None: virtual card)."""
    reader = getattr(card_source(), "reader", None)
    if reader is None:
        return None
    try:
        found = reader()
    except CardError as error:
        return messages.describe(error)
    return f"{found.spec}（{found.card_state}）"


def state() -> UiState:
    return current_app.extensions["touch_ui"]["state"]


def see_other(endpoint: str, **values: Any) -> Any:
    """Post/redirect/get: a reload never sends a form (or a PIN) twice."""
    return redirect(url_for(endpoint, **values), code=303)


def signed_in(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not state().signed_in:
            return see_other("session.login")
        return view(*args, **kwargs)
    return wrapper


def login_ran_out(error: BaseException) -> bool:
    return isinstance(error, SessionExpired) or (isinstance(error, ApiProblem) and error.status == 401)


def to_login(resume_path: str | None = None) -> Any:
    """The login ran out (its refresh was refused): sign in again, the visit kept for the same person."""
    agent().api.forget_session()
    if resume_path is None:
        resume_path = request.path if request.method == "GET" else None
    state().expire(resume_path)
    state().notice = messages.SESSION_EXPIRED
    return see_other("session.login")


def error_page(error: BaseException, *, back: str | None = None, back_label: str = "戻る",
               status: int = 200, resume: str | None = None) -> Any:
    """Every failure as the plain Japanese message, with a way back; a stale login goes to the login page
    (``resume``: the page to come back to afterwards)."""
    if login_ran_out(error):
        return to_login(resume or back)
    explained = messages.explain(error)
    return render_template("error.html", message=explained.text, heading=explained.heading, back=back,
                           back_label=back_label, fallbacks=messages.fallbacks_of(error)), status
