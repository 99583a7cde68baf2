"""What the activation QR code carries (the code itself is rendered by ``api/qr.py``)."""
from __future__ import annotations

from urllib.parse import parse_qs, urlparse

SCHEME = "mobileoqs"


def activation_uri(code: str) -> str:
    return f"{SCHEME}://enrol?code={code}"


def code_from_uri(uri: str) -> str | None:
    parsed = urlparse(uri.strip())
    if parsed.scheme != SCHEME or parsed.netloc != "enrol":
        return None
    codes = parse_qs(parsed.query).get("code", [])
    return codes[0] if codes and codes[0].isdigit() and len(codes[0]) == 12 else None

