"""The console's audit log in Japanese (issue 20): every action the server writes has a label, the filter is a
select of those labels, and staff are shown by name and login in the page and in ``audit.csv`` (their ids in a
column of their own). SQLite and PostgreSQL; the browser at 1280 and 360 px is in tests/e2e/test_console.py."""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from mobile_api.console.display import AUDIT_TARGETS
from mobile_api.domain.audit_actions import AUDIT_ACTIONS
from tests.integration.test_console_access import Browser, visit_in
from tests.integration.test_csv_formulas import column, table
from tests.support.harness import ADMIN_PASSWORD, STAFF_PASSWORD
from tests.support.scrub import scrub

SOURCE = Path(__file__).resolve().parents[2] / "mobile_api"
# The functions that take the action code as a positional argument, and its position.
ACTION_ARGUMENT = {"record_refusal": 2, "require_identifier_lookup": 3}


def _text(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def actions_written(source: Path = SOURCE) -> set[str]:
    """Every action code the server's code can write to the audit log: an ``action=`` keyword, the action argument
    of ``record_refusal``/``require_identifier_lookup``, and the constants and variables named ``…action``/
    ``…ACTION`` that those calls are given."""
    found: set[str] = set()
    for path in source.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", getattr(node.func, "id", ""))
                found.update(t for k in node.keywords if k.arg == "action" and (t := _text(k.value)))
                at = ACTION_ARGUMENT.get(name)
                if at is not None and len(node.args) > at and (t := _text(node.args[at])):
                    found.add(t)
            elif (isinstance(node, ast.Assign) and (t := _text(node.value))
                  and any(isinstance(n, ast.Name) and n.id.lower().endswith("action") for n in node.targets)):
                found.add(t)
    return found


def test_the_scan_finds_actions_written_every_way() -> None:
    """The scan itself: keyword, refusal, constant, variable and lookup-guard forms are all seen."""
    assert {"auth.login", "medical_info.view", "patient_data.access", "auth.lock", "care.open",
            "batch.create", "fallback.record", "institution.visual_password.lock"} <= actions_written()


def test_every_action_the_code_writes_has_a_japanese_label() -> None:
    missing = actions_written() - set(AUDIT_ACTIONS)
    assert not missing, f"audit actions not in domain/audit_actions.py AUDIT_ACTIONS: {sorted(missing)}"
    assert all(label and not label.isascii() for label in AUDIT_ACTIONS.values())


def test_every_target_kind_the_code_writes_has_a_japanese_label() -> None:
    written = {t for path in SOURCE.rglob("*.py") for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
               if isinstance(node, ast.keyword) and node.arg == "target_type" and (t := _text(node.value))}
    assert {"visit", "consent", "fallback_record"} <= written
    assert not written - set(AUDIT_TARGETS), sorted(written - set(AUDIT_TARGETS))
    assert {"user", "client", "source"} <= set(AUDIT_TARGETS)  # the lock-out keys' kinds (services/lockout.py)


def test_the_page_shows_labels_outcomes_and_staff_names_with_a_select_filter(h) -> None:
    tenant = h.institution("home_visit_care")
    user_id = tenant.create_staff("nurse9", display_name="佐藤 花子")
    r = h.client.post("/api/v1/auth/login", json={"institution_code": tenant.code, "login": "nurse9",
                                                  "password": "wrong-password-1"})
    assert r.status_code == 401
    Browser(h, tenant, "nurse9", STAFF_PASSWORD)
    admin = Browser(h, tenant, "admin", ADMIN_PASSWORD)
    page = admin.get("/console/audit?action=auth.login").get_data(as_text=True)
    assert '<select name="action">' in page and '<option value="auth.login" selected>ログイン</option>' in page
    assert "佐藤 花子（nurse9）" in page and "成功" in page and "拒否" in page
    assert ">auth.login<" not in page and "OK" not in scrub(page)  # the page's CSRF token holds "OK" 1 run in 100
    assert user_id not in page.replace(f'value="{user_id}"', "")  # ids only as the staff select's values


@pytest.mark.parametrize("page", ["/console/audit", "/console/audit.csv"])
def test_an_action_not_in_the_select_is_a_422_page(h, page: str) -> None:
    tenant = h.institution("home_visit_care")
    admin = Browser(h, tenant, "admin", ADMIN_PASSWORD)
    r = admin.get(f"{page}?action=auth.nothing")
    assert r.status_code == 422 and "一覧にある操作を選んでください" in r.get_data(as_text=True)


def test_audit_csv_names_staff_and_devices_and_keeps_codes_and_ids_in_their_own_columns(h) -> None:
    tenant = h.institution("home_visit_care")
    visit = visit_in(h, tenant, "nurse1")  # by nurse1 on the device (verification.submit, consent.register)
    admin = Browser(h, tenant, "admin", ADMIN_PASSWORD)
    admin.get(f"/console/visits/{visit['id']}")  # visit.read by the admin
    rows = table(admin.get("/console/audit.csv"))
    submitted = [dict(zip(rows[0], row, strict=True)) for row in rows[1:] if row[rows[0].index("操作コード")]
                 == "verification.submit"]
    assert submitted, rows
    row = submitted[0]
    nurse_id = _user_id(h, tenant, "nurse1")
    assert row["操作"] == AUDIT_ACTIONS["verification.submit"] and row["結果"] == "成功"
    assert row["結果コード"] == "ok" and row["スタッフID"] == nurse_id
    assert row["スタッフ"].endswith("（nurse1）") and nurse_id not in row["スタッフ"]
    assert row["端末"] and row["端末ID"] and row["端末"] != row["端末ID"]
    read = [r for r in rows[1:] if r[rows[0].index("操作コード")] == "visit.read"]
    assert read and read[0][rows[0].index("スタッフ")].endswith("（admin）")
    assert set(column(rows, "操作")) <= set(AUDIT_ACTIONS.values())
    assert row["対象の種類"] == "訪問" and row["対象の種類コード"] == "visit"


def _user_id(h: Any, tenant: Any, login: str) -> str:
    users = h.client.get("/api/v1/staff", headers=tenant.auth()).get_json()
    return next(u["id"] for u in users if u["login"] == login)
