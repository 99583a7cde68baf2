"""Qualification checks by insurance identifiers for machine clients (docs/health-check-api.md).

Form ③ (資格確認限定型, docs/rules.md §1): qualification only, never medical information, never a
consent or a viewing window. The identifiers are normalised and the insurer number's check digit
is checked before OQS is asked (``domain/identifiers.py``); a bad one is answered with the digit
that is likely wrong. ``check_row`` is the one place a row becomes an outcome: the single check
and every row of a batch job use it, so the JSON and CSV answers of both agree.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ..adapters import orm
from ..adapters.oqs import ConfirmationRequest, IdentifierQuery
from ..domain.codes import CareType, Form, IdentityMethod
from ..domain.errors import (
    ChallengeUsed,
    DomainError,
    NotFound,
    QualificationUnavailable,
    error_class_for,
)
from ..domain.facility import FacilityKind
from ..domain.identifiers import Identifiers
from ..domain.qualification import QualificationResult, name_has_unencodable
from ..domain.written_dates import parse_written_date
from ..runtime import Runtime
from . import audit, card_checks, idempotency
from .clients import SCOPE_CHECK
from .principal import Principal

CHECK_SCOPE = "qualification.check"
IDENTIFIER_FIELDS = ("insurer_number", "symbol", "number", "branch_number", "birth_date")


@dataclass(frozen=True)
class Institution:
    id: str
    code: str
    facility_kind: FacilityKind


def institution_for_checks(rt: Runtime, actor: Principal) -> Institution:
    """The client's institution, if its facility kind may use form ③ (403 form-not-allowed otherwise)."""
    with rt.uow() as uow:
        facts = uow.institutions.facts(actor.institution_id)  # the code and kind only, not the whole row
        if facts is None:
            raise NotFound("施設が見つかりません。")
        rt.policy.require(facts.facility_kind, Form.QUALIFICATION_ONLY)
        return Institution(actor.institution_id, facts.code, facts.facility_kind)


def require_identifier_lookup(rt: Runtime, actor: Principal, institution: Institution, action: str) -> None:
    """A lookup by identifiers alone only for the kinds the policy names (docs/rules.md §1.1); the refusal
    (403 identifier-lookup-not-allowed, pointing to the card) is audited."""
    try:
        rt.policy.require_identifier_lookup(institution.facility_kind)
    except DomainError as refusal:
        audit.record_refusal(rt, actor, action, refusal, client_id=actor.client_id)
        raise


def parse_birth_date(value: Any) -> date | None:
    """A birth date in any form offices write (``domain/written_dates.py``: ISO, Excel's 1984/5/12,
    19840512, S59.5.12, 昭和59年5月12日); None when empty, ``ValidationFailed`` when unreadable."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    return parse_written_date(str(value), field="birth_date")


def _error(refusal: DomainError) -> dict[str, Any]:
    error = {"type": refusal.slug, "title": refusal.title, "detail": refusal.detail}
    for name in ("field", "likely_wrong_positions"):
        if name in refusal.extra:
            error[name] = refusal.extra[name]
    return error


def outcome_of(reference: str | None, result: QualificationResult) -> dict[str, Any]:
    """What a client sees of an OQS result: the qualification, never the person handle or a consent."""
    raw = result.to_dict()
    return {"reference": reference, "outcome": "checked", "eligibility_status": int(result.status),
            "valid": result.status.is_valid, "qualification": raw["qualification"],
            "candidates": result.candidates, "data_withheld": result.data_withheld,
            "name_has_unencodable": name_has_unencodable(raw["qualification"]),
            "messages": list(result.messages), "error": None}


def error_outcome(reference: str | None, refusal: DomainError) -> dict[str, Any]:
    return {"reference": reference, "outcome": "error", "eligibility_status": None, "valid": None,
            "qualification": None, "candidates": 0, "data_withheld": False, "name_has_unencodable": False,
            "messages": [], "error": _error(refusal)}


def check_row(rt: Runtime, institution_code: str, row: dict[str, Any], *, at: datetime,
              purpose: str = "qualification_check") -> dict[str, Any]:
    """One examinee: a row error (check digit, missing date of birth ...) or OQS's answer.
    ``QualificationUnavailable`` propagates: an outage is not the row's fault."""
    reference = row.get("reference")
    try:
        ids = Identifiers.parse(insurer_number=row.get("insurer_number"), symbol=row.get("symbol"),
                                number=row.get("number"), branch_number=row.get("branch_number"),
                                birth_date=parse_birth_date(row.get("birth_date")))
    except QualificationUnavailable:
        raise
    except DomainError as refusal:
        return error_outcome(reference, refusal)
    result = rt.oqs.lookup(IdentifierQuery(
        institution_code=institution_code, insurer_number=ids.insurer_number, symbol=ids.symbol, number=ids.number,
        branch_number=ids.branch_number, birth_date=ids.birth_date, at=at, purpose=purpose))
    return outcome_of(reference, result)


def start_card_check(rt: Runtime, actor: Principal) -> orm.Challenge:
    """A challenge for the card on the institution's own reader: form ③ and PIN only (never a consent),
    bound to the client that asked, single use, expiring like the device flow's (docs/health-check-api.md)."""
    actor.require_scope(SCOPE_CHECK)
    institution_for_checks(rt, actor)
    now = rt.clock()
    with rt.uow() as uow:
        challenge = uow.challenges.add(orm.Challenge(
            nonce=secrets.token_bytes(32), institution_id=actor.institution_id, client_id=actor.client_id,
            care_type=int(CareType.OUTPATIENT), form=Form.QUALIFICATION_ONLY.value, method=IdentityMethod.PIN.value,
            created_at=now, expires_at=now + rt.rules.challenge_ttl))
        audit.record(uow, at=now, action="qualification.challenge", institution_id=actor.institution_id,
                     target_type="challenge", target_id=challenge.id, client_id=actor.client_id)
        uow.commit()
        return challenge


