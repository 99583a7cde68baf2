"""What the activation QR code carries, and the QR code itself (SVG, no image library needed; PNG with pillow)."""
from __future__ import annotations

import io
from urllib.parse import parse_qs, urlparse

import qrcode
import qrcode.image.svg

SCHEME = "mobileoqs"


def activation_uri(code: str) -> str:
    return f"{SCHEME}://enrol?code={code}"


def code_from_uri(uri: str) -> str | None:
    parsed = urlparse(uri.strip())
    if parsed.scheme != SCHEME or parsed.netloc != "enrol":
        return None
    codes = parse_qs(parsed.query).get("code", [])
    return codes[0] if codes and codes[0].isdigit() and len(codes[0]) == 12 else None


def activation_qr_svg(uri: str) -> str:
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=4)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue().decode()


def activation_qr_png(uri: str) -> bytes:
    """The same QR code as PNG (pillow, in the server extra): for `flask device create --qr-png`, which the
    agent's `device-agent enroll --qr FILE` reads."""
    image = qrcode.make(uri, box_size=10, border=4)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
