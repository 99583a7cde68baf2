"""The console refuses what the API refuses, and audits what the API audits (Flask test client, SQLite and
PostgreSQL). The browser flows themselves are in tests/e2e/test_console.py."""
from __future__ import annotations

import re
from typing import Any

from tests.support.harness import ADMIN_PASSWORD, STAFF_PASSWORD, Tenant

P01 = "P01-valid-30"


class Browser:
    """A signed-in console session (cookie + CSRF token), as a browser keeps them."""

    def __init__(self, h: Any, tenant: Tenant, login: str, password: str) -> None:
        self.client = h.app.test_client()
        self.csrf = self._token(self.client.get("/console/login"))
        r = self.client.post("/console/login", data={"csrf_token": self.csrf, "institution_code": tenant.code,
                                                     "login": login, "password": password})
        assert r.status_code == 303, r.get_data(as_text=True)
        self.csrf = self._token(self.client.get("/console/login"))  # the signed-in session's new token

    @staticmethod
    def _token(response: Any) -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True)).group(1)

    def get(self, path: str) -> Any:
        return self.client.get(path)

    def post(self, path: str, **form: str) -> Any:
        return self.client.post(path, data={"csrf_token": self.csrf, **form})


def visit_in(h: Any, tenant: Tenant, nurse_login: str = "nurse1") -> dict[str, Any]:
    made = h.verify_pin(tenant.nurse(nurse_login), h.card(P01), consent={"blanket": True})
    assert made.status_code == 201, made.get_json()
    return made.get_json()


def audit_rows(h: Any, tenant: Tenant, action: str) -> list[dict[str, Any]]:
    return h.client.get(f"/api/v1/audit-events?action={action}", headers=tenant.auth()).get_json()


def test_staff_in_a_plain_browser_sees_no_patient_data_and_no_admin_page(h) -> None:
    tenant = h.institution("home_visit_care")
    visit = visit_in(h, tenant)
    staff = Browser(h, tenant, "nurse1", STAFF_PASSWORD)
    for path in ("/console/visits", f"/console/visits/{visit['id']}", "/console/claims.csv?month=2026-12"):
        r = staff.get(path)
        assert r.status_code == 403, path
        assert "登録済み端末でのスタッフのログイン" in r.get_data(as_text=True)  # the API's own refusal
    for path in ("/console/staff", "/console/devices", "/console/audit", "/console/settings"):
        assert staff.get(path).status_code == 403, path
    assert staff.post("/console/devices", label="x").status_code == 403


