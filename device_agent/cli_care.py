"""``device-agent visits | requery | discharge | withdraw``: the second visit from the command line.

    device-agent visits --login nurse1
    device-agent requery 3f9a0c1b --login nurse1 [--kinds medication,clinical] [--yes]
    device-agent discharge 3f9a0c1b --login nurse1 --reason "入院のため訪問診療を終了" [--yes]
    device-agent withdraw 3f9a0c1b --login nurse1 [--note "訪問時に口頭で申し出"] [--yes]

A patient is named by the id ``visits`` shows (its first 8 characters). Each action is said and confirmed
before anything is sent (``--yes`` for scripts); a refusal is one Japanese line. Kept apart from cli.py so
the card commands there change independently.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from device_agent import care, labels, messages
from device_agent.agent import Agent, AgentHome

CANCELLED = "中止しました（何も送信していません）。"


def _say(text: str = "") -> None:
    print(text, flush=True)


def _unknown(error: care.UnknownPatient) -> str:
    if error.matches > 1:
        return f"「{error.key}」に当たる患者が複数います。device-agent visits に表示される番号をもう少し長く指定してください。"
    return (f"「{error.key}」に当たる患者が一覧にありません。device-agent visits で、今日の訪問と継続的な訪問診療等の"
            "患者の番号を確認してください。")


def _confirm(args: argparse.Namespace, question: str) -> bool:
    """Said before sending; yes only when typed (or --yes). No answer (end of input) is no."""
    _say(question)
    if args.yes:
        return True
    try:
        answer = input("よろしいですか？ [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes", "はい")


def _row_line(row: care.Row) -> str:
    visit, window = row.visit, row.window
    when = labels.jst(visit["created_at"])
    method = care.METHODS.get(visit.get("method", ""), visit.get("method", ""))
    left = care.countdown(window.seconds_left)
    state = f"{window.label}{'（' + left + '）' if left else ''}"
    return f"  [{row.key}] {row.name}  {when} {method}  医療情報: {state}"


def show_day(day: care.Day) -> None:
    _say(f"■ 今日の確認（{len(day.today)}件）")
    for row in day.today:
        _say(_row_line(row))
    _say(f"■ 継続的な訪問診療等の患者（{len(day.continuing)}人）: 再照会・終了・同意の取消ができます")
    for row in day.continuing:
        _say(_row_line(row) + f"  同意: {care.kinds_text(row.card_kinds)}")
    if not day.continuing:
        _say("  （いません。カードで確認した訪問診療等（診療区分2）の患者がここに表示されます）")


def _signed_in(args: argparse.Namespace) -> tuple[Agent, care.Day]:
    from device_agent import cli

    agent = cli.Agent(AgentHome(Path(args.home)))
    cli._login(agent, args.login)
    return agent, care.gather(agent.api, agent.now())


def cmd_visits(args: argparse.Namespace) -> int:
    agent, day = _signed_in(args)
    show_day(day)
    return 0


def cmd_requery(args: argparse.Namespace) -> int:
    agent, day = _signed_in(args)
    row = day.patient(args.patient)
    kinds = [k for k in args.kinds.split(",") if k] if args.kinds else None
    asked = care.kinds_text(kinds if kinds is not None else row.card_kinds)
    if not _confirm(args, f"{row.name}さんを再照会します（カードなし）。医療情報: {asked}"
                          f"（カードで確認したときの同意: {care.kinds_text(row.card_kinds)}。これより広くはできません）。"
                          "新しい閲覧期間（24時間）が始まります。"):
        _say(CANCELLED)
        return 1
    visit = care.requery(agent.api, row, kinds)
    _say("✔ 再照会しました。")
    from device_agent.cli import print_visit

    print_visit(visit)
    left = care.countdown(care.window_of(visit, agent.now()).seconds_left)
    if left:
        _say(f"  医療情報を閲覧できる残り時間: {left}")
    return 0


def cmd_discharge(args: argparse.Namespace) -> int:
    agent, day = _signed_in(args)
    row = day.patient(args.patient)
    if not _confirm(args, f"{row.name}さんの継続的な訪問診療等を終了します（理由: {args.reason}）。"
                          "終了後の訪問では、もう一度マイナンバーカードでの資格確認が必要です。"):
        _say(CANCELLED)
        return 1
    ended = care.discharge(agent.api, row, args.reason)
    _say(f"✔ 終了しました（{labels.jst(ended['ended_at'])}）。次の訪問ではカードで資格確認してください。")
    return 0


def cmd_withdraw(args: argparse.Namespace) -> int:
    agent, day = _signed_in(args)
    row = day.visit(args.patient)
    if not _confirm(args, f"{row.name}さんの申し出により、この施設でのすべての同意を取り消します。"
                          "閲覧中の医療情報は見られなくなり、継続的な訪問診療等も終了します。"):
        _say(CANCELLED)
        return 1
    done = care.withdraw(agent.api, row, args.note)
    _say(f"✔ {row.name}さんの同意をすべて取り消しました（{labels.jst(done['withdrawn_at'])}、"
         f"同意 {done['consents_withdrawn']}件）。医療情報はもう閲覧できません。")
    return 0


def run(command: Any) -> Any:
    """Every refusal as one Japanese line (the server's own words for its rules), never a traceback."""

    def wrapped(args: argparse.Namespace) -> int:
        try:
            return int(command(args))
        except care.UnknownPatient as unknown:
            _say(f"✖ {_unknown(unknown)}")
        except Exception as exc:  # noqa: BLE001 - plain Japanese; --debug shows the details
            explained = messages.explain(exc)
            _say(f"✖ {explained.heading}: {explained.text}")
            from device_agent.cli import _debug

            _debug(args)
        return 2

    return wrapped


def add_commands(sub: Any) -> None:
    """The four commands, added to cli.build_parser's subparsers."""
    visits = sub.add_parser("visits", help="今日の確認と、継続的な訪問診療等の患者（閲覧期間の状態つき）")
    _common(visits, patient=False)
    visits.set_defaults(func=run(cmd_visits))
    requery = sub.add_parser("requery", help="継続的な訪問診療等の患者をカードなしで再照会する（2回目以降の訪問）")
    _common(requery)
    requery.add_argument("--kinds", help="同意の範囲より狭くするとき: medication,checkups,clinical,surgery")
    requery.set_defaults(func=run(cmd_requery))
    discharge = sub.add_parser("discharge", help="継続的な訪問診療等を終了する（退院・終診・転医など）")
    _common(discharge)
    discharge.add_argument("--reason", required=True, help="終了の理由（例: 入院のため訪問診療を終了）")
    discharge.set_defaults(func=run(cmd_discharge))
    withdraw = sub.add_parser("withdraw", help="患者の申し出で、この施設でのすべての同意を取り消す（職員が記録）")
    _common(withdraw)
    withdraw.add_argument("--note", help="申し出の内容（監査記録に残ります）")
    withdraw.set_defaults(func=run(cmd_withdraw))


def _common(parser: argparse.ArgumentParser, *, patient: bool = True) -> None:
    if patient:
        parser.add_argument("patient", help="device-agent visits に表示される番号（先頭8文字）")
    parser.add_argument("--login", required=True)
    if patient:
        parser.add_argument("--yes", action="store_true", help="確認せずに送信する（スクリプト用）")
