"""A consent link for the patient's own phone, from the home screen (docs/rules.md §3.4, issue 19).

Staff choose what the link is for (online consultation or a later visit, with or without a planned date),
the tablet shows its QR code large for the patient to scan with their own phone, and the link's state
(waiting, consented, withdrawn, expired) as the server reports it. The QR code exists only on the device
that created the link (the server shows it once); it is served from memory as an image (CSP img-src 'self').
"""
from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Response, abort, render_template, request, url_for

from device_agent import consent_links, messages
from device_agent.client import ApiProblem, NetworkError, SessionExpired
from device_agent.ui.common import agent, error_page, see_other, signed_in, state

bp = Blueprint("links", __name__)
FAILURES = (ApiProblem, NetworkError, SessionExpired)


@bp.get("/consent-links")
@signed_in
def links() -> Any:
    return _links_page({}, None, 200)


def _links_page(form: dict[str, Any], error: str | None, status: int) -> Any:
    """The form to create a link (as typed, with why it was not sent) and this institution's links."""
    try:
        rows = consent_links.gather(agent().api, agent().now())
    except FAILURES as exc:
        return error_page(exc, back=url_for("care.day"), back_label="一覧に戻る", resume=url_for("links.links"))
    return render_template("links.html", rows=rows, form=form, error=error,
                           care_types=consent_links.CARE_TYPES), status


def _form() -> tuple[dict[str, Any], str | None]:
    """The chosen purpose, care type, planned date and note, or why they cannot be sent."""
    form: dict[str, Any] = {"purpose": request.form.get("purpose", "general"), "care_type": request.form.get("care_type", "3"),
            "planned_date": request.form.get("planned_date", "").strip(), "note": request.form.get("note", "").strip()}
    if form["purpose"] not in consent_links.PURPOSES or form["care_type"] not in ("2", "3"):
        return form, "リンクの用途を選んでください。"
    if form["purpose"] == "appointment":
        try:
            form["day"] = date.fromisoformat(form["planned_date"])
        except ValueError:
            return form, "診療予定日を選んでください。"
    return form, None


@bp.post("/consent-links")
@signed_in
def create() -> Any:
    form, error = _form()
    if error is None:
        try:
            made = consent_links.create(agent().api, purpose=form["purpose"], care_type=int(form["care_type"]),
                                        planned_date=form.get("day"), note=form["note"] or None)
        except ApiProblem as problem:
            if problem.status == 401:
                return error_page(problem, resume=url_for("links.links"))
            error = messages.describe(problem)
        except (NetworkError, SessionExpired) as exc:
            return error_page(exc, back=url_for("links.links"), back_label="戻る", resume=url_for("links.links"))
        else:
            state().link_codes[made.link["id"]] = (made.url, made.qr_svg)
            return see_other("links.show", link_id=made.link["id"])
    return _links_page(form, error, 422)


@bp.get("/consent-links/<link_id>")
@signed_in
def show(link_id: str) -> Any:
    """The QR code, large, and the link's state now (the page reloads it: 状態を更新)."""
    try:
        rows = consent_links.gather(agent().api, agent().now())
    except FAILURES as exc:
        return error_page(exc, back=url_for("links.links"), back_label="戻る", resume=request.path)
    row = next((r for r in rows if r.link["id"] == link_id), None)
    if row is None:
        abort(404)
    return render_template("link.html", row=row, has_code=link_id in state().link_codes,
                           care_types=consent_links.CARE_TYPES)


@bp.get("/consent-links/<link_id>/qr.svg")
@signed_in
def qr(link_id: str) -> Any:
    code = state().link_codes.get(link_id)
    if code is None:
        abort(404)
    return Response(code[1], mimetype="image/svg+xml")
