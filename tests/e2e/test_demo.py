"""`make demo` end to end: the real server under gunicorn, the agent CLI, virtual cards."""
import subprocess
import sys
from pathlib import Path

from tests.support.scrub import scrub

ROOT = Path(__file__).resolve().parents[2]


def test_demo_runs_a_home_visit_and_a_refused_form_three_view(tmp_path):
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "demo.py"), "--no-wait", "--port", "0",
                          "--workdir", str(tmp_path)], capture_output=True, text=True, timeout=300)
    out = run.stdout
    assert run.returncode == 0, out + run.stderr
    assert out.count("資格確認が完了しました") == 2
    assert "■ 薬剤情報" in out and "薬剤名: " in out
    assert "✖ 薬剤情報: 資格確認限定型では診療／薬剤情報を閲覧できません" in out
    assert "/api/docs" in out
    assert "一括照会 done: 20/20 件（行エラー 2 件）" in out  # the health-check centre's 20-examinee batch
    assert "/console/" in out and "/ admin / demo-admin-pass" in out  # the console's URL with a demo login
    assert "2回目の訪問: カードなしで再照会" in out and "再照会: 有効" in out  # the second visit, by re-query
    assert "1234" not in scrub(out.replace("暗証番号 1234 の仮想カード", "")), "the PIN is never echoed"
