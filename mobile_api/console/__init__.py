"""The institutions' web console at ``/console/`` (server-rendered Jinja, a little plain JavaScript; Japanese).

How a browser session counts (docs/console.md):
- It signs in with the same accounts as the API (``services/console_auth.py``) and holds a signed, HttpOnly,
  SameSite=Strict cookie with a random session id (the session itself is a row on the server, ended by logout,
  reset, role change, revocation and time); every request re-reads the session, the user (and device) from the
  database and builds a ``Principal``, then calls the SAME services as the API, so their access rules and audit
  rows apply as they are. Forms and filters are loaded through schemas first (``forms.py``).
- A plain browser session is a person without a device: an admin reads everything of the institution the API
  lets an admin read (visits and patient data, audit, claims), but not medical information, which the API
  gives only to a person signed in on a registered device. A staff member sees patient data only on one.
- A browser can itself be enrolled as a device with an activation code (the page generates a non-extractable
  P-256 key with WebCrypto, kept in the browser; the server keeps the public key): a sign-in from it carries a
  signed device assertion, and the session then counts as "on a registered device", as the agent does.

Guards: every POST carries the session's CSRF token (a hidden field, compared in constant time); no page may be
framed; scripts and styles come from this app only; nothing is cached (``web/page_headers.py``).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any

from flask import Blueprint, Flask, abort, make_response, render_template, request, session
from werkzeug.exceptions import HTTPException

from .. import keys
from ..web import page_headers

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates", static_folder="static",
               static_url_path="/static")


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


@bp.before_request
def check_csrf() -> None:
    if request.method == "POST":
        sent = request.form.get("csrf_token", "")
        expected = session.get("csrf") or ""
        if not expected or not hmac.compare_digest(str(sent), str(expected)):
            abort(400, description="csrf")


def harden(response: Any) -> Any:
    """Every answer under /console, a page of no route included (web/page_headers.py)."""
    return page_headers.harden(response) if request.path.startswith(bp.url_prefix or "/console") else response


@bp.app_context_processor
def common() -> dict[str, Any]:
    return {"csrf_token": csrf_token} if request.blueprint == "console" else {}


NO_SUCH_PAGE = {404: "このページはありません。URLを確認するか、メニューから選んでください。",
                405: "このページでは、この操作はできません。"}


def _page_or_problem(error: HTTPException) -> Any:
    """A mistyped console URL matches no view, so the console's own handlers never see it: a person gets a
    Japanese page, not the API's problem+json; every other path keeps the API's answer."""
    if request.path == "/console" or request.path.startswith("/console/"):
        page = render_template("console/error.html", message=NO_SUCH_PAGE[error.code or 404], status=error.code)
        return make_response(page, error.code or 404)  # harden() runs after it, as after every answer
    from ..api.problems import from_http_exception

    return from_http_exception(error)


def init_app(app: Flask) -> None:
    """The session key: CONSOLE_SECRET_KEY, else derived from the active JWT key (already checked to be strong),
    so several workers agree on it without another secret to manage."""
    secret = app.config.get("CONSOLE_SECRET_KEY")
    if not secret:
        jwt_keys, kid = keys.jwt_keys(app)
        secret = hmac.new(jwt_keys[kid].encode(), b"mobile-oqs console session", hashlib.sha256).hexdigest()
    app.secret_key = secret
    app.config["SESSION_COOKIE_NAME"] = "mobile_oqs_console"
    app.config["SESSION_COOKIE_PATH"] = "/console"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Strict"
    app.config["SESSION_COOKIE_SECURE"] = bool(app.config.get("CONSOLE_COOKIE_SECURE", False))
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(minutes=int(app.config.get("CONSOLE_SESSION_MINUTES", 480)))
    from . import client_pages, disaster, routes, usage  # noqa: F401  (views registered on bp)

    app.register_blueprint(bp)
    for code in NO_SUCH_PAGE:
        app.register_error_handler(code, _page_or_problem)
    app.after_request(harden)
