"""The patient's own phone (no login): the JSON the patient page and the phone's JPKI client use.

The page opens a link, starts a session (a single-use challenge), hands it to the JPKI client through
``handoff_uri``; the client reads the card (PIN only), signs, and posts the answer; the page polls the
session, then lists and can withdraw the patient's consents. The link token is the only key.
"""
from typing import Any
from urllib.parse import quote

from flask import url_for

from ...domain.codes import InfoKind
from ...domain.consent import INFO_KIND_LABELS_JA, ConsentChoice
from ...services import patient_phone
from ..care.schemas import WithdrawalSchema
from ..core import Blueprint, public_url, runtime
from .schemas import (
    AnswerSchema,
    CardErrorSchema,
    LinkInfoSchema,
    SessionSchema,
    SessionStartSchema,
    StartedSessionSchema,
    b64,
)

blp = Blueprint("patient", __name__, url_prefix="/api/v1/patient-links",
                description="患者のスマートフォン（ログイン不要・リンクと暗証番号）")

HANDOFF_SCHEME = "mobileoqs-jpki"
_SESSION_EXAMPLE = {"status": "pending", "purpose": "register", "expires_at": "2026-12-01T00:02:00+00:00",
                    "challenge": "q83vEjRWeJA…", "answer_url": "https://oqs.example.jp/api/v1/patient-links/Xq3…/"
                    "sessions/Zt9…/answer", "consent_id": None, "problem": None, "manage_until": None,
                    "consents": None}


def _absolute(endpoint: str, **values: Any) -> str:
    """An absolute URL on ``PUBLIC_BASE_URL`` when set (behind a proxy), else on the request's host."""
    return public_url(url_for(endpoint, **values))


def _status_url(token: str, session_token: str) -> str:
    return _absolute("patient.session", token=token, session_token=session_token)


def _session_body(view: patient_phone.SessionView, token: str, session_token: str) -> dict[str, Any]:
    s = view.session
    pending = s.status == "pending"
    return {"status": s.status, "purpose": s.purpose, "expires_at": s.expires_at,
            "challenge": b64(s.nonce) if pending else None,
            "answer_url": _absolute("patient.answer", token=token, session_token=session_token) if pending else None,
            "consent_id": s.consent_id, "problem": s.problem,
            "manage_until": s.authenticated_until if view.consents is not None else None,
            "consents": view.consents}


@blp.get("/<token>")
@blp.response(200, LinkInfoSchema, example={
    "institution_name": "さくら訪問看護ステーション", "purpose": "appointment", "planned_date": "2026-12-03",
    "care_type": 3, "expires_at": "2026-12-03T15:00:00+00:00",
    "kinds": [{"kind": "medication", "label": "薬剤情報"}, {"kind": "checkups", "label": "特定健診等情報"},
              {"kind": "clinical", "label": "診療情報"}, {"kind": "surgery", "label": "手術情報"}]})
@blp.problems(403, 404, 410)
def link(token: str) -> Any:
    """What the link is for (no login). An unknown link is 404; an expired or revoked one 410 ``consent-link-gone``."""
    opened = patient_phone.open_link(runtime(), token)
    return {"institution_name": opened.institution.name, "purpose": opened.link.purpose,
            "planned_date": opened.link.planned_date, "care_type": opened.link.care_type,
            "expires_at": opened.link.expires_at,
            "kinds": [{"kind": k.value, "label": INFO_KIND_LABELS_JA[k]} for k in InfoKind]}


@blp.post("/<token>/sessions")
@blp.arguments(SessionStartSchema, example={"purpose": "register", "blanket": False, "kinds": ["medication", "clinical"]})
@blp.response(201, StartedSessionSchema, example={
    **_SESSION_EXAMPLE, "session_token": "Zt9…", "status_url": "https://oqs.example.jp/api/v1/patient-links/Xq3…/"
    "sessions/Zt9…", "handoff_uri": "mobileoqs-jpki://sign?session=https%3A%2F%2Foqs.example.jp%2F…"})
