import marshmallow as ma

from ...domain.codes import Role
from ..fields import no_control_characters, no_individual_number, outside_text


class StaffCreateSchema(ma.Schema):
    login = ma.fields.String(required=True, validate=[ma.validate.Regexp(r"^[A-Za-z0-9._-]{1,64}$"),
                                                      no_control_characters, no_individual_number])
    display_name = outside_text(100, min_length=1, required=True)
    role = ma.fields.Enum(Role, by_value=True, load_default=Role.STAFF)
    password = ma.fields.String(required=True, load_only=True, validate=ma.validate.Length(min=10, max=256))


class StaffSchema(ma.Schema):
    id = ma.fields.String()
    login = ma.fields.String()
    display_name = ma.fields.String()
    role = ma.fields.String()
    revoked_at = ma.fields.AwareDateTime(allow_none=True)
    created_at = ma.fields.AwareDateTime()
