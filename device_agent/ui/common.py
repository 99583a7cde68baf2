"""Helpers shared by the UI's routes: the per-app objects, the sign-in guard, the error page."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import current_app, redirect, render_template, url_for

from device_agent import messages
from device_agent.agent import Agent, CardSource
from device_agent.client import ApiProblem
from device_agent.ui.state import UiState


def agent() -> Agent:
    return current_app.extensions["touch_ui"]["agent"]


def card_source() -> CardSource:
    return current_app.extensions["touch_ui"]["card_source"]


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


def error_page(error: BaseException, *, back: str | None = None, back_label: str = "戻る",
               status: int = 200) -> Any:
    """Every failure as the plain Japanese message, with a way back; a stale login goes to the login page."""
    if isinstance(error, ApiProblem) and error.slug == "unauthenticated":
        agent().api.access_token = None
        state().sign_out()
        back, back_label = url_for("session.login"), "ログイン画面へ"
    return render_template("error.html", message=messages.describe(error), back=back,
                           back_label=back_label), status
