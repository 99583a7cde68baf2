"""Strip the random values a page, a log line or a request body carries before looking for a secret in it.

A four-digit PIN is a short string: "1234" turns up by chance inside a UUID ("62512343-…"), a hex nonce, a
signature or a random port (":41234") about once in a few hundred runs. A test that looks for the PIN must look
at the text the product wrote, not at what chance wrote into it.
"""
from __future__ import annotations

import re

RANDOM_VALUES = re.compile(
    r'name="(?:csrf_token|attempt)" value="[^"]*"'  # a form's one-time values
    r"|[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"  # UUIDs
    r"|[A-Za-z0-9_-]{16,}"  # nonces, signatures and tokens (URL-safe base64, or pieces), random file names
    r"|(?:127\.0\.0\.1|localhost):\d{1,5}"  # a loopback server's random port
)


def scrub(text: str) -> str:
    return RANDOM_VALUES.sub("", text)
