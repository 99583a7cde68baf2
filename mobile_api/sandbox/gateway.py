"""``SandboxOQS``: the embedded stand-in for the national system (``OQSGateway``).

It answers like OQS for the personas in ``personas.json``: it resolves the
person behind a certificate its own CA issued (the plastic card and the Android
phone of one person resolve to the same ``person_ref``), returns the persona's
qualification result, and serves the persona's medical records by kind.

A card not registered for insurance use, or whose registration was cancelled (on request or because the
certificate was not renewed), is refused with ``CardNotRegistered`` (domain/registration.py); a lookup by
identifiers still finds the qualification, which the insurer keeps.

A face-recognition card (顔認証マイナンバーカード, a persona whose card has no PIN)
is refused for a PIN confirmation with ``PinNotAvailable``: such a card cannot
sign by PIN, so a PIN-method request for it means the method is wrong, and only
a visual check confirms it.

It is stateless on purpose: several workers each hold their own instance, so
consent and the 24-hour window are the server's business, not the sandbox's.
``fail_next`` is the one piece of (per-process) state, for fault tests.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from ..adapters.oqs import ConfirmationRequest, IdentifierQuery, RequeryRequest
from ..clock import Clock
from ..domain.codes import ConsentFlag, EligibilityStatus, Form, IdentityMethod, InfoKind
from ..domain.errors import PinNotAvailable, QualificationUnavailable
from ..domain.identifiers import normalise
from ..domain.qualification import Qualification, QualificationResult
from ..domain.registration import Registration, refusal
from .ca import SandboxCA, persona_id_of
from .personas import Persona, PersonaBook

NO_MATCH_MESSAGE = (
    "該当する資格がありません。資格情報のお知らせ等の提示、または被保険者資格申立書の記入を案内してください。"
)


MULTIPLE_MESSAGE = "該当する資格が複数あります。枝番を指定して再度照会してください。"


class SandboxOQS:
    """Implements ``mobile_api.adapters.oqs.OQSGateway`` over the sandbox personas."""

    @classmethod
    def from_database(cls, session_factory: Any, clock: Clock) -> SandboxOQS:
        """The sandbox with its CA from the database (made there on first use) and the default personas: what
        the embedded gateway (bootstrap.py) and the sandbox's HTTP process (server.py) both serve."""
        return cls(SandboxCA.load_or_create(session_factory, clock), PersonaBook.default(), clock=clock)

    def __init__(self, ca: SandboxCA, personas: PersonaBook, *, clock: Clock) -> None:
        self.ca = ca
        self.personas = personas
        self.clock = clock  # the server passes ``at``; kept for adapters that need their own time
        self._failures_left = 0
        self._by_ref = {ca.person_ref(p.id): p for p in personas}
        # Only personas with a qualification can be found by identifiers: each is kept with it.
        self._lookup_index: dict[tuple[Any, ...], list[tuple[Persona, Qualification]]] = {}
        for p in personas:
            q = p.qualification
            if q is not None:
                key = (q.insurer_number, normalise(q.symbol), normalise(q.number), q.birth_date)
                self._lookup_index.setdefault(key, []).append((p, q))

    def fail_next(self, n: int = 1) -> None:
        """Make the next ``n`` calls to confirm/medical_information raise ``QualificationUnavailable``."""
        if n < 0:
            raise ValueError("n must be >= 0")
        self._failures_left = n

    def _maybe_fail(self) -> None:
        if self._failures_left > 0:
            self._failures_left -= 1
            raise QualificationUnavailable(
                "（サンドボックス）オンライン資格確認等システムの障害を模擬しています。", simulated=True
            )

    def trust_anchors(self) -> list[x509.Certificate]:
        return [self.ca.certificate]

    def resolve(self, certificate: x509.Certificate) -> Persona | None:
        """The persona behind a certificate this sandbox's CA issued, if any."""
        try:
            certificate.verify_directly_issued_by(self.ca.certificate)
        except (ValueError, TypeError, InvalidSignature):  # wrong issuer, bad signature, other key type
            return None
        persona_id = persona_id_of(certificate)
        return self.personas.get(persona_id) if persona_id else None

    def confirm(self, request: ConfirmationRequest) -> QualificationResult:
        self._maybe_fail()
        persona = self.resolve(request.certificate)
        if persona is None:
            return QualificationResult(
                status=EligibilityStatus.NO_MATCH, qualification=None, person_ref=None, messages=(NO_MATCH_MESSAGE,)
            )
        if persona.registration is not Registration.REGISTERED:  # the card is not an insurance card (seed 001)
            raise refusal(persona.registration)
        if persona.card.face_recognition and request.method is IdentityMethod.PIN:
            raise PinNotAvailable(rule="face-recognition-card")
        consented = request.form is Form.HOME_CONSENT and bool(request.consent_kinds)
        return persona.result(
            person_ref=self.ca.person_ref(persona.id),
            consent_flag=ConsentFlag.CONSENTED if consented else ConsentFlag.NONE,
        )

    def lookup(self, query: IdentifierQuery) -> QualificationResult:
        """A lookup by identifiers (docs/sandbox.md, "Lookup by identifiers").

        A persona matches on insurer number, 記号 and 番号 (both compared after NFKC, so full-width and
        half-width forms match), date of birth, and the branch number when the query has one. No match
        is status 4; several (a family whose members share the birth date, queried without 枝番) is
        status 5 with the number of candidates. Never a consent: the flag is always 0.
        """
        self._maybe_fail()
        matches = [p for p, q in self._lookup_index.get((query.insurer_number, normalise(query.symbol),
                                                          normalise(query.number), query.birth_date), [])
                   if query.branch_number is None or normalise(q.branch_number) == query.branch_number]
        if not matches:
            return QualificationResult(status=EligibilityStatus.NO_MATCH, qualification=None, person_ref=None,
                                       messages=(NO_MATCH_MESSAGE,))
        if len(matches) > 1:
            return QualificationResult(status=EligibilityStatus.MULTIPLE_MATCHES, qualification=None,
                                       person_ref=None, candidates=len(matches), messages=(MULTIPLE_MESSAGE,))
        persona = matches[0]
        return persona.result(person_ref=self.ca.person_ref(persona.id), consent_flag=ConsentFlag.NONE)

    def requery(self, request: RequeryRequest) -> QualificationResult:
        """A re-query (再照会) by the handle a card confirmation gave: the persona's current result, no card."""
        self._maybe_fail()
        persona = self._by_ref.get(request.person_ref)
        if persona is None:
            return QualificationResult(
                status=EligibilityStatus.NO_MATCH, qualification=None, person_ref=None, messages=(NO_MATCH_MESSAGE,)
            )
        return persona.result(
            person_ref=request.person_ref,
            consent_flag=ConsentFlag.CONSENTED if request.consent_kinds else ConsentFlag.NONE,
        )

    def medical_information(
        self, *, institution_code: str, person_ref: str, kind: InfoKind, at: datetime
    ) -> list[dict[str, Any]]:
        """The persona's records of one kind (JSON-ready copies); [] for an unknown handle."""
        self._maybe_fail()
        persona = self._by_ref.get(person_ref)
        if persona is None or persona.data_withheld:
            return []
        return persona.records_of(InfoKind(kind))
