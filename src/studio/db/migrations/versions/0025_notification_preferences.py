"""Notification preferences: the kinds of notification a user does not want.

- public.notification_preferences: one row per user who changed anything, `muted` the
  kinds they turned off (no row: everything on). Users read and write their own.
- Whoever writes notifications leaves muted kinds out, in the same statement: workers
  (a generation's outcome; they read every user's preferences, nothing else of the
  users) and public.notify_admins (backup alerts, as studio_system).

Revision ID: 0025
Revises: 0024
"""

from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

_NOTIFY_ADMINS = """
        CREATE OR REPLACE FUNCTION public.notify_admins(p_title text, p_body text, p_data jsonb) RETURNS integer
            LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
            AS $$
            DECLARE
                v_count integer;
            BEGIN
                INSERT INTO public.user_notifications (user_id, kind, title, body, data)
                SELECT u.id, 'backup', p_title, p_body, COALESCE(p_data, '{}'::jsonb)
                  FROM public.users u WHERE u.role = 'admin'%s;
                GET DIAGNOSTICS v_count = ROW_COUNT;
                RETURN v_count;
            END
            $$;
"""
_UNMUTED = """
                   AND NOT EXISTS (SELECT 1 FROM public.notification_preferences p
                                    WHERE p.user_id = u.id AND 'backup' = ANY(p.muted))"""


def _replace_notify_admins(condition: str) -> str:
    # The function's owner replaces it (studio_owner is a NOINHERIT member).
    return "SET LOCAL ROLE studio_system;" + _NOTIFY_ADMINS % condition + " RESET ROLE;"


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        CREATE TABLE public.notification_preferences (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            user_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE
                CONSTRAINT notification_preferences_user_id_key UNIQUE,
            muted text[] NOT NULL DEFAULT '{}'
                CONSTRAINT notification_preferences_muted_kinds CHECK (
                    muted <@ ARRAY['generation', 'training', 'share', 'quota', 'system', 'backup']::text[]),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TRIGGER notification_preferences_updated_at BEFORE UPDATE ON public.notification_preferences
            FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
        ALTER TABLE public.notification_preferences ENABLE ROW LEVEL SECURITY;
        ALTER TABLE public.notification_preferences FORCE ROW LEVEL SECURITY;

        GRANT SELECT, INSERT, UPDATE (muted) ON public.notification_preferences TO authenticated;
        CREATE POLICY notification_preferences_select_own ON public.notification_preferences
            FOR SELECT TO authenticated USING (user_id = (SELECT auth.uid()));
        CREATE POLICY notification_preferences_insert_own ON public.notification_preferences
            FOR INSERT TO authenticated WITH CHECK (user_id = (SELECT auth.uid()));
        CREATE POLICY notification_preferences_update_own ON public.notification_preferences
            FOR UPDATE TO authenticated USING (user_id = (SELECT auth.uid()))
            WITH CHECK (user_id = (SELECT auth.uid()));
        -- Whoever writes notifications checks them first.
        GRANT SELECT (user_id, muted) ON public.notification_preferences TO studio_worker, studio_system;
        CREATE POLICY notification_preferences_worker_select ON public.notification_preferences
            FOR SELECT TO studio_worker USING (true);
        CREATE POLICY notification_preferences_system_select ON public.notification_preferences
            FOR SELECT TO studio_system USING (true);
        """
    )
    op.execute(_replace_notify_admins(_UNMUTED))


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(_replace_notify_admins(""))
    op.execute("DROP TABLE public.notification_preferences;")
