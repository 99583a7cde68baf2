"""The OQS wire format (adapters/oqs_http.py): every sandbox persona's answer survives the trip unchanged,
including the elderly certificate, specified diseases and withheld data; a refusal comes back as the same
domain error."""
from __future__ import annotations

import json

import pytest

from mobile_api.adapters.oqs_http import decode_refusal, decode_result, encode_refusal
from mobile_api.domain.codes import ConsentFlag
from mobile_api.domain.errors import DomainError, PinNotAvailable, QualificationUnavailable
from mobile_api.sandbox.personas import PersonaBook

PERSONAS = list(PersonaBook.default())


@pytest.mark.parametrize("persona", PERSONAS, ids=lambda p: p.id)
def test_every_persona_result_round_trips(persona) -> None:  # type: ignore[no-untyped-def]
    result = persona.result(person_ref="ref-1", consent_flag=ConsentFlag.CONSENTED)
    assert decode_result(json.loads(json.dumps(result.to_dict()))) == result


def test_the_personas_cover_the_nested_fields() -> None:
    qualifications = [p.qualification for p in PERSONAS if p.qualification is not None]
    assert any(q.elderly_certificate for q in qualifications)
    assert any(q.specified_diseases for q in qualifications)


@pytest.mark.parametrize("error", [PinNotAvailable(rule="face-recognition-card"),
                                   QualificationUnavailable("down", simulated=True)])
def test_refusals_come_back_as_the_same_domain_error(error: DomainError) -> None:
    back = decode_refusal(json.loads(json.dumps(encode_refusal(error))))
    assert type(back) is type(error) and back.detail == error.detail and back.extra == error.extra
