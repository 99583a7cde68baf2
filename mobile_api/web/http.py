"""Absolute URLs, downloads and the consent link's URL, for the API and the console alike."""
from __future__ import annotations

from flask import Response, current_app, request


def public_url(path: str) -> str:
    """``path`` as an absolute URL on ``PUBLIC_BASE_URL`` when set (behind a proxy), else on the request's host."""
    base = current_app.config.get("PUBLIC_BASE_URL") or request.host_url
    return base.rstrip("/") + path


def link_url(token: str) -> str:
    """A consent link's page (``/p/<token>``) as an absolute URL: what its QR code carries."""
    return public_url(f"/p/{token}")


def download(body: str | bytes, filename: str, mimetype: str = "text/csv; charset=utf-8") -> Response:
    """A file to save (the CSV and xlsx downloads of the API and the console): one place for the headers."""
    return Response(body, headers={"Content-Type": mimetype,
                                   "Content-Disposition": f'attachment; filename="{filename}"'})
