"""A verification, page by page: form and care type, consent, card, PIN pad or visual check.

Each card step opens its own card session inside one request (open, read, verify, sign,
close): a session does not survive across requests reliably. The PIN arrives in one POST,
goes to ``flows.verify_with_pin`` and nowhere else; a wrong PIN returns to the pad, it is
never retried by the UI. A one-time attempt token stops a double tap spending a second try.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request, url_for

from device_agent import flows, messages
from device_agent.card.apdu import PinLocked, WrongPin
from device_agent.card.guard import PrivacyGuardError
from device_agent.card.transport import CardError
from device_agent.certificate import CertificateUnusable
from device_agent.client import ApiProblem, NetworkError, SessionExpired
from device_agent.ui import display
from device_agent.ui.common import agent, card_source, error_page, reader_status, see_other, signed_in, state
from device_agent.ui.state import Draft, Outcome

bp = Blueprint("verify", __name__)
FAILURES = (CardError, PrivacyGuardError, ApiProblem, NetworkError, SessionExpired)
OTHER_CARD = "最初に読み取ったカードと違うカードです。「最初から」を押して、もう一度お試しください。"


def _allowed_forms() -> list[str]:
    allowed = (state().institution or {}).get("allowed_forms") or []
    return [form for form in display.FORMS if form in allowed]


@bp.route("/start", methods=["GET", "POST"])
@signed_in
def start() -> Any:
    forms = _allowed_forms()
    if request.method == "GET":  # no side effects on GET: a page elsewhere could request it
        return render_template("start.html", forms=forms, chosen=forms[0] if len(forms) == 1 else None,
                               notice=state().take_notice())
    form = request.form.get("form", "")
    care = display.care_type_for(form, request.form.get("care_type")) if form in forms else None
    if care is None:
        return render_template("start.html", forms=forms, chosen=form,
                               error="確認方式と診療の種類を選んでください。"), 422
    state().new_visit()
    state().draft.form, state().draft.care_type = form, care
    return see_other("verify.consent" if form == "home_consent" else "verify.card")


@bp.route("/consent", methods=["GET", "POST"])
@signed_in
def consent() -> Any:
    draft = state().draft
    if draft.form != "home_consent":
        return see_other("verify.start")
    if request.method == "GET":
        return render_template("consent.html")
    if request.form.get("choice") == "blanket":
        draft.consent = {"blanket": True}
    else:
        kinds = [k for k in display.KINDS if k != "surgery" and request.form.get(k) == "yes"]
        if request.form.get("surgery") == "yes":
            kinds.append("surgery")
        draft.consent = {"kinds": kinds} if kinds else None
    draft.consent_chosen = True
    return see_other("verify.card")


@bp.route("/card", methods=["GET", "POST"])
@signed_in
def card() -> Any:
    draft = state().draft
    if draft.form is None or (draft.form == "home_consent" and not draft.consent_chosen):
        return see_other("verify.start")
    if request.method == "GET":
        return render_template("card.html", reader=reader_status())
    try:
        with state().card_lock, card_source()() as session:
            draft.read = flows.read_card(session)
        draft.certificate_notice = messages.certificate_notice(draft.read, agent().now())
    except CertificateUnusable as unusable:  # said before any PIN is typed
        draft.read = None
        return render_template("error.html", heading=messages.CARD_NOT_USABLE,
                               message=messages.certificate_unusable(unusable), by_design=True,
                               back=url_for("offline.new", method="qualification_certificate",
                                            reason="certificate_expired"),
                               back_label="資格確認書で確認して記録する")
    except FAILURES as exc:
        return error_page(exc, back=url_for("verify.card"), back_label="もう一度かざす")
    if not draft.read.pin_usable:
        state().notice = messages.PIN_LOCKED
        return see_other("verify.visual")
    return see_other("verify.pin")


@bp.route("/pin", methods=["GET", "POST"])
@signed_in
def pin() -> Any:
    draft = state().draft
    if draft.read is None:
        return see_other("verify.card")
    if request.method == "GET":
        tries = draft.read.tries_left
        return render_template("pin.html", prompt=messages.pin_prompt(tries, warn=False), tries=tries,
                               last_try_warning=messages.LAST_TRY_WARNING,
                               certificate_notice=draft.certificate_notice,
                               last_try=tries == 1, error=state().take_notice(), attempt=state().issue_attempt())
    return _submit_pin(request.form.get("pin", ""), request.form.get("attempt", ""))


def _submit_pin(pin: str, attempt: str) -> Any:
    draft = state().draft
    assert draft.read is not None
    if not (len(pin) == 4 and pin.isascii() and pin.isdigit()):
        state().notice = messages.PIN_FORMAT
        return see_other("verify.pin")
    try:
        agent().api.ensure_session()  # before the card: a PIN the card accepted must not meet a stale login
    except (SessionExpired, NetworkError, ApiProblem) as exc:
        del pin
        return error_page(exc, back=url_for("verify.pin"), back_label="暗証番号の入力に戻る",
                          resume=url_for("verify.pin"))
    try:
        with state().card_lock:
            if not state().consume_attempt(attempt):
                return see_other("verify.pin")  # a repeated submission: the card is not touched again
            with card_source()() as session:
                read = flows.read_card(session)
                if read.identity.certificate_der != draft.read.identity.certificate_der:
                    return render_template("error.html", message=OTHER_CARD, back=url_for("verify.start"),
                                           back_label="最初から")
                draft.read = read
                if not read.pin_usable:
                    raise PinLocked(0x6984)
                visit = flows.verify_with_pin(agent().api, session, read, draft.request(), pin)
    except WrongPin as exc:
        draft.read = flows.CardRead(draft.read.identity, exc.tries_left, pin_usable=True)
        state().notice = messages.wrong_pin(exc.tries_left)
        return see_other("verify.pin")
    except PinLocked:
        state().notice = messages.PIN_LOCKED
        return see_other("verify.visual")
    except FAILURES as exc:
        return error_page(exc, back=url_for("verify.card"), back_label="カードの読み取りに戻る",
                          resume=url_for("verify.pin"))
    finally:
        del pin
    return _done(visit)


@bp.route("/visual", methods=["GET", "POST"])
@signed_in
def visual() -> Any:
    draft = state().draft
    if draft.read is None:
        return see_other("verify.card")
    if request.method == "GET":
        return render_template("visual.html", notice=state().take_notice() or draft.certificate_notice, error=None,
                               attempt=state().issue_attempt())
    if request.form.get("photo_checked") != "yes" or not request.form.get("visual_password"):
        return render_template("visual.html", notice=None, attempt=state().issue_attempt(),
                               error="顔写真の確認にチェックを入れ、目視確認モードのパスワードを入力してください。"), 422
    with state().card_lock:
        if not state().consume_attempt(request.form.get("attempt", "")):
            return see_other("verify.visual")
        try:
            visit = flows.verify_visually(agent().api, draft.read, draft.request(), request.form["visual_password"])
        except ApiProblem as exc:
            if exc.slug != "visual-password-wrong":
                return error_page(exc, back=url_for("verify.start"), back_label="最初から")
            return render_template("visual.html", notice=None, error=messages.describe(exc),
                                   attempt=state().issue_attempt()), 403
        except (NetworkError, SessionExpired) as exc:
            return error_page(exc, back=url_for("verify.visual"), back_label="目視確認に戻る",
                              resume=url_for("verify.visual"))
    return _done(visit)


def _done(visit: dict[str, Any]) -> Any:
    state().outcome = Outcome(visit, agent().now())
    state().draft = Draft()  # the card read is no longer needed
    return see_other("session.result")
