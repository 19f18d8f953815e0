"""Share links about to expire notify their owner, once.

- shared_content.expiry_notified_at: when the owner was told that the link expires
  within a day (housekeeping, hourly). Workers read the live links that expire and mark
  them; nothing else of the shares.

Revision ID: 0028
Revises: 0027
"""

from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        ALTER TABLE public.shared_content ADD COLUMN expiry_notified_at timestamptz;
        GRANT SELECT (id, user_id, slug, generation_id, conversation_id, expires_at, revoked_at, expiry_notified_at)
            ON public.shared_content TO studio_worker;
        GRANT UPDATE (expiry_notified_at) ON public.shared_content TO studio_worker;
        CREATE POLICY shared_content_worker_select_expiring ON public.shared_content FOR SELECT TO studio_worker
            USING (expires_at IS NOT NULL AND revoked_at IS NULL);
        CREATE POLICY shared_content_worker_update_expiring ON public.shared_content FOR UPDATE TO studio_worker
            USING (expires_at IS NOT NULL AND revoked_at IS NULL AND expiry_notified_at IS NULL)
            WITH CHECK (expires_at IS NOT NULL AND revoked_at IS NULL);
        """
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        DROP POLICY shared_content_worker_update_expiring ON public.shared_content;
        DROP POLICY shared_content_worker_select_expiring ON public.shared_content;
        REVOKE UPDATE (expiry_notified_at) ON public.shared_content FROM studio_worker;
        REVOKE SELECT (id, user_id, slug, generation_id, conversation_id, expires_at, revoked_at, expiry_notified_at)
            ON public.shared_content FROM studio_worker;
        ALTER TABLE public.shared_content DROP COLUMN expiry_notified_at;
        """
    )
