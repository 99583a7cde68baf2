"""The institution's visual-mode (目視確認モード) password: checked at each visual check, locked
after too many consecutive failures until an admin unlocks or rotates it (docs/rules.md).

The count lives on the institution and is changed in units of work of their own: a wrong
password refuses the verification, whose own work is rolled back, but the failure must stay
counted. The increment is atomic (``failures = failures + 1``), so failures arriving together
are all counted, and exactly one of them records the lock.
"""
from __future__ import annotations

from ..adapters import orm
from ..domain.errors import VisualPasswordLocked, VisualPasswordWrong
from ..runtime import Runtime
from . import audit
from .principal import Principal

LOCK_ACTION = "institution.visual_password.lock"
UNLOCK_ACTION = "institution.visual_password.unlock"


def check(rt: Runtime, actor: Principal, institution: orm.Institution, password: str | None) -> None:
    """Pass, or raise ``VisualPasswordWrong`` (counted) or ``VisualPasswordLocked``."""
    if institution.visual_password_locked_at is not None:
        raise VisualPasswordLocked()
    if password and rt.passwords.verify(institution.visual_password_hash, password):
        with rt.uow() as uow:
            reset = uow.institutions.reset_visual_password_failures(institution.id)
            uow.commit()
        if not reset:  # locked by a concurrent failure since we looked
            raise VisualPasswordLocked()
        return
    now = rt.clock()
    limit = rt.rules.visual_password_max_failures
    with rt.uow() as uow:
        failures, locked_now = uow.institutions.count_visual_password_failure(institution.id, limit=limit, now=now)
        if locked_now:
            audit.record(uow, at=now, action=LOCK_ACTION, institution_id=institution.id, user_id=actor.user_id,
                         device_id=actor.device_id, target_type="institution", target_id=institution.id,
                         failures=failures, limit=limit)
        uow.commit()
    if failures >= limit:
        raise VisualPasswordLocked(
            f"目視確認モードのパスワードが{limit}回続けて誤って入力されたため、ロックされました。"
            "管理者にロックの解除（またはパスワードの再設定）を依頼してください。")
    raise VisualPasswordWrong(remaining_attempts=limit - failures)


def unlock(rt: Runtime, actor: Principal) -> None:
    """An admin lifts the lock (and the count starts again); audited, even if it was not locked."""
    actor.require_admin()
    now = rt.clock()
    with rt.uow() as uow:
        institution = uow.institutions.get(actor.institution_id)
        assert institution is not None  # the principal was resolved from it
        was_locked = institution.visual_password_locked_at is not None
        clear(institution)
        audit.record(uow, at=now, action=UNLOCK_ACTION, institution_id=institution.id, user_id=actor.user_id,
                     device_id=actor.device_id, target_type="institution", target_id=institution.id,
                     was_locked=was_locked)
        uow.commit()


def clear(institution: orm.Institution) -> None:
    """Zero the count and lift the lock (on unlock, and when an admin sets a new password)."""
    institution.visual_password_failures = 0
    institution.visual_password_locked_at = None
