"""personas.json: complete coverage of the domain's cases, and consistent with its rules."""
from __future__ import annotations

import copy
import json
import re
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from mobile_api.domain.codes import ConsentFlag, EligibilityStatus, InfoKind
from mobile_api.domain.copayment import copayment_ratio, elderly_bracket_starts, is_preschool
from mobile_api.domain.insurer import is_valid_insurer_number
from mobile_api.sandbox.personas import LIMIT_CATEGORIES, PersonaBook, PersonaError

REFERENCE = date(2026, 12, 1)
DOCS = Path(__file__).resolve().parents[4] / "docs" / "sandbox.md"


def raw() -> dict[str, Any]:
    return json.loads(resources.files("mobile_api.sandbox").joinpath("personas.json").read_text(encoding="utf-8"))


def test_reference_date(book: PersonaBook) -> None:
    assert book.reference_date == REFERENCE


def test_every_ratio_agrees_with_the_copayment_rule(book: PersonaBook) -> None:
    checked = 0
    for p in book:
        q = p.qualification
        if q is None:
            continue
        if p.public_assistance:
            assert q.copayment_ratio == "000", p.id  # 医療扶助: nothing to pay
            continue
        expected = copayment_ratio(q.birth_date, REFERENCE, latter_stage=p.latter_stage, income=p.income)
        assert q.copayment_ratio == expected, p.id
        assert q.preschool == is_preschool(q.birth_date, REFERENCE), p.id
        checked += 1
    assert checked >= 18


def test_elderly_certificates_match_the_70_to_74_bracket(book: PersonaBook) -> None:
    for p in book:
        q = p.qualification
        if q is None or p.latter_stage:
            continue
        in_bracket = elderly_bracket_starts(q.birth_date) <= REFERENCE
        assert (q.elderly_certificate is not None) == in_bracket, p.id
        if q.elderly_certificate:
            assert q.elderly_certificate.valid_from == elderly_bracket_starts(q.birth_date), p.id
            assert q.elderly_certificate.copayment_ratio == q.copayment_ratio, p.id


def test_insurer_numbers_have_valid_check_digits(book: PersonaBook) -> None:
    numbers = [p.qualification.insurer_number for p in book if p.qualification]
    assert all(is_valid_insurer_number(n) for n in numbers)
    assert any(len(n) == 6 for n in numbers) and any(len(n) == 8 for n in numbers)


def test_one_persona_per_eligibility_status(book: PersonaBook) -> None:
    assert {p.status for p in book} == set(EligibilityStatus)
    lost = [p for p in book if p.status is EligibilityStatus.INVALID_LOST]
    assert all(p.qualification and p.qualification.lost_on and p.qualification.loss_reason for p in lost)
    assert all(p.candidates == 2 for p in book if p.status is EligibilityStatus.MULTIPLE_MATCHES)


def _ratio_cases(book: PersonaBook) -> set[str]:
    cases = set()
    for p in book:
        q = p.qualification
        if q is None or p.public_assistance or p.status is not EligibilityStatus.VALID:
            continue
        if p.latter_stage:
            cases.add(f"75+ {q.copayment_ratio}")
        elif q.elderly_certificate:
            cases.add(f"70-74 {q.copayment_ratio}")
        elif q.preschool:
            cases.add(f"preschool {q.copayment_ratio}")
        else:
            cases.add(f"working-age {q.copayment_ratio}")
    return cases


def test_every_copayment_rule_has_a_persona(book: PersonaBook) -> None:
    assert _ratio_cases(book) >= {
        "working-age 030", "preschool 020", "70-74 020", "70-74 030", "75+ 010", "75+ 020", "75+ 030",
    }


def test_every_limit_category_has_a_persona(book: PersonaBook) -> None:
    assert {p.qualification.limit_category for p in book if p.qualification} >= LIMIT_CATEGORIES


