"""Visits of the caller's institution and their medical information (form ② only)."""
from typing import Any

from ...services import visits
from .. import examples as ex
from ..core import Blueprint, info_kind, principal, runtime
from .schemas import MedicalInformationSchema, VisitQuerySchema, VisitSchema

blp = Blueprint("visits", __name__, url_prefix="/api/v1/visits", description="訪問・資格確認結果")


@blp.get("")
@blp.authenticated(patient_data=True)
@blp.arguments(VisitQuerySchema, location="query")
@blp.response(200, VisitSchema(many=True))
@blp.problems(422)
def list_visits(query: dict[str, Any]) -> Any:
    """Recent visits, newest first."""
    return visits.list_visits(runtime(), principal(), **query)


@blp.get("/<visit_id>")
@blp.authenticated(patient_data=True)
@blp.response(200, VisitSchema)
@blp.problems(404)
def get_visit(visit_id: str) -> Any:
    """One visit with its qualification result."""
    return visits.get_visit(runtime(), principal(), visit_id)


@blp.get("/<visit_id>/medical-information/<info_kind:kind>")  # documented as an enum (api.core)
@blp.authenticated(staff_on_device="医療情報の閲覧", patient_data=True)
@blp.response(200, MedicalInformationSchema, example=ex.MEDICATION)
@blp.problems(404, 422)
@blp.problems(403, examples={**ex.CONSENT_WINDOW_CLOSED, **ex.INFO_KIND_NOT_APPLICABLE})
def medical_information(visit_id: str, kind: str) -> Any:
    """Consented medical information (kind: medication, checkups, clinical, surgery).

    Served only for form ②, only for consented kinds, and only while
    registration <= now < registration + 24 h by the server clock. Every view and refusal is audited.
    """
    return visits.view_medical_information(runtime(), principal(), visit_id, info_kind(kind))
