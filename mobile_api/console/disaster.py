"""The console's disaster-time viewing page (docs/rules.md §3.5, seed 004): the declarations, and, while one is in
force for the institution's area, the lookup by identifiers with the patient's oral consent. The same service as
``POST /api/v1/disaster/lookups`` (staff on a registered device, audited); the result is the visit's page."""
from __future__ import annotations

import secrets
from datetime import date
from typing import Any

from flask import g, render_template, request

from ..domain.codes import CareType, InfoKind
from ..domain.disaster import DISASTER_KINDS, prefecture_of
from ..domain.errors import ValidationFailed
from ..services import disaster
from . import bp
from .routes import rt, see_other, signed_in, who


@bp.get("/disaster")
@signed_in
def disaster_page() -> Any:
    views = disaster.list_declarations(rt(), who(), limit=50, offset=0)
    active = [v for v in views if v.in_force and v.covers_institution]
    kinds = sorted(DISASTER_KINDS, key=lambda k: k.value, reverse=True)  # 薬剤情報 first
    return render_template("console/disaster.html", views=views, active=active, kinds=kinds,
                           on_device=who().device_id is not None, idempotency_key=secrets.token_hex(16),
                           prefecture=prefecture_of(g.console_institution.code))


@bp.post("/disaster/lookups")
@signed_in
def disaster_lookup() -> Any:
    form = request.form
    try:
        birth_date = date.fromisoformat(form.get("birth_date", ""))
    except ValueError:
        raise ValidationFailed("生年月日を YYYY-MM-DD で入力してください。", field="birth_date") from None
    cmd = disaster.DisasterLookup(
        insurer_number=form.get("insurer_number", ""), symbol=form.get("symbol") or None,
        number=form.get("number", ""), branch_number=form.get("branch_number") or None, birth_date=birth_date,
        kinds=frozenset(InfoKind(k) for k in form.getlist("kinds") if k in {i.value for i in InfoKind}),
        oral_consent=form.get("oral_consent") == "yes", care_type=CareType.OUTPATIENT,
        patient_reference=form.get("patient_reference") or None,
        raw={k: form.getlist(k) for k in sorted(form) if k not in ("csrf_token", "idempotency_key")})
    key = form.get("idempotency_key") or secrets.token_hex(16)  # the form's own key: a resent form, one visit
    view = disaster.lookup(rt(), who(), key, cmd)  # staff on a device; period, area and kinds judged; audited
    return see_other("console.visit_page", visit_id=view.id)
