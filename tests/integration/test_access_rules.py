"""Access rules: who may read patient data, the last admin, and the visual-mode password lock-out."""
import dataclasses
import threading

import pytest

from mobile_api.bootstrap import rules_from
from mobile_api.config import DEFAULTS
from tests.support.harness import ADMIN_PASSWORD, STAFF_PASSWORD, VISUAL_PASSWORD, b64

P = "P01-valid-30"
FACE = "P23-face-card-no-pin"


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def login_without_device(h, tenant, login, password=STAFF_PASSWORD):
    r = h.client.post("/api/v1/auth/login", json={"institution_code": tenant.code, "login": login,
                                                  "password": password})
    assert r.status_code == 200, r.get_json()
    return r.get_json()["access_token"]


def fallback_body():
    return {"care_type": 2, "form": "home_consent", "method": "notice_with_card", "reason": "offline",
            "device_recorded_at": "2026-11-30T21:00:00+00:00", "patient_reference": "P-001",
            "evidence": {"card_presented": True, "insurer_number": "01130012", "number": "1287", "name": "山田 太郎",
                         "birth_date": "1984-05-12"}}


@pytest.fixture
def visited(h):
    """A tenant with a nurse on a device, one visit and one fallback record."""
    tenant = h.institution()
    nurse = tenant.nurse()
    visit = h.verify_pin(nurse, h.card(P), consent={"blanket": True})
    assert visit.status_code == 201, visit.get_json()
    record = h.client.post("/api/v1/fallback-records", json=fallback_body(),
                           headers={**bearer(nurse), "Idempotency-Key": "record-0001"})
    assert record.status_code == 201, record.get_json()
    return tenant, nurse, visit.get_json()["id"], record.get_json()["id"]


def patient_reads(visit_id):
    return ("/api/v1/visits", f"/api/v1/visits/{visit_id}", "/api/v1/fallback-records")


# --- patient data: a person on a registered device, or an admin ---------------------------------

def test_staff_without_a_device_cannot_read_patient_data(h, visited):
    tenant, _, visit_id, _ = visited
    plain = login_without_device(h, tenant, "nurse1")
    for path in patient_reads(visit_id):
        r = h.client.get(path, headers=bearer(plain))
        assert r.status_code == 403, path
        assert r.mimetype == "application/problem+json" and r.get_json()["rule"] == "patient-data-reader", path
        assert "山田" not in r.get_data(as_text=True)


def test_device_only_token_cannot_read_patient_data(h, visited):
    tenant, _, visit_id, _ = visited
    r = h.client.post("/api/v1/auth/device-token", json={"assertion": tenant.assertion(tenant.devices[0])})
    assert r.status_code == 200, r.get_json()
    device_only = r.get_json()["access_token"]
    for path in patient_reads(visit_id):
        r = h.client.get(path, headers=bearer(device_only))
        assert r.status_code == 403, path
        assert r.get_json()["rule"] == "patient-data-reader", path


def test_staff_on_a_device_and_admin_read_patient_data(h, visited):
    tenant, nurse, visit_id, _ = visited
    for token in (nurse, tenant.admin_token):
        for path in patient_reads(visit_id):
            assert h.client.get(path, headers=bearer(token)).status_code == 200, path


def events(h, tenant, action):
    r = h.client.get("/api/v1/audit-events", query_string={"action": action}, headers=tenant.auth())
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_every_patient_data_read_is_audited_with_the_ids(h, visited):
    tenant, nurse, visit_id, record_id = visited
    device_id = tenant.devices[0].id
    assert h.client.get("/api/v1/visits", headers=bearer(nurse)).status_code == 200
    assert h.client.get(f"/api/v1/visits/{visit_id}", headers=bearer(nurse)).status_code == 200
    assert h.client.get("/api/v1/fallback-records", headers=bearer(nurse)).status_code == 200
    assert h.client.get("/api/v1/visits", query_string={"offset": 5}, headers=tenant.auth()).get_json() == []

    listed = events(h, tenant, "visit.list")
    assert len(listed) == 2  # one row per request, the empty page included
    empty, by_nurse = listed  # newest first
    assert by_nurse["device_id"] == device_id and by_nurse["user_id"] is not None
    assert by_nurse["detail"]["count"] == 1 and by_nurse["detail"]["ids"] == [visit_id]
    assert empty["device_id"] is None and empty["detail"]["count"] == 0

    [one] = events(h, tenant, "visit.read")
    assert one["target_type"] == "visit" and one["target_id"] == visit_id and one["device_id"] == device_id

    [records] = events(h, tenant, "fallback.list")
    assert records["detail"]["count"] == 1 and records["detail"]["ids"] == [record_id]


def test_refused_reads_and_missing_visits_are_not_audited_as_reads(h, visited):
    tenant, nurse, _, _ = visited
    plain = login_without_device(h, tenant, "nurse1")
    assert h.client.get("/api/v1/visits", headers=bearer(plain)).status_code == 403
    assert h.client.get("/api/v1/visits/no-such-visit", headers=bearer(nurse)).status_code == 404
    assert events(h, tenant, "visit.list") == [] and events(h, tenant, "visit.read") == []


