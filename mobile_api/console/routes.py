"""The console's pages. Each calls the same service as the API route it mirrors, with the same principal
checks as that route's ``authenticated(...)`` (admin / patient data / staff on a device), so a page refuses
exactly what the API refuses, and the services write the same audit rows."""
from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import datetime, time, timedelta
from functools import wraps
from typing import Any

from flask import current_app, g, redirect, render_template, request, session, url_for
from werkzeug.exceptions import HTTPException

from ..adapters import spreadsheet
from ..api.core import patient_data_refusals_audited
from ..domain.audit_actions import AUDIT_ACTIONS
from ..domain.codes import Form, InfoKind, Role
from ..domain.consent import INFO_KIND_LABELS_JA
from ..domain.errors import DomainError, NotFound, RateLimited, Unauthenticated, ValidationFailed
from ..domain.facility import FACILITY_LABELS_JA, FORM_LABELS_JA, FacilityKind
from ..domain.japanese_dates import JST
from ..queries.visits import VisitCriteria, VisitRead
from ..runtime import Runtime
from ..services import audit, batch, claims, console_auth, devices, identity, visits, visual_password
from ..services.principal import Principal
from ..web.activation_qr import activation_uri
from ..web.batch_tables import results_csv_text
from ..web.http import download, public_url
from ..web.qr import qr_svg
from . import bp, forms
from .display import (
    CHECKUP_ITEMS,
    action_label,
    care_type_label,
    jst,
    outcome_label,
    staff_label,
    target_label,
)

VISIT_PAGE = 50  # visits per listing page (newest first), filtered in the database (visits.search_visits)


def rt() -> Runtime:
    return current_app.extensions["mobile_api"]


def see_other(endpoint: str, **values: Any) -> Any:
    """Post/redirect/get: a reload never sends a form twice."""
    return redirect(url_for(endpoint, **values), code=303)


def who() -> Principal:
    return g.console_principal


def session_limits() -> console_auth.SessionLimits:
    cfg = current_app.config
    return console_auth.SessionLimits(idle=timedelta(minutes=float(cfg.get("CONSOLE_IDLE_MINUTES", 30))),
                                      absolute=timedelta(minutes=float(cfg.get("CONSOLE_SESSION_MINUTES", 480))))


def signed_in(view: Callable[..., Any]) -> Callable[..., Any]:
    """Resolve the session to a principal now, on the server (a revoked user or device, or a session ended by
    logout, reset, role change or time is out at once)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = session.get("sid")
        if not token:
            return see_other("console.login", next=request.path)
        try:
            g.console_principal = console_auth.resume(rt(), str(token), session_limits())
        except Unauthenticated as refusal:
            _forget(refusal.detail)
            return see_other("console.login")
        p = g.console_principal
        with rt().uow() as uow:
            g.console_institution = uow.institutions.get(p.institution_id)
            g.console_user = uow.users.get(p.user_id)
        return view(*args, **kwargs)

    return wrapper


def _forget(notice: str | None = None) -> None:
    csrf = session.get("csrf")
    session.clear()
    if csrf:
        session["csrf"] = csrf
    if notice:
        session["notice"] = notice


@bp.context_processor
def page_globals() -> dict[str, Any]:
    return {"me": g.get("console_principal"), "institution": g.get("console_institution"),
            "me_user": g.get("console_user"), "server_now": rt().clock().isoformat(), "jst": jst,
            "kind_labels": {k.value: v for k, v in INFO_KIND_LABELS_JA.items()},
            "form_labels": {f.value: FORM_LABELS_JA[f] for f in Form}, "care_type_label": care_type_label}


@bp.errorhandler(DomainError)
def refused(refusal: DomainError) -> Any:
    """A service's refusal, as the API would answer it (same status), as a page in Japanese."""
    return render_template("console/error.html", message=refusal.detail, status=refusal.status), refusal.status


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException) -> Any:
    """400 (CSRF) and the like; 404 and 405 are answered app-wide by ``console._page_or_problem``, whose
    code-specific handlers Flask prefers to this one."""
    text = {400: "この操作は受け付けられませんでした（フォームの有効期限切れか、不正な送信です）。"
                 "ページを開き直してから、もう一度お試しください。"}.get(error.code or 500, "この操作はできません。")
    return render_template("console/error.html", message=text, status=error.code), error.code or 500


