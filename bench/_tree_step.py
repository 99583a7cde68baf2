"""One in-process seeding step with the ``mobile_api`` of the source tree on PYTHONPATH (bench/server_load.py).

    PYTHONPATH=TREE python bench/_tree_step.py institution DATABASE_URL [FACILITY_KIND [CODE]]  # prints {"code"}
    PYTHONPATH=TREE python bench/_tree_step.py card DATABASE_URL      # prints {"certificate", "private_key"}

Why a subprocess: the operator's steps (an institution with its admin, a card from the sandbox CA) run the app's
own code against the database, and with ``--before REV`` that database has REV's schema, so the code must be
REV's too. Run as a script, this folder (``_seed``) is on the path, and ``mobile_api`` comes from PYTHONPATH.
"""
from __future__ import annotations

import json
import sys

import _seed  # type: ignore[import-not-found]  # this folder, as a script's sys.path[0]
from cryptography.hazmat.primitives import serialization


def main(argv: list[str]) -> int:
    step, database_url, *rest = argv
    if step == "institution":
        kind = rest[0] if rest else "home_visit_care"
        print(json.dumps({"code": _seed.create_institution(database_url, rest[1] if len(rest) > 1 else None,
                                                           facility_kind=kind)}))
    elif step == "card":
        card = _seed.issue_card(database_url)
        key = card.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()).decode()
        print(json.dumps({"certificate": _seed.b64(card.certificate_der), "private_key": key}))
    else:
        raise SystemExit(f"unknown step {step!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
