"""fallback follow-up: visit day, co-payment, lookups, post-hoc outcome, settlement; visits keep the
certificate's notAfter (renewal alert)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

"""
from collections.abc import Sequence
from datetime import UTC, timedelta, timezone

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JST = timezone(timedelta(hours=9))


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('fallback_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('visit_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('copayment_ratio', sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column('copayment_basis', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('prior_ref', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('lookup', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('post_hoc_outcome', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('settled_by', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('claim_route', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_fallback_records_visit_on'), ['visit_on'], unique=False)
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('certificate_not_after', sa.DateTime(timezone=True), nullable=True))
    # Existing records: the visit's day in Japan from the device's reading.
    records = sa.table('fallback_records', sa.column('id', sa.String), sa.column('visit_on', sa.Date),
                       sa.column('device_recorded_at', sa.DateTime(timezone=True)))
    connection = op.get_bind()
    for record_id, recorded_at in connection.execute(sa.select(records.c.id, records.c.device_recorded_at)).all():
        if recorded_at is None:
            continue
        if recorded_at.tzinfo is None:  # SQLite drops the zone; the column holds UTC
            recorded_at = recorded_at.replace(tzinfo=UTC)
        connection.execute(records.update().where(records.c.id == record_id)
                           .values(visit_on=recorded_at.astimezone(JST).date()))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.drop_column('certificate_not_after')
    with op.batch_alter_table('fallback_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fallback_records_visit_on'))
        batch_op.drop_column('claim_route')
        batch_op.drop_column('settled_by')
        batch_op.drop_column('settled_at')
        batch_op.drop_column('confirmed_at')
        batch_op.drop_column('post_hoc_outcome')
        batch_op.drop_column('lookup')
        batch_op.drop_column('prior_ref')
        batch_op.drop_column('copayment_basis')
        batch_op.drop_column('copayment_ratio')
        batch_op.drop_column('visit_on')
