import marshmallow as ma

from ...domain.audit_actions import AUDIT_ACTIONS
from ..fields import AwareDateTime, outside_text, paging


class AuditQuerySchema(ma.Schema):
    action = ma.fields.String(load_default=None, validate=ma.validate.OneOf(
        list(AUDIT_ACTIONS), error="{input} は監査ログに記録される操作ではありません。"),
        metadata={"description": "one of the actions the audit log records (domain/audit_actions.py)",
                  "example": "medical_info.view"})
    outcome = ma.fields.String(load_default=None, validate=ma.validate.OneOf(["ok", "refused"]))
    user_id = outside_text(64, load_default=None)
    device_id = outside_text(64, load_default=None)
    since = AwareDateTime(load_default=None)
    until = AwareDateTime(load_default=None)
    limit, offset = paging(default_limit=100, max_limit=1000)


class AuditEventSchema(ma.Schema):
    id = ma.fields.Integer()
    at = ma.fields.AwareDateTime()
    action = ma.fields.String()
    outcome = ma.fields.String()
    user_id = ma.fields.String(attribute="actor_user_id", allow_none=True)
    device_id = ma.fields.String(attribute="actor_device_id", allow_none=True)
    target_type = ma.fields.String(allow_none=True)
    target_id = ma.fields.String(allow_none=True)
    detail = ma.fields.Dict()
