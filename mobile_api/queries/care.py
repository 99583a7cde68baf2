"""Continuing-care relationships as the API shows them (docs/rules.md §3.2): a page in one select, each
relationship's standing (active, or when and why it ended, the idle limit included) judged once by the
server's clock."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..adapters import orm
from ..domain import consent as consent_rules
from ..runtime import Rules

_R = orm.CareRelationship.__table__.c
_COLUMNS = ("id", "opened_by_visit_id", "card_visit_id", "opened_at", "last_visit_at", "ended_at", "end_reason",
            "end_note")


@dataclass(frozen=True, slots=True)
class RelationshipRead:
    id: str
    opened_by_visit_id: str
    card_visit_id: str
    opened_at: datetime
    last_visit_at: datetime
    active: bool
    ended_at: datetime | None
    end_reason: str | None  # discharged | withdrawn | idle
    end_note: str | None


def relationship_read(row: Any, *, now: datetime, rules: Rules) -> RelationshipRead:
    """A relationship row (selected, or the ORM row a discharge just wrote) as of ``now``."""
    status = consent_rules.care_relationship_status(ended_at=row.ended_at, end_reason=row.end_reason,
                                                    last_visit_at=row.last_visit_at,
                                                    idle_limit=rules.care_relationship_idle, now=now)
    return RelationshipRead(row.id, row.opened_by_visit_id, row.card_visit_id, row.opened_at, row.last_visit_at,
                            status.active, status.ended_at, status.end_reason, row.end_note)


def relationships(session: Session, institution_id: str, *, limit: int, offset: int, now: datetime,
                  rules: Rules) -> list[RelationshipRead]:
    """A page of the institution's relationships, most recent visit first."""
    rows = session.execute(select(*(_R[name] for name in _COLUMNS)).where(_R.institution_id == institution_id)
                           .order_by(_R.last_visit_at.desc(), _R.id.desc()).limit(limit).offset(offset))
    return [relationship_read(row, now=now, rules=rules) for row in rows]
