"""Model registry and tutorials: readable by every signed-in user, managed by admins.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        CREATE TABLE public.model_registry (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            slug text NOT NULL CONSTRAINT model_registry_slug_format CHECK (slug ~ '^[a-z0-9][a-z0-9._/-]{0,99}$'),
            display_name text NOT NULL CONSTRAINT model_registry_display_name_length CHECK (length(display_name) BETWEEN 1 AND 200),
            type text NOT NULL CONSTRAINT model_registry_type_valid CHECK (type IN ('chat', 'image', 'audio', 'video')),
            provider text NOT NULL CONSTRAINT model_registry_provider_format CHECK (provider ~ '^[a-z][a-z0-9_-]{0,49}$'),
            provider_model text NOT NULL CONSTRAINT model_registry_provider_model_length CHECK (length(provider_model) BETWEEN 1 AND 200),
            description text CONSTRAINT model_registry_description_length CHECK (length(description) <= 2000),
            -- Provider options whose keys the API whitelists per provider (K4).
            config jsonb NOT NULL DEFAULT '{}' CONSTRAINT model_registry_config_object CHECK (jsonb_typeof(config) = 'object'),
            enabled boolean NOT NULL DEFAULT true,
            created_by uuid REFERENCES public.users (id) ON DELETE SET NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT model_registry_slug_key UNIQUE (slug)
        );
        CREATE INDEX model_registry_created_by_idx ON public.model_registry (created_by);
        CREATE INDEX model_registry_type_enabled_idx ON public.model_registry (type, slug) WHERE enabled;

        CREATE TABLE public.model_tutorials (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            model_id uuid NOT NULL REFERENCES public.model_registry (id) ON DELETE CASCADE,
            title text NOT NULL CONSTRAINT model_tutorials_title_length CHECK (length(title) BETWEEN 1 AND 200),
            body text NOT NULL CONSTRAINT model_tutorials_body_length CHECK (length(body) <= 50000),
            position integer NOT NULL DEFAULT 0 CONSTRAINT model_tutorials_position_range CHECK (position BETWEEN 0 AND 10000),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX model_tutorials_model_id_position_idx ON public.model_tutorials (model_id, position);

        CREATE TRIGGER model_registry_updated_at BEFORE UPDATE ON public.model_registry
            FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
        CREATE TRIGGER model_tutorials_updated_at BEFORE UPDATE ON public.model_tutorials
            FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

        ALTER TABLE public.model_registry ENABLE ROW LEVEL SECURITY;
        ALTER TABLE public.model_registry FORCE ROW LEVEL SECURITY;
        ALTER TABLE public.model_tutorials ENABLE ROW LEVEL SECURITY;
        ALTER TABLE public.model_tutorials FORCE ROW LEVEL SECURITY;

        GRANT SELECT, INSERT, UPDATE, DELETE ON public.model_registry, public.model_tutorials TO authenticated;
        GRANT SELECT ON public.model_registry, public.model_tutorials TO studio_worker;

        CREATE POLICY model_registry_select ON public.model_registry FOR SELECT TO authenticated
            USING (enabled OR (SELECT auth.is_admin()));
        CREATE POLICY model_registry_insert_admin ON public.model_registry FOR INSERT TO authenticated
            WITH CHECK ((SELECT auth.is_admin()));
        CREATE POLICY model_registry_update_admin ON public.model_registry FOR UPDATE TO authenticated
            USING ((SELECT auth.is_admin())) WITH CHECK ((SELECT auth.is_admin()));
        CREATE POLICY model_registry_delete_admin ON public.model_registry FOR DELETE TO authenticated
            USING ((SELECT auth.is_admin()));
        CREATE POLICY model_registry_worker_select ON public.model_registry FOR SELECT TO studio_worker
            USING (true);

        CREATE POLICY model_tutorials_select ON public.model_tutorials FOR SELECT TO authenticated
            USING (EXISTS (SELECT 1 FROM public.model_registry m WHERE m.id = model_id));
        CREATE POLICY model_tutorials_insert_admin ON public.model_tutorials FOR INSERT TO authenticated
            WITH CHECK ((SELECT auth.is_admin()));
        CREATE POLICY model_tutorials_update_admin ON public.model_tutorials FOR UPDATE TO authenticated
            USING ((SELECT auth.is_admin())) WITH CHECK ((SELECT auth.is_admin()));
        CREATE POLICY model_tutorials_delete_admin ON public.model_tutorials FOR DELETE TO authenticated
            USING ((SELECT auth.is_admin()));
        CREATE POLICY model_tutorials_worker_select ON public.model_tutorials FOR SELECT TO studio_worker
            USING (true);
        """
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        DROP TABLE public.model_tutorials;
        DROP TABLE public.model_registry;
        """
    )
