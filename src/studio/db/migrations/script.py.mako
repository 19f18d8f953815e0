"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from alembic import op

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Fail fast instead of queueing behind long transactions on a live system.
    op.execute("SET LOCAL lock_timeout = '5s'")
    ${upgrades if upgrades else "raise NotImplementedError"}


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    ${downgrades if downgrades else "raise NotImplementedError"}
