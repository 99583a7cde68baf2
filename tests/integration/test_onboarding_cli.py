"""Onboarding from the command line (`flask staff create`, `flask device create`, `--password-stdin`): the same
services, rules and audit rows as the API; every refusal one Japanese line with exit status 1."""
from __future__ import annotations

from pathlib import Path

import zxingcpp
from PIL import Image

from mobile_api.web.activation_qr import code_from_uri
from tests.support.harness import ADMIN_PASSWORD


def invoke(app, *args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=list(args), input=stdin)


def test_staff_and_device_from_the_command_line_then_login_and_enrol(h, tmp_path: Path) -> None:
    tenant = h.institution("home_visit_care")
    made = invoke(h.app, "staff", "create", "--institution-code", tenant.code, "--login", "nurse9", "--name",
                  "看護 九", "--password-stdin", stdin="nurse-pass-2026\n")
    assert made.exit_code == 0, made.output
    login = h.client.post("/api/v1/auth/login", json={"institution_code": tenant.code, "login": "nurse9",
                                                      "password": "nurse-pass-2026"})
    assert login.status_code == 200

    png = tmp_path / "activation.png"
    device = invoke(h.app, "device", "create", "--institution-code", tenant.code, "--label", "タブレット",
                    "--qr-png", str(png))
    assert device.exit_code == 0, device.output
    code = device.output.split("アクティベーションコード: ")[1][:12]
    assert code.isdigit()
    assert code_from_uri(zxingcpp.read_barcodes(Image.open(png))[0].text) == code  # the QR the agent reads
    rows = h.client.get("/api/v1/audit-events?action=device.create", headers=tenant.auth()).get_json()
    assert rows and rows[0]["user_id"] is not None  # in the name of the institution's admin


def test_onboarding_sets_the_visual_check_password_and_a_visual_check_then_works(h) -> None:
    from tests.integration.test_access_rules import visual

    tenant = h.institution("home_visit_care")
    assert h.client.get("/api/v1/institution", headers=tenant.auth()).get_json()["visual_password_set"] is False
    made = invoke(h.app, "institution", "visual-password", "--institution-code", tenant.code, "--password-stdin",
                  stdin="mokushi-2026\n")
    assert made.exit_code == 0, made.output
    assert h.client.get("/api/v1/institution", headers=tenant.auth()).get_json()["visual_password_set"] is True
    assert visual(h, tenant.nurse("nurse1"), "mokushi-2026").status_code == 201
    rows = h.client.get("/api/v1/audit-events?action=institution.visual_password.set", headers=tenant.auth())
    assert rows.get_json()[0]["user_id"] is not None  # in the name of the institution's admin
    short = invoke(h.app, "institution", "visual-password", "--institution-code", tenant.code, "--password-stdin",
                   stdin="x\n")
    assert short.exit_code == 1 and "Traceback" not in short.output


def test_refusals_are_one_japanese_line(h) -> None:
    tenant = h.institution("home_visit_care")
    cases = [
        (("institution", "create", "--code", tenant.code, "--name", "x", "--kind", "home_visit_care",
          "--admin-login", "a", "--password-stdin"), ADMIN_PASSWORD + "\n", "すでに登録されています"),
        (("staff", "create", "--institution-code", tenant.code, "--login", "admin", "--name", "x",
          "--password-stdin"), "long-enough-pass\n", "すでに使われています"),
        (("staff", "create", "--institution-code", tenant.code, "--login", "n2", "--name", "x",
          "--password-stdin"), "short\n", "10文字以上"),
        (("device", "create", "--institution-code", "9999999999", "--label", "x"), None, "見つかりません"),
        (("staff", "create", "--institution-code", tenant.code, "--login", "n3", "--name", "x", "--password-stdin"),
         "\n", "標準入力"),
    ]
    for args, stdin, words in cases:
        result = invoke(h.app, *args, stdin=stdin)
        assert result.exit_code == 1, (args, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("エラー: ") and words in lines[0], (args, result.output)
