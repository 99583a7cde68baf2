"""The append-only audit log (admins read and filter; nothing deletes)."""
from typing import Any

from ...services import audit
from ..core import Blueprint, principal, runtime
from .schemas import AuditEventSchema, AuditQuerySchema

blp = Blueprint("audit", __name__, url_prefix="/api/v1/audit-events", description="監査ログ")


@blp.get("")
@blp.authenticated(admin=True)
@blp.arguments(AuditQuerySchema, location="query")
@blp.response(200, AuditEventSchema(many=True))
@blp.problems(422)
def list_events(query: dict[str, Any]) -> Any:
    """Audit events of the institution, newest first, filtered."""
    return audit.list_audit(runtime(), principal(), **query)