# --- sign-in -------------------------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error, status, headers = None, 200, {}
    if request.method == "POST":
        try:
            form = forms.load(forms.LOGIN, request.form, strip=("institution_code",))
            principal = console_auth.sign_in(rt(), institution_code=form["institution_code"], login=form["login"],
                                             password=form["password"], device_assertion=form["device_assertion"],
                                             source=request.remote_addr)
        except (Unauthenticated, RateLimited, ValidationFailed) as refusal:
            error, status = refusal.detail, refusal.status
            if "retry_after" in refusal.extra:
                headers["Retry-After"] = str(int(refusal.extra["retry_after"]))
        else:
            token = console_auth.start_session(rt(), principal, session_limits())
            session.clear()
            session.permanent = True
            session["sid"] = token  # a new session id: whatever the browser held before is not it (fixation)
            session["csrf"] = secrets.token_urlsafe(32)  # a new token for the signed-in session
            return redirect(form["next"] or url_for("console.home"), code=303)  # a local path (forms.LOCAL_PATH)
    notice = session.pop("notice", None)
    return render_template("console/login.html", error=error, notice=notice, next=request.values.get("next", ""),
                           institution_code=request.form.get("institution_code", ""),
                           login_id=request.form.get("login", "")), status, headers


@bp.post("/logout")
def logout() -> Any:
    """Ends the session on the server: a copy of the cookie taken before is refused after."""
    token = session.get("sid")
    if token:
        console_auth.end_session(rt(), str(token))
    _forget("ログアウトしました。")
    return see_other("console.login")


@bp.get("/")
@signed_in
def home() -> Any:
    return see_other("console.visits_page")


@bp.get("/this-device")
def this_device() -> Any:
    """Enrol this browser as a device (WebCrypto key, activation code), or see which one it is."""
    return render_template("console/this_device.html")


# --- institution settings ------------------------------------------------------------------------------------


@bp.get("/settings")
@signed_in
def settings() -> Any:
    who().require_admin()
    institution = identity.get_institution(rt(), who())
    kind = FacilityKind(institution.facility_kind)
    forms = [FORM_LABELS_JA[f] for f in Form if f in rt().policy.allowed_forms(kind)]
    return render_template("console/settings.html", inst=institution, kind_label=FACILITY_LABELS_JA[kind],
                           forms=forms, max_failures=rt().rules.visual_password_max_failures)


@bp.post("/settings/name")
@signed_in
def institution_rename() -> Any:
    who().require_admin()
    form = forms.load(forms.INSTITUTION_NAME, request.form, strip=("name",))
    identity.rename_institution(rt(), who(), form["name"])  # admin only, audited
    session["flash"] = "施設名を変更しました。"
    return see_other("console.settings")


@bp.post("/settings/visual-password")
@signed_in
def visual_password_set() -> Any:
    who().require_admin()
    form = forms.load(forms.VISUAL_PASSWORD, request.form)
    if form["password"] != request.form.get("password_again", ""):
        raise ValidationFailed("確認のために入力したパスワードが一致しません。", field="password")
    identity.set_visual_password(rt(), who(), form["password"])
    session["flash"] = "目視確認モードのパスワードを変更しました（ロックも解除されました）。"
    return see_other("console.settings")


@bp.post("/settings/visual-password/unlock")
@signed_in
def visual_password_unlock() -> Any:
    visual_password.unlock(rt(), who())
    session["flash"] = "目視確認モードのロックを解除しました。"
    return see_other("console.settings")


# --- staff ---------------------------------------------------------------------------------------------------


@bp.get("/staff")
@signed_in
def staff_page() -> Any:
    users = identity.list_users(rt(), who())
    return render_template("console/staff.html", users=users, roles=[r.value for r in Role])