# --- the last active admin -----------------------------------------------------------------------

def staff_ids(h, tenant):
    return {s["login"]: s for s in h.client.get("/api/v1/staff", headers=tenant.auth()).get_json()}


def revoke(h, token, user_id):
    return h.client.post(f"/api/v1/staff/{user_id}/revoke", headers=bearer(token))


def test_the_only_admin_cannot_revoke_itself(h):
    tenant = h.institution()
    admin_id = staff_ids(h, tenant)["admin"]["id"]
    r = revoke(h, tenant.admin_token, admin_id)
    assert r.status_code == 409 and r.mimetype == "application/problem+json"
    assert r.get_json()["rule"] == "last-admin" and "管理者" in r.get_json()["detail"]
    assert staff_ids(h, tenant)["admin"]["revoked_at"] is None
    assert h.client.get("/api/v1/staff", headers=tenant.auth()).status_code == 200


def test_an_admin_may_revoke_another_while_one_remains(h):
    tenant = h.institution()
    second_id = tenant.create_staff("admin2", role="admin")
    second = login_without_device(h, tenant, "admin2")
    admin_id = staff_ids(h, tenant)["admin"]["id"]
    assert revoke(h, second, admin_id).status_code == 200
    assert revoke(h, second, second_id).status_code == 409  # now the last one
    remaining = {s["login"]: s for s in h.client.get("/api/v1/staff", headers=bearer(second)).get_json()}
    assert remaining["admin2"]["revoked_at"] is None and remaining["admin"]["revoked_at"] is not None


def test_revoking_staff_is_unaffected(h):
    tenant = h.institution()
    nurse_id = tenant.create_staff("nurse1")
    assert revoke(h, tenant.admin_token, nurse_id).status_code == 200


def test_admins_revoking_each_other_at_once_leave_one_admin(h):
    """Each of six admins revokes the next, all at the same moment: at least one admin must remain."""
    tenant = h.institution()
    logins = ["admin"] + [f"admin{i}" for i in range(2, 7)]
    for login in logins[1:]:
        tenant.create_staff(login, role="admin")
    ids = staff_ids(h, tenant)
    tokens = [login_without_device(h, tenant, login, ADMIN_PASSWORD if login == "admin" else STAFF_PASSWORD)
              for login in logins]
    targets = [ids[logins[(i + 1) % len(logins)]]["id"] for i in range(len(logins))]
    barrier = threading.Barrier(len(logins))
    statuses: list[int] = []

    def go(i):
        client = h.app.test_client()
        barrier.wait()
        statuses.append(client.post(f"/api/v1/staff/{targets[i]}/revoke", headers=bearer(tokens[i])).status_code)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(logins))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(set(statuses)) <= [200, 409] and len(statuses) == len(logins), statuses
    with h.rt.uow() as uow:
        active = [u for u in uow.users.list_by(role="admin") if u.revoked_at is None]
    assert len(active) >= 1 and statuses.count(200) == len(logins) - len(active)


# --- the visual-mode password lock-out ------------------------------------------------------------

def visual(h, token, password):
    ch = h.start(token, method="visual")
    assert ch.status_code == 201, ch.get_json()
    ch = ch.get_json()
    return h.submit(token, ch["challenge_id"], {"certificate": b64(h.card(FACE).certificate_der),
                                                "visual_password": password})


def slug(r):
    return r.get_json()["type"].rsplit("/", 1)[-1]


def test_max_failures_is_a_setting_defaulting_to_five():
    assert DEFAULTS["VISUAL_PASSWORD_MAX_FAILURES"] == 5
    assert rules_from({**DEFAULTS, "VISUAL_PASSWORD_MAX_FAILURES": 7}).visual_password_max_failures == 7


def test_visual_password_locks_after_consecutive_failures(h):
    tenant = h.institution()
    tenant.set_visual_password()
    nurse = tenant.nurse()
    for _ in range(4):
        assert slug(visual(h, nurse, "wrong-password")) == "visual-password-wrong"
    locking = visual(h, nurse, "wrong-password")
    assert locking.status_code == 403 and slug(locking) == "visual-password-locked"
    right = visual(h, nurse, VISUAL_PASSWORD)
    assert right.status_code == 403 and slug(right) == "visual-password-locked"
    assert "管理者" in right.get_json()["title"]
    [locked] = events(h, tenant, "institution.visual_password.lock")
    assert locked["device_id"] == tenant.devices[0].id and locked["user_id"] is not None
    assert locked["detail"]["failures"] == 5
    assert h.client.get("/api/v1/institution", headers=tenant.auth()).get_json()["visual_password_locked"] is True


