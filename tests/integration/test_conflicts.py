"""A duplicate is the client's doing: 409 problem+json (the CLI: a Japanese message), never a 500.

Integrity errors are mapped once, by the unit of work, from the constraint the
database names; these tests cover both databases' ways of naming it.
"""
import pytest

from mobile_api.adapters import orm
from mobile_api.domain.errors import Conflict, DuplicateRecord
from mobile_api.services import identity
from tests.support.harness import ADMIN_PASSWORD, STAFF_PASSWORD


def staff_body(login: str = "nurse1") -> dict:
    return {"login": login, "display_name": "看護 花子", "role": "staff", "password": STAFF_PASSWORD}


def test_duplicate_staff_login_is_409_problem(h):
    tenant = h.institution()
    assert h.client.post("/api/v1/staff", json=staff_body(), headers=tenant.auth()).status_code == 201
    r = h.client.post("/api/v1/staff", json=staff_body(), headers=tenant.auth())
    assert r.status_code == 409, r.get_data(as_text=True)[:300]
    assert r.mimetype == "application/problem+json"
    problem = r.get_json()
    assert problem["status"] == 409 and problem["type"] == "/problems/duplicate"
    assert problem["errors"] == [{"pointer": "/login", "detail": "このログインIDはすでに使われています。"}]
    assert "uq_" not in r.get_data(as_text=True)  # no schema internals in the answer
    staff = h.client.get("/api/v1/staff", headers=tenant.auth()).get_json()
    assert [s["login"] for s in staff].count("nurse1") == 1
    # The same login in another institution is a different person.
    other = h.institution()
    assert h.client.post("/api/v1/staff", json=staff_body(), headers=other.auth()).status_code == 201


def test_duplicate_admin_login_is_409(h):
    tenant = h.institution()
    r = h.client.post("/api/v1/staff", json={**staff_body("admin"), "role": "admin"}, headers=tenant.auth())
    assert r.status_code == 409 and r.get_json()["errors"][0]["pointer"] == "/login"


def test_duplicate_institution_code_is_a_conflict_and_creates_nothing(h):
    tenant = h.institution()
    with pytest.raises(Conflict) as info:
        identity.create_institution(h.rt, code=tenant.code, name="二重登録", facility_kind="home_visit_care",
                                    admin_login="admin2", admin_password=ADMIN_PASSWORD)
    assert isinstance(info.value, DuplicateRecord) and info.value.status == 409
    assert info.value.extra["field"] == "code"
    assert info.value.detail == "この医療機関等コードはすでに登録されています。"
    with h.rt.uow() as uow:
        assert len(uow.institutions.list_by(code=tenant.code)) == 1
        assert uow.users.one_by(login="admin2") is None


def test_cli_duplicate_institution_code_exits_nonzero_in_japanese(h):
    tenant = h.institution()
    result = h.app.test_cli_runner().invoke(args=[
        "institution", "create", "--code", tenant.code, "--name", "二重登録", "--kind", "home_visit_care",
        "--admin-login", "admin", "--admin-password", ADMIN_PASSWORD])
    assert result.exit_code != 0
    assert "この医療機関等コードはすでに登録されています。" in result.output
    assert "Traceback" not in result.output and "IntegrityError" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_cli_refusals_are_messages_not_tracebacks(h):
    result = h.app.test_cli_runner().invoke(args=[
        "institution", "create", "--code", "123", "--name", "短いコード", "--kind", "home_visit_care",
        "--admin-login", "admin", "--admin-password", ADMIN_PASSWORD])
    assert result.exit_code != 0 and "医療機関等コードは10桁の数字です。" in result.output
    assert isinstance(result.exception, SystemExit)


def test_cli_creates_an_institution(h):
    result = h.app.test_cli_runner().invoke(args=[
        "institution", "create", "--code", "1399999999", "--name", "新規", "--kind", "home_visit_care",
        "--admin-login", "admin", "--admin-password", ADMIN_PASSWORD])
    assert result.exit_code == 0, result.output
    assert "登録しました" in result.output


@pytest.mark.parametrize("flush", [True, False], ids=["flush", "commit"])
def test_unit_of_work_names_the_violated_constraint(h, flush):
    """SQLite says 'UNIQUE constraint failed: users.institution_id, users.login'; PostgreSQL names it."""
    tenant = h.institution()
    with h.rt.uow() as uow:
        admin = uow.users.one_by(login="admin", institution_id=uow.institutions.one_by(code=tenant.code).id)
        uow.users.add(orm.User(institution_id=admin.institution_id, login="admin", display_name="x", role="staff",
                               password_hash="x", created_at=h.clock()))
        with pytest.raises(DuplicateRecord) as info:
            uow.flush() if flush else uow.commit()
    assert info.value.constraint == "uq_users_institution_login"


def test_unit_of_work_names_a_primary_key_violation(h):
    tenant = h.institution()
    device = tenant.enrol_device()
    for _ in range(2):
        with h.rt.uow() as uow:
            uow.used_assertions.add(orm.UsedAssertion(jti="same-jti", device_id=device.id, expires_at=h.clock()))
            try:
                uow.commit()
            except DuplicateRecord as exc:
                assert exc.constraint == "pk_used_assertions"
                break
    else:
        pytest.fail("the second insert of one jti was not refused")
