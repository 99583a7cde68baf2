"""The sandbox's test personas: fictitious people with the qualification OQS would hold.

``personas.json`` is the single source (docs/sandbox.md lists it); this module
loads it into typed values and refuses a file that would make the sandbox lie
(bad insurer check digit, a no-match persona carrying data, an unknown code),
so a mistake in the data fails at start-up rather than in a demo.
"""
from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import date
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from ..domain.codes import ConsentFlag, EligibilityStatus, InfoKind
from ..domain.copayment import INCOMES, Income
from ..domain.insurer import is_valid_insurer_number
from ..domain.qualification import ElderlyCertificate, Qualification, QualificationResult, SpecifiedDisease
from ..domain.registration import Registration

CertificateSetting = Literal["valid", "expired_1m", "expired_4m"]
CERTIFICATE_SETTINGS = ("valid", "expired_1m", "expired_4m")
LIMIT_CATEGORIES = frozenset(
    {"ア", "イ", "ウ", "エ", "オ", "現役並みⅠ", "現役並みⅡ", "現役並みⅢ", "一般", "低所得Ⅰ", "低所得Ⅱ"}
)
RATIOS = frozenset({"010", "020", "030"})
NO_COPAYMENT = "000"  # public medical assistance (医療扶助): nothing to pay
LATTER_STAGE_LAW_CODE = "39"  # 法別番号 of 後期高齢者医療
_ID = re.compile(r"^P\d{2}-[a-z0-9-]+$")
_DATE_FIELDS = ("birth_date", "acquired_on", "lost_on", "issued_on", "valid_from", "valid_until")


class PersonaError(ValueError):
    """personas.json is inconsistent."""


@dataclass(frozen=True)
class CardSpec:
    pin: str | None  # None: a face-recognition card (顔認証マイナンバーカード) has no PIN
    certificate: CertificateSetting
    android: bool  # also holds a user-auth certificate on an Android phone

    @property
    def face_recognition(self) -> bool:
        return self.pin is None


@dataclass(frozen=True)
class Persona:
    id: str
    name: str
    description: str  # Japanese, one line
    status: EligibilityStatus
    income: Income
    card: CardSpec
    qualification: Qualification | None
    public_assistance: bool = False
    data_withheld: bool = False
    candidates: int = 0
    messages: tuple[str, ...] = ()
    records: Mapping[InfoKind, tuple[dict[str, Any], ...]] = field(default_factory=dict)
    registration: Registration = Registration.REGISTERED  # the card's insurance-use registration (seed 001)

    @property
    def latter_stage(self) -> bool:
        q = self.qualification
        return q is not None and len(q.insurer_number) == 8 and q.insurer_number[:2] == LATTER_STAGE_LAW_CODE

    def records_of(self, kind: InfoKind) -> list[dict[str, Any]]:
        """A deep copy, so callers can never edit the book."""
        return copy.deepcopy(list(self.records.get(kind, ())))

    def result(
        self, *, person_ref: str | None, consent_flag: ConsentFlag = ConsentFlag.NONE
    ) -> QualificationResult:
        """What OQS answers for this persona; withheld or unmatched people get no data."""
        shows_data = not self.data_withheld and self.status not in (
            EligibilityStatus.NO_MATCH,
            EligibilityStatus.MULTIPLE_MATCHES,
        )
        return QualificationResult(
            status=self.status,
            qualification=self.qualification if shows_data else None,
            person_ref=person_ref if shows_data else None,
            consent_flag=consent_flag if shows_data else ConsentFlag.NONE,
            data_withheld=self.data_withheld,
            candidates=self.candidates,
            messages=self.messages,
        )


class PersonaBook:
    """All personas, by id, in file order."""

    def __init__(self, personas: list[Persona], reference_date: date) -> None:
        self._by_id = {p.id: p for p in personas}
        if len(self._by_id) != len(personas):
            raise PersonaError("duplicate persona id")
        self.reference_date = reference_date

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> PersonaBook:
        return cls([_persona(p) for p in raw["personas"]], date.fromisoformat(raw["reference_date"]))

    @classmethod
    def load(cls, path: Path) -> PersonaBook:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))

    @classmethod
    def default(cls) -> PersonaBook:
        """The packaged personas.json (parsed once per process)."""
        return _default_book()

    def get(self, persona_id: str) -> Persona | None:
        return self._by_id.get(persona_id)

    def __getitem__(self, persona_id: str) -> Persona:
        return self._by_id[persona_id]

    def __iter__(self) -> Iterator[Persona]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    @property
    def ids(self) -> list[str]:
        return list(self._by_id)


