"""``device-agent``: enrol this device, run a verification, print the result in Japanese.

    device-agent enroll --server URL --code 123456789012   (or --qr activation.png, which carries the URL)
    device-agent verify --login nurse1 --form home_consent --consent blanket --virtual-card P01-valid-30 --pin-stdin

The staff password comes from $DEVICE_AGENT_PASSWORD or a hidden prompt on the
terminal; the visual-check password from $DEVICE_AGENT_VISUAL_PASSWORD (or the
variable --visual-password-env names) or its own prompt; the patient's PIN from
a hidden prompt, or one line of standard input with --pin-stdin (for demos and
scripts). Standard input is never read for anything but the PIN
(device_agent/prompts.py), and none of them is ever written anywhere.
"""
from __future__ import annotations

import argparse
import getpass
import sys
import traceback
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import requests

from device_agent import card_source, fallback, flows, labels, messages, prompts
from device_agent.agent import Agent, AgentHome, CardSource, default_home
from device_agent.card import readers
from device_agent.card.apdu import PinLocked, WrongPin
from device_agent.card.session import CardSession
from device_agent.card.transport import CardError
from device_agent.certificate import CertificateUnusable
from device_agent.client import ApiProblem, BadServerUrl, NetworkError, check_server_url, outbox_sender
from device_agent.enrolment import ActivationCodeError, activation_from_qr_image, activation_from_text
from device_agent.outbox import Outbox, OutboxRecord

KIND_LABELS, TOKEN_LABELS, FORM_LABELS = labels.KINDS, labels.TOKENS, labels.FORMS
TRANSPORT_LABELS = {"nfc": "NFC（nfcpy）", "pcsc": "PC/SC"}
READER_HELP = "auto (default: the one found), usb:054c:06c3 (nfcpy) or pcsc:NAME (see: device-agent readers)"


def say(text: str = "") -> None:
    print(text, flush=True)


def _card_source(args: argparse.Namespace, home: AgentHome) -> CardSource:
    ask = _ask_reader if sys.stdin.isatty() and not getattr(args, "pin_stdin", False) else None
    return card_source.choose(virtual_card=args.virtual_card, reader=args.reader, cards_dir=home.cards_dir(), ask=ask)


def _ask_reader(found: list[readers.Reader]) -> readers.Reader:
    """Several readers and someone at the terminal: ask which (the UI and scripts get a message instead)."""
    say("カードリーダーが複数つながっています。使うリーダーの番号を入力してください。")
    for number, reader in enumerate(found, 1):
        say(f"  {number}. {reader.spec}（{reader.card_state}）")
    while True:
        answer = input("番号: ").strip()
        if answer.isdigit() and 1 <= int(answer) <= len(found):
            return found[int(answer) - 1]


def cmd_readers(args: argparse.Namespace) -> int:
    """List the NFC (nfcpy) and PC/SC readers and which one ``--reader`` would use."""
    found = readers.find_readers()
    for problem in found.problems:
        say(f"※ {messages.describe(problem)}")
    if not found.readers:
        if not found.problems:
            say(f"✖ {messages.NO_READER}")
        return 2
    try:
        reader = readers.choose(found, args.reader)
        chosen: readers.Reader | None = reader
        note = f"使うリーダー: {reader.spec}"
    except CardError as exc:
        chosen, note = None, messages.describe(exc)
    say("見つかったカードリーダー:")
    for reader in found.readers:
        say(f"  {'→' if reader == chosen else ' '} {reader.spec}（{TRANSPORT_LABELS[reader.transport]}、{reader.card_state}）")
    say(note)
    return 0


