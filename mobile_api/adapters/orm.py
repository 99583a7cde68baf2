"""SQLAlchemy tables. Only adapters and services' unit of work import this.

Conventions: string UUID primary keys (portable between SQLite and PostgreSQL),
timestamps stored as UTC (``UtcDateTime`` restores the zone SQLite drops), JSON
columns for OQS payloads that are kept as received.
"""
from __future__ import annotations

import enum
import functools
import uuid
from datetime import UTC, date, datetime
from typing import Any, Self, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.orm.attributes import manager_of_class
from sqlalchemy.types import TypeDecorator

from ..domain.certificate import CertificateStanding
from ..domain.codes import Form, IdentityMethod, Role
from ..domain.facility import FacilityKind
from ..domain.fallback import FallbackMethod, FallbackReason
from ..domain.statuses import (
    BatchRowStatus,
    BatchSource,
    BatchState,
    CareEndReason,
    CertificateKind,
    ClientAuthMethod,
    ConsentSource,
    ConsoleEndReason,
    CopaymentBasis,
    FallbackStatus,
    LinkPurpose,
    PatientSessionPurpose,
    PatientSessionStatus,
    PostHocOutcome,
    WithdrawalChannel,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _enum(cls: type[enum.StrEnum], length: int, column: str) -> SAEnum:
    """A domain enum stored as its value in a plain VARCHAR (no database enum type), so services get the enum
    back instead of re-wrapping strings, with a CHECK ``ck_<table>_<column>`` (migration 0012) so the database
    refuses any other value, whoever writes it (tests/integration/test_status_columns.py)."""
    return SAEnum(cls, name=column, native_enum=False, create_constraint=True, length=length,
                  validate_strings=True, values_callable=lambda members: [m.value for m in members])


def new_id() -> str:
    return str(uuid.uuid4())


def _flush_order(foreign_key: str) -> Any:
    """A many-to-one ``relationship()`` that is never loaded (``lazy="raise"``) and never assigned: it only
    tells the unit of work that the referenced row is written first. SQLAlchemy orders a flush's INSERTs and
    UPDATEs by relationships, not by foreign keys, so without it a visit and the consent or care relationship
    that reference it could not be written in one flush (docs/performance.md)."""
    return relationship(foreign_keys=foreign_key, lazy="raise", viewonly=False)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime, dict[str, Any]: JSON, list[Any]: JSON, str: String}

    def __init__(self, **kwargs: Any) -> None:
        """A row gets its UUID when it is made, not when it is flushed: a use case can link rows by id
        (a visit and its consent, audit rows naming them) and write them all in one flush at commit,
        instead of flushing after each insert to learn the id (docs/performance.md)."""
        if "id" not in kwargs and _has_generated_uuid(type(self)):
            kwargs["id"] = new_id()
        self.registry.constructor(self, **kwargs)

    @classmethod
    def plain(cls, **values: Any) -> Self:
        """A row as a plain value for the hot path's ledger (adapters/ledger.py), which writes it with Core and
        never adds it to a Session: its column values go straight into its state, as SQLAlchemy's loading
        does, without the constructor's attribute event per column (~55 µs for a visit against a few;
        docs/performance.md). Its id is made now, as the constructor makes it; an unknown name is refused."""
        unknown = values.keys() - _column_names(cls)
        if unknown:
            raise TypeError(f"{cls.__name__} has no column {', '.join(sorted(unknown))}")
        if "id" not in values and _has_generated_uuid(cls):
            values["id"] = new_id()
        _mappers_configured(cls)
        instance: Self = manager_of_class(cls).new_instance()
        instance.__dict__.update(values)
        return instance


def table_of(model: type[Base]) -> Table:
    """A model's Core table, typed as one (``__table__`` is declared as a FromClause)."""
    return cast(Table, model.__table__)


