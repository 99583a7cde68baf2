"""The console's edge: every form and query string a page reads is loaded through a marshmallow schema before a
service or the database sees it, the API's own schema where the API has one (a login, a staff member, a device
label, an institution name) and the API's own fields elsewhere (``outside_text``: one line, bounded, no control
characters, no individual number), so the console refuses what the API refuses: unknown roles, dates outside
the years the API accepts, unbounded integers, over-long text, NUL and control characters, a ``next`` that is not a
local console path. A refusal is a ``ValidationFailed`` naming the field in Japanese (422 page or form error);
nothing is stored (docs/console.md, "Protections")."""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

import marshmallow as ma

from ..api.auth.schemas import LoginSchema
from ..api.devices.schemas import DeviceCreateSchema
from ..api.fields import MAX_OFFSET, MAX_YEAR, MIN_YEAR, outside_text
from ..api.institution.schemas import InstitutionNameSchema, VisualPasswordSchema
from ..api.staff.schemas import StaffCreateSchema
from ..domain.audit_actions import AUDIT_ACTIONS
from ..domain.codes import CareType, Form, Role
from ..domain.errors import ValidationFailed

LABELS = {"institution_code": "医療機関等コード", "login": "ログインID", "password": "パスワード",
          "device_assertion": "端末の署名", "next": "ログイン後のページ", "display_name": "表示名", "role": "役割",
          "label": "端末名", "name": "施設名", "from": "開始日", "to": "終了日", "offset": "表示位置",
          "staff": "スタッフ", "form": "様式", "care_type": "診療区分", "outcome": "結果",
          "patient_reference": "患者参照", "action": "操作", "device": "端末"}

#: A page of this console: ``/console/`` and a path below, no scheme, host, backslash or control character.
LOCAL_PATH = re.compile(r"^/console/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*$")


class Day(ma.fields.Date):
    """A date in the years the API accepts for any instant (api/fields.py), so a day's bounds in Japan time
    can always be computed and stored."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> date:
        day = super()._deserialize(value, attr, data, **kwargs)
        if not MIN_YEAR <= day.year <= MAX_YEAR:
            raise ma.ValidationError(f"{MIN_YEAR}年から{MAX_YEAR}年までの日付で指定してください。")
        return day


def _offset() -> ma.fields.Integer:
    return ma.fields.Integer(load_default=0, strict=False, validate=ma.validate.Range(min=0, max=MAX_OFFSET))


def _filter(max_length: int = 64) -> ma.fields.String:
    """A filter typed or picked on a page (an id, a patient reference): the API's one line of text."""
    return outside_text(max_length, load_default=None)


class ConsoleLoginSchema(LoginSchema):
    """The API's login (its fields refuse control characters: the form is not JSON, so the edge's NUL check
    does not see it), and the page to go to after it."""

    next = ma.fields.String(load_default=None, validate=ma.validate.Regexp(
        LOCAL_PATH, error="コンソール内のページ（/console/…）のみ指定できます。"))


class StaffRoleSchema(ma.Schema):
    role = ma.fields.Enum(Role, by_value=True, required=True)


class PasswordResetSchema(ma.Schema):
    password = ma.fields.String(required=True, validate=ma.validate.Length(min=10, max=256))


class PageQuerySchema(ma.Schema):
    offset = _offset()


class VisitFilterSchema(PageQuerySchema):
    from_ = Day(data_key="from", load_default=None)
    to = Day(load_default=None)
    staff = _filter()
    form = ma.fields.Enum(Form, by_value=True, load_default=None)
    care_type = ma.fields.Enum(CareType, by_value=ma.fields.Integer, load_default=None)
    outcome = ma.fields.String(load_default=None, validate=ma.validate.OneOf(["valid", "invalid"]))
    patient_reference = _filter()


class AuditFilterSchema(ma.Schema):
    from_ = Day(data_key="from", load_default=None)
    to = Day(load_default=None)
    action = ma.fields.String(load_default=None, validate=ma.validate.OneOf(
        AUDIT_ACTIONS, error="一覧にある操作を選んでください。"))  # the select's codes only
    staff = _filter()
    device = _filter()
    patient_reference = _filter()


LOGIN = ConsoleLoginSchema(unknown=ma.EXCLUDE)
STAFF = StaffCreateSchema(unknown=ma.EXCLUDE)
ROLE = StaffRoleSchema(unknown=ma.EXCLUDE)
PASSWORD = PasswordResetSchema(unknown=ma.EXCLUDE)
DEVICE = DeviceCreateSchema(unknown=ma.EXCLUDE)
INSTITUTION_NAME = InstitutionNameSchema(unknown=ma.EXCLUDE)
VISUAL_PASSWORD = VisualPasswordSchema(unknown=ma.EXCLUDE)
PAGE = PageQuerySchema(unknown=ma.EXCLUDE)
VISITS = VisitFilterSchema(unknown=ma.EXCLUDE)
AUDIT = AuditFilterSchema(unknown=ma.EXCLUDE)


def load(schema: ma.Schema, data: Mapping[str, str], *, strip: tuple[str, ...] = ()) -> dict[str, Any]:
    """``data`` (a form or a query string) through ``schema``; an empty field counts as not sent. The first
    problem is raised as ``ValidationFailed`` with the field's Japanese name."""
    values = {k: (v.strip() if k in strip else v) for k, v in data.items()}
    try:
        return schema.load({k: v for k, v in values.items() if v != ""})
    except ma.ValidationError as exc:
        field, messages = next(iter(exc.normalized_messages().items()))
        first = messages[0] if isinstance(messages, list) and messages else str(messages)
        raise ValidationFailed(f"{LABELS.get(str(field), field)}: {first}", field=str(field)) from None
