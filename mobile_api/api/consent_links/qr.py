"""The consent link's URL (its QR code is rendered by ``api/qr.py``)."""
from __future__ import annotations

from flask import current_app, request


def link_url(token: str) -> str:
    """The page's absolute URL: ``PUBLIC_BASE_URL`` when set (behind a proxy), else the request's host."""
    base = current_app.config.get("PUBLIC_BASE_URL") or request.host_url
    return f"{base.rstrip('/')}/p/{token}"

