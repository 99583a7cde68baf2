"""The caller's own institution: what it may do, and its visual-mode password."""
from typing import Any

from ...domain.facility import FACILITY_LABELS_JA, FacilityKind
from ...services import identity, visual_password
from ..core import Blueprint, principal, runtime
from .schemas import InstitutionNameSchema, InstitutionSchema, VisualPasswordSchema

blp = Blueprint("institution", __name__, url_prefix="/api/v1/institution", description="医療機関等")


def _shown(rt: Any, institution: Any) -> dict[str, Any]:
    kind = FacilityKind(institution.facility_kind)
    return {"id": institution.id, "code": institution.code, "name": institution.name,
            "facility_kind": kind.value, "facility_kind_label": FACILITY_LABELS_JA[kind],
            "allowed_forms": sorted(f.value for f in rt.policy.allowed_forms(kind)),
            "visual_password_set": institution.visual_password_hash is not None,
            "visual_password_locked": institution.visual_password_locked_at is not None}


@blp.get("")
@blp.authenticated()
@blp.response(200, InstitutionSchema)
def get_institution() -> Any:
    """The institution, its facility kind and the forms it may use."""
    rt = runtime()
    return _shown(rt, identity.get_institution(rt, principal()))


@blp.put("")
@blp.authenticated(admin=True)
@blp.arguments(InstitutionNameSchema)
@blp.response(200, InstitutionSchema)
@blp.problems(422)
def rename_institution(body: dict[str, Any]) -> Any:
    """Change the institution's name (admin; audited as institution.rename). The code and the facility kind
    cannot be changed here: they decide which forms the institution may use."""
    rt = runtime()
    return _shown(rt, identity.rename_institution(rt, principal(), body["name"]))


@blp.put("/visual-password")
@blp.authenticated(admin=True)
@blp.arguments(VisualPasswordSchema)
@blp.response(204)
@blp.problems(422)
def set_visual_password(body: dict[str, Any]) -> None:
    """Set the institution's 目視確認モード password (entered by staff at each visual check)."""
    identity.set_visual_password(runtime(), principal(), body["password"])


@blp.post("/visual-password/unlock")
@blp.authenticated(admin=True)
@blp.response(204)
def unlock_visual_password() -> None:
    """Lift the 目視確認モード password's lock after too many consecutive wrong entries (audited).

    Setting a new password (PUT /visual-password) lifts it too.
    """
    visual_password.unlock(runtime(), principal())
