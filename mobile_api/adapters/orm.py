"""SQLAlchemy tables. Only adapters and services' unit of work import this.

Conventions: string UUID primary keys (portable between SQLite and PostgreSQL),
timestamps stored as UTC (``UtcDateTime`` restores the zone SQLite drops), JSON
columns for OQS payloads that are kept as received.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

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
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def new_id() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime, dict[str, Any]: JSON, list[Any]: JSON, str: String}


class Institution(Base):
    __tablename__ = "institutions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(10), unique=True)  # 医療機関コード
    name: Mapped[str] = mapped_column(String(200))
    facility_kind: Mapped[str] = mapped_column(String(40))
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
    role: Mapped[str] = mapped_column(String(16))
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
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    care_type: Mapped[int] = mapped_column(Integer)
    form: Mapped[str] = mapped_column(String(32))
    method: Mapped[str] = mapped_column(String(16))
    patient_reference: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Visit(Base):
    """One confirmed qualification check (card-verified)."""

    __tablename__ = "visits"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    institution_id: Mapped[str] = mapped_column(ForeignKey("institutions.id"), index=True)
    challenge_id: Mapped[str] = mapped_column(ForeignKey("challenges.id"), unique=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    visual_confirmed_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    care_type: Mapped[int] = mapped_column(Integer)
    form: Mapped[str] = mapped_column(String(32))
    method: Mapped[str] = mapped_column(String(16))
    patient_reference: Mapped[str | None] = mapped_column(String(64), nullable=True)
    certificate_standing: Mapped[str] = mapped_column(String(24))
    certificate_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    eligibility_status: Mapped[int] = mapped_column(Integer)
    medical_info_allowed: Mapped[bool] = mapped_column(Boolean)
    person_ref: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    result: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(index=True)


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
    source: Mapped[str] = mapped_column(String(24))
    blanket: Mapped[bool] = mapped_column(Boolean)
    kinds: Mapped[list[Any]]
    registered_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    renews_id: Mapped[str | None] = mapped_column(ForeignKey("consents.id"), nullable=True)
    withdrawn_at: Mapped[datetime | None] = mapped_column(nullable=True)


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
    """Append-only: the services only ever insert; nothing updates or deletes."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
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

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    institution_id: Mapped[str] = mapped_column(ForeignKey("institutions.id"), index=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    care_type: Mapped[int] = mapped_column(Integer)
    form: Mapped[str] = mapped_column(String(32))
    patient_reference: Mapped[str | None] = mapped_column(String(64), nullable=True)
    method: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(24))
    evidence: Mapped[dict[str, Any]]
    device_recorded_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(24), index=True)
    destroy_after_claim: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]
