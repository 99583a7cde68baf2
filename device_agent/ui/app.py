"""The touch UI's Flask app: configuration, local-only guards, and the error page.

Guards, because any web page the tablet opens could send requests to 127.0.0.1:
- only the Host names 127.0.0.1 and localhost are served (no DNS rebinding);
- every POST carries the per-process random CSRF token from a hidden field;
- no page may be framed, scripts and styles come from this app only, nothing is cached.
"""
from __future__ import annotations

from typing import Any

from flask import Flask, Response, abort, render_template, request
from werkzeug.exceptions import HTTPException

from device_agent import messages
from device_agent.agent import Agent, CardSource
from device_agent.ui import display
from device_agent.ui.state import UiState

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")


def create_ui_app(agent: Agent, card_source: CardSource) -> Flask:
    """Build the UI for one agent; ``card_source()`` opens one card session (virtual or NFC reader)."""
    app = Flask(__name__)
    app.config.update(TRUSTED_HOSTS=["127.0.0.1", "localhost"], MAX_CONTENT_LENGTH=64 * 1024,
                      TEMPLATES_AUTO_RELOAD=False, JSON_AS_ASCII=False)
    state = UiState()
    app.extensions["touch_ui"] = {"agent": agent, "card_source": card_source, "state": state}

    @app.before_request
    def check_csrf() -> None:
        if request.method == "POST" and not state.csrf_ok(request.form.get("csrf_token", "")):
            abort(400)

    @app.after_request
    def harden(response: Any) -> Any:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.context_processor
    def common() -> dict[str, Any]:
        return {"csrf_token": state.csrf_token, "state": state, "d": display}

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        text = {400: "この操作は受け付けられませんでした。画面を開き直してから、もう一度お試しください。",
                404: "このページはありません。"}.get(error.code or 500, "この操作はできません。")
        if request.url_rule is None and error.code == 400:  # e.g. an untrusted Host: no page, no links
            return Response(text, 400, mimetype="text/plain")
        return render_template("error.html", message=text), error.code or 500

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Any:
        from device_agent.ui.common import login_ran_out, to_login

        if login_ran_out(error):
            return to_login()
        app.logger.error("touch UI: unexpected %s", type(error).__name__)  # never the request body
        explained = messages.explain(error)
        return render_template("error.html", message=explained.text, heading=explained.heading), 500

    from device_agent.ui import routes_care, routes_links, routes_offline, routes_session, routes_verify

    app.register_blueprint(routes_session.bp)
    app.register_blueprint(routes_verify.bp)
    app.register_blueprint(routes_offline.bp)
    app.register_blueprint(routes_care.bp)
    app.register_blueprint(routes_links.bp)
    return app
