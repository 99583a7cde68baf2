"""a patient's visits by index (ix_visits_patient_history)

``ix_visits_patient_history`` on visits (institution_id, patient_reference, created_at): the earlier visit a
fallback record's claim guidance reads is now a scalar subquery of the records' page (queries/fallback.py), run
once per listed record; without the index each is a scan of the institution's visits.

What it costs on PostgreSQL with data: CREATE INDEX holds a SHARE lock on visits while it reads the table, so
visits can be read but not written (verifications wait) until it ends. The migration runs in one transaction
(adapters/migrations.py), which CREATE INDEX CONCURRENTLY cannot; an operator who cannot pause writes creates
the index CONCURRENTLY by hand first (same name), and this step then finds it (IF NOT EXISTS).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04

"""
from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_visits_patient_history"


def upgrade() -> None:
    """Upgrade schema."""
    op.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON visits (institution_id, patient_reference, created_at)")


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(INDEX, table_name="visits")