@functools.cache
def _mappers_configured(model: type[Base]) -> None:
    """SQLAlchemy configures mappers on the first constructor call or query, and ``plain`` is neither: in a
    fresh worker whose first request took the hot path, an attribute of a plain row had no implementation yet
    (AttributeError, a 500). Once per model, then nothing."""
    model.registry.configure()


@functools.cache
def _column_names(model: type[Base]) -> frozenset[str]:
    return frozenset(table_of(model).columns.keys())


@functools.cache
def _has_generated_uuid(model: type[Base]) -> bool:
    """A string ``id`` with a default (``new_id``), as opposed to an autoincrement or a natural key; decided once
    per model, not on every construction."""
    column = table_of(model).c.get("id")
    return column is not None and column.default is not None and isinstance(column.type, String)


class Institution(Base):
    __tablename__ = "institutions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(10), unique=True)  # 医療機関コード
    name: Mapped[str] = mapped_column(String(200))
    facility_kind: Mapped[FacilityKind] = mapped_column(_enum(FacilityKind, 40, "facility_kind"))
    visual_password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Consecutive wrong visual-mode passwords, and when they locked it (until an admin unlocks or rotates).
    visual_password_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    visual_password_locked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime]


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("institution_id", "login", name="uq_users_institution_login"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    institution_id: Mapped[str] = mapped_column(ForeignKey("institutions.id"), index=True)
    login: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[Role] = mapped_column(_enum(Role, 16, "role"))
    password_hash: Mapped[str] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime]


class Device(Base):
    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    institution_id: Mapped[str] = mapped_column(ForeignKey("institutions.id"), index=True)
    label: Mapped[str] = mapped_column(String(100))
    activation_code_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    activation_expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    public_key_pem: Mapped[str | None] = mapped_column(Text, nullable=True)
    enrolled_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[str] = mapped_column(String(36), index=True)  # a rotation chain
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    device_id: Mapped[str | None] = mapped_column(ForeignKey("devices.id"), nullable=True)
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


class UsedAssertion(Base):
    """Device assertions already spent (replay guard), kept until they expire."""

    __tablename__ = "used_assertions"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"))
    expires_at: Mapped[datetime] = mapped_column(index=True)


