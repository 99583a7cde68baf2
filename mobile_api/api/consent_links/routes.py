"""Consent links for the patient's own phone (create, list, revoke) and the consents registered here."""
from typing import Any

from ...services import patient_phone, visits
from ...web.http import link_url
from ...web.qr import qr_png, qr_svg
from ..core import Blueprint, info_kind, principal, runtime
from ..visits.schemas import MedicalInformationSchema
from .schemas import (
    ConsentQuerySchema,
    LinkCreateSchema,
    LinkQuerySchema,
    LinkSchema,
    NewLinkSchema,
    RegisteredConsentSchema,
)

blp = Blueprint("consent_links", __name__, url_prefix="/api/v1", description="患者のスマートフォンでの同意（同意登録用リンク）")

_LINK_EXAMPLE = {"id": "9b1d…", "purpose": "appointment", "planned_date": "2026-12-03", "care_type": 3,
                 "note": "12/3 オンライン診療", "created_at": "2026-12-01T00:00:00+00:00",
                 "expires_at": "2026-12-03T15:00:00+00:00", "revoked_at": None}


@blp.post("/consent-links")
@blp.authenticated(patient_data=True)
@blp.arguments(LinkCreateSchema, example={"purpose": "appointment", "planned_date": "2026-12-03", "care_type": 3,
                                          "note": "12/3 オンライン診療"})
@blp.response(201, NewLinkSchema, example={"link": _LINK_EXAMPLE,
                                           "url": "https://oqs.example.jp/p/Xq3…",
                                           "qr_svg": "<svg …>", "qr_png": "iVBORw0KGgo…"})
@blp.problems(422)
def create(body: dict[str, Any]) -> Any:
    """Create a consent link: its URL and QR code (SVG and PNG) are shown once, to print for the patient.

    It expires after CONSENT_LINK_TTL_DAYS, an appointment link also at the end of its planned date (JST).
    Form ③ institutions cannot create links (403 ``form-not-allowed``).
    """
    created = patient_phone.create_link(runtime(), principal(), **body)
    url = link_url(created.token)
    return {"link": created.link, "url": url, "qr_svg": qr_svg(url), "qr_png": qr_png(url, box_size=8)}


@blp.get("/consent-links")
@blp.authenticated(patient_data=True)
@blp.arguments(LinkQuerySchema, location="query")
@blp.response(200, LinkSchema(many=True), example=[_LINK_EXAMPLE])
@blp.problems(422)
def list_links(query: dict[str, Any]) -> Any:
    """This institution's links, newest first (never their URLs)."""
    return patient_phone.list_links(runtime(), principal(), **query)


@blp.post("/consent-links/<link_id>/revoke")
@blp.authenticated(patient_data=True)
@blp.response(200, LinkSchema, example={**_LINK_EXAMPLE, "revoked_at": "2026-12-02T00:00:00+00:00"})
@blp.problems(404)
def revoke(link_id: str) -> Any:
    """Revoke a link at once: its page then answers that it was revoked (410)."""
    return patient_phone.revoke_link(runtime(), principal(), link_id)


@blp.get("/consents")
@blp.authenticated(patient_data=True)
@blp.arguments(ConsentQuerySchema, location="query")
@blp.response(200, RegisteredConsentSchema(many=True), example=[{
    "id": "c6f1…", "source": "patient_phone", "visit_id": None, "link_id": "9b1d…", "planned_date": "2026-12-03",
    "blanket": False, "kinds": ["medication"], "registered_at": "2026-12-01T01:00:00+00:00", "withdrawn_at": None,
    "withdrawn_via": None, "patient": {"name": "佐藤 健一", "name_kana": "サトウ ケンイチ", "birth_date": "1958-04-12"},
    "window": {"state": "open", "viewable_now": True, "opens_at": "2026-12-01T01:00:00+00:00",
               "closes_at": "2026-12-02T01:00:00+00:00", "closed_at": None, "how_to_reopen": None,
               "message": "同意登録から24時間（2026年12月02日 10:00〈日本時間〉まで）診療／薬剤情報を閲覧できます。"}}])
@blp.problems(422)
def list_consents(query: dict[str, Any]) -> Any:
    """Consents registered at this institution (card, re-query, the patient's phone), by registration time
    or by planned consultation date, each with its window now: open until…, or closed at… and why."""
    return patient_phone.list_consents(runtime(), principal(), by_planned_date=query["order"] == "planned_date",
                                       source=query["source"], limit=query["limit"], offset=query["offset"])


@blp.get("/consents/<consent_id>/medical-information/<info_kind:kind>")
@blp.authenticated(staff_on_device="医療情報の閲覧", patient_data=True)
@blp.response(200, MedicalInformationSchema)
@blp.problems(404, 422)
def medical_information(consent_id: str, kind: str) -> Any:
    """Medical information under a consent (e.g. one given on the patient's phone): the same rules as a visit's
    (consented kinds only, only inside the window, refused once withdrawn); every view is audited."""
    return visits.view_consented_information(runtime(), principal(), consent_id, info_kind(kind))
