"""Backup runs: every backup, verify and restore drill leaves a record (F1).

The scheduler and `studio backup ...` write them as studio_worker (pgBackRest itself runs
with the cluster's superuser, outside this table). Admins read them; /readyz and the
metrics read a summary through public.backup_status(), which reveals no details; a
failure notifies every admin through public.notify_admins().

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        CREATE TABLE public.backup_runs (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            kind text NOT NULL CONSTRAINT backup_runs_kind_valid CHECK (kind IN ('backup', 'verify', 'drill')),
            backup_type text CONSTRAINT backup_runs_backup_type_valid CHECK (backup_type IN ('full', 'diff', 'incr')),
            repo smallint NOT NULL DEFAULT 1 CONSTRAINT backup_runs_repo_range CHECK (repo BETWEEN 1 AND 4),
            status text NOT NULL DEFAULT 'running'
                CONSTRAINT backup_runs_status_valid CHECK (status IN ('running', 'succeeded', 'failed')),
            backup_label text CONSTRAINT backup_runs_backup_label_length CHECK (length(backup_label) <= 100),
            trigger text NOT NULL DEFAULT 'manual' CONSTRAINT backup_runs_trigger_valid CHECK (trigger IN ('manual', 'scheduled')),
            details jsonb NOT NULL DEFAULT '{}' CONSTRAINT backup_runs_details_object CHECK (jsonb_typeof(details) = 'object'),
            error text CONSTRAINT backup_runs_error_length CHECK (length(error) <= 4000),
            started_at timestamptz NOT NULL DEFAULT now(),
            finished_at timestamptz,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT backup_runs_finished_when_done CHECK ((status = 'running') = (finished_at IS NULL))
        );
        CREATE INDEX backup_runs_kind_started_idx ON public.backup_runs (kind, started_at DESC);
        CREATE TRIGGER backup_runs_updated_at BEFORE UPDATE ON public.backup_runs
            FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
        ALTER TABLE public.backup_runs ENABLE ROW LEVEL SECURITY;
        ALTER TABLE public.backup_runs FORCE ROW LEVEL SECURITY;

        GRANT SELECT, INSERT ON public.backup_runs TO studio_worker;
        GRANT UPDATE (status, backup_label, details, error, finished_at) ON public.backup_runs TO studio_worker;
        CREATE POLICY backup_runs_worker_select ON public.backup_runs FOR SELECT TO studio_worker USING (true);
        CREATE POLICY backup_runs_worker_insert ON public.backup_runs FOR INSERT TO studio_worker
            WITH CHECK (status = 'running');
        -- Only a running record may change, and only to its end.
        CREATE POLICY backup_runs_worker_update ON public.backup_runs FOR UPDATE TO studio_worker
            USING (status = 'running') WITH CHECK (true);
        GRANT SELECT ON public.backup_runs TO authenticated;
        CREATE POLICY backup_runs_admin_select ON public.backup_runs FOR SELECT TO authenticated
            USING ((SELECT auth.is_admin()));

        -- The latest finished backup and drill, for /readyz and /metrics (anon may ask:
        -- ages and outcomes only, nothing else).
        CREATE FUNCTION public.backup_status() RETURNS jsonb
            LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
            AS $$
                SELECT pg_catalog.jsonb_build_object(
                    'last_backup', (SELECT pg_catalog.jsonb_build_object(
                                        'status', r.status, 'type', r.backup_type, 'finished_at', r.finished_at)
                                      FROM public.backup_runs r WHERE r.kind = 'backup' AND r.status <> 'running'
                                     ORDER BY r.started_at DESC LIMIT 1),
                    'last_successful_backup_at', (SELECT max(r.finished_at) FROM public.backup_runs r
                                                   WHERE r.kind = 'backup' AND r.status = 'succeeded'),
                    'last_drill', (SELECT pg_catalog.jsonb_build_object('status', r.status, 'finished_at', r.finished_at)
                                     FROM public.backup_runs r WHERE r.kind = 'drill' AND r.status <> 'running'
                                    ORDER BY r.started_at DESC LIMIT 1))
            $$;
        REVOKE EXECUTE ON FUNCTION public.backup_status() FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION public.backup_status() TO anon, studio_worker;
        ALTER FUNCTION public.backup_status() OWNER TO studio_system;
        GRANT SELECT ON public.backup_runs TO studio_system;
        CREATE POLICY backup_runs_system_select ON public.backup_runs FOR SELECT TO studio_system USING (true);

        -- A system notification to every admin (a failed backup or drill).
        CREATE FUNCTION public.notify_admins(p_title text, p_body text, p_data jsonb) RETURNS integer
            LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
            AS $$
            DECLARE
                v_count integer;
            BEGIN
                INSERT INTO public.user_notifications (user_id, kind, title, body, data)
                SELECT u.id, 'backup', p_title, p_body, COALESCE(p_data, '{}'::jsonb)
                  FROM public.users u WHERE u.role = 'admin';
                GET DIAGNOSTICS v_count = ROW_COUNT;
                RETURN v_count;
            END
            $$;
        REVOKE EXECUTE ON FUNCTION public.notify_admins(text, text, jsonb) FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION public.notify_admins(text, text, jsonb) TO studio_worker;
        ALTER FUNCTION public.notify_admins(text, text, jsonb) OWNER TO studio_system;
        GRANT SELECT (id, role) ON public.users TO studio_system;
        GRANT INSERT ON public.user_notifications TO studio_system;
        CREATE POLICY users_system_select_admins ON public.users FOR SELECT TO studio_system
            USING (role = 'admin');
        CREATE POLICY user_notifications_system_insert ON public.user_notifications FOR INSERT TO studio_system
            WITH CHECK (kind = 'backup');
        """
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        DROP POLICY user_notifications_system_insert ON public.user_notifications;
        DROP POLICY users_system_select_admins ON public.users;
        REVOKE INSERT ON public.user_notifications FROM studio_system;
        REVOKE SELECT (id, role) ON public.users FROM studio_system;
        DROP FUNCTION public.notify_admins(text, text, jsonb);
        DROP FUNCTION public.backup_status();
        DROP TABLE public.backup_runs;
        """
    )