@lru_cache(maxsize=1)
def _default_book() -> PersonaBook:
    text = resources.files(__package__).joinpath("personas.json").read_text(encoding="utf-8")
    return PersonaBook.from_json(json.loads(text))


def _persona(raw: Mapping[str, Any]) -> Persona:
    pid = raw.get("id", "?")
    try:
        persona = Persona(
            id=raw["id"],
            name=raw["name"],
            description=raw["description"],
            status=EligibilityStatus(raw["status"]),
            income=raw["income"],
            card=CardSpec(**raw["card"]),
            qualification=_qualification(raw["qualification"]) if raw.get("qualification") else None,
            public_assistance=bool(raw.get("public_assistance", False)),
            data_withheld=bool(raw.get("data_withheld", False)),
            candidates=int(raw.get("candidates", 0)),
            messages=tuple(raw.get("messages", ())),
            records={InfoKind(k): tuple(v) for k, v in raw.get("records", {}).items()},
            registration=Registration(raw.get("registration", Registration.REGISTERED)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PersonaError(f"{pid}: {exc}") from exc
    _check(persona)
    return persona


def _qualification(raw: Mapping[str, Any]) -> Qualification:
    known = {f.name for f in fields(Qualification)}
    if unknown := set(raw) - known:
        raise ValueError(f"unknown qualification items {sorted(unknown)}")
    values = dict(raw)
    for name in _DATE_FIELDS:
        values[name] = date.fromisoformat(values[name]) if values.get(name) else None
    if ec := values.get("elderly_certificate"):
        values["elderly_certificate"] = ElderlyCertificate(
            valid_from=date.fromisoformat(ec["valid_from"]),
            valid_until=date.fromisoformat(ec["valid_until"]) if ec.get("valid_until") else None,
            copayment_ratio=ec["copayment_ratio"],
        )
    values["specified_diseases"] = tuple(SpecifiedDisease(**d) for d in values.get("specified_diseases", ()))
    return Qualification(**values)


def _check(p: Persona) -> None:
    """A persona file that contradicts itself is refused when it is loaded, not when a test meets it."""
    why = _persona_problem(p) or (_qualification_problem(p, p.qualification) if p.qualification else None)
    if why:
        raise PersonaError(f"{p.id}: {why}")


def _persona_problem(p: Persona) -> str | None:
    if not _ID.match(p.id):
        return "id must look like P01-short-name"
    if p.income not in INCOMES:
        return f"unknown income {p.income!r}"
    if p.card.certificate not in CERTIFICATE_SETTINGS:
        return f"unknown certificate setting {p.card.certificate!r}"
    if p.card.pin is not None and not re.fullmatch(r"\d{4}", p.card.pin):
        return "a PIN is 4 digits"
    if (p.status is EligibilityStatus.MULTIPLE_MATCHES) != (p.candidates >= 2):
        return "candidates >= 2 exactly for status 5"
    no_data = p.status in (EligibilityStatus.NO_MATCH, EligibilityStatus.MULTIPLE_MATCHES)
    if no_data == (p.qualification is not None):
        return "statuses 4 and 5 carry no qualification; every other status does"
    return None


def _qualification_problem(p: Persona, q: Qualification) -> str | None:
    if not is_valid_insurer_number(q.insurer_number):
        return f"insurer number {q.insurer_number} fails its check digit"
    if q.copayment_ratio not in (RATIOS | {NO_COPAYMENT} if p.public_assistance else RATIOS):
        return f"co-payment ratio {q.copayment_ratio!r}"
    if q.limit_category is not None and q.limit_category not in LIMIT_CATEGORIES:
        return f"limit category {q.limit_category!r}"
    invalid = p.status in (EligibilityStatus.INVALID_LOST, EligibilityStatus.INVALID_NEWER_EXISTS)
    if invalid and not (q.lost_on and q.loss_reason):
        return "an invalid result shows the lost qualification's lost_on and loss_reason"
    return None
