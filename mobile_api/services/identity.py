"""Institutions, staff, logins and refresh-token rotation."""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from ..adapters import orm
from ..adapters.repository import UnitOfWork
from ..adapters.tokens import new_opaque_token, sha256_hex
from ..domain.codes import Role
from ..domain.errors import Conflict, NotFound, SignInLocked, Unauthenticated, ValidationFailed
from ..domain.facility import FacilityKind
from ..runtime import Runtime
from . import audit, devices, lockout, visual_password
from .principal import Principal

INSTITUTION_CODE = re.compile(r"^\d{10}$")
# A display name: no control characters, not only blanks. The API schema publishes the same pattern, so what the
# spec calls valid is exactly what is accepted (written to mean the same in Python and ECMAScript regexes).
NAME_BLANKS = " \u3000"
INSTITUTION_NAME_PATTERN = "^[^\\x00-\\x1f\\x7f]*[^\\x00-\\x1f\\x7f \\u3000][^\\x00-\\x1f\\x7f]*$"
INSTITUTION_NAME = re.compile(INSTITUTION_NAME_PATTERN)
MIN_PASSWORD_LENGTH = 10


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime
    user_id: str
    device_id: str | None


def _check_password_strength(password: str, field: str = "password") -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"パスワードは{MIN_PASSWORD_LENGTH}文字以上にしてください。", field=field)


def create_institution(rt: Runtime, *, code: str, name: str, facility_kind: str,
                       admin_login: str, admin_password: str, admin_name: str = "管理者") -> tuple[str, str]:
    if not INSTITUTION_CODE.match(code):
        raise ValidationFailed("医療機関等コードは10桁の数字です。", field="code")
    kind = FacilityKind(facility_kind)
    _check_password_strength(admin_password)
    now = rt.clock()
    with rt.uow() as uow:
        institution = uow.institutions.add(orm.Institution(code=code, name=name, facility_kind=kind.value,
                                                           created_at=now))
        uow.flush()
        admin = uow.users.add(orm.User(institution_id=institution.id, login=admin_login, display_name=admin_name,
                                       role=Role.ADMIN.value, password_hash=rt.passwords.hash(admin_password),
                                       created_at=now))
        uow.flush()
        audit.record(uow, at=now, action="institution.create", institution_id=institution.id,
                     target_type="institution", target_id=institution.id, facility_kind=kind.value)
        uow.commit()  # a duplicate code or login is a DuplicateRecord (409), mapped by the unit of work
        return institution.id, admin.id


def create_user(rt: Runtime, actor: Principal, *, login: str, display_name: str, role: str,
                password: str) -> orm.User:
    actor.require_admin()
    _check_password_strength(password)
    now = rt.clock()
    with rt.uow() as uow:
        user = uow.users.add(orm.User(institution_id=actor.institution_id, login=login, display_name=display_name,
                                      role=Role(role).value, password_hash=rt.passwords.hash(password),
                                      created_at=now))
        uow.flush()
        audit.record(uow, at=now, action="user.create", institution_id=actor.institution_id,
                     user_id=actor.user_id, device_id=actor.device_id, target_type="user", target_id=user.id,
                     role=role)
        uow.commit()  # a duplicate login is a DuplicateRecord (409), mapped by the unit of work
        return user


def list_users(rt: Runtime, actor: Principal) -> list[orm.User]:
    actor.require_admin()
    with rt.uow() as uow:
        return list(uow.users.of_institution(actor.institution_id))


def revoke_user(rt: Runtime, actor: Principal, user_id: str) -> orm.User:
    actor.require_admin()
    now = rt.clock()
    with rt.uow() as uow:
        # Admins revoking each other at the same moment run one after another, each counting
        # what the other left: the institution never ends up without an active admin.
        uow.institutions.lock(actor.institution_id)
        user = _owned_user(uow, actor, user_id)
        if user.revoked_at is None:
            if user.role == Role.ADMIN.value and uow.users.count_active(actor.institution_id,
                                                                       role=Role.ADMIN.value) <= 1:
                raise Conflict("最後の管理者は利用停止できません。先に別の管理者を作成してください。",
                               rule="last-admin")
            user.revoked_at = now
            uow.refresh_tokens.revoke_where(now, user_id=user.id)
            uow.console_sessions.end_where(now, "user-revoked", user_id=user.id)
            audit.record(uow, at=now, action="user.revoke", institution_id=actor.institution_id,
                         user_id=actor.user_id, device_id=actor.device_id, target_type="user", target_id=user.id)
            uow.commit()
        return user


def get_institution(rt: Runtime, actor: Principal) -> orm.Institution:
    with rt.uow() as uow:
        institution = uow.institutions.get(actor.institution_id)
        assert institution is not None  # the principal was resolved from it
        return institution


