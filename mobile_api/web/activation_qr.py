"""What the activation QR code carries (the code itself is rendered by ``web/qr.py``)."""
from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlparse

SCHEME = "mobileoqs"


def activation_uri(code: str, server: str | None = None) -> str:
    """The code, and the server's public URL when known, so the device is given the URL, not left to guess it
    (issue 19; ``web/http.public_url``)."""
    query = {"code": code, **({"server": server.rstrip("/")} if server else {})}
    return f"{SCHEME}://enrol?{urlencode(query)}"


def code_from_uri(uri: str) -> str | None:
    parsed = urlparse(uri.strip())
    if parsed.scheme != SCHEME or parsed.netloc != "enrol":
        return None
    codes = parse_qs(parsed.query).get("code", [])
    return codes[0] if codes and codes[0].isdigit() and len(codes[0]) == 12 else None

