"""Usage and quotas: written only by the system, readable by their owner.

The original let users edit their own cost rows through a FOR ALL policy; here users
have SELECT only, workers append usage, and admins set quotas.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        -- Append-only ledger: no updated_at.
        CREATE TABLE public.api_usage (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            user_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
            generation_id uuid REFERENCES public.generations (id) ON DELETE SET NULL,
            kind text NOT NULL CONSTRAINT api_usage_kind_valid CHECK (kind IN ('chat', 'image', 'audio', 'video', 'training')),
            provider text NOT NULL CONSTRAINT api_usage_provider_format CHECK (provider ~ '^[a-z][a-z0-9_-]{0,49}$'),
            model text CONSTRAINT api_usage_model_length CHECK (length(model) <= 200),
            units numeric(14, 4) NOT NULL DEFAULT 0 CONSTRAINT api_usage_units_nonnegative CHECK (units >= 0),
            cost_cents integer NOT NULL DEFAULT 0 CONSTRAINT api_usage_cost_nonnegative CHECK (cost_cents >= 0),
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX api_usage_user_id_created_idx ON public.api_usage (user_id, created_at DESC, id DESC);
        CREATE INDEX api_usage_generation_id_idx ON public.api_usage (generation_id);

        CREATE TABLE public.quotas (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            user_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
            jobs_per_day integer NOT NULL DEFAULT 200 CONSTRAINT quotas_jobs_per_day_range CHECK (jobs_per_day BETWEEN 0 AND 1000000),
            cost_cap_cents integer NOT NULL DEFAULT 1000 CONSTRAINT quotas_cost_cap_range CHECK (cost_cap_cents BETWEEN 0 AND 100000000),
            storage_bytes bigint NOT NULL DEFAULT 5368709120 CONSTRAINT quotas_storage_range CHECK (storage_bytes >= 0),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT quotas_user_id_key UNIQUE (user_id)
        );

        CREATE TRIGGER quotas_updated_at BEFORE UPDATE ON public.quotas
            FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

        ALTER TABLE public.api_usage ENABLE ROW LEVEL SECURITY;
        ALTER TABLE public.api_usage FORCE ROW LEVEL SECURITY;
        ALTER TABLE public.quotas ENABLE ROW LEVEL SECURITY;
        ALTER TABLE public.quotas FORCE ROW LEVEL SECURITY;

        GRANT SELECT ON public.api_usage TO authenticated;
        CREATE POLICY api_usage_select_own ON public.api_usage FOR SELECT TO authenticated
            USING (user_id = (SELECT auth.uid()));
        GRANT SELECT, INSERT ON public.api_usage TO studio_worker;
        CREATE POLICY api_usage_worker_select ON public.api_usage FOR SELECT TO studio_worker USING (true);
        CREATE POLICY api_usage_worker_insert ON public.api_usage FOR INSERT TO studio_worker
            WITH CHECK (generation_id IS NULL OR EXISTS (
                SELECT 1 FROM public.generations g WHERE g.id = generation_id AND g.user_id = api_usage.user_id));

        -- quotas: users read their own; admins set anyone's (they see limits, not content).
        GRANT SELECT, INSERT, UPDATE, DELETE ON public.quotas TO authenticated;
        CREATE POLICY quotas_select ON public.quotas FOR SELECT TO authenticated
            USING (user_id = (SELECT auth.uid()) OR (SELECT auth.is_admin()));
        CREATE POLICY quotas_insert_admin ON public.quotas FOR INSERT TO authenticated
            WITH CHECK ((SELECT auth.is_admin()));
        CREATE POLICY quotas_update_admin ON public.quotas FOR UPDATE TO authenticated
            USING ((SELECT auth.is_admin())) WITH CHECK ((SELECT auth.is_admin()));
        CREATE POLICY quotas_delete_admin ON public.quotas FOR DELETE TO authenticated
            USING ((SELECT auth.is_admin()));
        GRANT SELECT ON public.quotas TO studio_worker;
        CREATE POLICY quotas_worker_select ON public.quotas FOR SELECT TO studio_worker USING (true);
        """
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        DROP TABLE public.quotas;
        DROP TABLE public.api_usage;
        """
    )
