"""audit_events partitioned by month on PostgreSQL (RANGE on ``at``, a DEFAULT partition); SQLite unchanged

The rows are kept: a new partitioned table takes them, with a partition for every month (in Japan) that has
rows, and the old table is dropped. The id sequence carries over, so ids go on where they were. The primary
key becomes (id, at), as PostgreSQL requires the partition key in it. Partitions for the months ahead are made
by the maintenance job and ``flask audit partitions`` (docs/architecture.md, "Audit partitions and retention").

SQLite keeps the plain table and its ``id INTEGER PRIMARY KEY``: SQLite numbers rows only for a single integer
key, and it has no partitions to drop (retention deletes by date there).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04

"""
from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

from mobile_api.domain.retention import Month

# revision identifiers, used by Alembic.
revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("id INTEGER NOT NULL DEFAULT nextval('{seq}'), at TIMESTAMP WITH TIME ZONE NOT NULL, "
           "institution_id VARCHAR(36), actor_user_id VARCHAR(36), actor_device_id VARCHAR(36), "
           "action VARCHAR(48) NOT NULL, outcome VARCHAR(16) NOT NULL, target_type VARCHAR(32), "
           "target_id VARCHAR(64), detail JSON NOT NULL")
NAMES = "id, at, institution_id, actor_user_id, actor_device_id, action, outcome, target_type, target_id, detail"


def _months_with_rows() -> list[Month]:
    rows = op.get_bind().execute(text(
        "SELECT DISTINCT date_trunc('month', at AT TIME ZONE 'Asia/Tokyo') FROM audit_events"))
    return sorted(Month(r[0].year, r[0].month) for r in rows)


def _replace(create: str, partitions: Sequence[Month] | None, primary_key: str) -> None:
    """Move the rows into a new ``audit_events`` built by ``create`` and give it the old names and keys."""
    seq = op.get_bind().scalar(text("SELECT pg_get_serial_sequence('audit_events', 'id')"))
    op.execute(f"ALTER SEQUENCE {seq} OWNED BY NONE")
    op.execute(create.format(columns=COLUMNS.format(seq=seq)))
    if partitions is not None:  # a month partition for each month of the rows, and DEFAULT for the rest
        for month in partitions:
            op.execute(f"CREATE TABLE audit_events_{month.label} PARTITION OF audit_events_new FOR VALUES "
                       f"FROM ('{month.start.isoformat(sep=' ')}') TO ('{month.end.isoformat(sep=' ')}')")
        op.execute("CREATE TABLE audit_events_default PARTITION OF audit_events_new DEFAULT")
    op.execute(f"INSERT INTO audit_events_new ({NAMES}) SELECT {NAMES} FROM audit_events")
    op.execute("DROP TABLE audit_events")
    op.execute("ALTER TABLE audit_events_new RENAME TO audit_events")
    op.execute(f"ALTER SEQUENCE {seq} OWNED BY audit_events.id")
    op.execute(f"ALTER TABLE audit_events ADD CONSTRAINT pk_audit_events PRIMARY KEY ({primary_key})")
    op.execute("ALTER TABLE audit_events ADD CONSTRAINT fk_audit_events_institution_id_institutions "
               "FOREIGN KEY (institution_id) REFERENCES institutions (id)")
    for column in ("action", "at", "institution_id"):
        op.execute(f"CREATE INDEX ix_audit_events_{column} ON audit_events ({column})")


def upgrade() -> None:
    """Upgrade schema."""
    if op.get_bind().dialect.name != "postgresql":
        return
    _replace("CREATE TABLE audit_events_new ({columns}) PARTITION BY RANGE (at)", _months_with_rows(), "id, at")


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name != "postgresql":
        return
    _replace("CREATE TABLE audit_events_new ({columns})", None, "id")
