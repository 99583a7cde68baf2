"""Staff accounts of the caller's institution (admin only)."""
from typing import Any

from ...services import identity, lockout
from .. import examples as ex
from ..core import Blueprint, principal, runtime
from .schemas import StaffCreateSchema, StaffSchema

blp = Blueprint("staff", __name__, url_prefix="/api/v1/staff", description="スタッフ")


@blp.post("")
@blp.authenticated(admin=True)
@blp.arguments(StaffCreateSchema, example=ex.STAFF_CREATE_REQUEST)
@blp.response(201, StaffSchema, example=ex.STAFF)
@blp.problems(409, 422)
def create(body: dict[str, Any]) -> Any:
    """Create a staff account (role admin or staff)."""
    return identity.create_user(runtime(), principal(), login=body["login"], display_name=body["display_name"],
                                role=body["role"].value, password=body["password"])


@blp.get("")
@blp.authenticated(admin=True)
@blp.response(200, StaffSchema(many=True))
def list_staff() -> Any:
    """The institution's staff accounts."""
    return identity.list_users(runtime(), principal())


@blp.post("/<user_id>/revoke")
@blp.authenticated(admin=True)
@blp.response(200, StaffSchema)
@blp.problems(404)
def revoke(user_id: str) -> Any:
    """Revoke a staff account: refused from its very next request."""
    return identity.revoke_user(runtime(), principal(), user_id)


@blp.post("/<user_id>/unlock")
@blp.authenticated(admin=True)
@blp.response(204)
@blp.problems(404)
def unlock(user_id: str) -> None:
    """Lift the staff member's sign-in lock now (it also ends by itself after ``SIGN_IN_LOCK_MINUTES``): the
    lock of every way in, API login and console alike (docs/rules.md, "Sign-in lock-out"). Audited."""
    lockout.unlock_user(runtime(), principal(), user_id)
