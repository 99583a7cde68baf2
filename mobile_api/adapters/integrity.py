"""From a database integrity error to the domain's ``DuplicateRecord``, in one place.

Uniqueness is decided by the database (it holds under concurrency, a check in
Python does not), so a duplicate surfaces as ``sqlalchemy.exc.IntegrityError``.
The unit of work calls ``duplicate_from`` on commit and flush; services and the
API then see a typed, Japanese ``DuplicateRecord`` (409) that names the
constraint, and never a driver exception.

The two databases name the constraint differently: PostgreSQL (psycopg) gives
it in ``diag.constraint_name``; SQLite only says
``UNIQUE constraint failed: users.institution_id, users.login``, so the name is
looked up in the ORM metadata by table and columns.
"""
from __future__ import annotations

import re
from typing import Any

from sqlalchemy import PrimaryKeyConstraint, UniqueConstraint
from sqlalchemy.exc import IntegrityError

from ..domain.errors import DuplicateRecord
from . import orm

# constraint name -> (field the client sent, Japanese message). Unlisted ones get the generic title.
MESSAGES: dict[str, tuple[str | None, str]] = {
    "uq_users_institution_login": ("login", "このログインIDはすでに使われています。"),
    "uq_institutions_code": ("code", "この医療機関等コードはすでに登録されています。"),
    "pk_used_assertions": ("device_assertion", "この端末署名はすでに使われています。"),
    "uq_idempotency_records_scope_key": ("Idempotency-Key", "この Idempotency-Key の要求はすでに処理されています。"),
    "uq_visits_challenge_id": (None, "この確認はすでに使われています。最初からやり直してください。"),
    "uq_consents_visit_id": (None, "この受診の同意はすでに登録されています。"),
    "uq_devices_activation_code_hash": (None, "有効化コードが重複しました。もう一度発行してください。"),
}

_PG_UNIQUE_VIOLATION = "23505"
_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (?P<columns>.+)$")


def _columns_to_constraint() -> dict[tuple[str, frozenset[str]], str]:
    found: dict[tuple[str, frozenset[str]], str] = {}
    for table in orm.Base.metadata.tables.values():
        for constraint in table.constraints:
            if isinstance(constraint, (UniqueConstraint, PrimaryKeyConstraint)) and constraint.name:
                found[(table.name, frozenset(c.name for c in constraint.columns))] = str(constraint.name)
        for index in table.indexes:
            if index.unique and index.name:
                found[(table.name, frozenset(c.name for c in index.columns))] = str(index.name)
    return found


_BY_COLUMNS = _columns_to_constraint()


def _sqlite_constraint(message: str) -> str | None:
    match = _SQLITE_UNIQUE.search(message)
    if match is None:
        return None
    qualified = [part.strip() for part in match.group("columns").split(",")]
    tables = {part.rpartition(".")[0] for part in qualified}
    if len(tables) != 1:
        return None
    columns = frozenset(part.rpartition(".")[2] for part in qualified)
    return _BY_COLUMNS.get((tables.pop(), columns))


def unique_constraint_of(error: IntegrityError) -> str | None:
    """The violated unique/primary-key constraint's name, or None when the error is not a duplicate.

    A duplicate whose constraint cannot be named still counts (returns "").
    """
    orig: Any = error.orig
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate is not None:  # psycopg
        if sqlstate != _PG_UNIQUE_VIOLATION:
            return None
        diag = getattr(orig, "diag", None)
        return getattr(diag, "constraint_name", None) or ""
    message = str(orig)
    if "UNIQUE constraint failed" not in message:  # sqlite3: NOT NULL, FOREIGN KEY, CHECK are not duplicates
        return None
    return _sqlite_constraint(message) or ""


def duplicate_from(error: IntegrityError) -> DuplicateRecord | None:
    """The domain error for a unique violation; None for other integrity errors (those are bugs)."""
    constraint = unique_constraint_of(error)
    if constraint is None:
        return None
    return duplicate_named(constraint)


def duplicate_named(constraint: str) -> DuplicateRecord:
    """The domain error for a violation of this unique constraint ("" when it could not be named)."""
    field, message = MESSAGES.get(constraint, (None, None))
    extra = {"field": field} if field else {}
    return DuplicateRecord(message, constraint=constraint or None, **extra)
