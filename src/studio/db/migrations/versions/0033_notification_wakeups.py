"""A new user notification wakes its owner's event streams at once.

- Until now only generation changes (0009) and training runs (0027) sent NOTIFY
  studio_events; a notification written by itself (a share link about to expire, an
  admins' backup notice from public.notify_admins, the sign-up notice of
  auth.request_signup, ...) reached an open /v1/events stream only at its next idle
  poll, which a busy API process stretches (events.endpoints.IDLE_READS_PER_SECOND).
- An AFTER INSERT trigger on public.user_notifications now sends NOTIFY studio_events
  with the owner's id, as 0027 does for training runs: only a wake-up, the streams
  re-read the notifications under RLS. FOR EACH ROW: statements that write several rows
  (notify_admins, a worker's batch of ended generations or expiring shares) notify once
  per row, and PostgreSQL folds the same payload on the same channel into one per
  transaction (a generation's own event and its notification too).
- SECURITY INVOKER, owned by studio_owner like 0027's: a trigger function runs for
  whoever inserts (studio_worker, studio_system's and studio_auth's definer functions),
  pg_notify needs no privilege, and EXECUTE is checked only when the trigger is created.

Revision ID: 0033
Revises: 0032
"""

from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        -- Only a wake-up: streams re-read the notifications under RLS.
        CREATE FUNCTION public.notify_notification_created() RETURNS trigger
            LANGUAGE plpgsql SET search_path = ''
            AS $$ BEGIN PERFORM pg_catalog.pg_notify('studio_events', NEW.user_id::text); RETURN NULL; END $$;
        CREATE TRIGGER user_notifications_notify AFTER INSERT ON public.user_notifications
            FOR EACH ROW EXECUTE FUNCTION public.notify_notification_created();
        REVOKE EXECUTE ON FUNCTION public.notify_notification_created() FROM PUBLIC;
        """
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        DROP TRIGGER user_notifications_notify ON public.user_notifications;
        DROP FUNCTION public.notify_notification_created();
        """
    )