def rename_institution(rt: Runtime, actor: Principal, name: str) -> orm.Institution:
    """An admin changes the institution's display name (audited with the old and new name). The code and the
    facility kind stay as registered: they decide what the institution may do (docs/rules.md)."""
    actor.require_admin()
    if not 1 <= len(name) <= 200 or not INSTITUTION_NAME.fullmatch(name):
        raise ValidationFailed("施設名は1〜200文字で、改行などの制御文字を含めずに入力してください。", field="name")
    name = name.strip(NAME_BLANKS)
    with rt.uow() as uow:
        institution = uow.institutions.get(actor.institution_id)
        assert institution is not None  # the principal was resolved from it
        before = institution.name
        if before != name:
            institution.name = name
            audit.record(uow, at=rt.clock(), action="institution.rename", institution_id=institution.id,
                         user_id=actor.user_id, device_id=actor.device_id, target_type="institution",
                         target_id=institution.id, before=before, after=name)
            uow.commit()
        return institution


def set_visual_password(rt: Runtime, actor: Principal, password: str) -> None:
    """The institution's 目視確認モード password (OUR RULE, docs/rules.md §2.2)."""
    actor.require_admin()
    if len(password) < 8:
        raise ValidationFailed("目視確認モードのパスワードは8文字以上にしてください。", field="password")
    now = rt.clock()
    with rt.uow() as uow:
        institution = uow.institutions.get(actor.institution_id)
        assert institution is not None
        was_locked = institution.visual_password_locked_at is not None
        institution.visual_password_hash = rt.passwords.hash(password)
        visual_password.clear(institution)  # a new password starts a new count and lifts a lock
        audit.record(uow, at=now, action="institution.visual_password.set", institution_id=institution.id,
                     user_id=actor.user_id, device_id=actor.device_id, target_type="institution",
                     target_id=institution.id, unlocked=was_locked or None)
        uow.commit()


def login(rt: Runtime, *, institution_code: str, login: str, password: str,
          device_assertion: str | None = None, source: str | None = None) -> TokenPair:
    """Sign a staff member in (``source``: the caller's address, for the throttle and the lock-out)."""
    lockout.throttle(rt, source)
    now = rt.clock()
    with rt.uow() as uow:
        user = check_password(rt, uow, institution_code=institution_code, login=login, password=password,
                              source=source, now=now)
        device_id = None
        if device_assertion is not None:
            device = devices.check_assertion(rt, uow, device_assertion)
            if device.institution_id != user.institution_id:
                audit.record(uow, at=now, action="auth.login", outcome="refused", institution_id=user.institution_id,
                             user_id=user.id, device_id=device.id, reason="device-of-other-institution")
                uow.commit()
                raise Unauthenticated("この端末はこの医療機関等に登録されていません。")
            device_id = device.id
        pair = _issue_pair(rt, uow, user, device_id, family_id=str(uuid.uuid4()))
        audit.record(uow, at=now, action="auth.login", institution_id=user.institution_id, user_id=user.id,
                     device_id=device_id)
        uow.commit()
        return pair


def check_password(rt: Runtime, uow: UnitOfWork, *, institution_code: str, login: str, password: str,
                   source: str | None, now: datetime, channel: str | None = None) -> orm.User:
    """The staff member whose password this is, for the API's login and the console's sign-in alike.

    Under the one lock-out of every entry (services/lockout.py, docs/rules.md): a locked account (or source)
    is refused before the password is hashed; a wrong password counts against the account, or against the
    source address when no such account exists; a right one starts the count again. Refusals are audited
    (``auth.login``) and committed here, the count with them."""
    institution = uow.institutions.one_by(code=institution_code)
    user = uow.users.one_by(institution_id=institution.id, login=login) if institution else None
    institution_id = institution.id if institution else None
    key = lockout.user_key(user.id) if user else lockout.source_key(source)

    def refuse(reason: str) -> None:
        audit.record(uow, at=now, action="auth.login", outcome="refused", institution_id=institution_id,
                     user_id=user.id if user else None, login=login, channel=channel, reason=reason)
        uow.commit()

    try:
        lockout.refuse_if_locked(uow, sorted({lockout.source_key(source), key}), now)
    except SignInLocked:
        refuse("locked")
        raise
    ok = rt.passwords.verify(user.password_hash if user else None, password)
    if not ok or user is None or user.revoked_at is not None:
        if not ok:
            lockout.count_failure(rt, uow, key, now, institution_id=institution_id, entry=channel or "api")
        refuse("revoked" if ok and user is not None else "bad-credentials")
        raise Unauthenticated("医療機関等コード、ログインID、またはパスワードが正しくありません。")
    lockout.forget_failures(uow, key, now)
    return user


