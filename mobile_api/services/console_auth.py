"""Signing in to the web console: the same accounts and password check as the API's login, a lock-out after
repeated failures, and a principal re-read from the database on every request (docs/console.md).

A console session carries no token: the browser holds a signed session cookie naming the user (and, when the
browser itself was enrolled as a device, the device). Each request resolves it to a ``Principal`` exactly as
``principal.authenticate`` resolves a token, so a revoked user or device is out on the next request and every
page runs the API's own access rules.

Wrong passwords count against the one lock-out of every entry (services/lockout.py): an account locked
through the API cannot sign in here, and the other way round.
"""
from __future__ import annotations

from ..domain.codes import Role
from ..domain.errors import Unauthenticated
from ..runtime import Runtime
from . import audit, devices, identity, lockout, principal
from .principal import Principal

CHANNEL = "console"


def sign_in(rt: Runtime, *, institution_code: str, login: str, password: str,
            device_assertion: str | None = None, source: str | None = None) -> Principal:
    """Check the password exactly as the API's login does (``identity.check_password``: throttle, lock-out,
    audit), then the browser's device assertion if it was enrolled as a device."""
    lockout.throttle(rt, source)
    now = rt.clock()
    with rt.uow() as uow:
        user = identity.check_password(rt, uow, institution_code=institution_code, login=login, password=password,
                                       source=source, now=now, channel=CHANNEL)
        device_id = None
        if device_assertion:
            device = devices.check_assertion(rt, uow, device_assertion)
            if device.institution_id != user.institution_id:
                raise Unauthenticated("この端末はこの医療機関等に登録されていません。")
            device_id = device.id
        audit.record(uow, at=now, action="auth.login", institution_id=user.institution_id, user_id=user.id,
                     device_id=device_id, login=login, channel=CHANNEL)
        uow.commit()
        return Principal(institution_id=user.institution_id, user_id=user.id, role=Role(user.role),
                         device_id=device_id)


def resolve(rt: Runtime, *, institution_id: str, user_id: str, device_id: str | None) -> Principal:
    """The session's principal, re-read now, exactly as ``principal.authenticate`` resolves a token."""
    return principal.resolve(rt, institution_id=institution_id, user_id=user_id, device_id=device_id)
