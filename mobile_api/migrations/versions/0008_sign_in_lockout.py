"""one sign-in lock-out for every way in (sign_in_lockouts) and rate-limit counters shared by every worker

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('sign_in_lockouts',
                    sa.Column('key', sa.String(length=80), nullable=False),
                    sa.Column('failures', sa.Integer(), nullable=False),
                    sa.Column('window_started_at', sa.DateTime(timezone=True), nullable=False),
                    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
                    sa.PrimaryKeyConstraint('key', name=op.f('pk_sign_in_lockouts')))
    op.create_table('rate_limit_counters',
                    sa.Column('key', sa.String(length=255), nullable=False),
                    sa.Column('count', sa.Integer(), nullable=False),
                    sa.Column('expires_at', sa.Float(), nullable=False),
                    sa.PrimaryKeyConstraint('key', name=op.f('pk_rate_limit_counters')))
    with op.batch_alter_table('rate_limit_counters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rate_limit_counters_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('rate_limit_counters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rate_limit_counters_expires_at'))
    op.drop_table('rate_limit_counters')
    op.drop_table('sign_in_lockouts')