def _card_outcome(rt: Runtime, actor: Principal, institution: Institution, reference: str | None,
                  card: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The card's answer checked as in the device flow (services/verification.py), then OQS asked for the
    qualification only. Another client's (or a device's) challenge reads as missing."""
    with rt.uow() as uow:
        challenge = uow.challenges.owned(card["challenge_id"], actor.institution_id, "確認手続きが見つかりません。")
        if challenge.client_id is None or challenge.client_id != actor.client_id:
            raise NotFound("確認手続きが見つかりません。")
        card_checks.challenge_usable(challenge, now)
        certificate = card_checks.trusted_certificate(rt, card["certificate"])
        card_checks.verify_pin_signature(challenge, certificate, card.get("signature"))
        card_checks.standing_of(rt, certificate, now)
        result = rt.oqs.confirm(ConfirmationRequest(
            institution_code=institution.code, certificate=certificate, care_type=CareType(challenge.care_type),
            form=Form.QUALIFICATION_ONLY, method=IdentityMethod.PIN, consent_kinds=frozenset(), at=now))
    return outcome_of(reference, result)


def check(rt: Runtime, actor: Principal, row: dict[str, Any], idempotency_key: str,
          raw: Any) -> dict[str, Any]:
    """A single check, answered at once, by identifiers or by a card answer (``row["card"]``). A retry
    with the same Idempotency-Key gets the same answer; an identifier error is 422 with the likely wrong
    digit; a refused card answer spends its challenge (no guessing); an OQS outage is 503 and not
    remembered (the challenge stays usable)."""
    actor.require_scope(SCOPE_CHECK)
    institution = institution_for_checks(rt, actor)
    card = row.get("card")
    if card is None:
        require_identifier_lookup(rt, actor, institution, "qualification.check")
    hashed = idempotency.request_hash(raw)
    with rt.uow() as uow:
        replay = _replay(uow, actor, idempotency_key, hashed)
        if replay is not None:
            return replay
    now = rt.clock()
    outcome, refused = _outcome(rt, actor, institution, row, now)
    with rt.uow() as uow:
        if card is not None and not uow.challenges.claim(card["challenge_id"], now) and refused is None:
            uow.rollback()  # a concurrent answer spent the challenge first
            replay = _replay(uow, actor, idempotency_key, hashed)
            if replay is not None:
                return replay
            refused = ChallengeUsed()
            outcome = error_outcome(row.get("reference"), refused)
        audit.record(uow, at=now, action="qualification.check", outcome="ok" if outcome["error"] is None else "refused",
                     institution_id=actor.institution_id, target_type="examinee", target_id=row.get("reference"),
                     client_id=actor.client_id, eligibility_status=outcome["eligibility_status"],
                     reason=outcome["error"]["type"] if outcome["error"] else None,
                     method="card" if card is not None else "identifiers",
                     challenge_id=card["challenge_id"] if card is not None else None)
        return _remember(uow, actor, idempotency_key, hashed, outcome, refused, now)


def _outcome(rt: Runtime, actor: Principal, institution: Institution, row: dict[str, Any],
             now: datetime) -> tuple[dict[str, Any], DomainError | None]:
    """The check's outcome, with the card path's refusal when there is one (it still spends the challenge).
    An OQS outage is audited and raised (503, nothing spent); an identifier error is an outcome."""
    card = row.get("card")
    try:
        if card is None:
            return check_row(rt, institution.code, row, at=now), None
        return _card_outcome(rt, actor, institution, row.get("reference"), card, now), None
    except QualificationUnavailable as refusal:
        audit.record_refusal(rt, actor, "qualification.check", refusal, client_id=actor.client_id)
        raise
    except NotFound:
        raise
    except DomainError as refusal:  # only the card path raises here; identifier errors are outcomes
        return error_outcome(row.get("reference"), refusal), refusal


def _remember(uow: Any, actor: Principal, key: str, hashed: str, outcome: dict[str, Any],
              refused: DomainError | None, now: datetime) -> dict[str, Any]:
    """Keep the answer (or the refusal, raised) under the Idempotency-Key and commit; a concurrent retry that
    committed first wins and its answer is returned instead."""
    error = outcome["error"]
    if error is not None:
        refusal = refused or _refusal_from(error)
        idempotency.remember_refusal(uow, actor, CHECK_SCOPE, key, hashed, refusal, now=now)
        replay = idempotency.commit_or_replay(uow, None, lambda: _replay(uow, actor, key, hashed))
        if replay is not None:
            return replay
        raise refusal
    idempotency.remember(uow, actor, CHECK_SCOPE, key, hashed, status=200, response={"outcome": outcome}, now=now)
    return idempotency.commit_or_replay(uow, outcome, lambda: _replay(uow, actor, key, hashed))


def _refusal_from(error: dict[str, Any]) -> DomainError:
    extra = {k: error[k] for k in ("field", "likely_wrong_positions") if k in error}
    return error_class_for(error["type"])(error["detail"], **extra)


def _replay(uow: Any, actor: Principal, key: str, hashed: str) -> dict[str, Any] | None:
    stored = idempotency.find(uow, actor, CHECK_SCOPE, key, hashed)
    if stored is None:
        return None
    if "problem" in stored.response:
        raise idempotency.stored_refusal(stored)
    return stored.response["outcome"]
