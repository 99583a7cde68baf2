"""The read models (queries/, docs/architecture.md "Read side"): what a visit says *now* is computed once, by
the injected clock, and every part of the response agrees with the one window report (docs/rules.md §2.4, §3);
a fallback record's notes follow its stored state (§5)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from mobile_api.clock import FrozenClock
from mobile_api.domain.claims import guide
from mobile_api.domain.codes import EligibilityStatus
from mobile_api.domain.consent import REOPEN_BY_CARD, REOPEN_BY_REQUERY
from mobile_api.queries import consents, fallback, notices
from mobile_api.queries.visits import ConsentRead, RelationshipRef, VisitRead, read_visit, relationship_ref
from mobile_api.runtime import Rules

T0 = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
RULES = Rules(challenge_ttl=timedelta(minutes=2), activation_code_ttl=timedelta(hours=24),
              refresh_ttl=timedelta(days=7), device_assertion_max_age=timedelta(minutes=1),
              viewing_window=timedelta(hours=24), certificate_grace_months=3, renewal_alert_months=3,
              care_relationship_idle=timedelta(days=90))


@dataclass(frozen=True)
class Visit:
    """The stored columns a read model is made of (queries.visits.VisitFacts)."""

    id: str = "v-1"
    created_at: datetime = T0
    care_type: int = 2
    form: str = "home_consent"
    method: str = "pin"
    user_id: str = "u-1"
    device_id: str = "d-1"
    visual_confirmed_by: str | None = None
    patient_reference: str | None = None
    certificate_standing: str = "valid"
    certificate_kind: str | None = "card"
    certificate_not_after: datetime | None = None
    eligibility_status: int = 1
    medical_info_allowed: bool = True
    result: dict[str, Any] = field(default_factory=lambda: {"qualification": {"name": "山田 太郎",
                                                                                "birth_date": "1950-04-01"}})
    requery_of: str | None = None


def _consent(registered_at: datetime = T0, *, withdrawn_at: datetime | None = None) -> ConsentRead:
    return ConsentRead("c-1", False, ("medication",), registered_at, registered_at + RULES.viewing_window,
                       withdrawn_at, "card", None)


def _read(clock: FrozenClock, visit: Visit | None = None, consent: ConsentRead | None = None,
          relationship: RelationshipRef | None = None) -> VisitRead:
    return read_visit(visit or Visit(), consent, relationship, clock(), RULES)


def test_the_window_is_reported_once_and_the_notices_and_the_flag_say_the_same() -> None:
    clock = FrozenClock(T0)
    clock.advance(hours=23)
    read = _read(clock, consent=_consent())
    assert read.window.state == "open" and read.window.viewable_now
    assert read.window.closes_at == T0 + timedelta(hours=24)
    assert read.notices.count(read.window.message) == 1  # the notice IS the report, not a second computation
    clock.advance(hours=1)  # exactly 24 h after registration: closed, by the server's clock
    closed = _read(clock, consent=_consent())
    assert (closed.window.state, closed.window.viewable_now) == ("closed", False)
    assert closed.window.how_to_reopen == REOPEN_BY_CARD and closed.window.message in closed.notices
    assert read.window.message not in closed.notices


def test_an_active_relationship_reopens_by_requery_and_an_idle_one_by_the_card() -> None:
    clock = FrozenClock(T0 + timedelta(days=2))
    active = relationship_ref(id="r-1", opened_by_visit_id="v-1", last_visit_at=T0, ended_at=None, end_reason=None,
                              now=clock(), rules=RULES)
    assert _read(clock, consent=_consent(), relationship=active).window.how_to_reopen == REOPEN_BY_REQUERY
    clock.advance(days=90)  # the idle limit (OUR RULE, CARE_RELATIONSHIP_IDLE_DAYS) has passed since the visit
    idle = relationship_ref(id="r-1", opened_by_visit_id="v-1", last_visit_at=T0, ended_at=None, end_reason=None,
                            now=clock(), rules=RULES)
    assert (idle.active, idle.end_reason, idle.ended_at) == (False, "idle", T0 + timedelta(days=90))
    assert _read(clock, consent=_consent(), relationship=idle).window.how_to_reopen == REOPEN_BY_CARD


def test_the_renewal_alert_is_judged_as_of_the_visit_and_shown_once_in_the_notices() -> None:
    clock = FrozenClock(T0 + timedelta(days=400))  # read much later: the alert is what the visit was told
    soon = Visit(certificate_not_after=T0 + timedelta(days=60))
    read = _read(clock, soon)
    assert read.renewal is not None and not read.renewal.expired
    assert read.renewal.expires_on.isoformat() == "2027-01-30"
    assert read.notices.count(read.renewal.message) == 1
    assert _read(clock, Visit(certificate_not_after=T0 + timedelta(days=120))).renewal is None  # > 3 months ahead
    grace = _read(clock, Visit(certificate_not_after=T0 - timedelta(days=10), certificate_standing="expired_in_grace",
                               medical_info_allowed=False))
    assert grace.renewal is not None and grace.renewal.expired
    assert notices.GRACE_NOTICE in grace.notices and grace.renewal.message not in grace.notices


def test_checkups_are_unavailable_under_40_by_the_date_in_japan_now() -> None:
    born = Visit(result={"qualification": {"name": "若い 人", "birth_date": "1986-12-02"}})
    clock = FrozenClock(datetime(2026, 12, 1, 14, 59, tzinfo=UTC))  # 23:59 on 12-01 in Japan: still 39
    (kind,) = _read(clock, born).unavailable_kinds
    assert kind.kind == "checkups" and "39歳" in kind.reason
    clock.advance(minutes=1)  # 00:00 on 12-02 in Japan: 40 today, though still 12-01 in UTC
    assert _read(clock, born).unavailable_kinds == ()


def test_labels_and_flags_come_from_the_stored_result() -> None:
    clock = FrozenClock(T0)
    withheld = _read(clock, Visit(eligibility_status=4, result={"data_withheld": True}, medical_info_allowed=False))
    assert withheld.eligibility_label == "資格情報なし（保険者が表示を停止）" and withheld.data_withheld
    assert withheld.qualification is None and notices.WITHHELD_NOTICE in withheld.notices
    lost = _read(clock, Visit(eligibility_status=2))
    assert lost.eligibility_label == "無効（資格喪失）" and lost.outcome == "invalid"
    assert notices.STATUS_NOTICES[EligibilityStatus.INVALID_LOST] in lost.notices


def test_a_consent_entry_reports_a_withdrawal_as_of_now() -> None:
    clock = FrozenClock(T0 + timedelta(hours=2))

    @dataclass
    class Row:
        id: str = "c-1"
        source: str = "patient_phone"
        visit_id: str | None = None
        link_id: str | None = "l-1"
        planned_date: Any = None
        blanket: bool = True
        kinds: tuple[str, ...] = ("medication", "clinical")
        registered_at: datetime = T0
        expires_at: datetime = T0 + timedelta(hours=24)
        withdrawn_at: datetime | None = T0 + timedelta(hours=1)
        withdrawn_via: str | None = "patient_phone"

    entry = consents.entry_of(Row(), now=clock(), patient=consents.patient_summary(
        {"qualification": {"name": "山田 花子", "name_kana": "ヤマダ ハナコ", "birth_date": "1960-01-01", "sex": "2"}}))
    assert (entry.window.state, entry.window.closed_at) == ("withdrawn", T0 + timedelta(hours=1))
    assert entry.patient == consents.PatientSummary("山田 花子", "ヤマダ ハナコ", "1960-01-01")  # nothing more
    assert consents.patient_summary({"qualification": {}}) is None


@dataclass
class FallbackRow:
    """The stored columns of a fallback record (orm.FallbackRecord)."""

    id: str = "f-1"
    care_type: int = 2
    form: str = "home_consent"
    patient_reference: str | None = "P-1"
    method: str = "oral_revisit"
    reason: str = "offline"
    evidence: dict[str, Any] = field(default_factory=lambda: {"declaration": {"name": "山田 太郎"}})
    device_recorded_at: datetime = T0
    received_at: datetime = T0
    visit_on: Any = None
    status: str = "pending_post_hoc"
    post_hoc_outcome: str | None = None
    lookup: dict[str, Any] | None = None
    confirmed_at: datetime | None = None
    copayment_ratio: str | None = "020"
    copayment_basis: str | None = "age"
    destroy_after_claim: bool = True
    settled_at: datetime | None = None
    claim_route: int | None = None
    user_id: str = "u-1"
    device_id: str = "d-1"
    prior_ref: str | None = "v-0"


def test_a_fallback_records_notes_follow_its_status_share_and_declaration() -> None:
    guidance = guide(current=None, current_source="evidence", former=None, former_source="invalid_result",
                     declaration=None, declaration_destroyed=False)
    pending = fallback.fallback_read(FallbackRow(), guidance)
    assert pending.notices[0] == fallback.NOTICE_POST_HOC and fallback.NOTICE_DESTROY in pending.notices
    assert "患者負担は2割です（年齢から）。10割を求めないでください。" in pending.notices
    assert (pending.qualification_source, pending.staff_id, pending.claim_guidance) == ("past_visit", "u-1", guidance)
    settled = fallback.fallback_read(FallbackRow(status="claim_settled", post_hoc_outcome="lost", copayment_ratio=None,
                                                 evidence={"declaration": {"destroyed": True}}), guidance)
    assert fallback.NOTICE_POST_HOC not in settled.notices and fallback.NOTICE_OUTCOMES["lost"] in settled.notices
    assert fallback.NOTICE_SHARE in settled.notices and fallback.NOTICE_DESTROYED in settled.notices
    assert fallback.NOTICE_DESTROY not in settled.notices