class Challenge(Base):
    __tablename__ = "challenges"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    nonce: Mapped[bytes] = mapped_column(LargeBinary(32))
    institution_id: Mapped[str] = mapped_column(ForeignKey("institutions.id"), index=True)
    # Started by a staff member on a device, or by a machine client (form ③ check with the
    # institution's own reader): exactly one of (device_id, user_id) and client_id is set.
    device_id: Mapped[str | None] = mapped_column(ForeignKey("devices.id"), nullable=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    client_id: Mapped[str | None] = mapped_column(ForeignKey("api_clients.id"), nullable=True)
    care_type: Mapped[int] = mapped_column(Integer)
    form: Mapped[Form] = mapped_column(_enum(Form, 32, "form"))
    method: Mapped[IdentityMethod] = mapped_column(_enum(IdentityMethod, 16, "method"))
    patient_reference: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Visit(Base):
    """One confirmed qualification check: card-verified, or a re-query (再照会, ``method`` "requery", no
    challenge) inside a continuing-care relationship, pointing at the visit that opened it (``requery_of``)."""

    __tablename__ = "visits"
    # A patient's visits, latest first: the earlier visit a fallback record's claim guidance reads (a page of
    # records in one select, queries/fallback.py), the held qualification of an oral check, the visit list's filter.
    __table_args__ = (Index("ix_visits_patient_history", "institution_id", "patient_reference", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    institution_id: Mapped[str] = mapped_column(ForeignKey("institutions.id"), index=True)
    challenge_id: Mapped[str | None] = mapped_column(ForeignKey("challenges.id"), unique=True, nullable=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    visual_confirmed_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    care_type: Mapped[int] = mapped_column(Integer)
    form: Mapped[Form] = mapped_column(_enum(Form, 32, "form"))
    method: Mapped[IdentityMethod] = mapped_column(_enum(IdentityMethod, 16, "method"))
    patient_reference: Mapped[str | None] = mapped_column(String(64), nullable=True)
    certificate_standing: Mapped[CertificateStanding] = mapped_column(
        _enum(CertificateStanding, 24, "certificate_standing"))
    certificate_kind: Mapped[CertificateKind | None] = mapped_column(
        _enum(CertificateKind, 16, "certificate_kind"), nullable=True)
    # The card certificate's notAfter (not the certificate itself): the renewal alert and the grace's end.
    certificate_not_after: Mapped[datetime | None] = mapped_column(nullable=True)
    eligibility_status: Mapped[int] = mapped_column(Integer)
    medical_info_allowed: Mapped[bool] = mapped_column(Boolean)
    person_ref: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    result: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(index=True)
    # Continuing home care: the relationship this visit opened, renewed or re-queried under (no FK:
    # care_relationships points back at visits), and for a re-query the visit that opened it.
    care_relationship_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    requery_of: Mapped[str | None] = mapped_column(String(36), nullable=True)


class Consent(Base):
    """A registered consent and the viewing window it opened.

    ``source`` says how it was given ("card" now; "patient_phone", "requery"
    later); a re-query window points at the consent it renews via ``renews_id``.
    """

    __tablename__ = "consents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    institution_id: Mapped[str] = mapped_column(ForeignKey("institutions.id"), index=True)
    visit_id: Mapped[str | None] = mapped_column(ForeignKey("visits.id"), nullable=True, unique=True)
    person_ref: Mapped[str] = mapped_column(String(64), index=True)
    source: Mapped[ConsentSource] = mapped_column(_enum(ConsentSource, 24, "source"))
    # For the unit of work only (see ``_flush_order``): a visit and its consent are written in one flush.
    visit_row: Mapped[Visit | None] = _flush_order("Consent.visit_id")
    blanket: Mapped[bool] = mapped_column(Boolean)
    kinds: Mapped[list[Any]]
    registered_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    renews_id: Mapped[str | None] = mapped_column(ForeignKey("consents.id"), nullable=True)
    withdrawn_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # "patient_phone" (the patient's page) or "staff_on_request" (staff, at the patient's request).
    withdrawn_via: Mapped[WithdrawalChannel | None] = mapped_column(
        _enum(WithdrawalChannel, 24, "withdrawn_via"), nullable=True)
    # Given on the patient's own phone: the link used, and the planned consultation date it carried.
    link_id: Mapped[str | None] = mapped_column(ForeignKey("consent_links.id"), nullable=True, index=True)
    planned_date: Mapped[date | None] = mapped_column(Date, nullable=True)


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_records"
    __table_args__ = (
        UniqueConstraint("institution_id", "scope", "key", name="uq_idempotency_records_scope_key"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    institution_id: Mapped[str] = mapped_column(ForeignKey("institutions.id"))
    scope: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(128))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class AuditEvent(Base):
    """Append-only: the services only ever insert; nothing updates or deletes but retention, which drops whole
    months (docs/rules.md §7.1). On PostgreSQL partitioned by month on ``at`` (migration 0011), hence ``at`` in
    the primary key; SQLite keeps ``id`` alone as its key (it numbers rows only for a single integer key)."""

    __tablename__ = "audit_events"
    __table_args__ = {"postgresql_partition_by": "RANGE (at)"}

    # BIGINT on PostgreSQL (migration 0013): at national scale the sequence passes 2^31 within the retention.
    # SQLite's INTEGER is already 64-bit, and only INTEGER makes it the rowid.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    at: Mapped[datetime] = mapped_column(primary_key=True, index=True)
    institution_id: Mapped[str | None] = mapped_column(ForeignKey("institutions.id"), nullable=True, index=True)
    actor_user_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    actor_device_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    action: Mapped[str] = mapped_column(String(48), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    target_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    target_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[dict[str, Any]]


class FallbackRecord(Base):
    """A visit recorded from fallback evidence (docs/rules.md §5) when the card could not be confirmed online.

    Kept open for what comes later: ``status`` moves on from "pending_post_hoc" (事後確認) to
    "confirmed" / "claim_settled", and ``destroy_after_claim`` marks declaration data
    (被保険者資格申立書) that must be destroyed once the claim is settled.
    """

    __tablename__ = "fallback_records"
    # An institution's page of records, newest received first (queries/fallback.py): without it the page walks
    # every institution's records by received_at.
    __table_args__ = (Index("ix_fallback_records_institution_received", "institution_id", "received_at"),
                      Index("ix_fallback_records_patient_history", "institution_id", "patient_reference", "visit_on"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    institution_id: Mapped[str] = mapped_column(ForeignKey("institutions.id"), index=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    care_type: Mapped[int] = mapped_column(Integer)
    form: Mapped[Form] = mapped_column(_enum(Form, 32, "form"))
    patient_reference: Mapped[str | None] = mapped_column(String(64), nullable=True)
    method: Mapped[FallbackMethod] = mapped_column(_enum(FallbackMethod, 32, "method"))
    reason: Mapped[FallbackReason] = mapped_column(_enum(FallbackReason, 24, "reason"))
    evidence: Mapped[dict[str, Any]]
    device_recorded_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(index=True)
    status: Mapped[FallbackStatus] = mapped_column(_enum(FallbackStatus, 24, "status"), index=True)
    destroy_after_claim: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]
    # The visit's day in Japan (from the device's reading): which methods were valid, and the claim month.
    visit_on: Mapped[date | None] = mapped_column(Date, nullable=True, index=True)
    # The share the patient paid ("030" = 30 %) and how it was decided: age | stated | provisional.
    copayment_ratio: Mapped[str | None] = mapped_column(String(3), nullable=True)
    copayment_basis: Mapped[CopaymentBasis | None] = mapped_column(
        _enum(CopaymentBasis, 16, "copayment_basis"), nullable=True)
    # For an oral revisit check: the earlier visit ("visit:<id>") or record ("fallback:<id>") that holds
    # the qualification.
    prior_ref: Mapped[str | None] = mapped_column(String(80), nullable=True)
    # The latest lookup by identifiers (at record time for the interim methods, or post hoc): the OQS
    # result, when, and what it meant (confirmed | different_qualification | not_found | ...).
    lookup: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    post_hoc_outcome: Mapped[PostHocOutcome | None] = mapped_column(
        _enum(PostHocOutcome, 32, "post_hoc_outcome"), nullable=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # Claim settled (請求確定): when, by whom, and the route billed (1 ① / 2 ② / 3 ③ 不詳レセプト).
    settled_at: Mapped[datetime | None] = mapped_column(nullable=True)
    settled_by: Mapped[str | None] = mapped_column(String(36), nullable=True)
    claim_route: Mapped[int | None] = mapped_column(Integer, nullable=True)


class ApiClient(Base):
    """A machine client of an institution (OAuth 2.0 client credentials, RFC 6749 §4, the usage rate): a health-check
    institution's reservation system. ``auth_method`` is "private_key_jwt" (RFC 7523 assertion signed
    by a registered key) or "client_secret" (argon2id hash, shown once); up to two credentials are
    active at once so they rotate without downtime. Revocation is read on every request."""

    __tablename__ = "api_clients"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)  # the OAuth client_id
    institution_id: Mapped[str] = mapped_column(ForeignKey("institutions.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    auth_method: Mapped[ClientAuthMethod] = mapped_column(_enum(ClientAuthMethod, 24, "auth_method"))
    scopes: Mapped[list[Any]]
    created_by: Mapped[str | None] = mapped_column(String(36), nullable=True)  # admin user id (None: CLI)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


class ApiClientCredential(Base):
    """One public key (PEM, ES256 or RS256) or one secret hash of a client; ``key_id`` is the JWT ``kid``."""

    __tablename__ = "api_client_credentials"
    __table_args__ = (UniqueConstraint("client_id", "key_id", name="uq_api_client_credentials_client_key"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    client_id: Mapped[str] = mapped_column(ForeignKey("api_clients.id"), index=True)
    key_id: Mapped[str] = mapped_column(String(64))
    public_key_pem: Mapped[str | None] = mapped_column(Text, nullable=True)
    secret_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


class UsedClientAssertion(Base):
    """Client assertions already spent (``jti`` replay guard, RFC 7523 §3), kept until they expire."""

    __tablename__ = "used_client_assertions"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)  # "<client_id>:<jti>"
    client_id: Mapped[str] = mapped_column(ForeignKey("api_clients.id"))
    expires_at: Mapped[datetime] = mapped_column(index=True)


class BatchJob(Base):
    """A batch of qualification checks. ``state``: queued → running → done, or cancelled; results are
    deleted at ``results_expire_at``. ``lease_owner``/``lease_until`` say which worker holds it: a
    worker killed halfway stops renewing, and the next one resumes from the first pending row."""

    __tablename__ = "batch_jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    institution_id: Mapped[str] = mapped_column(ForeignKey("institutions.id"), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("api_clients.id"))
    state: Mapped[BatchState] = mapped_column(_enum(BatchState, 16, "state"), index=True)
    total: Mapped[int] = mapped_column(Integer)
    done: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)  # rows answered with a row error
    source: Mapped[BatchSource] = mapped_column(_enum(BatchSource, 8, "source"))  # "json" | "csv"
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    results_expire_at: Mapped[datetime | None] = mapped_column(nullable=True, index=True)
    purged_at: Mapped[datetime | None] = mapped_column(nullable=True)


class BatchRow(Base):
    """One examinee of a batch: the caller's reference, the identifiers as sent, then the outcome."""

    __tablename__ = "batch_rows"
    __table_args__ = (UniqueConstraint("job_id", "position", name="uq_batch_rows_job_position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("batch_jobs.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # 0-based, in the order sent
    reference: Mapped[str] = mapped_column(String(64))
    request: Mapped[dict[str, Any]]
    status: Mapped[BatchRowStatus] = mapped_column(_enum(BatchRowStatus, 8, "status"))  # "pending" | "done" | "error"
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    processed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the lease that wrote it


class CareRelationship(Base):
    """Continuing home care (docs/rules.md §3.2) between an institution and a patient (``person_ref``):
    opened by a card-verified form ② home-visit visit, renewed by each later card visit
    (``card_visit_id``: the card visit whose consent caps what re-queries may open), ended by discharge
    or withdrawal (``ended_at``, ``end_reason``), or by itself after the idle limit (computed, not stored)."""

    __tablename__ = "care_relationships"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    institution_id: Mapped[str] = mapped_column(ForeignKey("institutions.id"), index=True)
    person_ref: Mapped[str] = mapped_column(String(64), index=True)
    opened_by_visit_id: Mapped[str] = mapped_column(ForeignKey("visits.id"))
    card_visit_id: Mapped[str] = mapped_column(ForeignKey("visits.id"))
    opened_by_visit_row: Mapped[Visit] = _flush_order("CareRelationship.opened_by_visit_id")
    card_visit_row: Mapped[Visit] = _flush_order("CareRelationship.card_visit_id")
    opened_at: Mapped[datetime]
    last_visit_at: Mapped[datetime]
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)
    end_reason: Mapped[CareEndReason | None] = mapped_column(
        _enum(CareEndReason, 16, "end_reason"), nullable=True)  # discharged | withdrawn | idle
    end_note: Mapped[str | None] = mapped_column(String(200), nullable=True)  # the discharge reason
    ended_by: Mapped[str | None] = mapped_column(String(36), nullable=True)  # staff id (None: the patient)


class ConsentLink(Base):
    """A link (URL + QR code) an institution gives a patient for consent on their own phone
    (docs/rules.md §3.4). Only the SHA-256 of its token is kept; ``purpose`` "general" or
    "appointment" (with ``planned_date``)."""

    __tablename__ = "consent_links"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    institution_id: Mapped[str] = mapped_column(ForeignKey("institutions.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[LinkPurpose] = mapped_column(_enum(LinkPurpose, 16, "purpose"))
    planned_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    care_type: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_by: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(index=True)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(36), nullable=True)


class PatientSession(Base):
    """One PIN authentication from the patient's page: a single-use challenge for the JPKI client on the
    phone (``status`` pending → authenticated | refused). After it, the page may list and withdraw the
    patient's consents until ``authenticated_until``. Only the SHA-256 of its token is kept."""

    __tablename__ = "patient_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    link_id: Mapped[str] = mapped_column(ForeignKey("consent_links.id"), index=True)
    institution_id: Mapped[str] = mapped_column(ForeignKey("institutions.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    nonce: Mapped[bytes] = mapped_column(LargeBinary(32))
    purpose: Mapped[PatientSessionPurpose] = mapped_column(_enum(PatientSessionPurpose, 16, "purpose"))
    blanket: Mapped[bool] = mapped_column(Boolean)
    kinds: Mapped[list[Any]]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    status: Mapped[PatientSessionStatus] = mapped_column(_enum(PatientSessionStatus, 16, "status"))
    answered_at: Mapped[datetime | None] = mapped_column(nullable=True)
    person_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    consent_id: Mapped[str | None] = mapped_column(ForeignKey("consents.id"), nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    problem: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    authenticated_until: Mapped[datetime | None] = mapped_column(nullable=True)


class DisasterDeclaration(Base):
    """A declared disaster (docs/rules.md §3.5, seed 004), as OQS announces it: its name, its JST days
    (``starts_on`` .. ``ends_on``, both included), its prefectures (two-digit 都道府県番号), and who declared it
    (the sandbox's admin command). Institutions of those prefectures may view medication and checkup
    information without the card during those days."""

    __tablename__ = "disaster_declarations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    starts_on: Mapped[date] = mapped_column(Date, index=True)
    ends_on: Mapped[date] = mapped_column(Date, index=True)
    prefectures: Mapped[list[Any]]
    declared_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class SignInLockout(Base):
    """Failed sign-ins of one account, machine client or source address, and the lock they set
    (docs/rules.md, "Sign-in lock-out"). Counted here, never in the audit log, so no number of other
    attempts can push failures out of the count. ``key``: ``user:<id>``, ``client:<id>`` or ``source:<address>``."""

    __tablename__ = "sign_in_lockouts"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    window_started_at: Mapped[datetime]  # the first failure of the current count
    locked_until: Mapped[datetime | None] = mapped_column(nullable=True)


class RateLimitCounter(Base):
    """A fixed-window counter of the ``limits`` library kept in this database (adapters/ratelimit.py), so every
    worker counts against one limit. ``expires_at`` is on the store's own time (seconds since the epoch)."""

    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class ConsoleSession(Base):
    """A signed-in console session (docs/console.md, docs/rules.md §2.3). The browser's cookie holds only a
    random token; the row keeps its SHA-256, so the session can be ended on the server: logout, an admin's
    password reset, a role change or the revocation of the user (or device) set ``ended_at`` at once. It also
    ends when idle for CONSOLE_IDLE_MINUTES (``last_seen_at``) and at ``expires_at`` (CONSOLE_SESSION_MINUTES
    after sign-in), on the server's clock."""

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    institution_id: Mapped[str] = mapped_column(ForeignKey("institutions.id"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    device_id: Mapped[str | None] = mapped_column(ForeignKey("devices.id"), nullable=True, index=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)
    end_reason: Mapped[ConsoleEndReason | None] = mapped_column(
        _enum(ConsoleEndReason, 32, "end_reason"), nullable=True)