def test_the_lock_holds_however_many_tries_follow(h):
    tenant = h.institution()
    tenant.set_visual_password()
    nurse = tenant.nurse()
    for _ in range(25):
        visual(h, nurse, "wrong-password")
    assert slug(visual(h, nurse, VISUAL_PASSWORD)) == "visual-password-locked"
    assert len(events(h, tenant, "institution.visual_password.lock")) == 1


def test_admin_unlocks_and_the_right_password_works_again(h):
    tenant = h.institution()
    tenant.set_visual_password()
    nurse = tenant.nurse()
    for _ in range(5):
        visual(h, nurse, "wrong-password")
    assert h.client.post("/api/v1/institution/visual-password/unlock", headers=bearer(nurse)).status_code == 403
    r = h.client.post("/api/v1/institution/visual-password/unlock", headers=tenant.auth())
    assert r.status_code == 204, r.get_json()
    [unlocked] = events(h, tenant, "institution.visual_password.unlock")
    assert unlocked["user_id"] == staff_ids(h, tenant)["admin"]["id"]
    assert visual(h, nurse, VISUAL_PASSWORD).status_code == 201
    # The counter starts again from zero.
    for _ in range(4):
        assert slug(visual(h, nurse, "wrong-password")) == "visual-password-wrong"


def test_rotating_the_password_unlocks(h):
    tenant = h.institution()
    tenant.set_visual_password()
    nurse = tenant.nurse()
    for _ in range(5):
        visual(h, nurse, "wrong-password")
    tenant.set_visual_password("atarashii-2027")
    assert visual(h, nurse, "atarashii-2027").status_code == 201


def test_a_success_resets_the_count(h):
    tenant = h.institution()
    tenant.set_visual_password()
    nurse = tenant.nurse()
    for _ in range(3):
        for _ in range(4):
            assert slug(visual(h, nurse, "wrong-password")) == "visual-password-wrong"
        assert visual(h, nurse, VISUAL_PASSWORD).status_code == 201


def test_the_limit_comes_from_the_rules(h):
    h.rt.rules = dataclasses.replace(h.rt.rules, visual_password_max_failures=2)
    tenant = h.institution()
    tenant.set_visual_password()
    nurse = tenant.nurse()
    assert slug(visual(h, nurse, "wrong-password")) == "visual-password-wrong"
    assert slug(visual(h, nurse, "wrong-password")) == "visual-password-locked"


def test_concurrent_failures_are_all_counted(h):
    """Failures arriving together are each counted (an atomic increment, not read-modify-write):
    four at once, then a fifth locks."""
    tenant = h.institution()
    tenant.set_visual_password()
    nurse = tenant.nurse()
    challenges = [h.start(nurse, method="visual").get_json() for _ in range(4)]
    body = {"certificate": b64(h.card(FACE).certificate_der), "visual_password": "wrong-password"}
    barrier = threading.Barrier(len(challenges))
    statuses: list[str] = []

    def go(ch):
        client = h.app.test_client()
        barrier.wait()
        r = client.post(f"/api/v1/verifications/{ch['challenge_id']}/submit", json=body,
                        headers={**bearer(nurse), "Idempotency-Key": ch["challenge_id"]})
        statuses.append(slug(r))

    threads = [threading.Thread(target=go, args=(ch,)) for ch in challenges]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert statuses == ["visual-password-wrong"] * 4
    assert slug(visual(h, nurse, "wrong-password")) == "visual-password-locked"


def test_a_refused_attempt_at_patient_data_is_audited(h, visited):
    """Who tried, from which device, which route and which visit, and why it was refused."""
    from sqlalchemy import select

    from mobile_api.adapters.orm import AuditEvent

    tenant, _, visit_id, _ = visited
    r = h.client.post("/api/v1/auth/device-token", json={"assertion": tenant.assertion(tenant.devices[0])})
    device_only = r.get_json()["access_token"]
    assert h.client.get(f"/api/v1/visits/{visit_id}/medical-information/medication",
                        headers=bearer(device_only)).status_code == 403
    assert h.client.get(f"/api/v1/visits/{visit_id}", headers=bearer(device_only)).status_code == 403
    assert h.client.get(f"/api/v1/visits/{'x' * 300}", headers=bearer(device_only)).status_code == 403
    with h.rt.session_factory() as session:
        refused = session.scalars(select(AuditEvent).where(AuditEvent.action == "patient_data.access")
                                  .order_by(AuditEvent.id)).all()
    assert [(e.outcome, e.target_type, e.target_id, e.detail["route"], e.detail["rule"]) for e in refused] == [
        ("refused", "visit", visit_id, "/api/v1/visits/<visit_id>/medical-information/<info_kind:kind>",
         "staff-and-device"),
        ("refused", "visit", visit_id, "/api/v1/visits/<visit_id>", "patient-data-reader"),
        ("refused", None, None, "/api/v1/visits/<visit_id>", "patient-data-reader"),  # a hostile id is not kept
    ]
    assert all(e.actor_device_id == tenant.devices[0].id and e.actor_user_id is None for e in refused)