def test_admin_reads_visits_audited_like_the_api_but_no_medical_information_without_a_device(h) -> None:
    tenant = h.institution("home_visit_care")
    visit = visit_in(h, tenant)
    admin = Browser(h, tenant, "admin", ADMIN_PASSWORD)
    page = admin.get(f"/console/visits/{visit['id']}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "佐藤 健一" in text
    assert "を見る</a>" not in text and 'id="medical-why-not"' in text  # no button that can only be refused
    read = audit_rows(h, tenant, "visit.read")[0]
    assert read["target_id"] == visit["id"] and read["user_id"] is not None and read["device_id"] is None
    medical = admin.get(f"/console/visits/{visit['id']}/medical/medication")
    api = h.medical(tenant.admin_token, visit["id"])  # the admin's token has no device either
    assert medical.status_code == api.status_code == 403
    assert api.get_json()["detail"] in medical.get_data(as_text=True)
    assert api.get_json()["detail"].startswith("医療情報の閲覧には")  # not worded as qualification confirmation


def test_other_institution_is_not_found_and_a_revoked_user_is_out_at_once(h) -> None:
    a, b = h.institution("home_visit_care"), h.institution("home_visit_care")
    theirs = visit_in(h, b)
    their_device = b.devices[0].id
    admin = Browser(h, a, "admin", ADMIN_PASSWORD)
    assert admin.get(f"/console/visits/{theirs['id']}").status_code == 404
    assert admin.get(f"/console/devices/{their_device}/revoke").status_code == 404
    assert admin.post(f"/console/devices/{their_device}/revoke").status_code == 404

    a.create_staff("second", role="admin")
    other = Browser(h, a, "second", STAFF_PASSWORD)
    users = {u["login"]: u["id"] for u in h.client.get("/api/v1/staff", headers=a.auth()).get_json()}
    assert admin.post(f"/console/staff/{users['second']}/disable").status_code == 303
    r = other.get("/console/visits")
    assert r.status_code == 303 and "/console/login" in r.headers["Location"]


def test_staff_and_settings_changes_go_through_the_services(h) -> None:
    tenant = h.institution("home_visit_care")
    tenant.create_staff("nurse1")
    admin = Browser(h, tenant, "admin", ADMIN_PASSWORD)
    users = {u["login"]: u["id"] for u in h.client.get("/api/v1/staff", headers=tenant.auth()).get_json()}
    assert admin.post(f"/console/staff/{users['nurse1']}/password", password="new-password-2026").status_code == 303
    assert h.client.post("/api/v1/auth/login", json={"institution_code": tenant.code, "login": "nurse1",
                                                     "password": "new-password-2026"}).status_code == 200
    last_admin = admin.post(f"/console/staff/{users['admin']}/role", role="staff")
    assert last_admin.status_code == 409 and "最後の管理者" in last_admin.get_data(as_text=True)
    assert admin.post("/console/settings/visual-password", password="mokushi-2027",
                      password_again="mokushi-2027").status_code == 303
    assert admin.post("/console/settings/visual-password/unlock").status_code == 303
    assert audit_rows(h, tenant, "institution.visual_password.unlock")
    assert audit_rows(h, tenant, "user.password.reset")[0]["target_id"] == users["nurse1"]


def test_a_post_without_the_session_csrf_token_changes_nothing(h) -> None:
    tenant = h.institution("home_visit_care")
    admin = Browser(h, tenant, "admin", ADMIN_PASSWORD)
    r = admin.client.post("/console/staff", data={"csrf_token": "forged", "login": "x1", "display_name": "x",
                                                  "password": STAFF_PASSWORD})
    assert r.status_code == 400
    r = admin.client.post("/console/staff", data={"login": "x1", "display_name": "x", "password": STAFF_PASSWORD})
    assert r.status_code == 400
    assert "x1" not in [u["login"] for u in h.client.get("/api/v1/staff", headers=tenant.auth()).get_json()]


def _clone_visits(h: Any, template_id: str, count: int, start: Any) -> list[str]:
    """``count`` copies of a visit, one minute apart from ``start`` (written directly: the listing is what is
    tested here, not the verification that makes visits)."""
    import uuid
    from datetime import timedelta

    from mobile_api.adapters import orm

    with h.rt.uow() as uow:
        src = uow.visits.get(template_id)
        copied = {c.key: getattr(src, c.key) for c in orm.Visit.__mapper__.column_attrs
                  if c.key not in ("id", "challenge_id", "created_at", "care_relationship_id")}
        made = [uow.visits.add(orm.Visit(id=str(uuid.uuid4()), created_at=start + timedelta(minutes=i),
                                         **copied)) for i in range(count)]
        uow.commit()
        return [v.id for v in made]


def _last_listing(h: Any, tenant: Tenant) -> dict[str, Any]:
    """The newest visit.list audit row's detail (read directly: the tenant's API token expired meanwhile)."""
    with h.rt.uow() as uow:
        institution = uow.institutions.one_by(code=tenant.code)
        return dict(uow.audit.search(institution.id, action="visit.list", limit=1, offset=0)[0].detail)


def _shown_ids(page: Any) -> list[str]:
    return re.findall(r'href="/console/visits/([0-9a-f-]{36})"', page.get_data(as_text=True))


def test_visit_filters_run_in_the_database_and_the_audit_names_only_the_visits_shown(h) -> None:
    from datetime import timedelta

    tenant = h.institution("home_visit_care")
    old = visit_in(h, tenant)  # 2026-12-01 in Japan
    newer = _clone_visits(h, old["id"], 520, h.clock() + timedelta(days=10))  # from 2026-12-11, all newer
    h.clock.advance(days=20)
    admin = Browser(h, tenant, "admin", ADMIN_PASSWORD)

    found = admin.get("/console/visits?from=2026-12-01&to=2026-12-01")
    assert found.status_code == 200
    assert _shown_ids(found) == [old["id"]]  # beyond the newest 500, still found by its date range
    assert _shown_ids(admin.get("/console/visits?from=2026-12-01&to=2026-12-01&outcome=invalid")) == []
    listed = _last_listing(h, tenant)
    assert listed["ids"] == [] and listed["filters"]["outcome"] == "invalid"
    admin.get("/console/visits?from=2026-12-01&to=2026-12-01")
    assert _last_listing(h, tenant)["ids"] == [old["id"]]

    first = admin.get("/console/visits?from=2026-12-11&to=2026-12-31&form=home_consent")
    shown = _shown_ids(first)
    assert shown == list(reversed(newer))[:50] and "次の50件" in first.get_data(as_text=True)
    assert _last_listing(h, tenant)["ids"] == shown  # the page, not what was read
    second = _shown_ids(admin.get("/console/visits?from=2026-12-11&to=2026-12-31&form=home_consent&offset=50"))
    assert second == list(reversed(newer))[50:100]
    assert _last_listing(h, tenant)["ids"] == second
    assert admin.get("/console/visits?form=nonsense").status_code == 422


def test_an_admin_renames_the_institution_in_the_console_and_through_the_api_audited(h) -> None:
    tenant = h.institution("home_visit_care")
    nurse_token = tenant.nurse("nurse1")  # staff on a device
    admin = Browser(h, tenant, "admin", ADMIN_PASSWORD)
    assert admin.post("/console/settings/name", name="  さくら訪問看護ステーション ").status_code == 303
    assert "さくら訪問看護ステーション" in admin.get("/console/settings").get_data(as_text=True)
    got = h.client.get("/api/v1/institution", headers=tenant.auth()).get_json()
    assert got["name"] == "さくら訪問看護ステーション"
    renamed = audit_rows(h, tenant, "institution.rename")[0]
    assert renamed["detail"]["after"] == "さくら訪問看護ステーション" and renamed["user_id"] is not None
    assert admin.post("/console/settings/name", name="改行\nあり").status_code == 422
    staff = Browser(h, tenant, "nurse1", STAFF_PASSWORD)
    assert staff.post("/console/settings/name", name="乗っ取り").status_code == 403
    api = h.client.put("/api/v1/institution", json={"name": "ひまわり訪問看護"}, headers=tenant.auth())
    assert api.status_code == 200 and api.get_json()["name"] == "ひまわり訪問看護"
    nurse = h.client.put("/api/v1/institution", json={"name": "乗っ取り"},
                         headers=tenant.auth(nurse_token))
    assert nurse.status_code == 403 and nurse.headers["Content-Type"].startswith("application/problem+json")
    blank = h.client.put("/api/v1/institution", json={"name": "   "}, headers=tenant.auth())
    assert blank.status_code == 422
    assert h.client.get("/api/v1/institution", headers=tenant.auth()).get_json()["name"] == "ひまわり訪問看護"
    assert len(audit_rows(h, tenant, "institution.rename")) == 2


def test_an_admin_reads_the_health_check_batch_results_paged_audited_with_the_apis_csv(h) -> None:
    from mobile_api.services import batch
    from tests.integration.test_health_check_api import Integrator, rows, wait_done

    try:
        integrator = Integrator(h)
        headers = integrator.auth()
        made = h.client.post("/api/v1/batch-jobs", json={"examinees": rows(150)}, headers=headers)
        assert made.status_code == 202, made.get_json()
        location = made.headers["Location"]
        job_id = location.rsplit("/", 1)[1]
        batch.run(h.rt, job_id)  # here, unless the app's runner took it first (then it finishes it)
        assert wait_done(h, headers, location)["done"] == 150
        tenant = integrator.tenant
        admin = Browser(h, tenant, "admin", ADMIN_PASSWORD)

        listing = admin.get("/console/batch-jobs").get_data(as_text=True)
        assert f"/console/batch-jobs/{job_id}" in listing and "150 / 150" in listing
        first = admin.get(f"/console/batch-jobs/{job_id}").get_data(as_text=True)
        shown = re.findall(r'data-label="受診者番号" class="strong">(R\d{5})<', first)
        assert shown == [f"R{i:05d}" for i in range(100)] and "次の100件" in first
        second = admin.get(f"/console/batch-jobs/{job_id}?offset=100").get_data(as_text=True)
        assert re.findall(r'data-label="受診者番号" class="strong">(R\d{5})<', second) == [
            f"R{i:05d}" for i in range(100, 150)]
        read = audit_rows(h, tenant, "batch.results")[0]
        assert read["user_id"] is not None and read["detail"]["offset"] == 100 and read["detail"]["count"] == 50

        ours = admin.get(f"/console/batch-jobs/{job_id}/results.csv")
        theirs = h.client.get(f"{location}/results.csv", headers=headers)
        assert ours.status_code == 200 and ours.data == theirs.data  # the same CSV as the API's

        tenant.create_staff("nurse1")
        staff = Browser(h, tenant, "nurse1", STAFF_PASSWORD)
        for path in ("/console/batch-jobs", f"/console/batch-jobs/{job_id}", f"/console/batch-jobs/{job_id}/results.csv"):
            assert staff.get(path).status_code == 403, path
        other = Browser(h, h.institution("health_check"), "admin", ADMIN_PASSWORD)
        assert other.get(f"/console/batch-jobs/{job_id}").status_code == 404
        assert f"/console/batch-jobs/{job_id}" not in other.get("/console/batch-jobs").get_data(as_text=True)
    finally:
        h.rt.jobs.stop()


def test_the_audit_pages_patient_reference_finds_the_patients_visits_fallback_records_and_consents(h) -> None:
    from tests.integration.test_fallback_records import body, post

    tenant = h.institution("home_visit_care")
    visit = visit_in(h, tenant)  # its consent.register row targets the consent
    with h.rt.uow() as uow:
        uow.visits.get(visit["id"]).patient_reference = "P-001"  # as the device would have sent it
        uow.commit()
    nurse = tenant.nurse("nurse2")
    ours = post(h, nurse, body(patient_reference="P-001")).get_json()
    theirs = post(h, nurse, body(patient_reference="P-999")).get_json()
    admin = Browser(h, tenant, "admin", ADMIN_PASSWORD)
    admin.get(f"/console/visits/{visit['id']}")  # visit.read
    consent_id = next(r["target_id"] for r in audit_rows(h, tenant, "consent.register"))

    page = admin.get("/console/audit?patient_reference=P-001").get_data(as_text=True)
    assert ours["id"][:8] in page and theirs["id"][:8] not in page
    csv_text = admin.get("/console/audit.csv?patient_reference=P-001").get_data(as_text=True)
    for target in (visit["id"], consent_id, ours["id"]):
        assert target in csv_text, target
    assert theirs["id"] not in csv_text
    csv_text = admin.get("/console/audit.csv?patient_reference=P-999").get_data(as_text=True)
    assert theirs["id"] in csv_text and ours["id"] not in csv_text and visit["id"] not in csv_text


def test_a_refused_console_page_of_patient_data_is_audited_like_the_apis(h) -> None:
    tenant = h.institution("home_visit_care")
    tenant.nurse("nurse1")
    staff = Browser(h, tenant, "nurse1", STAFF_PASSWORD)
    for path in ("/console/visits", "/console/claims", "/console/claims.csv?month=2026-12"):
        assert staff.get(path).status_code == 403, path
    refused = audit_rows(h, tenant, "patient_data.access")
    assert sorted(e["detail"]["route"] for e in refused) == ["/console/claims", "/console/claims.csv",
                                                              "/console/visits"]
    assert {(e["outcome"], e["detail"]["rule"]) for e in refused} == {("refused", "patient-data-reader")}


def test_a_mistyped_console_url_is_a_japanese_page_and_the_api_keeps_problem_json(h) -> None:
    tenant = h.institution("home_visit_care")
    admin = Browser(h, tenant, "admin", ADMIN_PASSWORD)
    for path, status in (("/console/visit", 404), ("/console/visits/x/y/z", 404), ("/console/logout", 405)):
        page = admin.get(path)
        assert page.status_code == status and page.mimetype == "text/html", path
        assert "表示できません" in page.get_data(as_text=True) and "frame-ancestors 'none'" in page.headers[
            "Content-Security-Policy"]
    api = h.client.get("/api/v1/visit")
    assert api.status_code == 404 and api.mimetype == "application/problem+json"


def test_every_console_page_and_file_is_sent_with_a_strict_csp_no_framing_no_referrer_and_no_store(h) -> None:
    from tests.integration.test_patient_phone import _assert_page_headers

    tenant = h.institution("home_visit_care")
    admin = Browser(h, tenant, "admin", ADMIN_PASSWORD)
    pages = [admin.get(path) for path in ("/console/staff", "/console/audit.csv", "/console/no-such-page",
                                          "/console/static/console.js")]
    pages.append(h.app.test_client().get("/console/login"))
    assert [p.status_code for p in pages] == [200, 200, 404, 200, 200]
    for page in pages:
        _assert_page_headers(page)
    html = pages[0].get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)", html) and "<style" not in html and " style=" not in html


