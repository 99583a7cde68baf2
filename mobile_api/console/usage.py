"""The console's usage-rate page (マイナ保険証利用率, docs/rules.md §4, the usage rate, seed 000): the month's rate and the counts
behind it, and the same CSV as ``GET /api/v1/usage-rate/csv`` (the same service, audited)."""
from __future__ import annotations

from typing import Any

from flask import render_template, request

from ..domain.japanese_dates import JST
from ..services import usage
from ..web.http import download
from . import bp
from .routes import rt, signed_in, who

COUNT_LABELS = (("card_visits", "カード（暗証番号・目視確認）", True), ("card_checks", "カード（機器での照会）", True),
                ("requeries", "再照会（カードなし）", False), ("disaster_lookups", "災害時の照会（カードなし）", False),
                ("identifier_checks", "被保険者番号等での照会", False),
                ("fallback_confirmed", "代替確認のオンライン確認", False))


@bp.get("/usage")
@signed_in
def usage_page() -> Any:
    month = request.args.get("month") or rt().clock().astimezone(JST).strftime("%Y-%m")
    shown = usage.for_month(rt(), who(), month)  # 422 for a malformed month, as the API
    return render_template("console/usage.html", u=shown, month=month, labels=COUNT_LABELS)


@bp.get("/usage.csv")
@signed_in
def usage_csv() -> Any:
    month = request.args.get("month", "")
    body = usage.to_csv(usage.for_month(rt(), who(), month))
    return download(body, f"usage-rate-{month}.csv")
