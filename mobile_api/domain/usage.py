"""The usage rate (マイナ保険証利用率, docs/rules.md §4, the usage rate, seed 000).

Seed 000: 「利用率 = マイナ保険証利用件数 ÷ オンライン資格確認利用件数」, per institution and month. Which of this
system's confirmations count as what (OUR RULE where the seed is silent, docs/rules.md §4, the usage rate):
- マイナ保険証利用件数 (numerator): confirmations that read the card: a verified visit (PIN or 目視確認) and a
  machine client's card check; a re-query (再照会) only when ``USAGE_RATE_REQUERY_IS_CARD`` says so;
- オンライン資格確認利用件数 (denominator): every answer OQS gave: the card ones, re-queries, disaster-time
  lookups, identifier lookups (single checks and batch rows answered), and fallback records an identifier lookup
  confirmed online. A fallback record never confirmed online, and a refused request, reached no OQS answer.
The month is the month in Japan of the server's time of each confirmation.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from fractions import Fraction


@dataclass(frozen=True)
class UsageCounts:
    """The counts behind one month's rate."""

    card_visits: int = 0  # visits verified with the card: PIN or 目視確認
    card_checks: int = 0  # machine clients' checks with the card on their own reader
    requeries: int = 0  # 再照会 in continuing home care (no card)
    disaster_lookups: int = 0  # 災害時の閲覧: found by identifiers under a declaration (no card)
    identifier_checks: int = 0  # machine clients' lookups by identifiers: single checks and batch rows answered
    fallback_confirmed: int = 0  # fallback records confirmed online by an identifier lookup

    def card_uses(self, *, requery_is_card: bool = False) -> int:
        """マイナ保険証利用件数."""
        return self.card_visits + self.card_checks + (self.requeries if requery_is_card else 0)

    @property
    def online_confirmations(self) -> int:
        """オンライン資格確認利用件数: every OQS answer counted here."""
        return sum(getattr(self, f.name) for f in fields(self))


def usage_rate(counts: UsageCounts, *, requery_is_card: bool = False) -> Fraction | None:
    """Card uses ÷ online confirmations; None for a month with no confirmation (nothing to divide)."""
    total = counts.online_confirmations
    if total == 0:
        return None
    return Fraction(counts.card_uses(requery_is_card=requery_is_card), total)


def percent_text(rate: Fraction | None) -> str:
    """The rate as MHLW prints it (15.67%), or 「—」 when there was no confirmation."""
    return "—" if rate is None else f"{float(rate) * 100:.2f}%"