@blp.problems(403, 404, 410, 422)
def start(body: dict[str, Any], token: str) -> Any:
    """Start a PIN authentication: blanket consent or kind by kind (``register``), or ``manage`` to see and
    withdraw consents. Returns a single-use challenge for the phone's JPKI client (PIN only)."""
    choice = ConsentChoice.of(blanket=body["blanket"], kinds=body["kinds"])
    started = patient_phone.start_session(runtime(), token, purpose=body["purpose"], choice=choice)
    view = patient_phone.SessionView(started.session, started.link, None)
    status_url = _status_url(token, started.token)
    return {**_session_body(view, token, started.token), "session_token": started.token, "status_url": status_url,
            "handoff_uri": f"{HANDOFF_SCHEME}://sign?session={quote(status_url, safe='')}"}


@blp.get("/<token>/sessions/<session_token>")
@blp.response(200, SessionSchema, example=_SESSION_EXAMPLE)
@blp.problems(403, 404, 410)
def session(token: str, session_token: str) -> Any:
    """The session: the challenge while pending; once authenticated, the patient's consents here (for a
    few minutes, PATIENT_PAGE_SESSION_MINUTES); or why it was refused."""
    return _session_body(patient_phone.session_status(runtime(), token, session_token), token, session_token)


@blp.post("/<token>/sessions/<session_token>/answer")
@blp.arguments(AnswerSchema, example={"certificate": "MIIDdzCCAl+gAwIBAgI…", "signature": "kJ2c…",
                                      "certificate_kind": "android"})
@blp.response(200, SessionSchema, example={**_SESSION_EXAMPLE, "status": "authenticated", "challenge": None,
                                           "answer_url": None, "consent_id": "c6f1…",
                                           "manage_until": "2026-12-01T00:11:00+00:00", "consents": []})
@blp.problems(403, 404, 409, 410, 422, 503)
def answer(body: dict[str, Any], token: str, session_token: str) -> Any:
    """The JPKI client's answer: the card's certificate and its PIN signature over the challenge.

    Registers the consent (source ``patient_phone``; its 24-hour window runs from now). A refusal spends the
    session; an OQS outage (503) does not.
    """
    view = patient_phone.answer(runtime(), token, session_token, patient_phone.Answer(
        certificate=body["certificate"], signature=body["signature"], certificate_kind=body["certificate_kind"]))
    return _session_body(view, token, session_token)


@blp.post("/<token>/sessions/<session_token>/card-error")
@blp.arguments(CardErrorSchema, example={"reason": "wrong-pin", "tries_left": 2})
@blp.response(200, SessionSchema, example={**_SESSION_EXAMPLE, "problem": {
    "slug": "wrong-pin", "tries_left": 2,
    "detail": "暗証番号が違います。あと2回間違えるとロックされます。本人確認アプリでもう一度入力してください。"}})
@blp.problems(403, 404, 409, 410, 422)
def card_error(body: dict[str, Any], token: str, session_token: str) -> Any:
    """The JPKI client reports that the card refused the PIN (never the PIN itself), so the page can tell the
    patient. A wrong PIN keeps the session pending; a locked card refuses it (docs/rules.md §3.4)."""
    view = patient_phone.report_card_error(runtime(), token, session_token, reason=body["reason"],
                                           tries_left=body["tries_left"])
    return _session_body(view, token, session_token)


@blp.post("/<token>/sessions/<session_token>/withdrawal")
@blp.response(200, WithdrawalSchema, example={"withdrawn_at": "2026-12-01T00:05:00+00:00", "consents_withdrawn": 1,
                                              "relationships_ended": 0, "via": "patient_phone"})
@blp.problems(403, 404, 409, 410)
def withdrawal(token: str, session_token: str) -> Any:
    """すべての同意を取消す: withdraw every consent of the authenticated patient at this institution at once."""
    return patient_phone.withdraw(runtime(), token, session_token)
