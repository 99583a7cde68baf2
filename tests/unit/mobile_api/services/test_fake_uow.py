"""The fake unit of work must behave like the real one where the services rely on it, or the services'
unit tests prove nothing."""
from __future__ import annotations

import inspect

import pytest

from mobile_api.adapters import orm
from mobile_api.adapters.ledger import Ledger
from mobile_api.adapters.repository import Repository, UnitOfWork
from mobile_api.domain.errors import DuplicateRecord
from tests.unit.mobile_api.services.fakes import T0, FakeDatabase, FakeLedger, FakeRepository, FakeUnitOfWork


def _public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(member) for name, member in inspect.getmembers(cls, inspect.isfunction)
            if not name.startswith("_")}


def test_the_fake_offers_every_repository_method_of_the_real_unit_of_work() -> None:
    real = UnitOfWork(lambda: None).__enter__()  # type: ignore[arg-type,return-value]
    fake = FakeDatabase().uow().__enter__()
    real_repos = {name: value for name, value in vars(real).items() if isinstance(value, Repository)}
    assert real_repos, "the real unit of work has no repositories?"
    for name, repo in real_repos.items():
        fake_repo = getattr(fake, name)
        assert isinstance(fake_repo, FakeRepository), name
        assert fake_repo.model is repo.model, name
        fake_methods = _public_methods(type(fake_repo))
        for method, signature in _public_methods(type(repo)).items():
            assert method in fake_methods, f"uow.{name}.{method} is missing from the fake"
            assert list(fake_methods[method].parameters) == list(signature.parameters), f"uow.{name}.{method}"
    assert {m for m in ("commit", "rollback", "flush") if callable(getattr(fake, m, None))} == {
        "commit", "rollback", "flush"}


def test_the_fake_ledger_offers_every_method_of_the_real_one_with_the_same_parameters() -> None:
    fake_methods = _public_methods(FakeLedger)
    for method, signature in _public_methods(Ledger).items():
        assert method in fake_methods, f"Ledger.{method} is missing from the fake"
        assert list(fake_methods[method].parameters) == list(signature.parameters), f"Ledger.{method}"


def test_what_the_fake_ledger_reads_is_detached_so_an_unwritten_change_is_lost() -> None:
    db = FakeDatabase()
    with db.uow() as uow:
        uow.care_relationships.add(orm.CareRelationship(
            id="r1", institution_id="i1", person_ref="p1", opened_by_visit_id="v1", card_visit_id="v1",
            opened_at=T0, last_visit_at=T0))
        uow.commit()
    with db.ledger() as ledger:
        rel = ledger.open_relationship("i1", "p1")
        assert rel is not None
        rel.card_visit_id = "v2"  # as a verification renewing it does, before Ledger.write_verified
        ledger.commit()
    assert db.rows(orm.CareRelationship)[0].card_visit_id == "v1"


def _idempotency(key: str) -> orm.IdempotencyRecord:
    return orm.IdempotencyRecord(institution_id="i1", scope="s", key=key, request_hash="h", status_code=201,
                                 response={"visit_id": "v"}, created_at=T0)


def test_rollback_and_leaving_without_commit_discard_work_since_the_last_commit() -> None:
    db = FakeDatabase()
    with db.uow() as uow:
        uow.idempotency.add(_idempotency("kept"))
        uow.commit()
        assert uow.committed
        uow.idempotency.add(_idempotency("dropped"))
        assert uow.idempotency.one_by(key="dropped") is not None  # a unit sees its own pending work
        uow.rollback()
        assert uow.idempotency.one_by(key="dropped") is None
        kept = uow.idempotency.one_by(key="kept")
        assert kept is not None
        kept.status_code = 500  # changed but never committed
    with db.uow() as uow:
        uow.idempotency.add(_idempotency("never committed"))
    assert [r.key for r in db.rows(orm.IdempotencyRecord)] == ["kept"]
    assert db.rows(orm.IdempotencyRecord)[0].status_code == 201


def test_a_duplicate_raises_the_same_typed_error_as_the_real_unit_of_work_and_rolls_back() -> None:
    db = FakeDatabase()
    with db.uow() as uow:
        uow.idempotency.add(_idempotency("k"))
        uow.commit()
    with db.uow() as uow:
        uow.idempotency.add(_idempotency("k"))
        uow.audit.add(orm.AuditEvent(at=T0, action="x", outcome="ok", detail={}))
        with pytest.raises(DuplicateRecord) as caught:
            uow.commit()
        assert not uow.committed
    assert caught.value.constraint == "uq_idempotency_records_scope_key"
    assert caught.value.extra == {"field": "Idempotency-Key"}
    assert len(db.rows(orm.IdempotencyRecord)) == 1 and db.audit() == []
    with db.uow() as uow:  # a spent device assertion: the primary key, on flush
        uow.used_assertions.add(orm.UsedAssertion(jti="j", device_id="d", expires_at=T0))
        uow.flush()
        uow.used_assertions.add(orm.UsedAssertion(jti="j", device_id="d", expires_at=T0))
        with pytest.raises(DuplicateRecord) as caught:
            uow.flush()
    assert caught.value.constraint == "pk_used_assertions"


def test_a_conditional_update_loses_to_a_unit_that_committed_first() -> None:
    db = FakeDatabase()
    with db.uow() as uow:
        challenge = uow.challenges.add(orm.Challenge(
            nonce=b"n" * 32, institution_id="i", device_id="d", user_id="u", care_type=1, form="home_consent",
            method="pin", created_at=T0, expires_at=T0))
        uow.commit()
    first, second = FakeUnitOfWork(db).__enter__(), FakeUnitOfWork(db).__enter__()
    assert first.challenges.get(challenge.id) is not None and second.challenges.get(challenge.id) is not None
    assert first.challenges.claim(challenge.id, T0)
    first.commit()
    assert not second.challenges.claim(challenge.id, T0)  # its copy is stale; the row is spent
