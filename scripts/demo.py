"""`make demo`: set up, start the API on the embedded default (SQLite), and run a home visit
through the device agent and a virtual My Number card — then leave the API running.

Everything the demo creates is local: the database under instance/, the agents' data under .demo/.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEMO = ROOT / ".demo"
ADMIN_PASSWORD = "demo-admin-pass"
STAFF_PASSWORD = "demo-staff-pass"
VISUAL_PASSWORD = "demo-mokushi"
HOME_CARE = ("1310000001", "さくら訪問看護ステーション（デモ）", "home_visit_care")
JUDO = ("1390000002", "ひかり整骨院（デモ）", "judo_therapy")
CHECKUP = ("1390000003", "みどり健診センター（デモ）", "health_check")
# Sandbox personas answering lookups by identifiers (docs/sandbox.md): statuses 1-6, full-width 記号, no 枝番.
EXAMINEES = [
    ("01130012", "44100021", "1287", "00", "1984/05/12"), ("06135107", "12", "3456", "00", "1991/07/03"),
    ("01270016", "27010355", "88", "00", "1979/01/22"), ("01130012", "44100021", "9999", "00", "1984/05/12"),
    ("01130012", "44100888", "7", "", "2016/04/10"), ("12131017", "", "1234567", "", "1962/03/18"),
    ("０６１３５１０７", "ﾐﾅﾄ123", "45", "", "1982/02/02"), ("131177", "世田谷", "567890", "", "1966/06/06"),
    ("01130013", "44100021", "1287", "00", "1984/05/12"),  # a wrong check digit: a row error, not a failed job
]


def step(text: str) -> None:
    print(f"\n▶ {text}", flush=True)


def free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return s.getsockname()[1]
            except OSError:
                continue
    raise RuntimeError("no free port")


def flask(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "flask"), "--app", "mobile_api", *args], cwd=ROOT, text=True,
                          capture_output=True, check=check)


def agent(home: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None) -> int:
    run = subprocess.run([str(BIN / "device-agent"), "--home", str(home), *args], cwd=ROOT, text=True,
                         input=stdin, env={**os.environ, **(env or {})})
    return run.returncode


class Admin:
    def __init__(self, base: str, code: str) -> None:
        self.base, self.code = base, code
        r = requests.post(f"{base}/api/v1/auth/login", json={"institution_code": code, "login": "admin",
                                                              "password": ADMIN_PASSWORD}, timeout=10)
        r.raise_for_status()
        self.headers = {"Authorization": f"Bearer {r.json()['access_token']}"}

    def post(self, path: str, body: dict) -> dict:
        r = requests.post(f"{self.base}{path}", json=body, headers=self.headers, timeout=10)
        if r.status_code >= 400 and r.status_code != 409:
            raise SystemExit(f"{path}: {r.status_code} {r.text}")
        return r.json() if r.content else {}

    def put(self, path: str, body: dict) -> None:
        requests.put(f"{self.base}{path}", json=body, headers=self.headers, timeout=10).raise_for_status()


def setup_practice(base: str, practice: tuple[str, str, str], home: Path, staff: str) -> None:
    code, name, kind = practice
    flask("institution", "create", "--code", code, "--name", name, "--kind", kind, "--admin-login", "admin",
          "--admin-password", ADMIN_PASSWORD, check=False)  # already there on a second run
    admin = Admin(base, code)
    admin.put("/api/v1/institution/visual-password", {"password": VISUAL_PASSWORD})
    admin.post("/api/v1/staff", {"login": staff, "display_name": "デモ 職員", "password": STAFF_PASSWORD})
    device = admin.post("/api/v1/devices", {"label": f"{staff}のタブレット"})
    print(f"  施設: {name}（{code}）  端末アクティベーションコード: {device['activation_code']}")
    if home.exists():
        shutil.rmtree(home)
    agent(home, "enroll", "--server", base, "--code", device["activation_code"])


def health_check_batch(base: str) -> int:
    """A 20-examinee batch from a Shift_JIS CSV, as a reservation system exports it (docs/health-check-api.md)."""
    code, name, kind = CHECKUP
    flask("institution", "create", "--code", code, "--name", name, "--kind", kind, "--admin-login", "admin",
          "--admin-password", ADMIN_PASSWORD, check=False)
    admin = Admin(base, code)
    client = admin.post("/api/v1/clients", {"name": "予約システム（デモ）", "auth_method": "client_secret"})
    token = requests.post(f"{base}/api/v1/oauth/token", timeout=10, data={
        "grant_type": "client_credentials", "client_id": client["client_id"],
        "client_secret": client["client_secret"]}).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    lines = ["受診者番号,保険者番号,記号,番号,枝番,生年月日"]
    lines += [f"健診-{i + 1:03d}," + ",".join(EXAMINEES[i % len(EXAMINEES)]) for i in range(20)]
    print(f"  施設: {name}（{code}）  APIクライアント「予約システム（デモ）」を登録しました")
    created = requests.post(f"{base}/api/v1/batch-jobs", data="\r\n".join(lines).encode("cp932"), timeout=30,
                            headers={**auth, "Content-Type": "text/csv", "Idempotency-Key": os.urandom(8).hex()})
    if created.status_code != 202:
        print(f"  一括照会を作成できませんでした: {created.status_code} {created.text}")
        return 1
    location = base + created.headers["Location"]
    for _ in range(300):
        job = requests.get(location, headers=auth, timeout=10).json()
        if job["state"] in ("done", "cancelled"):
            break
        time.sleep(0.2)
    print(f"  一括照会 {job['state']}: {job['done']}/{job['total']} 件（行エラー {job['failed']} 件）")
    got = requests.get(f"{location}/results.csv", headers=auth, timeout=30)
    out = DEMO / "batch-results.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(got.content)
    for line in got.content.decode("utf-8-sig").splitlines()[1:5]:
        print("    " + ",".join(line.split(",")[:4]))
    print(f"  結果CSV（UTF-8 BOM付き、Excelで開けます）: {out}")
    return 0 if job["state"] == "done" and job["done"] == 20 else 1


def second_visit_by_requery(home: Path) -> int:
    """The next home visit: re-query (再照会) without the card, inside the continuing-care relationship the
    card-verified visit opened; a fresh qualification and a fresh 24-hour window (docs/rules.md §3.2)."""
    import uuid

    from device_agent.agent import Agent, AgentHome

    step("2回目の訪問: カードなしで再照会（継続的な訪問診療等）→ 薬剤情報を閲覧")
    nurse = Agent(AgentHome(home))
    nurse.login("nurse1", STAFF_PASSWORD)
    first = nurse.api.visits(limit=1)[0]
    second = nurse.api.post(f"/api/v1/visits/{first['id']}/requery", {"kinds": ["medication"]}, uuid.uuid4().hex)
    print(f"  再照会: {second['eligibility_label']}（初回の訪問 {second['requery_of'][:8]}… にもとづく）")
    print(f"  {second['medical_info_window']['message']}")
    records = nurse.api.medical_information(second["id"], "medication")["records"]
    print(f"  薬剤情報: {len(records)} 件")
    return 0 if second["method"] == "requery" and records else 1


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--no-wait", action="store_true", help="stop the API after the visit (tests)")
    parser.add_argument("--workdir", type=Path, help="keep the database and agents here (tests)")
    args = parser.parse_args()
    global DEMO
    if args.workdir:
        DEMO = args.workdir
        DEMO.mkdir(parents=True, exist_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{DEMO / 'demo.sqlite3'}"

    step("データベースを準備します（組み込みの既定: SQLite, instance/ フォルダ）")
    print("  " + flask("db", "upgrade").stdout.strip())
    seeded = flask("sandbox", "seed").stdout.strip().splitlines()
    print("  " + seeded[0] + f"（テスト用ペルソナ {len(seeded) - 3} 名）")

    port = free_port(args.port)
    base = f"http://127.0.0.1:{port}"
    step(f"APIを起動します: {base}")
    server = subprocess.Popen([str(BIN / "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{port}",
                               "--access-logfile", "-", "--log-level", "warning", "mobile_api:create_app()"],
                              cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                requests.get(f"{base}/api/openapi.json", timeout=1).raise_for_status()
                break
            except requests.RequestException:
                time.sleep(0.2)
        else:
            raise SystemExit("APIが起動しませんでした。")
        nurse_home, judo_home = DEMO / "nurse-tablet", DEMO / "judo-phone"

        step("訪問看護ステーションの管理者が、職員と端末を登録します")
        setup_practice(base, HOME_CARE, nurse_home, "nurse1")
        step("サンドボックスで患者さん（P01）の仮想マイナンバーカードを発行します")
        flask("sandbox", "issue-card", "P01-valid-30", "--out", str(nurse_home / "cards" / "P01-valid-30"))
        print("  暗証番号 1234 の仮想カード（nfcpy の ISO-DEP 経由で読み取ります）")

        step("訪問先で: ② 居宅同意取得型・暗証番号・包括同意 → 薬剤情報を閲覧")
        env = {"DEVICE_AGENT_PASSWORD": STAFF_PASSWORD}
        ok = agent(nurse_home, "verify", "--login", "nurse1", "--form", "home_consent", "--care-type", "2",
                   "--consent", "blanket", "--virtual-card", "P01-valid-30", "--pin-stdin", "--show", "medication",
                   stdin="1234\n", env=env)

        ok |= second_visit_by_requery(nurse_home)

        step("整骨院の管理者が、職員とスマートフォンを登録します")
        setup_practice(base, JUDO, judo_home, "judo1")
        flask("sandbox", "issue-card", "P10-latter-10", "--out", str(judo_home / "cards" / "P10-latter-10"))
        step("施術所で: ③ 資格確認限定型・暗証番号 → 薬剤情報の閲覧は拒否されます")
        ok |= agent(judo_home, "verify", "--login", "judo1", "--form", "qualification_only", "--care-type", "1",
                    "--virtual-card", "P10-latter-10", "--pin-stdin", "--show", "medication",
                    stdin="1234\n", env={"DEVICE_AGENT_PASSWORD": STAFF_PASSWORD})

        step("健診センターの予約システムが、APIクライアントで20名を一括資格確認します（Shift_JIS の CSV）")
        ok |= health_check_batch(base)

        step("APIは起動したままです")
        print(f"  API:        {base}/api/v1")
        print(f"  Swagger UI: {base}/api/docs")
        print(f"  OpenAPI:    {base}/api/openapi.json")
        print(f"  コンソール: {base}/console/  （ブラウザで開き、次のデモ用ログインで入れます）")
        print(f"  デモの管理者: 医療機関等コード {HOME_CARE[0]} / admin / {ADMIN_PASSWORD}")
        print(f"  デモの職員:   医療機関等コード {HOME_CARE[0]} / nurse1 / {STAFF_PASSWORD}")
        if ok != 0:
            return 1
        if args.no_wait:
            return 0
        print("  停止するには Ctrl+C を押してください。", flush=True)
        server.wait()
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
