"""Provider connections, managed at runtime by admins, and a model registry that runs on them.

- public.provider_connections: one server a provider adapter speaks to (kind, base URL,
  API key, enabled). The key is stored only encrypted (Fernet, with a key that lives in
  the processes' environment, never in the database: STUDIO_CREDENTIALS_KEY), with its
  last 4 characters for people to recognise it.
- Admins manage connections as authenticated, under admin-only policies; their column
  grants leave the ciphertext out of anything they can read back.
- Every API and worker process runs the connections: it reads them through
  public.provider_connections_runtime(), a SECURITY DEFINER function owned by
  studio_system (the API reads it as anon, before any request: there is no user behind
  it; the ciphertext is useless without the processes' key). A statement-level trigger
  NOTIFYs `studio_connections` on every change, so each process reloads within seconds.
- studio_owner (the launcher) may read and add connections: environment variables seed
  them on first start (STUDIO_OPENAI_BASE_URL, ...), and the audit's secret scan reads them.
- model_registry gains the connection a model runs on (its models go with it), the
  capabilities it offers, and default parameters. The built-in cloud models of 0009
  had guessed upstream names and no connection: those nothing refers to are removed;
  the rest are linked when a connection of their kind is seeded.

Revision ID: 0022
Revises: 0021
"""

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        CREATE TABLE public.provider_connections (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            name text NOT NULL CONSTRAINT provider_connections_name_format CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,49}$'),
            kind text NOT NULL CONSTRAINT provider_connections_kind_valid CHECK (kind IN ('openai', 'anthropic', 'gemini', 'ollama', 'replicate', 'elevenlabs', 'comfyui')),
            base_url text NOT NULL CONSTRAINT provider_connections_base_url_format
                CHECK (base_url ~ '^https?://[^[:space:]]+$' AND length(base_url) <= 2000),
            api_key_encrypted bytea CONSTRAINT provider_connections_api_key_size CHECK (octet_length(api_key_encrypted) <= 16384),
            api_key_last4 text CONSTRAINT provider_connections_api_key_last4_length CHECK (length(api_key_last4) <= 4),
            enabled boolean NOT NULL DEFAULT true,
            created_by uuid REFERENCES public.users (id) ON DELETE SET NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT provider_connections_name_key UNIQUE (name),
            CONSTRAINT provider_connections_key_whole CHECK ((api_key_encrypted IS NULL) = (api_key_last4 IS NULL))
        );
        CREATE INDEX provider_connections_created_by_idx ON public.provider_connections (created_by);
        CREATE TRIGGER provider_connections_updated_at BEFORE UPDATE ON public.provider_connections
            FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

        CREATE FUNCTION public.notify_connections_changed() RETURNS trigger
            LANGUAGE plpgsql SET search_path = ''
            AS $$
            BEGIN
                PERFORM pg_catalog.pg_notify('studio_connections', '');
                RETURN NULL;
            END
            $$;
        REVOKE EXECUTE ON FUNCTION public.notify_connections_changed() FROM PUBLIC;
        CREATE TRIGGER provider_connections_changed AFTER INSERT OR UPDATE OR DELETE ON public.provider_connections
            FOR EACH STATEMENT EXECUTE FUNCTION public.notify_connections_changed();

        ALTER TABLE public.provider_connections ENABLE ROW LEVEL SECURITY;
        ALTER TABLE public.provider_connections FORCE ROW LEVEL SECURITY;

        -- Admins: everything but reading the ciphertext back.
        GRANT SELECT (id, name, kind, base_url, api_key_last4, enabled, created_by, created_at, updated_at),
              INSERT (name, kind, base_url, api_key_encrypted, api_key_last4, enabled, created_by),
              UPDATE (name, base_url, api_key_encrypted, api_key_last4, enabled),
              DELETE
           ON public.provider_connections TO authenticated;
        CREATE POLICY provider_connections_admin_select ON public.provider_connections FOR SELECT TO authenticated
            USING ((SELECT auth.is_admin()));
        CREATE POLICY provider_connections_admin_insert ON public.provider_connections FOR INSERT TO authenticated
            WITH CHECK ((SELECT auth.is_admin()));
        CREATE POLICY provider_connections_admin_update ON public.provider_connections FOR UPDATE TO authenticated
            USING ((SELECT auth.is_admin())) WITH CHECK ((SELECT auth.is_admin()));
        CREATE POLICY provider_connections_admin_delete ON public.provider_connections FOR DELETE TO authenticated
            USING ((SELECT auth.is_admin()));

        -- The launcher (seeding from the environment) and the audit (the secret scan).
        CREATE POLICY provider_connections_owner_select ON public.provider_connections FOR SELECT TO studio_owner
            USING (true);
        CREATE POLICY provider_connections_owner_insert ON public.provider_connections FOR INSERT TO studio_owner
            WITH CHECK (true);

        -- The processes that run connections, through one function.
        GRANT SELECT ON public.provider_connections TO studio_system;
        CREATE POLICY provider_connections_system_select ON public.provider_connections FOR SELECT TO studio_system
            USING (true);
        CREATE FUNCTION public.provider_connections_runtime()
            RETURNS TABLE (id uuid, name text, kind text, base_url text, api_key_encrypted bytea, enabled boolean,
                           updated_at timestamptz)
            LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
            AS $$
                SELECT c.id, c.name, c.kind, c.base_url, c.api_key_encrypted, c.enabled, c.updated_at
                  FROM public.provider_connections c
                 ORDER BY c.name
            $$;
        REVOKE EXECUTE ON FUNCTION public.provider_connections_runtime() FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION public.provider_connections_runtime() TO anon, studio_worker;
        ALTER FUNCTION public.provider_connections_runtime() OWNER TO studio_system;

        ALTER TABLE public.model_registry
            ADD COLUMN connection_id uuid REFERENCES public.provider_connections (id) ON DELETE CASCADE,
            ADD COLUMN capabilities text[] NOT NULL DEFAULT '{}'
                CONSTRAINT model_registry_capabilities_valid CHECK (capabilities <@ ARRAY['chat', 'vision', 'image', 'image-to-image', 'inpainting', 'video', 'image-to-video',
                                                                 'speech', 'transcription', 'music']::text[]),
            ADD COLUMN default_params jsonb NOT NULL DEFAULT '{}'
                CONSTRAINT model_registry_default_params_object CHECK (jsonb_typeof(default_params) = 'object');
        CREATE INDEX model_registry_connection_id_idx ON public.model_registry (connection_id);
        -- Two models of one connection with one upstream name and type are one model twice.
        CREATE UNIQUE INDEX model_registry_connection_model_key ON public.model_registry (connection_id, type, provider_model)
            WHERE connection_id IS NOT NULL;

        -- The launcher (the tables' owner, bound by FORCE RLS) links built-in models of a
        -- seeded connection's kind to it.
        CREATE POLICY model_registry_owner_select ON public.model_registry FOR SELECT TO studio_owner USING (true);
        CREATE POLICY model_registry_owner_update ON public.model_registry FOR UPDATE TO studio_owner
            USING (true) WITH CHECK (true);

        ALTER TABLE public.model_registry NO FORCE ROW LEVEL SECURITY;
        UPDATE public.model_registry SET capabilities = CASE type WHEN 'chat' THEN '{chat}'::text[]
                                                                  WHEN 'audio' THEN '{speech}'::text[]
                                                                  ELSE ARRAY[type] END;
        DELETE FROM public.model_registry m
         WHERE m.slug IN ('openai-image', 'openai-speech', 'openai-chat', 'elevenlabs-tts', 'replicate-image',
                          'comfyui-image')
           AND NOT EXISTS (SELECT 1 FROM public.generations g WHERE g.model_id = m.id)
           AND NOT EXISTS (SELECT 1 FROM public.conversations c WHERE c.model_id = m.id);
        ALTER TABLE public.model_registry FORCE ROW LEVEL SECURITY;
        """
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        DROP POLICY model_registry_owner_update ON public.model_registry;
        DROP POLICY model_registry_owner_select ON public.model_registry;
        DROP INDEX public.model_registry_connection_model_key;
        ALTER TABLE public.model_registry DROP COLUMN default_params, DROP COLUMN capabilities,
            DROP COLUMN connection_id;
        DROP FUNCTION public.provider_connections_runtime();
        DROP TABLE public.provider_connections;
        DROP FUNCTION public.notify_connections_changed();
        """
    )
