"""Media and point-in-time recovery: deleted files are retired, not deleted, so a restore
of the database to an earlier moment finds the files its rows point at (F1, F20).

storage_deletions.mode says what the worker does with a file:
- `retire` (a media row was deleted): the file is kept out of sight for the recovery
  window (the backups' retention), then purged; a restore revives it if needed;
- `erase` (an account was deleted: the API sets studio.erasure in that transaction):
  the file and every retained copy go at once;
- `delete` (an upload announced by a worker and never recorded): no row ever pointed
  at it, so nothing can need it back.

Revision ID: 0013
Revises: 0012
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        ALTER TABLE public.storage_deletions ADD COLUMN mode text NOT NULL DEFAULT 'delete'
            CONSTRAINT storage_deletions_mode_valid CHECK (mode IN ('delete', 'retire', 'erase'));
        -- The function belongs to studio_system (0009); only its owner may replace it.
        SET LOCAL ROLE studio_system;
        CREATE OR REPLACE FUNCTION public.queue_storage_deletion() RETURNS trigger
            LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
            AS $$
            BEGIN
                INSERT INTO public.storage_deletions (bucket, key, mode)
                VALUES (OLD.bucket, OLD.key,
                        CASE WHEN pg_catalog.current_setting('studio.erasure', true) = 'on'
                             THEN 'erase' ELSE 'retire' END);
                RETURN NULL;
            END
            $$;
        RESET ROLE;
        """
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        SET LOCAL ROLE studio_system;
        CREATE OR REPLACE FUNCTION public.queue_storage_deletion() RETURNS trigger
            LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
            AS $$
            BEGIN
                INSERT INTO public.storage_deletions (bucket, key) VALUES (OLD.bucket, OLD.key);
                RETURN NULL;
            END
            $$;
        RESET ROLE;
        ALTER TABLE public.storage_deletions DROP COLUMN mode;
        """
    )