@bp.post("/staff")
@signed_in
def staff_add() -> Any:
    who().require_admin()
    f = forms.load(forms.STAFF, request.form, strip=("login", "display_name"))  # the API's StaffCreateSchema
    identity.create_user(rt(), who(), login=f["login"], display_name=f["display_name"], role=f["role"].value,
                         password=f["password"])
    session["flash"] = f"スタッフ {f['login']} を登録しました。"
    return see_other("console.staff_page")


@bp.post("/staff/<user_id>/disable")
@signed_in
def staff_disable(user_id: str) -> Any:
    identity.revoke_user(rt(), who(), user_id)
    session["flash"] = "利用停止にしました。"
    return see_other("console.staff_page")


@bp.post("/staff/<user_id>/password")
@signed_in
def staff_password(user_id: str) -> Any:
    who().require_admin()
    identity.reset_password(rt(), who(), user_id, forms.load(forms.PASSWORD, request.form)["password"])
    session["flash"] = "パスワードを再設定しました。"
    return see_other("console.staff_page")


@bp.post("/staff/<user_id>/role")
@signed_in
def staff_role(user_id: str) -> Any:
    who().require_admin()
    identity.set_role(rt(), who(), user_id, forms.load(forms.ROLE, request.form)["role"].value)
    session["flash"] = "役割を変更しました。"
    return see_other("console.staff_page")


# --- devices -------------------------------------------------------------------------------------------------


def _last_use(device_ids: list[str]) -> dict[str, datetime]:
    """The last audited action of each device (logins, verifications, views)."""
    found: dict[str, datetime] = {}
    for device_id in device_ids:
        rows = audit.list_audit(rt(), who(), action=None, outcome=None, user_id=None, device_id=device_id,
                                since=None, until=None, limit=1, offset=0)
        if rows:
            found[device_id] = rows[0].at
    return found


@bp.get("/devices")
@signed_in
def devices_page() -> Any:
    listed = devices.list_devices(rt(), who())
    return render_template("console/devices.html", devices=listed, last_use=_last_use([d.id for d in listed]))


@bp.post("/devices")
@signed_in
def device_add() -> Any:
    who().require_admin()
    label = forms.load(forms.DEVICE, {"label": request.form.get("label", "").strip() or "端末"})["label"]
    made = devices.create_device(rt(), who(), label)
    server = public_url("")  # PUBLIC_BASE_URL, else this request's host: the URL the device must be given
    uri = activation_uri(made.activation_code, server)
    return render_template("console/device_new.html", device=made.device, code=made.activation_code,
                           qr_svg=qr_svg(uri), expires_at=made.device.activation_expires_at, server=server)


@bp.get("/devices/<device_id>/revoke")
@signed_in
def device_revoke_confirm(device_id: str) -> Any:
    device = next((d for d in devices.list_devices(rt(), who()) if d.id == device_id), None)
    if device is None:
        raise NotFound("端末が見つかりません。")
    return render_template("console/device_revoke.html", device=device)


@bp.post("/devices/<device_id>/revoke")
@signed_in
def device_revoke(device_id: str) -> Any:
    device = devices.revoke_device(rt(), who(), device_id)
    session["flash"] = f"端末「{device.label}」の登録を取り消しました。"
    return see_other("console.devices_page")


# --- visits --------------------------------------------------------------------------------------------------


def _offset() -> int:
    return int(forms.load(forms.PAGE, request.args)["offset"])


@bp.get("/visits")
@signed_in
def visits_page() -> Any:
    p = who()
    with patient_data_refusals_audited(p):
        p.require_patient_data_reader()
    a = request.args
    q = forms.load(forms.VISITS, a)  # dates in the API's years, known forms and care types, bounded offset
    today = rt().clock().astimezone(JST).date()
    first, last = q["from_"] or today, q["to"] or today
    wanted = {k: a.get(k) or None for k in ("staff", "form", "care_type", "outcome")}
    asked = VisitCriteria(
        since=datetime.combine(first, time(), JST), until=datetime.combine(last + timedelta(days=1), time(), JST),
        user_id=q["staff"], form=q["form"].value if q["form"] else None,
        care_type=int(q["care_type"].value) if q["care_type"] else None,
        outcome=q["outcome"], patient_reference=q["patient_reference"])
    offset = int(q["offset"])
    found = visits.search_visits(rt(), p, asked, limit=VISIT_PAGE, offset=offset)  # audited: the ids shown
    query = {k: v for k, v in a.items() if k != "offset" and v}
    staff = identity.list_users(rt(), p) if p.is_admin else []
    return render_template("console/visits.html", rows=found.views, first=first.isoformat(), last=last.isoformat(),
                           wanted=wanted, staff=staff, staff_names={u.id: u.display_name for u in staff},
                           patient_reference=a.get("patient_reference", ""), offset=offset,
                           page_size=VISIT_PAGE, has_more=found.has_more, query=query)


