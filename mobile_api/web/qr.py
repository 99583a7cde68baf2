"""QR codes the API and the console hand out (device activation, consent links): SVG needs no image library; PNG uses pillow."""
from __future__ import annotations

import io

import qrcode
import qrcode.image.svg
from qrcode.image.pil import PilImage


def qr_svg(data: str) -> str:
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=4)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue().decode()


def qr_png(data: str, *, box_size: int = 10) -> bytes:
    image = qrcode.make(data, box_size=box_size, border=4, image_factory=PilImage)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
