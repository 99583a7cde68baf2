"""Visits recorded from fallback evidence when the card cannot be confirmed online (docs/rules.md §5).

A card verification needs the server's challenge, so at a patient's home without
signal the nurse records what was shown instead (the notice or portal screen
with the card, an oral revisit check, a declaration, a qualification
certificate) in the device's outbox. It reaches the server later, each record
exactly once: the device's record id is the Idempotency-Key, so a resend after
a lost answer returns the record already made. Every record starts as
"pending_post_hoc" (事後確認 is still to be done) and is audited.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from ..adapters import orm
from ..adapters.oqs import IdentifierQuery
from ..adapters.repository import UnitOfWork
from ..domain import declaration as declaration_rules
from ..domain import fallback as method_rules
from ..domain.claims import (
    UNKNOWN_CLAIM_IDENTIFIERS,
    BillingIdentifiers,
    ClaimGuidance,
    ClaimRoute,
    check_current_route,
    guide,
    is_unknown_claim_identifiers,
)
from ..domain.codes import CareType, EligibilityStatus, Form
from ..domain.copayment import fallback_copayment, needs_stated_ratio
from ..domain.errors import Conflict, DomainError, ValidationFailed
from ..domain.facility import FacilityKind
from ..domain.fallback import FallbackMethod, FallbackReason  # noqa: F401 - re-exported
from ..domain.identifiers import Identifiers
from ..domain.insurer import is_valid_insurer_number
from ..domain.japanese_dates import era_to_date
from ..domain.statuses import FallbackStatus
from ..queries import fallback as fallback_queries
from ..queries.fallback import (
    PRIOR_RECORD,
    PRIOR_VISIT,
    FallbackRead,
    fallback_read,
    qualification_source,
    record_guidance,
)
from ..runtime import Runtime
from . import audit, idempotency
from .principal import Principal, institution_of

SCOPE = "fallback.record"
ACTION = "fallback.record"


@dataclass(frozen=True)
class RecordRequest:
    care_type: CareType
    form: Form
    method: FallbackMethod
    reason: FallbackReason
    device_recorded_at: datetime
    evidence: dict[str, Any] = field(default_factory=dict)  # JSON-ready (dates as ISO strings)
    patient_reference: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)  # the body as sent, for the idempotency hash


def record(rt: Runtime, actor: Principal, idempotency_key: str, request: RecordRequest) -> FallbackRead:
    actor.require_staff_on_device()
    request_hash = idempotency.request_hash(request.raw)
    now = rt.clock()
    with rt.uow() as uow:
        replay = _replay(uow, actor, idempotency_key, request_hash)
        if replay is not None:
            return replay
        try:
            checked = _check(rt, uow, actor, request)
        except DomainError as refusal:
            uow.rollback()
            # Not remembered under the key: the same body is refused the same way anyway, and a
            # corrected record may still be sent under its own id.
            audit.record_refusal(rt, actor, ACTION, refusal, method=request.method.value,
                                 fallback_reason=request.reason.value)
            raise
        destroy = bool(request.evidence.get("declaration")) or request.method is FallbackMethod.DECLARATION
        row = uow.fallback_records.add(orm.FallbackRecord(
            institution_id=actor.institution_id, device_id=actor.device_id, user_id=actor.user_id,
            care_type=int(request.care_type), form=request.form.value, patient_reference=request.patient_reference,
            method=request.method.value, reason=request.reason.value, evidence=request.evidence,
            device_recorded_at=request.device_recorded_at, received_at=now,
            status=checked.status.value, destroy_after_claim=destroy, created_at=now,
            visit_on=checked.visit_on, copayment_ratio=checked.copayment[0], copayment_basis=checked.copayment[1],
            prior_ref=checked.prior_ref, lookup=checked.lookup,
            post_hoc_outcome="confirmed" if checked.lookup else None,
            confirmed_at=now if checked.lookup else None))
        uow.flush()
        ahead = int((request.device_recorded_at - now).total_seconds())  # within the tolerated skew
        audit.record(uow, at=now, action=ACTION, institution_id=actor.institution_id, user_id=actor.user_id,
                     device_id=actor.device_id, target_type="fallback_record", target_id=row.id,
                     method=row.method, fallback_reason=row.reason, form=row.form, care_type=row.care_type,
                     destroy_after_claim=destroy, status=row.status, visit_on=checked.visit_on.isoformat(),
                     qualification_source=qualification_source(row),
                     device_clock_skew_seconds=ahead if ahead > 0 else None)
        guidance = guidance_for_record(uow, row)  # reads only: before the key row is pending
        idempotency.remember(uow, actor, SCOPE, idempotency_key, request_hash, status=201,
                             response={"fallback_record_id": row.id}, now=now)
        return idempotency.commit_or_replay(uow, fallback_read(row, guidance),
                                            lambda: _replay(uow, actor, idempotency_key, request_hash))


def list_records(rt: Runtime, actor: Principal, *, status: str | None = None, limit: int = 50,
                 offset: int = 0) -> list[FallbackRead]:
    """The institution's fallback records, newest first (by the server's clock), in one select with their
    claim guidance (``queries.fallback.records``).

    Patient data: read by an admin or staff on a registered device, one audit row per request
    with the ids returned."""
    actor.require_patient_data_reader()
    with rt.uow() as uow:
        views = fallback_queries.records(uow.session, actor.institution_id, status=status, limit=limit,
                                         offset=offset)
        audit.record(uow, at=rt.clock(), action="fallback.list", institution_id=actor.institution_id,
                     user_id=actor.user_id, device_id=actor.device_id, target_type="fallback_record",
                     count=len(views), ids=[view.id for view in views])
        uow.commit()
        return views


@dataclass(frozen=True)
class _Checked:
    visit_on: date
    status: FallbackStatus
    copayment: tuple[str, str]
    prior_ref: str | None = None
    lookup: dict[str, Any] | None = None


@dataclass(frozen=True)
class _Patient:
    """What the co-payment is judged from: as the record states it, or as this institution already holds it."""

    birth: date | None
    latter_stage: bool
    stated: str | None
    prior_ref: str | None = None  # the earlier visit or record whose qualification is held
    held_ratio: str | None = None


def _check(rt: Runtime, uow: UnitOfWork, actor: Principal, request: RecordRequest) -> _Checked:
    """Every rule of docs/rules.md §5 a record must meet, in the order a nurse would fix them."""
    institution = institution_of(uow, actor)
    visit_on = _check_request(rt, institution.facility_kind, request)
    evidence, method = request.evidence, request.method
    declaration = evidence.get("declaration") or None
    latter_stage = method_rules.is_latter_stage_insurer(evidence.get("insurer_number")) or bool(
        declaration and declaration.get("insurance_kind") == "kouki")
    method_rules.check_method_date(method, visit_on, latter_stage=latter_stage)
    method_rules.check_evidence(method, evidence, visit_on)
    from_records = method_rules.numbers_from_provider_records(method, evidence)
    birth = date.fromisoformat(evidence["birth_date"]) if evidence.get("birth_date") else None
    patient = _Patient(birth, latter_stage, evidence.get("copayment_ratio"))
    if method in (FallbackMethod.ORAL_REVISIT, FallbackMethod.DECLARATION):
        patient = _as_held(uow, actor.institution_id, request, visit_on, patient, from_records=from_records)
    if declaration is not None:
        patient = replace(patient, birth=declaration_rules.check(declaration, visit_on=visit_on),
                          stated=patient.stated or declaration.get("copayment_ratio"))
    copayment = _copayment(request, visit_on, patient)
    if method in method_rules.NEEDS_LOOKUP:
        lookup = _interim_lookup(rt, institution.code, method, evidence, visit_on)
        return _Checked(visit_on, FallbackStatus.CONFIRMED, copayment, lookup=lookup)
    return _Checked(visit_on, FallbackStatus.PENDING_POST_HOC, copayment, prior_ref=patient.prior_ref)


def _check_request(rt: Runtime, facility_kind: FacilityKind, request: RecordRequest) -> date:
    """The form, the care type, the visit day (judged by the server's clock), the insurer number's check digit
    and the method's reason; the visit day."""
    rt.policy.require(facility_kind, request.form)
    if request.care_type is CareType.EMERGENCY:
        raise ValidationFailed("救急の資格確認はモバイル端末では行えません。", field="care_type")
    evidence = request.evidence
    visit_on = method_rules.judged_visit_day(request.device_recorded_at, rt.clock(),
                                             future_skew=rt.rules.fallback_future_skew,
                                             max_age_days=rt.rules.fallback_max_age_days)
    insurer_number = evidence.get("insurer_number")
    if insurer_number is not None and not is_valid_insurer_number(insurer_number):
        # A mistyped insurer number is the commonest reason a claim comes back: catch it now. The
        # unknown-claim value 77777777 is for the claim only (docs/rules.md §5), never for evidence.
        raise ValidationFailed("保険者番号に誤りがあります（6桁または8桁で、検証番号が一致する必要があります）。"
                               "お知らせ・資格確認書の番号をもう一度確認してください。",
                               field="evidence/insurer_number")
    if evidence.get("declaration") and request.method is not FallbackMethod.DECLARATION:
        raise ValidationFailed("被保険者資格申立書の内容は、確認方法が「申立書」の場合だけ記録できます。",
                               field="evidence/declaration")
    method_rules.check_method_for_reason(request.method, request.reason)
    return visit_on


def _as_held(uow: UnitOfWork, institution_id: str, request: RecordRequest, visit_on: date, patient: _Patient, *,
             from_records: bool) -> _Patient:
    """An oral check needs a revisit whose qualification this institution holds (or the numbers copied from
    its own records); a declaration needs a first visit. A held qualification is what the co-payment uses."""
    oral = request.method is FallbackMethod.ORAL_REVISIT
    held = _held_qualification(uow, institution_id, request, visit_on)
    if oral and held is None and not from_records:
        raise ValidationFailed("口頭での確認は再来の患者で、この施設が資格情報を把握している場合だけ使えます。"
                               "以前の受診の記録（カルテ・レセコン等）に保険の番号があれば、転記して記録してください。"
                               "初診の患者は被保険者資格申立書で確認してください。",
                               field="method", rule="oral-needs-revisit")
    if oral and from_records:  # the numbers staff copied
        return replace(patient, latter_stage=method_rules.is_latter_stage_insurer(
            request.evidence.get("insurer_number")))
    if oral and held is not None:
        prior_ref, qualification = held
        return replace(patient, prior_ref=prior_ref, held_ratio=qualification.get("copayment_ratio"),
                       birth=date.fromisoformat(qualification["birth_date"]) if qualification.get("birth_date")
                       else None,
                       latter_stage=method_rules.is_latter_stage_insurer(qualification.get("insurer_number")))
    if held is not None:
        raise ValidationFailed("被保険者資格申立書は初診の患者のためのものです。この施設は以前の受診でこの患者の"
                               "資格情報を把握しているため、口頭で変更がないか確認してください。",
                               field="method", rule="declaration-first-visit-only")
    return patient


def _copayment(request: RecordRequest, visit_on: date, patient: _Patient) -> tuple[str, str]:
    """(ratio, basis): the held ratio of an earlier visit, else judged from the age and what was stated."""
    method, evidence = request.method, request.evidence
    held_here = method is FallbackMethod.ORAL_REVISIT and patient.prior_ref is not None
    if (method is not FallbackMethod.DECLARATION and not held_here and patient.stated is None
            and needs_stated_ratio(patient.birth, visit_on, latter_stage=patient.latter_stage)):
        raise ValidationFailed("70歳以上の方・後期高齢者医療の方は、提示された書類の一部負担金割合を入力してください。",
                               field="evidence/copayment_ratio", rule="copayment-needed")
    if patient.held_ratio in ("010", "020", "030"):
        return patient.held_ratio, "past_visit"
    try:
        return fallback_copayment(patient.birth, visit_on, latter_stage=patient.latter_stage, stated=patient.stated)
    except ValueError as wrong:
        where = "evidence/declaration/copayment_ratio" if evidence.get("declaration") and not evidence.get(
            "copayment_ratio") else "evidence/copayment_ratio"
        raise ValidationFailed(str(wrong), field=where, rule="copayment") from None


def _held_qualification(uow: UnitOfWork, institution_id: str, request: RecordRequest,
                        visit_on: date) -> tuple[str, dict[str, Any]] | None:
    """The qualification this institution already holds for the patient from an earlier visit: a card-verified
    visit with a valid result, or a record confirmed post hoc. Needs the patient reference."""
    if not request.patient_reference:
        raise ValidationFailed("口頭での確認と被保険者資格申立書は、初診か再来かを確かめるため患者の参照番号"
                               "（patient_reference）が必要です。", field="patient_reference", rule="patient-reference")
    visit = uow.visits.earlier_of_patient(institution_id, request.patient_reference,
                                          before=request.device_recorded_at, valid_only=True)
    if visit is not None and visit.result.get("qualification"):
        return f"{PRIOR_VISIT}{visit.id}", visit.result["qualification"]
    earlier = uow.fallback_records.confirmed_of_patient(institution_id, request.patient_reference, before=visit_on)
    if earlier is not None and earlier.lookup and earlier.lookup.get("result", {}).get("qualification"):
        return f"{PRIOR_RECORD}{earlier.id}", earlier.lookup["result"]["qualification"]
    return None


_LOOKUP_REFUSALS = {
    EligibilityStatus.INVALID_LOST: "照会した資格は喪失しています。",
    EligibilityStatus.INVALID_NEWER_EXISTS: "照会した資格は無効です（新しい資格があります）。",
    EligibilityStatus.NO_MATCH: "照会した保険者番号・記号・番号・生年月日に該当する資格がありません。",
    EligibilityStatus.MULTIPLE_MATCHES: "該当する資格が複数あります。枝番を入力してください。",
}


def _interim_lookup(rt: Runtime, institution_code: str, method: FallbackMethod, evidence: dict[str, Any],
                    visit_on: date) -> dict[str, Any]:
    """The transitional measure (seed 003): the notice or an expired paper card alone only after an online
    lookup by identifiers finds a valid qualification. An OQS outage is a 503: the record is not made, and the
    device keeps it in its outbox and sends it again."""
    result = rt.oqs.lookup(_query(institution_code, evidence, rt.clock(), purpose="fallback_check"))
    if not result.status.is_valid:
        raise ValidationFailed(
            _LOOKUP_REFUSALS.get(result.status, "照会で資格を確認できません。")
            + f"「{method_rules.METHOD_LABELS_JA[method]}」は照会で資格を確認できた場合だけ使えます。"
            "番号を確かめるか、マイナンバーカードと資格情報のお知らせ、または被保険者資格申立書で確認してください。",
            field="evidence", rule="lookup-failed", eligibility_status=int(result.status))
    return {"at": rt.clock().isoformat(), "purpose": "fallback_check", "result": result.to_dict()}


def _query(institution_code: str, ids: dict[str, Any], at: datetime, *, purpose: str) -> IdentifierQuery:
    parsed = Identifiers.parse(insurer_number=ids.get("insurer_number"), symbol=ids.get("symbol"),
                               number=ids.get("number"), branch_number=ids.get("branch_number"),
                               birth_date=date.fromisoformat(ids["birth_date"]) if ids.get("birth_date") else None)
    return IdentifierQuery(institution_code=institution_code, insurer_number=parsed.insurer_number,
                           symbol=parsed.symbol, number=parsed.number, branch_number=parsed.branch_number,
                           birth_date=parsed.birth_date, at=at, purpose=purpose)


def _replay(uow: UnitOfWork, actor: Principal, key: str, request_hash: str) -> FallbackRead | None:
    stored = idempotency.find(uow, actor, SCOPE, key, request_hash)
    if stored is None:
        return None
    row = uow.fallback_records.get(stored.response["fallback_record_id"])
    assert row is not None
    return fallback_read(row, guidance_for_record(uow, row))


# --- Reading one record, updating its numbers, settling its claim (docs/rules.md §5) -------------------

OPEN_STATUSES = (FallbackStatus.PENDING_POST_HOC.value, FallbackStatus.NEEDS_ATTENTION.value)
SETTLEABLE = (FallbackStatus.CONFIRMED.value, FallbackStatus.NEEDS_ATTENTION.value)
IDENTIFIER_FIELDS = ("insurer_number", "insurer_name", "symbol", "number", "branch_number", "birth_date")


def get_record(rt: Runtime, actor: Principal, record_id: str) -> FallbackRead:
    """One record (patient data: read by an admin or staff on a registered device, and audited)."""
    actor.require_patient_data_reader()
    with rt.uow() as uow:
        row = _owned(uow, actor, record_id)
        audit.record(uow, at=rt.clock(), action="fallback.read", institution_id=actor.institution_id,
                     user_id=actor.user_id, device_id=actor.device_id, target_type="fallback_record", target_id=row.id)
        view = fallback_read(row, guidance_for_record(uow, row))
        uow.commit()
        return view


def update_identifiers(rt: Runtime, actor: Principal, record_id: str, identifiers: dict[str, Any]) -> FallbackRead:
    """The numbers became known later (the patient brought the notice, the insurer answered): add them to the
    record and look it up again at the next post-hoc run. Only while the record is still open."""
    actor.require_patient_data_reader()
    now = rt.clock()
    with rt.uow() as uow:
        row = _owned(uow, actor, record_id)
        number = identifiers.get("insurer_number")
        if number is not None and not is_valid_insurer_number(number):
            raise ValidationFailed("保険者番号に誤りがあります（6桁または8桁で、検証番号が一致する必要があります）。"
                                   "不詳レセプト（77777777）は請求確定のときだけ指定できます。",
                                   field="insurer_number")
        evidence = {**row.evidence, **{k: v for k, v in identifiers.items() if k in IDENTIFIER_FIELDS}}
        if not uow.fallback_records.move(row.id, OPEN_STATUSES, evidence=evidence,
                                         status=FallbackStatus.PENDING_POST_HOC.value, post_hoc_outcome=None):
            raise Conflict("請求が確定した記録、または確認済みの記録の番号は変更できません。", record_status=row.status)
        uow.fallback_records.reload(row)
        audit.record(uow, at=now, action="fallback.update", institution_id=actor.institution_id,
                     user_id=actor.user_id, device_id=actor.device_id, target_type="fallback_record", target_id=row.id,
                     fields=sorted(k for k in identifiers if k in IDENTIFIER_FIELDS))
        view = fallback_read(row, guidance_for_record(uow, row))
        uow.commit()
        return view


def settle(rt: Runtime, actor: Principal, record_id: str, *, route: int,
           billed: dict[str, Any] | None = None) -> FallbackRead:
    """Mark the claim settled (請求確定) and destroy the declaration's personal data (seed 001: 速やかに廃棄).

    The declaration is removed from the row, not hidden: what is left says that it existed, when it was
    destroyed and by whom, and an audit row says the same. ``billed`` are the identifiers the claim used; the
    unknown-claim 7-fill is accepted there only with route ③, and route ③ needs it.
    """
    actor.require_patient_data_reader()
    now = rt.clock()
    claim_route = ClaimRoute(route)
    ids = BillingIdentifiers.of(billed) if billed else None
    if billed and ids is None:
        raise ValidationFailed("請求に使った保険者番号と番号を入力してください。", field="billed")
    if claim_route is ClaimRoute.UNKNOWN:
        ids = ids or UNKNOWN_CLAIM_IDENTIFIERS
        if not is_unknown_claim_identifiers(ids):
            raise ValidationFailed("不詳レセプト（③）では被保険者番号等をすべて「7」で埋めてください（例: 77777777）。",
                                   field="billed/insurer_number", rule="unknown-claim")
    elif ids is not None and not is_valid_insurer_number(ids.insurer_number):
        raise ValidationFailed("保険者番号に誤りがあります。「7」で埋めた番号は不詳レセプト（③）でだけ使えます。",
                               field="billed/insurer_number", rule="unknown-claim-only")
    with rt.uow() as uow:
        row = _owned(uow, actor, record_id)
        check_current_route(claim_route, ids, guidance_for_record(uow, row))
        evidence = dict(row.evidence)
        had_declaration = bool(evidence.get("declaration")) and not evidence["declaration"].get("destroyed")
        if had_declaration:
            evidence["declaration"] = declaration_rules.destroyed(now.isoformat(), actor.user_id)
        if not uow.fallback_records.move(row.id, SETTLEABLE, status=FallbackStatus.CLAIM_SETTLED.value,
                                         evidence=evidence, settled_at=now, settled_by=actor.user_id,
                                         claim_route=int(claim_route)):
            raise Conflict("事後確認が済んでいない記録、またはすでに請求が確定した記録です。"
                           "事後確認の結果（確認済み・要確認）が出てから請求を確定してください。", record_status=row.status)
        uow.fallback_records.reload(row)
        audit.record(uow, at=now, action="fallback.settle", institution_id=actor.institution_id,
                     user_id=actor.user_id, device_id=actor.device_id, target_type="fallback_record", target_id=row.id,
                     claim_route=int(claim_route))
        if had_declaration:
            audit.record(uow, at=now, action="fallback.declaration_destroyed", institution_id=actor.institution_id,
                         user_id=actor.user_id, device_id=actor.device_id, target_type="fallback_record",
                         target_id=row.id, destroyed_by=actor.user_id)
        view = fallback_read(row, guidance_for_record(uow, row))
        uow.commit()
        if had_declaration:
            uow.fallback_records.release_freed_space()
        return view


def _owned(uow: UnitOfWork, actor: Principal, record_id: str) -> orm.FallbackRecord:
    return uow.fallback_records.owned(record_id, actor.institution_id, "代替確認の記録が見つかりません。")


# --- Post-hoc confirmation (事後確認) -------------------------------------------------------------------

@dataclass
class PostHocReport:
    confirmed: list[str] = field(default_factory=list)
    needs_attention: list[str] = field(default_factory=list)
    stopped: str | None = None  # "oqs-unavailable": the rest waits for the next run

    def to_dict(self) -> dict[str, Any]:
        return {"confirmed": len(self.confirmed), "needs_attention": len(self.needs_attention),
                "stopped": self.stopped}


POST_HOC_OUTCOMES = {
    EligibilityStatus.INVALID_LOST: "lost",
    EligibilityStatus.INVALID_NEWER_EXISTS: "different_qualification",
    EligibilityStatus.NO_MATCH: "not_found",
    EligibilityStatus.MULTIPLE_MATCHES: "multiple",
}


def confirm_pending(rt: Runtime, *, limit: int = 200, institution_id: str | None = None) -> PostHocReport:
    """Look up every record still waiting (oldest first) now that OQS answers, and attach the result:
    confirmed (valid), or needs_attention (lost → bill the former insurer; a newer qualification; not found;
    several; no numbers to look up). One transaction per record, so a run that stops halfway keeps what it
    did; an OQS outage stops the run and leaves the rest pending. Run by ``flask fallback post-hoc`` and the
    periodic job ``fallback.post_hoc``; the actor in the audit log is the system (no user)."""
    report = PostHocReport()
    with rt.uow() as uow:
        waiting = [(r.id, r.institution_id) for r in uow.fallback_records.awaiting_post_hoc(
            limit=limit, institution_id=institution_id)]
    for record_id, owner in waiting:
        try:
            outcome = _confirm_one(rt, record_id, owner)
        except DomainError as exc:
            if exc.status == 503:
                report.stopped = "oqs-unavailable"
                break
            raise
        if outcome == "confirmed":
            report.confirmed.append(record_id)
        elif outcome is not None:
            report.needs_attention.append(record_id)
    return report


def _confirm_one(rt: Runtime, record_id: str, institution_id: str) -> str | None:
    now = rt.clock()
    with rt.uow() as uow:
        row = uow.fallback_records.get(record_id)
        institution = uow.institutions.facts(institution_id)  # the code only, not the whole row
        if row is None or institution is None or row.status != FallbackStatus.PENDING_POST_HOC.value:
            return None
        ids = _lookup_identifiers(uow, row)
        lookup: dict[str, Any] | None = None
        if ids is None:
            outcome = "no_identifiers"
        else:
            try:
                query = _query(institution.code, ids, now, purpose="post_hoc_confirmation")
            except ValidationFailed:
                query, outcome = None, "no_identifiers"
            if query is not None:
                result = rt.oqs.lookup(query)  # QualificationUnavailable (503) stops the run
                lookup = {"at": now.isoformat(), "purpose": "post_hoc_confirmation", "result": result.to_dict()}
                outcome = "confirmed" if result.status.is_valid else POST_HOC_OUTCOMES.get(result.status, "not_found")
        status = FallbackStatus.CONFIRMED if outcome == "confirmed" else FallbackStatus.NEEDS_ATTENTION
        moved = uow.fallback_records.move(row.id, (FallbackStatus.PENDING_POST_HOC.value,), status=status.value,
                                          lookup=lookup, post_hoc_outcome=outcome,
                                          confirmed_at=now if status is FallbackStatus.CONFIRMED else None)
        if not moved:
            return None
        audit.record(uow, at=now, action="fallback.post_hoc", institution_id=institution_id,
                     target_type="fallback_record", target_id=row.id, status=status.value, post_hoc_outcome=outcome,
                     eligibility_status=(lookup or {}).get("result", {}).get("status"))
        uow.commit()
        return outcome


def _lookup_identifiers(uow: UnitOfWork, row: orm.FallbackRecord) -> dict[str, Any] | None:
    """What to look up: the numbers shown (or added later), with the birth date from the evidence or the
    declaration; for an oral revisit check, the qualification held from the earlier visit."""
    evidence = dict(row.evidence)
    declaration = evidence.get("declaration") or {}
    if not evidence.get("birth_date") and declaration.get("birth_date") and not declaration.get("destroyed"):
        era = declaration["birth_date"]
        evidence["birth_date"] = era_to_date(era["era"], era["year"], era["month"], era["day"]).isoformat()
    if evidence.get("insurer_number") and evidence.get("number") and evidence.get("birth_date"):
        return evidence
    held = _prior_qualification(uow, row)
    if held and held.get("insurer_number") and held.get("number") and held.get("birth_date"):
        return held
    return None


def _prior_qualification(uow: UnitOfWork, row: orm.FallbackRecord) -> dict[str, Any] | None:
    if not row.prior_ref:
        return None
    if row.prior_ref.startswith(PRIOR_VISIT):
        visit = uow.visits.get(row.prior_ref.removeprefix(PRIOR_VISIT))
        return visit.result.get("qualification") if visit is not None else None
    earlier = uow.fallback_records.get(row.prior_ref.removeprefix(PRIOR_RECORD))
    if earlier is None or not earlier.lookup:
        return None
    return earlier.lookup.get("result", {}).get("qualification")


# --- Claim guidance ①②③ -------------------------------------------------------------------------------

def guidance_for_record(uow: UnitOfWork, row: orm.FallbackRecord) -> ClaimGuidance:
    """One record's claim guidance (``queries.fallback.record_guidance``): the earlier visit or record read
    only if the guidance needs it. A page reads them in its one select (``queries.fallback.records``)."""
    def earlier() -> dict[str, Any] | None:
        assert row.patient_reference is not None
        visit = uow.visits.earlier_of_patient(row.institution_id, row.patient_reference, before=row.received_at,
                                              valid_only=False)
        return visit.result.get("qualification") if visit is not None else None

    return record_guidance(row, prior=lambda: _prior_qualification(uow, row), earlier=earlier)


def guidance_for_visit(uow: UnitOfWork, visit: orm.Visit) -> ClaimGuidance:
    """A card-verified visit: ① a valid result; ② the lost or superseded qualification the invalid result
    shows, or an earlier visit's; ③ otherwise (no declaration on a card visit: the remarks say to ask)."""
    qualification = (visit.result or {}).get("qualification")
    status = visit.eligibility_status
    current = BillingIdentifiers.of(qualification) if status in (1, 6) else None
    former = BillingIdentifiers.of(qualification) if status in (2, 3) else None
    former_source = "invalid_result"
    if current is None and former is None and visit.patient_reference:
        earlier = uow.visits.earlier_of_patient(visit.institution_id, visit.patient_reference,
                                                before=visit.created_at, valid_only=False)
        if earlier is not None:
            former, former_source = BillingIdentifiers.of(earlier.result.get("qualification")), "past_visit"
    return guide(current=current, current_source="oqs", former=former, former_source=former_source)
