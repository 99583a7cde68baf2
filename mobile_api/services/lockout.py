"""One lock-out for every way in: the API's login, the console's sign-in and the OAuth token endpoint
(docs/rules.md, "Sign-in lock-out").

Failures are counted per account (``user:<id>``), per machine client (``client:<id>``) and, for accounts or
clients that do not exist, per source address (``source:<address>``), in a table of their own
(``sign_in_lockouts``), never in the audit log: no number of other attempts can push a failure out of the count.
After ``SIGN_IN_MAX_FAILURES`` failures within ``SIGN_IN_FAILURE_WINDOW_MINUTES`` the key is locked for
``SIGN_IN_LOCK_MINUTES``; attempts while locked are refused without looking at the secret and are not counted,
so flooding a locked account neither unlocks it nor keeps it locked longer. The lock ends at its instant by the
server's clock, or earlier when an administrator lifts it (audited). The account's key is the same whichever
entry counted the failures, so an account locked through the console cannot sign in through the API.

In front of all this a per-source throttle (``SIGN_IN_RATE_LIMIT``, the ``limits`` store shared by every worker)
answers 429 before any password hashing, so guessing costs the guesser, not the server.
"""
from __future__ import annotations

import math
from datetime import datetime

from ..adapters.repository import UnitOfWork
from ..domain.errors import SignInLocked
from ..runtime import Runtime
from . import audit
from .principal import Principal

LOCK_ACTION = "auth.lock"
UNLOCK_ACTION = "auth.unlock"
THROTTLE_SCOPE = "sign-in"


def user_key(user_id: str) -> str:
    return f"user:{user_id}"


def client_key(client_id: str) -> str:
    return f"client:{client_id}"


def source_key(address: str | None) -> str:
    return f"source:{(address or 'unknown')[:64]}"


def throttle(rt: Runtime, source: str | None) -> None:
    """Count one sign-in attempt of ``source``; past ``SIGN_IN_RATE_LIMIT`` raise ``RateLimited`` (429 with
    ``Retry-After``). Called before anything reads a password hash."""
    if rt.sign_in_throttle is not None:
        rt.sign_in_throttle.hit(THROTTLE_SCOPE, source or "unknown", subject="この接続元からのログイン")


def refuse_if_locked(uow: UnitOfWork, keys: list[str], now: datetime) -> None:
    """Raise ``SignInLocked`` if any of ``keys`` is locked at ``now`` (the lock ends at its instant)."""
    for key in keys:
        until = uow.sign_in_lockouts.locked_until(key, now)
        if until is not None:
            minutes = max(1, math.ceil((until - now).total_seconds() / 60))
            raise SignInLocked(f"ログインに続けて失敗したため、ロックされています。約{minutes}分後にもう一度お試しいただくか、"
                               "管理者にロックの解除を依頼してください。", rule="sign-in-lock-out",
                               locked_until=until.isoformat(), retry_after=math.ceil((until - now).total_seconds()))


def count_failure(rt: Runtime, uow: UnitOfWork, key: str, now: datetime, *,
                  institution_id: str | None, entry: str) -> None:
    """Count a wrong secret for ``key`` in the caller's unit of work (committed with its refusal's audit row);
    the failure that reaches the limit locks the key and is audited as ``auth.lock``."""
    rules = rt.rules
    failures = uow.sign_in_lockouts.count_failure(key, now=now, window_start=now - rules.sign_in_failure_window)
    if failures >= rules.sign_in_max_failures:
        until = now + rules.sign_in_lock
        if uow.sign_in_lockouts.lock(key, max_failures=rules.sign_in_max_failures, until=until):
            kind, _, subject = key.partition(":")
            audit.record(uow, at=now, action=LOCK_ACTION, institution_id=institution_id, target_type=kind,
                         target_id=subject, entry=entry, failures=failures, locked_until=until.isoformat())


def forget_failures(uow: UnitOfWork, key: str, now: datetime) -> None:
    """A successful sign-in: the count starts again."""
    uow.sign_in_lockouts.forget(key, now)


def unlock_user(rt: Runtime, actor: Principal, user_id: str) -> bool:
    """An admin lifts a staff member's lock (and count) at once; audited. True if there was one."""
    actor.require_admin()
    now = rt.clock()
    with rt.uow() as uow:
        uow.users.owned(user_id, actor.institution_id, "スタッフが見つかりません。")
        lifted = uow.sign_in_lockouts.unlock(user_key(user_id))
        audit.record(uow, at=now, action=UNLOCK_ACTION, institution_id=actor.institution_id, user_id=actor.user_id,
                     device_id=actor.device_id, target_type="user", target_id=user_id, lifted=lifted)
        uow.commit()
        return lifted


def unlock_source(rt: Runtime, address: str) -> bool:
    """An operator (``flask staff unlock --source``) lifts the lock of a source address; audited."""
    now = rt.clock()
    with rt.uow() as uow:
        lifted = uow.sign_in_lockouts.unlock(source_key(address))
        audit.record(uow, at=now, action=UNLOCK_ACTION, target_type="source", target_id=address[:64],
                     lifted=lifted, channel="cli")
        uow.commit()
        return lifted