def test_special_cases_are_present(book: PersonaBook) -> None:
    assert any(
        d.monthly_limit_yen == 10000 and "透析" in d.category
        for p in book if p.qualification for d in p.qualification.specified_diseases
    )
    assert any(p.data_withheld for p in book)
    assert {p.card.certificate for p in book} == {"valid", "expired_1m", "expired_4m"}
    assert any(p.card.face_recognition for p in book)
    assert any(p.card.android for p in book)
    assert all(p.card.pin in (None, "1234") for p in book)


def test_consenting_personas_have_realistic_records(book: PersonaBook) -> None:
    main = book["P01-valid-30"]
    assert set(main.records) == set(InfoKind)
    for p in book:
        for kind, records in p.records.items():
            assert records, (p.id, kind)
            for record in records:
                for key, value in record.items():
                    if key.endswith("_on"):
                        assert date.fromisoformat(value) <= REFERENCE, (p.id, key)
            if kind is InfoKind.CHECKUPS:  # 特定健診 is for 40–74
                age = REFERENCE.year - p.qualification.birth_date.year  # type: ignore[union-attr]
                assert 40 <= age <= 75, p.id


def test_result_hides_data_where_oqs_would(book: PersonaBook) -> None:
    withheld = book["P20-data-withheld"].result(person_ref="sbx-x", consent_flag=ConsentFlag.CONSENTED)
    assert withheld.qualification is None and withheld.person_ref is None and withheld.consent_flag == 0
    valid = book["P01-valid-30"].result(person_ref="sbx-x", consent_flag=ConsentFlag.CONSENTED)
    assert valid.qualification is book["P01-valid-30"].qualification and valid.person_ref == "sbx-x"


def test_ids_and_descriptions(book: PersonaBook) -> None:
    assert len(book) == len(set(book.ids)) >= 24
    for p in book:
        assert re.fullmatch(r"P\d{2}-[a-z0-9-]+", p.id)
        assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", p.description), p.id
        if p.qualification:
            assert re.fullmatch(r"[\u30a0-\u30ff ]+", p.qualification.name_kana), p.id


def test_records_are_returned_as_copies(book: PersonaBook) -> None:
    first = book["P01-valid-30"].records_of(InfoKind.MEDICATION)
    first[0]["drug_name"] = "changed"
    assert book["P01-valid-30"].records_of(InfoKind.MEDICATION)[0]["drug_name"] != "changed"


def _mutated(index: int, **changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(raw())
    persona = data["personas"][index]
    for path, value in changes.items():
        target = persona
        *parents, leaf = path.split("__")
        for key in parents:
            target = target[key]
        target[leaf] = value
    return data


@pytest.mark.parametrize(
    "index, changes, why",
    [
        (0, {"qualification__insurer_number": "01130013"}, "check digit"),
        (3, {"qualification": raw()["personas"][0]["qualification"]}, "statuses 4 and 5"),
        (4, {"candidates": 0}, "candidates"),
        (0, {"card__pin": "12345"}, "PIN"),
        (0, {"card__certificate": "expired_2m"}, "certificate setting"),
        (0, {"qualification__nickname": "ケン"}, "unknown qualification items"),
        (0, {"qualification__copayment_ratio": "000"}, "co-payment ratio"),
        (0, {"qualification__limit_category": "カ"}, "limit category"),
        (1, {"qualification__lost_on": None}, "lost qualification"),
        (0, {"income": "rich"}, "income"),
        (0, {"records": {"xray": []}}, "xray"),
        (0, {"id": "patient-1"}, "id must"),
    ],
)
def test_loader_refuses_inconsistent_data(index: int, changes: dict[str, Any], why: str) -> None:
    with pytest.raises(PersonaError, match=why):
        PersonaBook.from_json(_mutated(index, **changes))


def test_loader_refuses_duplicate_ids() -> None:
    data = raw()
    data["personas"].append(data["personas"][0])
    with pytest.raises(PersonaError, match="duplicate"):
        PersonaBook.from_json(data)


def test_docs_list_every_persona(book: PersonaBook) -> None:
    text = DOCS.read_text(encoding="utf-8")
    for p in book:
        assert f"`{p.id}`" in text, p.id
