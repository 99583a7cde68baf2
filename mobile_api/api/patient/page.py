"""The patient's page (like マイナ在宅受付Web): Japanese, for a phone (360 px), no login.

Served by mobile_api at ``/p/<token>`` (the URL in the link's QR code). The page itself only shows and
asks; everything it does goes through the JSON of ``api/patient/routes.py``.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, render_template

from ...domain.codes import InfoKind
from ...domain.consent import INFO_KIND_LABELS_JA
from ...domain.errors import DomainError
from ...domain.japanese_dates import jst_text
from ...services import patient_phone
from ...web import page_headers
from ..core import runtime

page = Blueprint("patient_page", __name__, template_folder="templates", static_folder="static",
                 static_url_path="/p-static")

KIND_NOTES_JA = {
    InfoKind.MEDICATION: "処方・調剤された薬の情報",
    InfoKind.CHECKUPS: "特定健診・後期高齢者健診の結果（40歳以上の方）",
    InfoKind.CLINICAL: "受けた診療行為、アレルギー、検査などの情報",
    InfoKind.SURGERY: "手術の情報（傷病名・感染症を含むことがあります）",
}


@page.after_request
def harden(response: Any) -> Any:
    """CSP without inline scripts, no framing, no Referer (the token is in the URL), no-store (web/page_headers.py).
    The page's script calls the JSON on PUBLIC_BASE_URL, which may be another origin than the page's."""
    base = urlsplit(current_app.config.get("PUBLIC_BASE_URL") or "")
    return page_headers.harden(response, connect_origin=f"{base.scheme}://{base.netloc}" if base.netloc else None)


@page.get("/p/<token>")
def patient_page(token: str) -> Any:
    try:
        opened = patient_phone.open_link(runtime(), token)
    except DomainError as refusal:
        return render_template("patient_gone.html", detail=refusal.detail), refusal.status
    planned = opened.link.planned_date
    return render_template(
        "patient.html", token=token, institution=opened.institution.name, purpose=opened.link.purpose,
        planned=f"{planned.year}年{planned.month}月{planned.day}日" if planned else None,
        expires=jst_text(opened.link.expires_at),
        kinds=[(k.value, INFO_KIND_LABELS_JA[k], KIND_NOTES_JA[k]) for k in InfoKind if k is not InfoKind.SURGERY],
        surgery=(InfoKind.SURGERY.value, INFO_KIND_LABELS_JA[InfoKind.SURGERY], KIND_NOTES_JA[InfoKind.SURGERY]),
        labels={k.value: INFO_KIND_LABELS_JA[k] for k in InfoKind})
