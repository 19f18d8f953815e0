"""Webhook deliveries, public shares through RLS, request rate limits.

- webhook_deliveries: one row per accepted provider webhook; the unique
  (provider, delivery_id) rejects replays. Written only by public.record_webhook(),
  a SECURITY DEFINER function of studio_system that the anonymous API role may call
  after the API has verified the signature.
- Shares: anonymous visitors see exactly the items behind a share whose slug they
  present (claim `studio.share_slug`), while it is neither revoked nor expired. The
  policies are written for `anon`; nothing else about the owner is visible.
- auth.rate_limit_hit(): one fixed-window counter per bucket, shared by every process
  (F13).

Revision ID: 0010
Revises: 0009
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        CREATE TABLE public.webhook_deliveries (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            provider text NOT NULL CONSTRAINT webhook_deliveries_provider_format CHECK (provider ~ '^[a-z][a-z0-9_-]{0,49}$'),
            delivery_id text NOT NULL CONSTRAINT webhook_deliveries_delivery_id_length CHECK (length(delivery_id) BETWEEN 1 AND 200),
            provider_job_id text CONSTRAINT webhook_deliveries_provider_job_id_length CHECK (length(provider_job_id) BETWEEN 1 AND 200),
            generation_id uuid REFERENCES public.generations (id) ON DELETE SET NULL,
            payload jsonb NOT NULL CONSTRAINT webhook_deliveries_payload_object CHECK (jsonb_typeof(payload) = 'object'),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT webhook_deliveries_provider_delivery_key UNIQUE (provider, delivery_id)
        );
        CREATE INDEX webhook_deliveries_generation_id_idx ON public.webhook_deliveries (generation_id);
        CREATE INDEX webhook_deliveries_created_at_idx ON public.webhook_deliveries (created_at);
        CREATE TRIGGER webhook_deliveries_updated_at BEFORE UPDATE ON public.webhook_deliveries
            FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
        ALTER TABLE public.webhook_deliveries ENABLE ROW LEVEL SECURITY;
        ALTER TABLE public.webhook_deliveries FORCE ROW LEVEL SECURITY;
        GRANT SELECT, INSERT ON public.webhook_deliveries TO studio_system;
        CREATE POLICY webhook_deliveries_system_select ON public.webhook_deliveries FOR SELECT TO studio_system
            USING (true);
        CREATE POLICY webhook_deliveries_system_insert ON public.webhook_deliveries FOR INSERT TO studio_system
            WITH CHECK (generation_id IS NULL OR EXISTS (
                SELECT 1 FROM public.generations g
                 WHERE g.id = generation_id AND g.provider = webhook_deliveries.provider
                   AND g.provider_job_id = webhook_deliveries.provider_job_id));
        GRANT SELECT ON public.webhook_deliveries TO studio_worker;
        CREATE POLICY webhook_deliveries_worker_select ON public.webhook_deliveries FOR SELECT TO studio_worker
            USING (true);

        -- Returns the generation the delivery is about (NULL when unknown), or raises
        -- unique_violation for a replayed delivery. Wakes whoever waits for that job.
        CREATE FUNCTION public.record_webhook(p_provider text, p_delivery_id text, p_provider_job_id text,
                                              p_payload jsonb)
            RETURNS uuid LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
            AS $$
            DECLARE
                v_generation_id uuid;
            BEGIN
                SELECT g.id INTO v_generation_id FROM public.generations g
                 WHERE g.provider = p_provider AND g.provider_job_id = p_provider_job_id;
                INSERT INTO public.webhook_deliveries (provider, delivery_id, provider_job_id, generation_id, payload)
                VALUES (p_provider, p_delivery_id, p_provider_job_id, v_generation_id, p_payload);
                IF v_generation_id IS NOT NULL THEN
                    PERFORM pg_catalog.pg_notify('studio_webhooks', v_generation_id::text);
                END IF;
                RETURN v_generation_id;
            END
            $$;
        REVOKE EXECUTE ON FUNCTION public.record_webhook(text, text, text, jsonb) FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION public.record_webhook(text, text, text, jsonb) TO anon;
        ALTER FUNCTION public.record_webhook(text, text, text, jsonb) OWNER TO studio_system;

        -- Shares, seen by anonymous visitors who present the slug.
        CREATE FUNCTION auth.share_slug() RETURNS text
            LANGUAGE sql STABLE PARALLEL SAFE
            AS $$ SELECT NULLIF(pg_catalog.current_setting('studio.share_slug', true), '') $$;
        GRANT EXECUTE ON FUNCTION auth.share_slug() TO anon, authenticated, studio_worker, studio_auth, studio_system;

        GRANT SELECT (id, slug, generation_id, conversation_id, expires_at, created_at) ON public.shared_content TO anon;
        CREATE POLICY shared_content_anon_by_slug ON public.shared_content FOR SELECT TO anon
            USING (slug = (SELECT auth.share_slug()) AND revoked_at IS NULL
                   AND (expires_at IS NULL OR expires_at > pg_catalog.now()));
        GRANT SELECT (id, type, status, prompt, result, created_at, finished_at) ON public.generations TO anon;
        CREATE POLICY generations_anon_shared ON public.generations FOR SELECT TO anon
            USING (EXISTS (SELECT 1 FROM public.shared_content s WHERE s.generation_id = generations.id));
        GRANT SELECT (id, generation_id, bucket, key, size_bytes, content_type, checksum_sha256)
            ON public.media_objects TO anon;
        CREATE POLICY media_objects_anon_shared ON public.media_objects FOR SELECT TO anon
            USING (EXISTS (SELECT 1 FROM public.shared_content s WHERE s.generation_id = media_objects.generation_id));
        GRANT SELECT (id, title, created_at) ON public.conversations TO anon;
        CREATE POLICY conversations_anon_shared ON public.conversations FOR SELECT TO anon
            USING (EXISTS (SELECT 1 FROM public.shared_content s WHERE s.conversation_id = conversations.id));
        GRANT SELECT (id, conversation_id, parent_id, role, content, model, created_at) ON public.messages TO anon;
        CREATE POLICY messages_anon_shared ON public.messages FOR SELECT TO anon
            USING (EXISTS (SELECT 1 FROM public.shared_content s WHERE s.conversation_id = messages.conversation_id));

        -- Shared request rate limits: hits in the current fixed window of `p_bucket`;
        -- returns 0 when allowed, else the seconds until the window ends.
        CREATE FUNCTION auth.rate_limit_hit(p_bucket text, p_limit integer, p_window_seconds integer)
            RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
            AS $$
            DECLARE
                v_window timestamptz := pg_catalog.to_timestamp(
                    pg_catalog.floor(extract(epoch FROM pg_catalog.now()) / p_window_seconds) * p_window_seconds);
                v_hits integer;
            BEGIN
                INSERT INTO public.rate_limit_counters AS c (bucket, window_start, hits)
                VALUES (p_bucket, v_window, 1)
                ON CONFLICT (bucket, window_start) DO UPDATE SET hits = c.hits + 1
                RETURNING c.hits INTO v_hits;
                IF v_hits <= p_limit THEN
                    RETURN 0;
                END IF;
                RETURN GREATEST(1, pg_catalog.ceil(extract(epoch FROM
                    v_window + pg_catalog.make_interval(secs => p_window_seconds) - pg_catalog.now()))::integer);
            END
            $$;
        REVOKE EXECUTE ON FUNCTION auth.rate_limit_hit(text, integer, integer) FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION auth.rate_limit_hit(text, integer, integer) TO anon, authenticated;
        ALTER FUNCTION auth.rate_limit_hit(text, integer, integer) OWNER TO studio_auth;
        """
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        DROP FUNCTION auth.rate_limit_hit(text, integer, integer);
        DROP POLICY messages_anon_shared ON public.messages;
        REVOKE SELECT ON public.messages FROM anon;
        DROP POLICY conversations_anon_shared ON public.conversations;
        REVOKE SELECT ON public.conversations FROM anon;
        DROP POLICY media_objects_anon_shared ON public.media_objects;
        REVOKE SELECT ON public.media_objects FROM anon;
        DROP POLICY generations_anon_shared ON public.generations;
        REVOKE SELECT ON public.generations FROM anon;
        DROP POLICY shared_content_anon_by_slug ON public.shared_content;
        REVOKE SELECT ON public.shared_content FROM anon;
        DROP FUNCTION auth.share_slug();
        DROP FUNCTION public.record_webhook(text, text, text, jsonb);
        DROP TABLE public.webhook_deliveries;
        """
    )
