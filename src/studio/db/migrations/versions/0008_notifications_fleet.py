"""Notifications, compute nodes, and admin approval requests.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        CREATE TABLE public.user_notifications (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            user_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
            kind text NOT NULL CONSTRAINT user_notifications_kind_valid CHECK (
                kind IN ('generation', 'training', 'share', 'quota', 'system', 'backup')),
            title text NOT NULL CONSTRAINT user_notifications_title_length CHECK (length(title) BETWEEN 1 AND 200),
            body text CONSTRAINT user_notifications_body_length CHECK (length(body) <= 2000),
            data jsonb NOT NULL DEFAULT '{}' CONSTRAINT user_notifications_data_object CHECK (jsonb_typeof(data) = 'object'),
            read_at timestamptz,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX user_notifications_user_id_created_idx ON public.user_notifications (user_id, created_at DESC, id DESC);
        CREATE INDEX user_notifications_unread_idx ON public.user_notifications (user_id, created_at DESC) WHERE read_at IS NULL;

        CREATE TABLE public.node_resources (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            name text NOT NULL CONSTRAINT node_resources_name_format CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$'),
            kind text NOT NULL DEFAULT 'cpu' CONSTRAINT node_resources_kind_valid CHECK (kind IN ('cpu', 'gpu')),
            status text NOT NULL DEFAULT 'offline'
                CONSTRAINT node_resources_status_valid CHECK (status IN ('online', 'offline', 'draining')),
            capabilities jsonb NOT NULL DEFAULT '{}' CONSTRAINT node_resources_capabilities_object CHECK (jsonb_typeof(capabilities) = 'object'),
            gpu_memory_mb integer CONSTRAINT node_resources_gpu_memory_range CHECK (gpu_memory_mb BETWEEN 0 AND 10000000),
            last_heartbeat_at timestamptz,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT node_resources_name_key UNIQUE (name)
        );
        CREATE INDEX node_resources_status_idx ON public.node_resources (status, last_heartbeat_at);

        CREATE TABLE public.admin_approval_requests (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            requester_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
            kind text NOT NULL CONSTRAINT admin_approval_requests_kind_valid CHECK (
                kind IN ('model_publish', 'quota_increase', 'node_join')),
            model_id uuid REFERENCES public.model_registry (id) ON DELETE CASCADE,
            payload jsonb NOT NULL DEFAULT '{}' CONSTRAINT admin_approval_requests_payload_object CHECK (jsonb_typeof(payload) = 'object'),
            reason text CONSTRAINT admin_approval_requests_reason_length CHECK (length(reason) <= 2000),
            status text NOT NULL DEFAULT 'pending'
                CONSTRAINT admin_approval_requests_status_valid CHECK (status IN ('pending', 'approved', 'rejected')),
            reviewed_by uuid REFERENCES public.users (id) ON DELETE SET NULL,
            reviewed_at timestamptz,
            review_note text CONSTRAINT admin_approval_requests_review_note_length CHECK (length(review_note) <= 2000),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT admin_approval_requests_review_complete CHECK (
                (status = 'pending') = (reviewed_at IS NULL))
        );
        CREATE INDEX admin_approval_requests_requester_created_idx
            ON public.admin_approval_requests (requester_id, created_at DESC, id DESC);
        CREATE INDEX admin_approval_requests_pending_idx ON public.admin_approval_requests (created_at) WHERE status = 'pending';
        CREATE INDEX admin_approval_requests_model_id_idx ON public.admin_approval_requests (model_id);
        CREATE INDEX admin_approval_requests_reviewed_by_idx ON public.admin_approval_requests (reviewed_by);

        CREATE TRIGGER user_notifications_updated_at BEFORE UPDATE ON public.user_notifications
            FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
        CREATE TRIGGER node_resources_updated_at BEFORE UPDATE ON public.node_resources
            FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
        CREATE TRIGGER admin_approval_requests_updated_at BEFORE UPDATE ON public.admin_approval_requests
            FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

        ALTER TABLE public.user_notifications ENABLE ROW LEVEL SECURITY;
        ALTER TABLE public.user_notifications FORCE ROW LEVEL SECURITY;
        ALTER TABLE public.node_resources ENABLE ROW LEVEL SECURITY;
        ALTER TABLE public.node_resources FORCE ROW LEVEL SECURITY;
        ALTER TABLE public.admin_approval_requests ENABLE ROW LEVEL SECURITY;
        ALTER TABLE public.admin_approval_requests FORCE ROW LEVEL SECURITY;

        -- Notifications: the system writes them; users read, mark read, and delete their own.
        GRANT SELECT, DELETE ON public.user_notifications TO authenticated;
        GRANT UPDATE (read_at) ON public.user_notifications TO authenticated;
        CREATE POLICY user_notifications_select_own ON public.user_notifications FOR SELECT TO authenticated
            USING (user_id = (SELECT auth.uid()));
        CREATE POLICY user_notifications_update_own ON public.user_notifications FOR UPDATE TO authenticated
            USING (user_id = (SELECT auth.uid())) WITH CHECK (user_id = (SELECT auth.uid()));
        CREATE POLICY user_notifications_delete_own ON public.user_notifications FOR DELETE TO authenticated
            USING (user_id = (SELECT auth.uid()));
        GRANT INSERT ON public.user_notifications TO studio_worker;
        CREATE POLICY user_notifications_worker_insert ON public.user_notifications FOR INSERT TO studio_worker
            WITH CHECK (read_at IS NULL);

        -- Nodes: managed by admins; workers register themselves and report heartbeats.
        GRANT SELECT, INSERT, UPDATE, DELETE ON public.node_resources TO authenticated;
        CREATE POLICY node_resources_select_admin ON public.node_resources FOR SELECT TO authenticated
            USING ((SELECT auth.is_admin()));
        CREATE POLICY node_resources_insert_admin ON public.node_resources FOR INSERT TO authenticated
            WITH CHECK ((SELECT auth.is_admin()));
        CREATE POLICY node_resources_update_admin ON public.node_resources FOR UPDATE TO authenticated
            USING ((SELECT auth.is_admin())) WITH CHECK ((SELECT auth.is_admin()));
        CREATE POLICY node_resources_delete_admin ON public.node_resources FOR DELETE TO authenticated
            USING ((SELECT auth.is_admin()));
        GRANT SELECT, INSERT ON public.node_resources TO studio_worker;
        GRANT UPDATE (status, capabilities, gpu_memory_mb, last_heartbeat_at) ON public.node_resources TO studio_worker;
        CREATE POLICY node_resources_worker_select ON public.node_resources FOR SELECT TO studio_worker USING (true);
        CREATE POLICY node_resources_worker_insert ON public.node_resources FOR INSERT TO studio_worker
            WITH CHECK (status = 'online');
        -- A node an admin set to draining stays draining until an admin changes it.
        CREATE POLICY node_resources_worker_update ON public.node_resources FOR UPDATE TO studio_worker
            USING (status <> 'draining') WITH CHECK (status IN ('online', 'offline'));

        -- Approval requests: users file and read their own; admins review everyone's.
        GRANT SELECT ON public.admin_approval_requests TO authenticated;
        GRANT INSERT (requester_id, kind, model_id, payload, reason) ON public.admin_approval_requests TO authenticated;
        GRANT UPDATE (status, reviewed_by, reviewed_at, review_note) ON public.admin_approval_requests TO authenticated;
        GRANT DELETE ON public.admin_approval_requests TO authenticated;
        CREATE POLICY admin_approval_requests_select ON public.admin_approval_requests FOR SELECT TO authenticated
            USING (requester_id = (SELECT auth.uid()) OR (SELECT auth.is_admin()));
        CREATE POLICY admin_approval_requests_insert_own ON public.admin_approval_requests FOR INSERT TO authenticated
            WITH CHECK (requester_id = (SELECT auth.uid()) AND status = 'pending');
        CREATE POLICY admin_approval_requests_review_admin ON public.admin_approval_requests FOR UPDATE TO authenticated
            USING ((SELECT auth.is_admin())) WITH CHECK ((SELECT auth.is_admin()) AND reviewed_by = (SELECT auth.uid()));
        CREATE POLICY admin_approval_requests_withdraw_own ON public.admin_approval_requests FOR DELETE TO authenticated
            USING (requester_id = (SELECT auth.uid()) AND status = 'pending');
        """
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        DROP TABLE public.admin_approval_requests;
        DROP TABLE public.node_resources;
        DROP TABLE public.user_notifications;
        """
    )