def test_the_device_page_and_its_qr_carry_the_servers_public_url(h, tmp_path) -> None:
    """Issue 19: the device is given the server's URL (PUBLIC_BASE_URL, else the request's host), never a
    placeholder; the QR carries it, so the agent enrols from the QR alone."""
    from device_agent.enrolment import activation_from_qr_image

    tenant = h.institution("home_visit_care")
    admin = Browser(h, tenant, "admin", ADMIN_PASSWORD)
    page = admin.post("/console/devices", label="タブレット").get_data(as_text=True)
    assert "APIのURL" not in page and "--server http://localhost --code" in page
    h.app.config["PUBLIC_BASE_URL"] = "https://oqs.example.jp/"
    page = admin.post("/console/devices", label="スマホ").get_data(as_text=True)
    assert "--server https://oqs.example.jp --code" in page
    svg = tmp_path / "qr.svg"
    svg.write_text(re.search(r"<svg.*?</svg>", page, re.S).group(0), encoding="utf-8")
    code, server = activation_from_qr_image(svg)
    assert server == "https://oqs.example.jp" and code in page.replace(" ", "")
    api = h.client.post("/api/v1/devices", json={"label": "t"}, headers=tenant.auth()).get_json()
    assert "server=https%3A%2F%2Foqs.example.jp" in api["activation_uri"]
