"""challenges started by machine clients: client_id; device_id and user_id become nullable

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('challenges', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_id', sa.String(length=36), nullable=True))
        batch_op.alter_column('device_id', existing_type=sa.String(length=36), nullable=True)
        batch_op.alter_column('user_id', existing_type=sa.String(length=36), nullable=True)
        batch_op.create_foreign_key(batch_op.f('fk_challenges_client_id_api_clients'), 'api_clients',
                                    ['client_id'], ['id'])


def downgrade() -> None:
    """Downgrade schema (client challenges are short-lived: drop them first)."""
    op.execute("DELETE FROM challenges WHERE client_id IS NOT NULL")
    with op.batch_alter_table('challenges', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_challenges_client_id_api_clients'), type_='foreignkey')
        batch_op.alter_column('user_id', existing_type=sa.String(length=36), nullable=False)
        batch_op.alter_column('device_id', existing_type=sa.String(length=36), nullable=False)
        batch_op.drop_column('client_id')