@bp.get("/visits/<visit_id>")
@signed_in
def visit_page(visit_id: str) -> Any:
    p = who()
    view = visits.get_visit(rt(), p, visit_id)  # patient data reader, same institution, audited (visit.read)
    viewed = []
    names: dict[str, str] = {}
    if p.is_admin:  # who viewed what: the audit log, which the API shows to admins only
        names = {u.id: staff_label(u) for u in identity.list_users(rt(), p)}
        for row in audit.list_audit(rt(), p, action="medical_info.view", outcome=None, user_id=None, device_id=None,
                                    since=view.created_at, until=None, limit=1000, offset=0):
            if row.target_id == visit_id:
                viewed.append(row)
    fallback = _fallback_of(p, view)
    kinds = [InfoKind(k) for k in (view.consent.kinds if view.consent else [])]
    return render_template("console/visit.html", v=view, viewed=viewed, names=names,
                           kinds=kinds, fallback=fallback)


def _fallback_of(p: Principal, view: VisitRead) -> list[dict[str, Any]]:
    """Fallback records of the visit's month with the same patient reference, with their claim guidance."""
    ref = view.patient_reference
    if not ref:
        return []
    month = view.created_at.astimezone(JST).strftime("%Y-%m")
    try:
        rows = claims.for_month(rt(), p, month)
    except DomainError:
        return []
    return [r.to_dict() for r in rows if r.kind == "fallback" and r.patient_reference == ref]


@bp.get("/visits/<visit_id>/medical/<kind>")
@signed_in
def medical_page(visit_id: str, kind: str) -> Any:
    try:
        info_kind = InfoKind(kind)
    except ValueError:
        raise NotFound("このページはありません。") from None
    shown = visits.view_medical_information(rt(), who(), visit_id, info_kind)  # staff on device, window, audited
    return render_template("console/medical.html", shown=shown, kind=info_kind, visit_id=visit_id,
                           checkup_items=CHECKUP_ITEMS)


# --- audit and claims ----------------------------------------------------------------------------------------


def _audit_rows() -> tuple[list[Any], dict[str, str]]:
    p = who()
    a = request.args
    q = forms.load(forms.AUDIT, a)  # dates in the API's years, bounded text without control characters
    since = datetime.combine(q["from_"], time(), JST) if q["from_"] else None
    until = datetime.combine(q["to"] + timedelta(days=1), time(), JST) if q["to"] else None
    rows = audit.list_audit(rt(), p, action=q["action"], outcome=None, user_id=q["staff"], device_id=q["device"],
                            since=since, until=until, limit=1000, offset=0,
                            patient_reference=q["patient_reference"])  # visits, fallback, consents
    return rows, {k: a.get(k, "") for k in ("from", "to", "action", "staff", "device", "patient_reference")}


def _actors() -> tuple[list[Any], list[Any], dict[str, str], dict[str, str]]:
    """The institution's staff and devices, and how the audit log names them (never by id)."""
    users, device_list = identity.list_users(rt(), who()), devices.list_devices(rt(), who())
    return users, device_list, {u.id: staff_label(u) for u in users}, {d.id: d.label for d in device_list}


@bp.get("/audit")
@signed_in
def audit_page() -> Any:
    rows, query = _audit_rows()
    users, device_list, names, device_names = _actors()
    return render_template("console/audit.html", rows=rows[:300], total=len(rows), query=query, users=users,
                           names=names, devices=device_list, device_names=device_names, actions=AUDIT_ACTIONS,
                           action_label=action_label, outcome_label=outcome_label, target_label=target_label)


