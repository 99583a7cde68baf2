"""disaster declarations: disaster-time viewing without the card (seed 004)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'disaster_declarations',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('starts_on', sa.Date(), nullable=False),
        sa.Column('ends_on', sa.Date(), nullable=False),
        sa.Column('prefectures', sa.JSON(), nullable=False),
        sa.Column('declared_by', sa.String(length=100), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_disaster_declarations')),
    )
    with op.batch_alter_table('disaster_declarations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disaster_declarations_starts_on'), ['starts_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_disaster_declarations_ends_on'), ['ends_on'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('disaster_declarations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disaster_declarations_ends_on'))
        batch_op.drop_index(batch_op.f('ix_disaster_declarations_starts_on'))
    op.drop_table('disaster_declarations')
