"""The consent link's URL (its QR code is rendered by ``api/qr.py``)."""
from __future__ import annotations

from ..core import public_url


def link_url(token: str) -> str:
    """The page's absolute URL: ``PUBLIC_BASE_URL`` when set (behind a proxy), else the request's host."""
    return public_url(f"/p/{token}")

