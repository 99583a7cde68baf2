"""The headers of every HTML page a person opens (the console, the patient's page at ``/p/<token>``) and of
their static files: scripts and styles only from this app's files (no inline script or style, so an injected
one does not run), no framing (click-jacking), no Referer (the patient's link token is in the URL), nothing
cached (patient data on a shared or lost phone), no content sniffing."""
from __future__ import annotations

from typing import Any

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'{connect}; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def harden(response: Any, *, connect_origin: str | None = None) -> Any:
    """Set the headers on ``response``; ``connect_origin``: another origin the page's script may call (the
    public origin, when PUBLIC_BASE_URL is not the page's own)."""
    response.headers["Content-Security-Policy"] = CSP.format(connect=f" {connect_origin}" if connect_origin else "")
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response
