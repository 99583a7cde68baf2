"""Signing in to the web console: the same accounts and password check as the API's login, a lock-out after
repeated failures, and a principal re-read from the database on every request (docs/console.md).

A console session is kept on the server (``console_sessions``): the browser's cookie holds only a random token,
the table its SHA-256 with the user (and, when the browser itself was enrolled as a device, the device). Each
request resolves it to a ``Principal`` exactly as ``principal.authenticate`` resolves a token, so a revoked user
or device is out on the next request and every page runs the API's own access rules. A session ends at logout,
when an admin resets the user's password, changes their role or revokes them (``identity``), when idle for
CONSOLE_IDLE_MINUTES and CONSOLE_SESSION_MINUTES after sign-in, to the second on the server's clock
(docs/rules.md §2.3).

Wrong passwords count against the one lock-out of every entry (services/lockout.py): an account locked
through the API cannot sign in here, and the other way round.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ..adapters import orm
from ..adapters.tokens import new_opaque_token, sha256_hex
from ..domain.codes import Role
from ..domain.errors import Unauthenticated
from ..runtime import Runtime
from . import audit, devices, identity, lockout, principal
from .principal import Principal

CHANNEL = "console"


@dataclass(frozen=True)
class SessionLimits:
    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(minutes=480)


class SessionEnded(Unauthenticated):
    slug = "console-session-ended"
    title = "ログインの有効期限が切れました。"


_ENDED = {"idle": "しばらく操作がなかったため、ログアウトしました。もう一度ログインしてください。",
          "expired": "ログインの有効期限が切れました。もう一度ログインしてください。"}


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


def start_session(rt: Runtime, who: Principal, limits: SessionLimits) -> str:
    """A new session for a principal that has just signed in: a new random token for the cookie (never one the
    browser brought: no fixation); only its hash is stored."""
    token = new_opaque_token()
    now = rt.clock()
    with rt.uow() as uow:
        assert who.user_id is not None
        uow.console_sessions.add(orm.ConsoleSession(
            token_hash=sha256_hex(token), institution_id=who.institution_id, user_id=who.user_id,
            device_id=who.device_id, created_at=now, last_seen_at=now, expires_at=now + limits.absolute))
        uow.commit()
    return token


def resume(rt: Runtime, token: str, limits: SessionLimits) -> Principal:
    """The session's principal, re-read now. Refused (``SessionEnded``) once the session was ended, idle for
    ``limits.idle`` or ``limits.absolute`` after sign-in (the moment itself included); a revoked user or device
    ends it too. Each page seen restarts the idle limit."""
    now = rt.clock()
    with rt.uow() as uow:
        row = uow.console_sessions.by_token_hash(sha256_hex(token))
        if row is None or row.ended_at is not None:
            raise SessionEnded("ログアウトしました。もう一度ログインしてください。", rule="console-session")
        reason = _ended_by_time(row, limits, now)
        if reason is not None:
            uow.console_sessions.end_where(now, reason, id=row.id)
            uow.commit()
            raise SessionEnded(_ENDED[reason], rule="console-session")
        try:
            who = principal.resolve(rt, institution_id=row.institution_id, user_id=row.user_id,
                                    device_id=row.device_id)
        except Unauthenticated:
            uow.console_sessions.end_where(now, "revoked", id=row.id)
            uow.commit()
            raise
        row.last_seen_at = now
        uow.commit()
        return who


def _ended_by_time(row: orm.ConsoleSession, limits: SessionLimits, now: datetime) -> str | None:
    """"idle" or "expired", whichever limit came first, once ``now`` has reached it; else None."""
    idle_until = row.last_seen_at + limits.idle
    ends = min((idle_until, "idle"), (row.expires_at, "expired"))
    return ends[1] if now >= ends[0] else None


def end_session(rt: Runtime, token: str) -> None:
    """Logout: the session is ended on the server, so a copy of the cookie is worth nothing after it."""
    now = rt.clock()
    with rt.uow() as uow:
        uow.console_sessions.end_where(now, "logout", token_hash=sha256_hex(token))
        uow.commit()
