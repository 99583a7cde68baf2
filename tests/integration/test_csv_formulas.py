"""Every CSV the project writes is formula-safe (adapters/spreadsheet.py): text from outside that starts with
``=``, ``+``, ``-``, ``@``, a tab or a CR reaches an administrator's spreadsheet as text, with a leading
apostrophe, never as a formula. SQLite and PostgreSQL."""
from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import quote

from mobile_api.domain.japanese_dates import JST
from tests.integration.test_console_access import Browser
from tests.integration.test_fallback_follow_up import _card_visit
from tests.support.harness import ADMIN_PASSWORD

LEADS = ('=HYPERLINK("evil.example","x")', "@SUM(A1:A2)", "+1+2", "-2+3", "\t=cmd|'calc'!A0",
         "\r=1+1")
#: A reference is one line without control characters (api/fields.outside_text refuses a tab or a CR with 422),
#: so the tab and CR leads reach a CSV only by a way that takes any text (a refused request's path, below).
PRINTABLE_LEADS = tuple(lead for lead in LEADS if lead[0] not in "\t\r")


def neutralised(cells: list[str], leads: tuple[str, ...] = LEADS) -> bool:
    """Each lead's cell is the text with an apostrophe first (kept as sent, or with its outer whitespace
    stripped where the input is trimmed: then the formula behind the tab or CR leads)."""
    return sorted(cells) == sorted("'" + lead for lead in leads) \
        or sorted(cells) == sorted("'" + lead.strip() for lead in leads)


def table(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"), newline="")))


def column(rows: list[list[str]], name: str) -> list[str]:
    index = rows[0].index(name)
    return [row[index] for row in rows[1:]]


def test_batch_results_csv_of_the_api_and_the_console_neutralise_a_clients_references(h) -> None:
    from mobile_api.services import batch
    from tests.integration.test_health_check_api import STATUS_ROWS, Integrator, wait_done

    try:
        integrator = Integrator(h)
        headers = integrator.auth()
        refused = h.client.post("/api/v1/batch-jobs", headers=headers, json={
            "examinees": [{"reference": lead, **STATUS_ROWS[1]} for lead in LEADS]})
        assert refused.status_code == 422 and "制御文字" in str(refused.get_json()), refused.get_json()
        examinees = [{"reference": lead, **STATUS_ROWS[1]} for lead in PRINTABLE_LEADS]
        made = h.client.post("/api/v1/batch-jobs", json={"examinees": examinees}, headers=headers)
        assert made.status_code == 202, made.get_json()
        location = made.headers["Location"]
        batch.run(h.rt, location.rsplit("/", 1)[1])
        assert wait_done(h, headers, location)["done"] == len(PRINTABLE_LEADS)
        api = table(h.client.get(f"{location}/results.csv", headers=headers))
        assert neutralised(column(api, "受診者番号"), PRINTABLE_LEADS)
        assert column(api, "資格の有無") == ["あり"] * len(PRINTABLE_LEADS)  # plain values stay as they were
        codes = table(h.client.get(f"{location}/results.csv?columns=codes", headers=headers))
        assert neutralised(column(codes, "reference"), PRINTABLE_LEADS)
        assert column(codes, "valid") == ["true"] * len(PRINTABLE_LEADS)
        admin = Browser(h, integrator.tenant, "admin", ADMIN_PASSWORD)
        assert table(admin.get(f"/console/batch-jobs/{location.rsplit('/', 1)[1]}/results.csv")) == api
    finally:
        h.rt.jobs.stop()


def test_the_consoles_audit_csv_neutralises_a_refused_requests_path(h) -> None:
    tenant = h.institution("home_visit_care")
    tenant.create_staff("nurse1")
    from tests.support.harness import STAFF_PASSWORD

    plain = h.client.post("/api/v1/auth/login", json={"institution_code": tenant.code, "login": "nurse1",
                                                      "password": STAFF_PASSWORD}).get_json()["access_token"]
    for lead in LEADS:  # a staff member without a device may not read visits: refused and audited with the id
        r = h.client.get(f"/api/v1/visits/{quote(lead, safe='')}", headers=tenant.auth(plain))
        assert r.status_code == 403, (lead, r.get_json())
    admin = Browser(h, tenant, "admin", ADMIN_PASSWORD)
    rows = table(admin.get("/console/audit.csv?action=patient_data.access"))
    assert neutralised(column(rows, "対象ID"))
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row)


def test_the_claims_csv_of_the_api_and_the_console_neutralise_patient_references(h) -> None:
    tenant = h.institution("home_visit_care")
    nurse = tenant.nurse()
    for lead in PRINTABLE_LEADS:
        _card_visit(h, nurse, "P01-valid-30", patient=lead)
    month = h.clock().astimezone(JST).strftime("%Y-%m")
    api = table(h.client.get(f"/api/v1/claims/csv?month={month}", headers=tenant.auth()))
    assert neutralised(column(api, "患者参照"), PRINTABLE_LEADS)
    assert set(column(api, "保険者番号")) == {"01130012"}
    admin = Browser(h, tenant, "admin", ADMIN_PASSWORD)
    assert table(admin.get(f"/console/claims.csv?month={month}")) == api