def refresh(rt: Runtime, refresh_token: str) -> TokenPair:
    """Rotate: a refresh token works once; presenting a spent one revokes its whole family.

    The spend is a conditional update, so of several concurrent rotations exactly one wins;
    the others count as reuse (a forked token is what a thief holds) and revoke the family.
    """
    now = rt.clock()
    with rt.uow() as uow:
        record = uow.refresh_tokens.one_by(token_hash=sha256_hex(refresh_token))
        if record is None:
            raise Unauthenticated("リフレッシュトークンが無効です。もう一度ログインしてください。")
        user = uow.users.get(record.user_id)
        assert user is not None
        reason = _refresh_refusal(uow, record, user, now)
        if reason is None and not uow.refresh_tokens.spend(record.id, now):
            reason = "reused"
        if reason == "reused":
            uow.refresh_tokens.revoke_where(now, family_id=record.family_id)
        if reason is not None:
            audit.record(uow, at=now, action="auth.refresh", outcome="refused", institution_id=user.institution_id,
                         user_id=user.id, device_id=record.device_id, reason=reason)
            uow.commit()
            raise Unauthenticated("リフレッシュトークンが無効です。もう一度ログインしてください。", reason=reason)
        pair = _issue_pair(rt, uow, user, record.device_id, family_id=record.family_id)
        uow.commit()
        return pair


def _refresh_refusal(uow: UnitOfWork, record: orm.RefreshToken, user: orm.User, now: datetime) -> str | None:
    if record.used_at is not None:
        return "reused"
    if record.revoked_at is not None:
        return "revoked"
    if now >= record.expires_at:
        return "expired"
    if user.revoked_at is not None:
        return "user-revoked"
    if record.device_id is not None:
        device = uow.devices.get(record.device_id)
        if device is None or device.revoked_at is not None:
            return "device-revoked"
    return None


def logout(rt: Runtime, refresh_token: str) -> None:
    now = rt.clock()
    with rt.uow() as uow:
        record = uow.refresh_tokens.one_by(token_hash=sha256_hex(refresh_token))
        if record is not None:
            uow.refresh_tokens.revoke_where(now, family_id=record.family_id)
            uow.commit()


def _issue_pair(rt: Runtime, uow: UnitOfWork, user: orm.User, device_id: str | None, *,
                family_id: str) -> TokenPair:
    access, access_exp = rt.tokens.issue_access(subject=user.id, kind="staff", institution_id=user.institution_id,
                                                role=user.role, device_id=device_id)
    opaque = new_opaque_token()
    now = rt.clock()
    refresh_exp = now + rt.rules.refresh_ttl
    uow.refresh_tokens.add(orm.RefreshToken(token_hash=sha256_hex(opaque), family_id=family_id, user_id=user.id,
                                            device_id=device_id, issued_at=now, expires_at=refresh_exp))
    return TokenPair(access, access_exp, opaque, refresh_exp, user.id, device_id)


def _owned_user(uow: UnitOfWork, actor: Principal, user_id: str) -> orm.User:
    return uow.users.owned(user_id, actor.institution_id, "スタッフが見つかりません。")


def reset_password(rt: Runtime, actor: Principal, user_id: str, password: str) -> None:
    """An admin sets a new password for a staff member (console): the old logins end (refresh tokens revoked,
    console sessions ended)."""
    actor.require_admin()
    _check_password_strength(password)
    now = rt.clock()
    with rt.uow() as uow:
        user = _owned_user(uow, actor, user_id)
        user.password_hash = rt.passwords.hash(password)
        uow.refresh_tokens.revoke_where(now, user_id=user.id)
        uow.console_sessions.end_where(now, "password-reset", user_id=user.id)
        audit.record(uow, at=now, action="user.password.reset", institution_id=actor.institution_id,
                     user_id=actor.user_id, device_id=actor.device_id, target_type="user", target_id=user.id)
        uow.commit()


def set_role(rt: Runtime, actor: Principal, user_id: str, role: str) -> None:
    """An admin changes a staff member's role; the institution always keeps an active admin."""
    actor.require_admin()
    new_role = Role(role)
    now = rt.clock()
    with rt.uow() as uow:
        uow.institutions.lock(actor.institution_id)
        user = _owned_user(uow, actor, user_id)
        if user.role == new_role.value:
            return
        if (user.role == Role.ADMIN.value and user.revoked_at is None
                and uow.users.count_active(actor.institution_id, role=Role.ADMIN.value) <= 1):
            raise Conflict("最後の管理者の役割は変更できません。先に別の管理者を作成してください。", rule="last-admin")
        user.role = new_role
        uow.refresh_tokens.revoke_where(now, user_id=user.id)  # tokens carry the role: sign in again
        uow.console_sessions.end_where(now, "role-change", user_id=user.id)
        audit.record(uow, at=now, action="user.role.set", institution_id=actor.institution_id,
                     user_id=actor.user_id, device_id=actor.device_id, target_type="user", target_id=user.id,
                     role=new_role.value)
        uow.commit()


def institution_id_for_code(rt: Runtime, code: str) -> str:
    """The command line names an institution by its 10-digit code."""
    with rt.uow() as uow:
        institution = uow.institutions.one_by(code=code)
        if institution is None:
            raise NotFound(f"医療機関等コード {code} の施設が見つかりません。")
        return institution.id


def user_id_for_login(rt: Runtime, institution_id: str, login: str) -> str:
    """The command line names a staff member by login."""
    with rt.uow() as uow:
        user = uow.users.one_by(institution_id=institution_id, login=login)
        if user is None:
            raise NotFound(f"ログインID {login} のスタッフが見つかりません。")
        return user.id
