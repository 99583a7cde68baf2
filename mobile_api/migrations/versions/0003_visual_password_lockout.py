"""visual-mode password lock-out: consecutive failures and when they locked it

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('institutions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('visual_password_failures', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('visual_password_locked_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('institutions', schema=None) as batch_op:
        batch_op.drop_column('visual_password_locked_at')
        batch_op.drop_column('visual_password_failures')
