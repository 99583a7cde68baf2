"""JWT signing keys: from configuration, or generated once and kept in the instance folder.

Several workers on one host share the generated file; several hosts must be
given the same ``MOBILE_API_JWT_KEYS`` (and rotate by adding a new kid, making it
active, and removing the old one after the access-token lifetime).
"""
from __future__ import annotations

import json
import os
import secrets

from flask import Flask


def jwt_keys(app: Flask) -> tuple[dict[str, str], str]:
    configured = app.config.get("JWT_KEYS")
    if configured:
        keys = dict(configured)
        return keys, app.config.get("JWT_ACTIVE_KID") or sorted(keys)[-1]
    os.makedirs(app.instance_path, exist_ok=True)
    path = os.path.join(app.instance_path, "jwt-keys.json")
    kid = "k" + secrets.token_hex(4)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({"active": kid, "keys": {kid: secrets.token_urlsafe(48)}}, handle)
    except FileExistsError:
        pass
    with open(path) as handle:
        stored = json.load(handle)
    return stored["keys"], stored["active"]
