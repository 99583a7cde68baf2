"""continuing care (re-query), consent links and patient sessions (the patient's own phone), withdrawal

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'consent_links',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('institution_id', sa.String(length=36), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('purpose', sa.String(length=16), nullable=False),
        sa.Column('planned_date', sa.Date(), nullable=True),
        sa.Column('care_type', sa.Integer(), nullable=False),
        sa.Column('note', sa.String(length=100), nullable=True),
        sa.Column('created_by', sa.String(length=36), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_by', sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'],
                                name=op.f('fk_consent_links_institution_id_institutions')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_links')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_consent_links_token_hash')),
    )
    with op.batch_alter_table('consent_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_links_institution_id'), ['institution_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consent_links_created_at'), ['created_at'], unique=False)

    op.create_table(
        'care_relationships',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('institution_id', sa.String(length=36), nullable=False),
        sa.Column('person_ref', sa.String(length=64), nullable=False),
        sa.Column('opened_by_visit_id', sa.String(length=36), nullable=False),
        sa.Column('card_visit_id', sa.String(length=36), nullable=False),
        sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_visit_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('end_reason', sa.String(length=16), nullable=True),
        sa.Column('end_note', sa.String(length=200), nullable=True),
        sa.Column('ended_by', sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'],
                                name=op.f('fk_care_relationships_institution_id_institutions')),
        sa.ForeignKeyConstraint(['opened_by_visit_id'], ['visits.id'],
                                name=op.f('fk_care_relationships_opened_by_visit_id_visits')),
        sa.ForeignKeyConstraint(['card_visit_id'], ['visits.id'],
                                name=op.f('fk_care_relationships_card_visit_id_visits')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_care_relationships')),
    )
    with op.batch_alter_table('care_relationships', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_care_relationships_institution_id'), ['institution_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_care_relationships_person_ref'), ['person_ref'], unique=False)

    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.alter_column('challenge_id', existing_type=sa.String(length=36), nullable=True)
        batch_op.add_column(sa.Column('care_relationship_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('requery_of', sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f('ix_visits_care_relationship_id'), ['care_relationship_id'], unique=False)

    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('withdrawn_via', sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column('link_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('planned_date', sa.Date(), nullable=True))
        batch_op.create_index(batch_op.f('ix_consents_link_id'), ['link_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_consents_link_id_consent_links'), 'consent_links',
                                    ['link_id'], ['id'])

    op.create_table(
        'patient_sessions',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('link_id', sa.String(length=36), nullable=False),
        sa.Column('institution_id', sa.String(length=36), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('nonce', sa.LargeBinary(length=32), nullable=False),
        sa.Column('purpose', sa.String(length=16), nullable=False),
        sa.Column('blanket', sa.Boolean(), nullable=False),
        sa.Column('kinds', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('person_ref', sa.String(length=64), nullable=True),
        sa.Column('consent_id', sa.String(length=36), nullable=True),
        sa.Column('result', sa.JSON(), nullable=True),
        sa.Column('problem', sa.JSON(), nullable=True),
        sa.Column('authenticated_until', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['link_id'], ['consent_links.id'],
                                name=op.f('fk_patient_sessions_link_id_consent_links')),
        sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'],
                                name=op.f('fk_patient_sessions_institution_id_institutions')),
        sa.ForeignKeyConstraint(['consent_id'], ['consents.id'],
                                name=op.f('fk_patient_sessions_consent_id_consents')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_patient_sessions')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_patient_sessions_token_hash')),
    )
    with op.batch_alter_table('patient_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patient_sessions_link_id'), ['link_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('patient_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patient_sessions_link_id'))
    op.drop_table('patient_sessions')
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_consents_link_id_consent_links'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_consents_link_id'))
        batch_op.drop_column('planned_date')
        batch_op.drop_column('link_id')
        batch_op.drop_column('withdrawn_via')
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_visits_care_relationship_id'))
        batch_op.drop_column('requery_of')
        batch_op.drop_column('care_relationship_id')
        batch_op.alter_column('challenge_id', existing_type=sa.String(length=36), nullable=False)
    with op.batch_alter_table('care_relationships', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_care_relationships_person_ref'))
        batch_op.drop_index(batch_op.f('ix_care_relationships_institution_id'))
    op.drop_table('care_relationships')
    with op.batch_alter_table('consent_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consent_links_created_at'))
        batch_op.drop_index(batch_op.f('ix_consent_links_institution_id'))
    op.drop_table('consent_links')