AUDIT_CSV_COLUMNS = ("日時（日本時間）", "操作", "結果", "スタッフ", "端末", "対象の種類", "対象ID", "詳細",
                     "操作コード", "結果コード", "スタッフID", "端末ID", "対象の種類コード")


@bp.get("/audit.csv")
@signed_in
def audit_csv() -> Any:
    """The filtered audit log as CSV, through the one formula-safe writer (a refused path is outside text). People
    read the Japanese columns (action label, 成功/拒否, staff by name and login, device by label); machines read the
    codes and ids, which keep columns of their own at the end."""
    rows, _ = _audit_rows()
    _, _, names, device_names = _actors()
    body = spreadsheet.csv_text(AUDIT_CSV_COLUMNS, (
        (jst(r.at), action_label(r.action), outcome_label(r.outcome), names.get(r.actor_user_id or "", ""),
         device_names.get(r.actor_device_id or "", ""), target_label(r.target_type), r.target_id,
         json.dumps(r.detail or {}, ensure_ascii=False), r.action, r.outcome, r.actor_user_id, r.actor_device_id,
         r.target_type)
        for r in rows))
    return download(body, "audit.csv")


# --- health-check batch results ------------------------------------------------------------------------------

BATCH_JOBS_PAGE = 50
BATCH_ROWS_PAGE = 100
BATCH_STATES = {"queued": "待機中", "running": "処理中", "done": "完了", "cancelled": "取り消し"}
BATCH_OUTCOMES = {"checked": "照会済み", "error": "エラー", "pending": "未処理"}


@bp.get("/batch-jobs")
@signed_in
def batch_jobs_page() -> Any:
    """The institution's health-check batch jobs with their progress (admin; the jobs are made by its clients)."""
    offset = _offset()
    jobs = batch.list_jobs(rt(), who(), limit=BATCH_JOBS_PAGE + 1, offset=offset)
    return render_template("console/batch_jobs.html", jobs=jobs[:BATCH_JOBS_PAGE], offset=offset,
                           page_size=BATCH_JOBS_PAGE, has_more=len(jobs) > BATCH_JOBS_PAGE, states=BATCH_STATES)


@bp.get("/batch-jobs/<job_id>")
@signed_in
def batch_job_page(job_id: str) -> Any:
    """One job and a page of its rows (examinee data: read through ``batch.results``, audited)."""
    offset = _offset()
    job = batch.get(rt(), who(), job_id)
    rows: list[dict[str, Any]] = []
    if job.purged_at is None:
        job, rows = batch.results(rt(), who(), job_id, limit=BATCH_ROWS_PAGE, offset=offset)
    return render_template("console/batch_job.html", job=job, rows=rows, offset=offset, page_size=BATCH_ROWS_PAGE,
                           has_more=offset + len(rows) < job.total, states=BATCH_STATES, outcomes=BATCH_OUTCOMES)


@bp.get("/batch-jobs/<job_id>/results.csv")
@signed_in
def batch_job_csv(job_id: str) -> Any:
    """Every row as CSV, the same columns and values as GET /api/v1/batch-jobs/{id}/results.csv."""
    return download(results_csv_text(rt(), who(), job_id), f"batch-{job_id}.csv")


@bp.get("/claims")
@signed_in
def claims_page() -> Any:
    with patient_data_refusals_audited(who()):
        who().require_patient_data_reader()
    month = rt().clock().astimezone(JST).strftime("%Y-%m")
    return render_template("console/claims.html", month=month)


@bp.get("/claims.csv")
@signed_in
def claims_csv() -> Any:
    p = who()
    with patient_data_refusals_audited(p):  # as GET /api/v1/claims/csv (patient_data=True): refusals audited
        p.require_patient_data_reader()
    month = request.args.get("month", "")
    body = claims.to_csv(claims.for_month(rt(), p, month))  # the service checks the month (422, field month)
    return download(body, f"claims-{month}.csv")
