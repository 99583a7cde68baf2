"""a patient's visits and an institution's fallback records by index; audit_events.id BIGINT on PostgreSQL

``ix_visits_patient_history`` on visits (institution_id, patient_reference, created_at): the earlier visit a
fallback record's claim guidance reads is now a scalar subquery of the records' page (queries/fallback.py), run
once per listed record; without the index each is a scan of the institution's visits.
``ix_fallback_records_institution_received`` on fallback_records (institution_id, received_at): the page itself,
newest first, which otherwise walks every institution's records by ``received_at``.
``ix_fallback_records_patient_history`` on fallback_records (institution_id, patient_reference, visit_on): the
patient's latest earlier record confirmed post hoc, which a new oral-check or declaration record looks up
(``FallbackRecords.confirmed_of_patient``); without it a scan of the institution's records per record made. With both, a page of 50 records
among 200,000 visits and 200,000 records of 100 institutions ran in 1 ms (EXPLAIN ANALYZE: an index scan of the
institution's records, one index probe per record and subquery).

``audit_events.id`` and its sequence become BIGINT on PostgreSQL: at national scale (~196 M confirmations a
month, seed), each writing audit rows, one deployment's sequence can pass 2^31 inside the 72 months kept
(docs/rules.md §7.1), and an INTEGER sequence then refuses every insert. SQLite is left as it is: its INTEGER
is 64-bit already, and only INTEGER makes the column the rowid (the model's ``with_variant``).

What it costs on PostgreSQL with data (the migration is one transaction, adapters/migrations.py):
- CREATE INDEX holds a SHARE lock on the table while it reads it: visits (and fallback records) can be read, not
  written (verifications wait). Measured on this shared 2-core machine: 0.8 s for 200,000 visits, so ~4 s per million. An
  operator who cannot pause writes creates the indexes CONCURRENTLY by hand first (same names); this step then
  finds them (IF NOT EXISTS).
- ALTER COLUMN ... TYPE BIGINT rewrites every partition of the audit log and rebuilds its indexes under an
  ACCESS EXCLUSIVE lock on the whole partitioned table: every insert (so every verification and medical view,
  which audit in their transaction) and every read of the log waits until it ends. Measured on this machine:
  10.9 s for 1,000,000 rows in 14 partitions (downgrade the same), so ~110 s for 10 M rows; it grows with the
  rows, so run it in a maintenance window. The sequence's ALTER only changes its limits (no rewrite). A
  partition cannot differ from its parent's column type, so there is no month-by-month way; a deployment that
  cannot stop that long needs an online conversion (a BIGINT column filled in batches, then swapped in), which
  this migration does not attempt.
(Measured on a throwaway cluster, tests/support/pgcluster.py, rows made with generate_series, the machine shared.)

Downgrade turns both back to INTEGER, which PostgreSQL refuses (and the migration with it) once an id above
2^31 - 1 exists: such a log cannot go back without losing rows.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04

"""
from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

# revision identifiers, used by Alembic.
revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {"ix_visits_patient_history": ("visits", "institution_id, patient_reference, created_at"),
           "ix_fallback_records_institution_received": ("fallback_records", "institution_id, received_at"),
           "ix_fallback_records_patient_history": ("fallback_records", "institution_id, patient_reference, visit_on")}


def _audit_id_type(sql_type: str) -> None:
    """The audit log's id column (every partition, via the partitioned table) and its sequence (PostgreSQL)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    seq = op.get_bind().scalar(text("SELECT pg_get_serial_sequence('audit_events', 'id')"))
    op.execute(f"ALTER TABLE audit_events ALTER COLUMN id TYPE {sql_type}")
    op.execute(f"ALTER SEQUENCE {seq} AS {sql_type}")


def upgrade() -> None:
    """Upgrade schema."""
    for name, (table, columns) in INDEXES.items():
        op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns})")
    _audit_id_type("BIGINT")


def downgrade() -> None:
    """Downgrade schema."""
    _audit_id_type("INTEGER")
    for name, (table, _) in INDEXES.items():
        op.drop_index(name, table_name=table)