def _consent(value: str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    if value == "blanket":
        return {"blanket": True}
    return {"kinds": [k for k in value.split(",") if k]}


def _read_pin(args: argparse.Namespace, tries_left: int | None) -> str:
    if args.pin_stdin:
        return sys.stdin.readline().strip()
    return getpass.getpass(messages.pin_prompt(tries_left) + " ")


def print_visit(visit: dict[str, Any]) -> None:
    say(f"  資格の状態: {visit['eligibility_label']}（資格有効性 {visit['eligibility_status']}）")
    q = visit.get("qualification")
    if q:
        ratio = int(q["copayment_ratio"]) // 10
        say(f"  氏名: {q['name']}（{q['name_kana']}）  生年月日: {labels.japanese_date(q['birth_date'])}")
        if visit.get("name_has_unencodable"):
            say(f"  ！ 氏名の「●」は表せない文字です。カナ氏名「{q['name_kana']}」で本人確認してください。")
        say(f"  保険者: {q['insurer_name']}（保険者番号 {q['insurer_number']}）")
        symbol = f"記号 {q['symbol']}  " if q.get("symbol") else ""
        branch = f"  枝番 {q['branch_number']}" if q.get("branch_number") else ""
        say(f"  {symbol}番号 {q['number']}{branch}")
        say(f"  一部負担金割合: {ratio}割" + (f"  限度額適用区分: {q['limit_category']}" if q.get("limit_category")
                                          else ""))
    consent = visit.get("consent")
    if consent:
        kinds = "、".join(KIND_LABELS[k] for k in consent["kinds"])
        say(f"  同意: {kinds}（閲覧期限 {labels.jst(consent['window_closes_at'])}）")
        for unavailable in visit.get("unavailable_kinds") or []:
            say(f"  {KIND_LABELS[unavailable['kind']]}: {unavailable['reason']}")
    for note in visit.get("notices", []):
        say(f"  ※ {note}")
    renewal = visit.get("certificate_renewal")
    if renewal and renewal.get("message") not in visit.get("notices", []):
        say(f"  ※ {renewal['message']}")


def cmd_enroll(args: argparse.Namespace) -> int:
    agent = Agent(AgentHome(Path(args.home)))
    server = ""
    try:
        code, given = activation_from_qr_image(Path(args.qr)) if args.qr else activation_from_text(args.code)
        if not (args.server or given):
            raise BadServerUrl("サーバーのURLを --server で指定してください（管理画面の「端末」ページに表示されます）。")
        server = check_server_url(args.server or given or "")  # typed by the person wins over the QR's
        answer = agent.enroll(server, code)
    except (ValueError, ApiProblem, NetworkError) as exc:
        say(f"✖ 登録できませんでした: {_enrol_failure(exc, server)}")
        return 2
    say(f"この端末を {answer['institution_name']}（{answer['institution_code']}）に登録しました。")
    return 0


def _enrol_failure(exc: Exception, server: str) -> str:
    """Each enrolment failure its own line; one that reached a server but not our API names the URL tried."""
    if isinstance(exc, ActivationCodeError):
        return str(exc)
    not_our_api = isinstance(exc, ApiProblem) and exc.status in (404, 405) or isinstance(
        exc, requests.exceptions.JSONDecodeError)
    return messages.no_api_at(server) if server and not_our_api else messages.describe(exc)


def cmd_verify(args: argparse.Namespace) -> int:
    home = AgentHome(Path(args.home))
    agent = Agent(home)
    request = flows.VisitRequest(form=args.form, care_type=args.care_type, consent=_consent(args.consent),
                                 patient_reference=args.patient_reference)
    try:
        source = _card_source(args, home)
        _login(agent, args.login)
        say(f"【{FORM_LABELS[args.form]}】マイナンバーカードをかざしてください…")
        visit = _verify_with_card(agent, source, request, args)
    except CertificateUnusable as unusable:
        say(f"✖ {messages.certificate_unusable(unusable)}")
        say("  記録の例: device-agent outbox record --method qualification_certificate --reason certificate_expired "
            "--insurer-number <保険者番号> --number <番号> --birth-date <生年月日> --valid-until <有効期限>")
        return 2
    except Exception as exc:  # noqa: BLE001 - every failure gets a plain Japanese message, never a traceback
        say(f"✖ {messages.describe(exc)}")
        if fallbacks := messages.fallbacks_of(exc):  # e.g. a card not registered as an insurance card
            say("  この場合に使える確認方法: " + "、".join(fallbacks))
        _debug(args)
        return 2
    if visit is None:
        return 2
    say("✔ 資格確認が完了しました。")
    print_visit(visit)
    for kind in args.show or []:
        try:
            info = agent.api.medical_information(visit["id"], kind)
        except ApiProblem as problem:
            say(f"✖ {KIND_LABELS.get(kind, kind)}: {problem.problem.get('title')} {problem.problem.get('detail', '')}")
            continue
        except Exception as exc:  # noqa: BLE001 - the visit is done; say why this kind could not be shown
            say(f"✖ {KIND_LABELS.get(kind, kind)}: {messages.describe(exc)}")
            _debug(args)
            continue
        hours, rest = divmod(info["seconds_left"], 3600)
        say(f"■ {KIND_LABELS[kind]}（{len(info['records'])}件、閲覧可能な残り時間 {hours}時間{rest // 60}分）")
        for line in labels.record_lines(kind, info["records"]):
            say(line)
    return 0


def _login(agent: Agent, login: str) -> None:
    """Sign in; a device clock far from the server's is said once a day (``Agent.clock_notice``) and does not
    stop the work."""
    agent.login(login, _staff_password())
    notice = agent.clock_notice()
    if notice:
        say(f"※ {notice}")


def _staff_password() -> str:
    return prompts.secret("スタッフのパスワード", prompts.STAFF_PASSWORD_ENV)


def _visual_password(args: argparse.Namespace) -> str:
    """Its own source, never standard input: a piped PIN must not become this password (issue 19)."""
    return prompts.secret("目視確認モードのパスワード", args.visual_password_env or prompts.VISUAL_PASSWORD_ENV)


def _debug(args: argparse.Namespace) -> None:
    """With --debug, the details for developers (on standard error); never the PIN: it is not in any frame."""
    if getattr(args, "debug", False):
        traceback.print_exc(file=sys.stderr)


def _verify_with_card(agent: Agent, source: Callable[[], AbstractContextManager[CardSession]],
                      request: flows.VisitRequest, args: argparse.Namespace) -> dict[str, Any] | None:
    with source() as card:
        read = flows.read_card(card, with_token_info=args.token_info)
        if read.certificate_kind:
            say(f"カードを読み取りました（{TOKEN_LABELS[read.certificate_kind]}）。")
        notice = messages.certificate_notice(read, agent.now())  # raises CertificateUnusable before the PIN
        if notice:
            say(f"※ {notice}")
        if read.pin_usable and not args.visual:
            say(messages.pin_prompt(read.tries_left))
            try:
                return flows.verify_with_pin(agent.api, card, read, request, _read_pin(args, read.tries_left))
            except WrongPin as wrong:
                say(f"✖ {messages.wrong_pin(wrong.tries_left)}")
                return None  # never retried on its own: the person decides
            except PinLocked:
                say(f"✖ {messages.PIN_LOCKED}")
                if not args.visual_password_env:
                    return None
        elif not read.pin_usable:
            say(f"※ {messages.PIN_LOCKED}")
        say("職員が顔写真とご本人を見比べて確認し、目視確認で続けます。")
        return flows.verify_visually(agent.api, read, request, _visual_password(args))


def _outbox(home: AgentHome) -> Outbox:
    return Outbox(home.outbox_path, home.outbox_key_path, clock=Agent(home).now)


def _evidence_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The flat fields (device_agent/fallback.py) the options gave; options not given are left out."""
    names = (*fallback.EVIDENCE_FIELDS, *(f"decl_{n}" for n in (*fallback.DECLARATION_TEXT,
                                                                 *fallback.DECLARATION_FLAGS)),
             "decl_birth_date", "method", "reason", "patient_reference")
    fields = {name: getattr(args, name) for name in names if getattr(args, name, None) not in (None, "")}
    if getattr(args, "note", None):
        fields["free_text"] = args.note
    return fields


def _refused(errors: list[tuple[str, str]]) -> int:
    say("✖ 記録できません。次を確認してください:")
    for field, message in errors:
        say(f"  - {message}" if fallback.field_label(field) in message else f"  - {fallback.field_label(field)}: {message}")
    return 2


def cmd_outbox_record(args: argparse.Namespace) -> int:
    """Record fallback evidence (docs/rules.md §5) while there is no signal; it syncs later, exactly once."""
    home = AgentHome(Path(args.home))
    fields = _evidence_fields(args)
    now = Agent(home).now()
    fields.setdefault("decl_declared_on", now.astimezone(labels.JST).date().isoformat())
    payload, errors = fallback.build(fields, recorded_at=now, care_type=args.care_type, form=args.form)
    if errors:
        return _refused(errors)
    outbox = _outbox(home)
    record_id = outbox.add(payload)
    outbox.close()
    say(f"端末に記録しました（暗号化して保存、電波が戻ったら送信します）: {record_id}")
    return 0


def cmd_outbox_fix(args: argparse.Namespace) -> int:
    """Correct a record the server refused and queue it again under the same id (the same Idempotency-Key)."""
    outbox = _outbox(AgentHome(Path(args.home)))
    try:
        record = outbox.get(args.record_id)
        if record is None or record.state != "rejected":
            say("✖ 修正できる記録（要修正）が見つかりません。device-agent outbox list で番号を確認してください。")
            return 2
        fields = {**fallback.flatten(record.payload), **_evidence_fields(args)}
        payload, errors = fallback.build(fields, recorded_at=record.payload["device_recorded_at"],
                                         care_type=record.payload.get("care_type", 2),
                                         form=record.payload.get("form", "home_consent"))
        if errors:
            return _refused(errors)
        outbox.fix(record.id, payload)
    finally:
        outbox.close()
    say(f"修正しました。device-agent outbox sync で送信してください（同じ記録として一度だけ登録されます）: {args.record_id}")
    return 0


def cmd_outbox_sync(args: argparse.Namespace) -> int:
    home = AgentHome(Path(args.home))
    agent = Agent(home)
    outbox = _outbox(home)
    try:
        _login(agent, args.login)
        report = outbox.sync(outbox_sender(agent.api))
        shown = [outbox.get(record_id) for record_id in report.sent + report.rejected]
    except Exception as exc:  # noqa: BLE001 - plain Japanese, never a traceback
        say(f"✖ {messages.describe(exc)}")
        _debug(args)
        return 2
    finally:
        outbox.close()
    say(f"送信済み {len(report.sent)} 件、要修正 {len(report.rejected)} 件")
    for record in shown:
        if record is not None:
            _say_record(record)
    if report.stopped:
        say(f"※ 送信を中断しました（残りは次回送信します）: {report.stopped}")
    return 0 if report.complete else 2


def _say_record(record: OutboxRecord) -> None:
    state = labels.OUTBOX_STATES.get(record.state, record.state)
    name = fallback.patient_name(record.payload)
    method = fallback.METHODS.get(record.payload.get("method", ""), record.payload.get("method", ""))
    say(f"{record.id}  {state}  {labels.jst(record.created_at)}  {method}  {name}".rstrip())
    if record.state == "rejected":
        for line in fallback.describe_problem(record.last_error):
            say(f"    ✖ {line}")
        say(f"    修正: device-agent outbox fix {record.id} --<項目> <値>（例: --insurer-number）")
    elif record.state == "sent":
        for line in fallback.result_lines(record.answer):
            say(f"    {line}")


def cmd_outbox_list(args: argparse.Namespace) -> int:
    outbox = _outbox(AgentHome(Path(args.home)))
    try:
        counts = outbox.counts()
        records = outbox.pending() + outbox.rejected()
        if args.all:
            records += [r for r in reversed(outbox.recent(200)) if r.state == "sent"]
    finally:
        outbox.close()
    say(f"未送信 {counts['pending']} 件・要修正 {counts['rejected']} 件・送信済み {counts['sent']} 件")
    for record in records:
        _say_record(record)
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    from device_agent.ui import serve

    home = AgentHome(Path(args.home))
    agent = Agent(home)
    if not agent.enrolled:
        say("この端末はまだ登録されていません。先に device-agent enroll を実行してください。")
        return 2
    serve(agent, _card_source(args, home), port=args.port)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="device-agent", description="モバイル資格確認 端末エージェント")
    parser.add_argument("--home", default=str(default_home()), help="data folder (default: $DEVICE_AGENT_HOME)")
    parser.add_argument("--debug", action="store_true", help="エラーの詳細（開発者向け）を標準エラーに表示する")
    sub = parser.add_subparsers(dest="command", required=True)

    enroll = sub.add_parser("enroll", help="この端末を登録する")
    enroll.add_argument("--server", help="サーバーのURL（/api/v1 は付けても付けなくてもよい）。QRコードに入っていれば省略可")
    group = enroll.add_mutually_exclusive_group(required=True)
    group.add_argument("--code", help="12桁のアクティベーションコード")
    group.add_argument("--qr", help="アクティベーションQRコードの画像ファイル")
    enroll.set_defaults(func=cmd_enroll)

    verify = sub.add_parser("verify", help="マイナンバーカードで資格確認する")
    verify.add_argument("--login", required=True)
    verify.add_argument("--form", choices=list(FORM_LABELS), default="home_consent")
    verify.add_argument("--care-type", type=int, choices=[1, 2, 3], default=2)
    verify.add_argument("--consent", help="blanket, or kinds: medication,checkups,clinical,surgery")
    verify.add_argument("--patient-reference")
    verify.add_argument("--virtual-card", help="persona id (under HOME/cards) or a card folder")
    verify.add_argument("--reader", default=readers.AUTO, help=READER_HELP)
    verify.add_argument("--token-info", action="store_true", help="also read whether it is a card or a phone (+2 APDUs)")
    verify.add_argument("--pin-stdin", action="store_true", help="read the PIN from one line of stdin")
    verify.add_argument("--visual", action="store_true", help="目視確認 instead of the PIN")
    verify.add_argument("--visual-password-env",
                        help="environment variable holding the visual-mode password (default: "
                             f"${prompts.VISUAL_PASSWORD_ENV}); never read from stdin")
    verify.add_argument("--show", nargs="*", choices=list(KIND_LABELS), help="medical information to show (②)")
    verify.set_defaults(func=cmd_verify)

    listing_readers = sub.add_parser("readers", help="つながっているカードリーダー（NFC・PC/SC）と、使うリーダーを表示する")
    listing_readers.add_argument("--reader", default=readers.AUTO, help=READER_HELP)
    listing_readers.set_defaults(func=cmd_readers)

    ui = sub.add_parser("ui", help="タブレット・スマートフォン用のタッチ操作画面を 127.0.0.1 で開く")
    ui.add_argument("--port", type=int, default=8765)
    ui.add_argument("--virtual-card", help="persona id (under HOME/cards) or a card folder, instead of a reader")
    ui.add_argument("--reader", default=readers.AUTO, help=READER_HELP)
    ui.set_defaults(func=cmd_ui)

    outbox = sub.add_parser("outbox", help="通信できないときの記録（オフライン送信箱）")
    osub = outbox.add_subparsers(dest="outbox_command", required=True)
    record = osub.add_parser("record", help="オンライン資格確認の代わりの確認方法を記録する",
                             epilog="方法ごとに必要な項目: " + "; ".join(
                                 f"{m} {fallback.METHODS[m]}: " + "、".join(fallback.LABELS[f] for f in req)
                                 for m, (req, _) in fallback.EVIDENCE.items()))
    record.add_argument("--method", required=True, choices=list(fallback.METHODS),
                        help="; ".join(f"{m} {label}" for m, label in fallback.METHODS.items()))
    record.add_argument("--reason", default="offline", choices=list(fallback.REASONS))
    record.add_argument("--form", choices=list(FORM_LABELS), default="home_consent")
    record.add_argument("--care-type", type=int, choices=[1, 2, 3], default=2)
    _evidence_options(record)
    record.set_defaults(func=cmd_outbox_record)
    fix = osub.add_parser("fix", help="サーバーが受け付けなかった記録（要修正）を直して、同じ記録として送り直す")
    fix.add_argument("record_id")
    fix.add_argument("--method", choices=list(fallback.METHODS))
    fix.add_argument("--reason", choices=list(fallback.REASONS))
    _evidence_options(fix)
    fix.set_defaults(func=cmd_outbox_fix)
    listing = osub.add_parser("list", help="未送信・要修正の記録と件数（--all で送信済みも）")
    listing.add_argument("--all", action="store_true", help="送信済みの記録と、その負担割合・請求の案内も表示する")
    listing.set_defaults(func=cmd_outbox_list)
    sync = osub.add_parser("sync", help="記録をサーバーへ送る（各記録は一度だけ登録されます）")
    sync.add_argument("--login", required=True)
    sync.set_defaults(func=cmd_outbox_sync)
    patient = sub.add_parser("patient", help="患者のスマートフォンの本人確認アプリ（JPKI）として、同意ページの依頼に答える")
    patient.add_argument("--handoff", required=True, help="mobileoqs-jpki://sign?session=… (同意ページのリンク)")
    patient.add_argument("--virtual-card", help="persona id (under HOME/cards) or a card folder")
    patient.add_argument("--reader", default=readers.AUTO, help=READER_HELP)
    patient.add_argument("--pin-stdin", action="store_true", help="read the PIN from one line of stdin")
    patient.set_defaults(func=cmd_patient)
    from device_agent import cli_care

    cli_care.add_commands(sub)
    return parser


def cmd_patient(args: argparse.Namespace) -> int:
    """The patient role: the JPKI client on the patient's phone answers the page's hand-off link."""
    from device_agent.patient import sign_handoff

    answer = sign_handoff(args.handoff, _card_source(args, AgentHome(Path(args.home))), _read_pin(args, None))
    if answer.authenticated:
        say("✔ 本人確認しました。画面に戻ってください。")
        return 0
    say(f"✖ 本人確認できませんでした: {answer.body.get('detail') or answer.body.get('title')}")
    return 1


def _evidence_options(parser: argparse.ArgumentParser) -> None:
    """The evidence and the declaration's fields as options (device_agent/fallback.py names them)."""
    parser.add_argument("--patient-reference", help="患者番号（再来の口頭確認では以前の受診と同じ番号）")
    parser.add_argument("--card-presented", action="store_true", default=None, help="マイナンバーカードの提示を受けた")
    parser.add_argument("--nothing-changed", action="store_true", default=None,
                        help="口頭で資格に変更がないことを確認した（再来の口頭確認）")
    parser.add_argument("--from-provider-records", action="store_true", default=None,
                        help="口頭確認: 保険の番号を施設の記録（カルテ・レセコン等）から転記した")
    for name in ("insurer_number", "insurer_name", "symbol", "number", "branch_number", "name", "name_kana"):
        parser.add_argument("--" + name.replace("_", "-"), help=fallback.LABELS[name])
    parser.add_argument("--birth-date", help="生年月日 1984-05-12")
    parser.add_argument("--copayment-ratio", choices=list(fallback.RATIOS), help="一部負担金割合 030 = 3割")
    parser.add_argument("--portal-view", choices=["screen", "pdf"], help="マイナポータルの画面 / PDF")
    parser.add_argument("--valid-until", help="資格確認書の有効期限 2026-07-31（最長5年）")
    parser.add_argument("--issued-on", help="資格確認書の交付日 2026-08-01（わかれば）")
    parser.add_argument("--note", help="補足")
    group = parser.add_argument_group("被保険者資格申立書（--method declaration）")
    group.add_argument("--decl-has-valid-qualification", action="store_true", default=None,
                       help="有効な保険資格を有している")
    group.add_argument("--decl-insurance-kind", choices=list(fallback.INSURANCE_KINDS),
                       help="; ".join(f"{k} {v}" for k, v in fallback.INSURANCE_KINDS.items()))
    group.add_argument("--decl-copayment-ratio", choices=[*fallback.RATIOS, "unknown"], help="※2 70歳以上・後期")
    group.add_argument("--decl-birth-date", help="生年月日（和暦）: 昭和59年5月12日, S59.5.12, 1984-05-12")
    group.add_argument("--decl-sex", choices=["1", "2"], help="1 男, 2 女")
    group.add_argument("--decl-signed", action="store_true", default=None, help="署名がある")
    group.add_argument("--decl-signed-by", choices=["self", "guardian"], help="本人 self / 代理人 guardian")
    group.add_argument("--decl-declared-on", help="申立日（省略時は今日）")
    for name in ("insurer_name", "employer_name", "address", "residence_address", "phone", "guardian_relationship"):
        group.add_argument("--decl-" + name.replace("_", "-"), help=fallback.DECLARATION_LABELS[name])


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        say("\n中止しました。")
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback reaches the user
        explained = messages.explain(exc)
        say(f"✖ {explained.heading}: {explained.text}")
        _debug(args)
        return 2


if __name__ == "__main__":
    sys.exit(main())
