"""every status and kind column refuses values outside its enum: a CHECK per column (ck_<table>_<column>)

The values are frozen here, as the code wrote them on 2026-12-04 (domain/statuses.py and the older enums); a
later migration that adds a value replaces the column's CHECK. PostgreSQL checks the existing rows as it adds
each constraint; SQLite rebuilds each table (batch mode), with foreign keys off as SQLite's own recipe for
rebuilding a table requires (adapters/migrations.py).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VALUES: dict[str, dict[str, tuple[str, ...]]] = {
    "institutions": {
        "facility_kind": (
            "medical_institution", "home_visit_care", "transitional_exemption", "health_check", "midwifery",
            "not_obligated", "judo_therapy", "massage", "acupuncture",
        ),
    },
    "api_clients": {
        "auth_method": ("private_key_jwt", "client_secret"),
    },
    "consent_links": {
        "purpose": ("general", "appointment"),
    },
    "users": {
        "role": ("admin", "staff"),
    },
    "batch_jobs": {
        "state": ("queued", "running", "done", "cancelled"),
        "source": ("json", "csv"),
    },
    "batch_rows": {
        "status": ("pending", "done", "error"),
    },
    "challenges": {
        "form": ("home_consent", "qualification_only"),
        "method": ("pin", "visual", "requery", "disaster"),
    },
    "console_sessions": {
        "end_reason": (
            "logout", "idle", "expired", "revoked", "user-revoked", "password-reset", "role-change",
            "device-revoked",
        ),
    },
    "fallback_records": {
        "form": ("home_consent", "qualification_only"),
        "method": (
            "notice_with_card", "portal_with_card", "oral_revisit", "declaration", "qualification_certificate",
            "paper_card", "notice_alone", "expired_paper_card",
        ),
        "reason": ("offline", "card_unreadable", "certificate_expired", "system_down", "other"),
        "status": ("pending_post_hoc", "confirmed", "needs_attention", "claim_settled"),
        "copayment_basis": ("age", "stated", "provisional", "past_visit"),
        "post_hoc_outcome": ("confirmed", "lost", "different_qualification", "not_found", "multiple", "no_identifiers"),
    },
    "visits": {
        "form": ("home_consent", "qualification_only"),
        "method": ("pin", "visual", "requery", "disaster"),
        "certificate_standing": ("valid", "expired_in_grace", "not_presented"),
        "certificate_kind": ("card", "android", "iphone"),
    },
    "care_relationships": {
        "end_reason": ("discharged", "withdrawn", "idle"),
    },
    "consents": {
        "source": ("card", "requery", "patient_phone", "disaster_oral"),
        "withdrawn_via": ("patient_phone", "staff_on_request"),
    },
    "patient_sessions": {
        "purpose": ("register", "manage"),
        "status": ("pending", "answering", "authenticated", "refused"),
    },
}


def _condition(column: str, values: tuple[str, ...]) -> str:
    return str(sa.column(column).in_(values).compile(compile_kwargs={"literal_binds": True}))


def upgrade() -> None:
    """Upgrade schema."""
    for table, columns in VALUES.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, values in columns.items():
                batch_op.create_check_constraint(op.f(f"ck_{table}_{column}"), _condition(column, values))


def downgrade() -> None:
    """Downgrade schema."""
    for table, columns in VALUES.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.drop_constraint(op.f(f"ck_{table}_{column}"), type_="check")
