"""The usage rate per institution and month (マイナ保険証利用率, docs/rules.md §4, the usage rate, seed 000).

The counts come from what the system already keeps: visits by method, fallback records by when they were
confirmed online, machine clients' single checks from the audit log, and batch jobs' answered rows (kept after
the rows themselves are purged). Months are months in Japan of the server's time. Counts only, no patient data:
any signed-in admin or staff member may read them; each read is audited.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction

from ..adapters import spreadsheet
from ..adapters.repository import UnitOfWork
from ..domain.codes import IdentityMethod
from ..domain.japanese_dates import JST
from ..domain.usage import UsageCounts, percent_text, usage_rate
from ..runtime import Runtime
from . import audit
from .claims import month_bounds
from .principal import Principal

CSV_COLUMNS = ("月", "医療機関等コード", "マイナ保険証利用件数", "オンライン資格確認利用件数", "利用率",
               "カード（暗証番号・目視）", "カード（機器での照会）", "再照会", "災害時の照会", "被保険者番号等での照会",
               "代替確認のオンライン確認")


@dataclass(frozen=True)
class MonthlyUsage:
    month: str
    institution_code: str
    counts: UsageCounts
    card_uses: int
    online_confirmations: int
    rate: Fraction | None
    requery_is_card: bool

    @property
    def rate_percent(self) -> float | None:
        return None if self.rate is None else round(float(self.rate) * 100, 2)

    @property
    def rate_text(self) -> str:
        return percent_text(self.rate)


def for_month(rt: Runtime, actor: Principal, month: str) -> MonthlyUsage:
    """The institution's counts and rate for ``month`` (YYYY-MM, in Japan)."""
    first, last = month_bounds(month)
    since = datetime(first.year, first.month, 1, tzinfo=JST)
    until = datetime(last.year, last.month, last.day, tzinfo=JST) + timedelta(days=1)
    requery_is_card = rt.rules.usage_rate_requery_is_card
    with rt.uow() as uow:
        facts = uow.institutions.facts(actor.institution_id)
        assert facts is not None
        counts = _counts(uow, actor.institution_id, since, until)
        audit.record(uow, at=rt.clock(), action="usage.read", institution_id=actor.institution_id,
                     user_id=actor.user_id, device_id=actor.device_id, target_type="usage", target_id=month)
        uow.commit()
    return MonthlyUsage(month, facts.code, counts, counts.card_uses(requery_is_card=requery_is_card),
                        counts.online_confirmations, usage_rate(counts, requery_is_card=requery_is_card),
                        requery_is_card)


def _counts(uow: UnitOfWork, institution_id: str, since: datetime, until: datetime) -> UsageCounts:
    by_method = uow.visits.count_by_method(institution_id, since, until)
    checks = uow.audit.details_of(institution_id, "qualification.check", since, until)
    return UsageCounts(
        card_visits=by_method.get(IdentityMethod.PIN.value, 0) + by_method.get(IdentityMethod.VISUAL.value, 0),
        card_checks=sum(1 for d in checks if d.get("method") == "card"),
        requeries=by_method.get(IdentityMethod.REQUERY.value, 0),
        disaster_lookups=by_method.get(IdentityMethod.DISASTER.value, 0),
        identifier_checks=sum(1 for d in checks if d.get("method") == "identifiers")
        + uow.batch_jobs.rows_answered(institution_id, since, until),
        fallback_confirmed=uow.fallback_records.count_confirmed(institution_id, since, until))


def to_csv(usage: MonthlyUsage) -> bytes:
    """One row: the month, the rate and the counts behind it, through the one CSV writer
    (``adapters/spreadsheet.py``: BOM, CRLF, formula-safe)."""
    c = usage.counts
    return spreadsheet.csv_text(CSV_COLUMNS, [(
        usage.month, usage.institution_code, usage.card_uses, usage.online_confirmations, usage.rate_text,
        c.card_visits, c.card_checks, c.requeries, c.disaster_lookups, c.identifier_checks,
        c.fallback_confirmed)]).encode("utf-8")
