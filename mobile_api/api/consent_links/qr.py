"""The consent link's URL and its QR code, as SVG and PNG (``qrcode``; PNG through Pillow)."""
from __future__ import annotations

import io

import qrcode
import qrcode.image.svg
from flask import current_app, request


def link_url(token: str) -> str:
    """The page's absolute URL: ``PUBLIC_BASE_URL`` when set (behind a proxy), else the request's host."""
    base = current_app.config.get("PUBLIC_BASE_URL") or request.host_url
    return f"{base.rstrip('/')}/p/{token}"


def qr_svg(data: str) -> str:
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=4)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue().decode()


def qr_png(data: str) -> bytes:
    from qrcode.image.pil import PilImage

    image = qrcode.make(data, image_factory=PilImage, box_size=8, border=4)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue()
