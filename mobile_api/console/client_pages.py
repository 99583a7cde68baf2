"""Console pages for what was command-line or API only: the institution's API clients (create, keys for
rotation, revoke) and consent links for the patient's own phone (create with their QR, list, revoke).

Each form is read through the API's own schema (the same limits and Japanese messages as the API), then
calls the same service as the API route it mirrors, so the access rules and audit rows are the same.
A secret, a link's URL and its QR are shown once, on the answer to the form that made them: the server
keeps only hashes, and the page is never cached (``console.harden``).
"""
from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import render_template, request, session

from ..api.clients.schemas import ClientCreateSchema, CredentialCreateSchema
from ..api.consent_links.schemas import LinkCreateSchema
from ..domain.errors import ValidationFailed
from ..services import clients, patient_phone
from ..web.http import link_url
from ..web.qr import qr_svg
from . import bp
from .routes import rt, see_other, signed_in, who

LINKS_SHOWN = 100
PURPOSE_LABELS = {"general": "いつでも（有効期限まで）", "appointment": "予約（診療予定日まで）"}
AUTH_METHOD_LABELS = {"private_key_jwt": "公開鍵（private_key_jwt・推奨）", "client_secret": "シークレット（client_secret）"}
SCOPE_LABELS = {"qualification:check": "1件ずつの資格確認", "qualification:batch": "一括照会"}


def _form(schema: ma.Schema, data: dict[str, Any]) -> dict[str, Any]:
    """A form read as the API reads its JSON body: the first problem as a Japanese form error (422)."""
    try:
        return schema.load(data)
    except ma.ValidationError as exc:
        messages = exc.normalized_messages()
        field = next(iter(messages), "form")
        detail = messages[field]
        text = "; ".join(str(m) for m in detail) if isinstance(detail, list) else str(detail)
        raise ValidationFailed(f"入力を確認してください（{field}）: {text}", field=str(field)) from exc


def _optional(name: str) -> str | None:
    value = request.form.get(name, "").strip()
    return value or None


# --- API clients ---------------------------------------------------------------------------------------------


@bp.get("/clients")
@signed_in
def clients_page() -> Any:
    listed = clients.list_clients(rt(), who())
    return render_template("console/clients.html", clients=listed, auth_methods=AUTH_METHOD_LABELS,
                           scope_labels=SCOPE_LABELS)


@bp.post("/clients")
@signed_in
def client_add() -> Any:
    body = {"name": request.form.get("name", "").strip(), "auth_method": request.form.get("auth_method", ""),
            "scopes": request.form.getlist("scopes") or list(SCOPE_LABELS)}
    if pem := _optional("public_key_pem"):
        body["public_key_pem"] = pem
    made = clients.create_client(rt(), who(), **_form(ClientCreateSchema(), body))
    return render_template("console/client_new.html", client=made.client, credential=made.credential.credential,
                           secret=made.credential.secret, scope_labels=SCOPE_LABELS)


@bp.post("/clients/<client_id>/credentials")
@signed_in
def client_credential_add(client_id: str) -> Any:
    body = {"public_key_pem": pem} if (pem := _optional("public_key_pem")) else {}
    made = clients.add_credential(rt(), who(), client_id, _form(CredentialCreateSchema(), body).get("public_key_pem"))
    if made.secret is None:
        session["flash"] = f"鍵 {made.credential.key_id} を追加しました。新しい鍵に切り替えたら、古い鍵を無効にしてください。"
        return see_other("console.clients_page")
    listed = {c.id: c for c, _ in clients.list_clients(rt(), who())}
    return render_template("console/client_new.html", client=listed[client_id], credential=made.credential,
                           secret=made.secret, scope_labels=SCOPE_LABELS)


@bp.post("/clients/<client_id>/credentials/<key_id>/revoke")
@signed_in
def client_credential_revoke(client_id: str, key_id: str) -> Any:
    clients.revoke_credential(rt(), who(), client_id, key_id)
    session["flash"] = f"鍵 {key_id} を無効にしました。この鍵での接続は、次の要求から拒否されます。"
    return see_other("console.clients_page")


@bp.post("/clients/<client_id>/revoke")
@signed_in
def client_revoke(client_id: str) -> Any:
    if request.form.get("confirm") != "yes":
        raise ValidationFailed("取り消す場合は、確認のチェックを入れてください。", field="confirm")
    clients.revoke_client(rt(), who(), client_id)
    session["flash"] = "APIクライアントを取り消しました。発行済みのトークンも、次の要求から拒否されます。"
    return see_other("console.clients_page")


# --- consent links -------------------------------------------------------------------------------------------


@bp.get("/consent-links")
@signed_in
def consent_links_page() -> Any:
    links = patient_phone.list_links(rt(), who(), limit=LINKS_SHOWN, offset=0)
    return render_template("console/consent_links.html", links=links, purposes=PURPOSE_LABELS,
                           now=rt().clock())


@bp.post("/consent-links")
@signed_in
def consent_link_add() -> Any:
    care_type = request.form.get("care_type", "")
    body: dict[str, Any] = {"purpose": request.form.get("purpose", ""),
                            "care_type": int(care_type) if care_type in ("2", "3") else care_type}
    for name in ("planned_date", "note"):
        if value := _optional(name):
            body[name] = value
    created = patient_phone.create_link(rt(), who(), **_form(LinkCreateSchema(), body))
    url = link_url(created.token)
    return render_template("console/consent_link_new.html", link=created.link, url=url, qr_svg=qr_svg(url),
                           purposes=PURPOSE_LABELS)


@bp.post("/consent-links/<link_id>/revoke")
@signed_in
def consent_link_revoke(link_id: str) -> Any:
    patient_phone.revoke_link(rt(), who(), link_id)
    session["flash"] = "同意登録用リンクを取り消しました。患者さんがこのリンクを開くと、取り消された旨が表示されます。"
    return see_other("console.consent_links_page")
