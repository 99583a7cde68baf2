"""The append-only audit log. Services call ``record`` inside their unit of work,
so an audited action and its audit row commit together. Refusals are recorded
in a unit of work of their own (``record_refusal``) because the action's own
work is rolled back."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from ..adapters import orm
from ..domain.errors import DomainError
from ..runtime import Runtime
from .principal import Principal


class AuditLog(Protocol):
    def append(self, values: dict[str, Any]) -> None: ...


class Audited(Protocol):
    """What an audited action runs in: the ORM's unit of work, or the hot path's ledger (adapters/ledger.py)."""

    @property
    def audit(self) -> AuditLog: ...


def record(
    uow: Audited,
    *,
    at: datetime,
    action: str,
    outcome: str = "ok",
    actor: Principal | None = None,
    institution_id: str | None = None,
    user_id: str | None = None,
    device_id: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    **detail: Any,
) -> None:
    """One audit row, written with the action it records. ``actor``: the caller, whose institution, user and
    device the row names (as the caller was authenticated, not re-derived); the explicit ids are for rows
    about someone else (a device, a client, a sign-in attempt)."""
    uow.audit.append(row(at=at, action=action, outcome=outcome, actor=actor, institution_id=institution_id,
                         user_id=user_id, device_id=device_id, target_type=target_type, target_id=target_id,
                         **detail))


def row(*, at: datetime, action: str, outcome: str = "ok", actor: Principal | None = None,
        institution_id: str | None = None, user_id: str | None = None, device_id: str | None = None,
        target_type: str | None = None, target_id: str | None = None, **detail: Any) -> dict[str, Any]:
    """The values of one audit row (``record`` appends it; the hot path carries them in its ``Verified``)."""
    if actor is not None:
        institution_id, user_id, device_id = actor.institution_id, actor.user_id, actor.device_id
    return {"at": at, "action": action, "outcome": outcome, "institution_id": institution_id,
            "actor_user_id": user_id, "actor_device_id": device_id, "target_type": target_type,
            "target_id": target_id, "detail": {k: v for k, v in detail.items() if v is not None}}


def record_refusal(rt: Runtime, actor: Principal, action: str, refusal: DomainError, **detail: Any) -> None:
    """Audit a refused action in its own transaction, with the refusal's slug, rule and field."""
    with rt.uow() as uow:
        record(uow, at=rt.clock(), action=action, outcome="refused", actor=actor, reason=refusal.slug,
               rule=refusal.extra.get("rule"), field=refusal.extra.get("field"), **detail)
        uow.commit()


def list_audit(rt: Runtime, actor: Principal, *, action: str | None, outcome: str | None,
               user_id: str | None, device_id: str | None, since: datetime | None, until: datetime | None,
               limit: int, offset: int, patient_reference: str | None = None) -> list[orm.AuditEvent]:
    """A page of the institution's audit log (admin); ``patient_reference``: the events about that patient's
    visits, fallback records and consents (``AuditEvents.search``)."""
    actor.require_admin()
    with rt.uow() as uow:
        return list(uow.audit.search(actor.institution_id, action=action, outcome=outcome, actor_user_id=user_id,
                                     actor_device_id=device_id, since=since, until=until,
                                     patient_reference=patient_reference, limit=limit, offset=offset))
