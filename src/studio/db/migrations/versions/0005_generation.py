"""Generation: batches, generations, the job queue, stored media, shares.

The queue is its own table (`jobs`) rather than the generation row: training runs and
file clean-up are jobs too, and queue columns (lease, heartbeat, run_after) churn far
more than the user-facing row. A generation and its job are inserted in one transaction.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        CREATE TABLE public.batch_queue (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            user_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
            name text CONSTRAINT batch_queue_name_length CHECK (length(name) BETWEEN 1 AND 200),
            status text NOT NULL DEFAULT 'queued'
                CONSTRAINT batch_queue_status_valid CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'canceled')),
            total_items integer NOT NULL CONSTRAINT batch_queue_total_range CHECK (total_items BETWEEN 1 AND 1000),
            completed_items integer NOT NULL DEFAULT 0,
            failed_items integer NOT NULL DEFAULT 0,
            params jsonb NOT NULL DEFAULT '{}' CONSTRAINT batch_queue_params_object CHECK (jsonb_typeof(params) = 'object'),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT batch_queue_counts_valid CHECK (
                completed_items >= 0 AND failed_items >= 0 AND completed_items + failed_items <= total_items)
        );
        CREATE INDEX batch_queue_user_id_created_idx ON public.batch_queue (user_id, created_at DESC, id DESC);

        CREATE TABLE public.generations (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            user_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
            model_id uuid REFERENCES public.model_registry (id) ON DELETE SET NULL,
            batch_id uuid REFERENCES public.batch_queue (id) ON DELETE SET NULL,
            type text NOT NULL CONSTRAINT generations_type_valid CHECK (type IN ('image', 'audio', 'video')),
            status text NOT NULL DEFAULT 'queued'
                CONSTRAINT generations_status_valid CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'canceled')),
            provider text NOT NULL CONSTRAINT generations_provider_format CHECK (provider ~ '^[a-z][a-z0-9_-]{0,49}$'),
            provider_job_id text CONSTRAINT generations_provider_job_id_length CHECK (length(provider_job_id) BETWEEN 1 AND 200),
            prompt text NOT NULL CONSTRAINT generations_prompt_length CHECK (length(prompt) BETWEEN 1 AND 4000),
            params jsonb NOT NULL DEFAULT '{}' CONSTRAINT generations_params_object CHECK (jsonb_typeof(params) = 'object'),
            result jsonb CONSTRAINT generations_result_object CHECK (jsonb_typeof(result) = 'object'),
            error text CONSTRAINT generations_error_length CHECK (length(error) <= 2000),
            progress smallint NOT NULL DEFAULT 0 CONSTRAINT generations_progress_range CHECK (progress BETWEEN 0 AND 100),
            attempts integer NOT NULL DEFAULT 0 CONSTRAINT generations_attempts_range CHECK (attempts BETWEEN 0 AND 100),
            cost_cents integer NOT NULL DEFAULT 0 CONSTRAINT generations_cost_nonnegative CHECK (cost_cents >= 0),
            started_at timestamptz,
            finished_at timestamptz,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT generations_finished_after_started CHECK (finished_at IS NULL OR started_at IS NULL OR finished_at >= started_at)
        );
        CREATE INDEX generations_user_id_created_idx ON public.generations (user_id, created_at DESC, id DESC);
        CREATE INDEX generations_user_id_status_created_idx ON public.generations (user_id, status, created_at DESC, id DESC);
        CREATE INDEX generations_model_id_idx ON public.generations (model_id);
        CREATE INDEX generations_batch_id_idx ON public.generations (batch_id);
        -- Webhook lookup by the provider's job id, and active jobs per provider.
        CREATE UNIQUE INDEX generations_provider_job_key ON public.generations (provider, provider_job_id)
            WHERE provider_job_id IS NOT NULL;
        CREATE INDEX generations_active_by_provider_idx ON public.generations (provider, created_at)
            WHERE status IN ('queued', 'running');

        CREATE TABLE public.jobs (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            kind text NOT NULL CONSTRAINT jobs_kind_valid CHECK (kind IN ('generation', 'training', 'storage_cleanup', 'maintenance')),
            user_id uuid REFERENCES public.users (id) ON DELETE CASCADE,
            generation_id uuid REFERENCES public.generations (id) ON DELETE CASCADE,
            status text NOT NULL DEFAULT 'queued'
                CONSTRAINT jobs_status_valid CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'canceled')),
            priority smallint NOT NULL DEFAULT 0 CONSTRAINT jobs_priority_range CHECK (priority BETWEEN -100 AND 100),
            attempts integer NOT NULL DEFAULT 0 CONSTRAINT jobs_attempts_nonnegative CHECK (attempts >= 0),
            max_attempts integer NOT NULL DEFAULT 5 CONSTRAINT jobs_max_attempts_range CHECK (max_attempts BETWEEN 1 AND 100),
            run_after timestamptz NOT NULL DEFAULT now(),
            lease_expires_at timestamptz,
            worker_id text CONSTRAINT jobs_worker_id_length CHECK (length(worker_id) <= 200),
            heartbeat_at timestamptz,
            last_error text CONSTRAINT jobs_last_error_length CHECK (length(last_error) <= 2000),
            payload jsonb NOT NULL DEFAULT '{}' CONSTRAINT jobs_payload_object CHECK (jsonb_typeof(payload) = 'object'),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT jobs_generation_kind CHECK (kind <> 'generation' OR generation_id IS NOT NULL)
        );
        -- The claim path: queued jobs by priority, then age.
        CREATE INDEX jobs_queued_idx ON public.jobs (priority DESC, run_after, id) WHERE status = 'queued';
        -- Rescue of expired leases.
        CREATE INDEX jobs_running_lease_idx ON public.jobs (lease_expires_at) WHERE status = 'running';
        CREATE INDEX jobs_user_id_status_idx ON public.jobs (user_id, status);
        CREATE INDEX jobs_generation_id_idx ON public.jobs (generation_id);

        CREATE TABLE public.media_objects (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            owner_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
            generation_id uuid REFERENCES public.generations (id) ON DELETE CASCADE,
            bucket text NOT NULL CONSTRAINT media_objects_bucket_valid CHECK (bucket IN ('media', 'attachments')),
            key text NOT NULL CONSTRAINT media_objects_key_format CHECK (
                length(key) BETWEEN 1 AND 1024 AND key !~ '(^/|\\.\\.)'),
            size_bytes bigint NOT NULL CONSTRAINT media_objects_size_range CHECK (size_bytes BETWEEN 0 AND 10737418240),
            content_type text NOT NULL CONSTRAINT media_objects_content_type_format CHECK (
                length(content_type) <= 255 AND content_type ~ '^[a-z]+/[a-zA-Z0-9.+-]+$'),
            checksum_sha256 text NOT NULL CONSTRAINT media_objects_checksum_format CHECK (checksum_sha256 ~ '^[0-9a-f]{64}$'),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT media_objects_bucket_key_key UNIQUE (bucket, key),
            -- Keys live under the owner's id (F17).
            CONSTRAINT media_objects_key_under_owner CHECK (key LIKE owner_id::text || '/%')
        );
        CREATE INDEX media_objects_owner_id_created_idx ON public.media_objects (owner_id, created_at DESC, id DESC);
        CREATE INDEX media_objects_generation_id_idx ON public.media_objects (generation_id);

        CREATE TABLE public.shared_content (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            user_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
            -- At least 128 bits of randomness, URL-safe.
            slug text NOT NULL CONSTRAINT shared_content_slug_format CHECK (slug ~ '^[A-Za-z0-9_-]{22,64}$'),
            generation_id uuid REFERENCES public.generations (id) ON DELETE CASCADE,
            conversation_id uuid REFERENCES public.conversations (id) ON DELETE CASCADE,
            expires_at timestamptz,
            revoked_at timestamptz,
            view_count integer NOT NULL DEFAULT 0 CONSTRAINT shared_content_view_count_nonnegative CHECK (view_count >= 0),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT shared_content_slug_key UNIQUE (slug),
            CONSTRAINT shared_content_one_target CHECK (num_nonnulls(generation_id, conversation_id) = 1)
        );
        CREATE INDEX shared_content_user_id_created_idx ON public.shared_content (user_id, created_at DESC, id DESC);
        CREATE INDEX shared_content_generation_id_idx ON public.shared_content (generation_id);
        CREATE INDEX shared_content_conversation_id_idx ON public.shared_content (conversation_id);

        CREATE TRIGGER batch_queue_updated_at BEFORE UPDATE ON public.batch_queue
            FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
        CREATE TRIGGER generations_updated_at BEFORE UPDATE ON public.generations
            FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
        CREATE TRIGGER jobs_updated_at BEFORE UPDATE ON public.jobs
            FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
        CREATE TRIGGER media_objects_updated_at BEFORE UPDATE ON public.media_objects
            FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
        CREATE TRIGGER shared_content_updated_at BEFORE UPDATE ON public.shared_content
            FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

        ALTER TABLE public.batch_queue ENABLE ROW LEVEL SECURITY;
        ALTER TABLE public.batch_queue FORCE ROW LEVEL SECURITY;
        ALTER TABLE public.generations ENABLE ROW LEVEL SECURITY;
        ALTER TABLE public.generations FORCE ROW LEVEL SECURITY;
        ALTER TABLE public.jobs ENABLE ROW LEVEL SECURITY;
        ALTER TABLE public.jobs FORCE ROW LEVEL SECURITY;
        ALTER TABLE public.media_objects ENABLE ROW LEVEL SECURITY;
        ALTER TABLE public.media_objects FORCE ROW LEVEL SECURITY;
        ALTER TABLE public.shared_content ENABLE ROW LEVEL SECURITY;
        ALTER TABLE public.shared_content FORCE ROW LEVEL SECURITY;

        -- batch_queue: users create, read, cancel and delete their own batches.
        GRANT SELECT, DELETE ON public.batch_queue TO authenticated;
        GRANT INSERT (user_id, name, total_items, params) ON public.batch_queue TO authenticated;
        GRANT UPDATE (status) ON public.batch_queue TO authenticated;
        CREATE POLICY batch_queue_select_own ON public.batch_queue FOR SELECT TO authenticated
            USING (user_id = (SELECT auth.uid()));
        CREATE POLICY batch_queue_insert_own ON public.batch_queue FOR INSERT TO authenticated
            WITH CHECK (user_id = (SELECT auth.uid()));
        CREATE POLICY batch_queue_cancel_own ON public.batch_queue FOR UPDATE TO authenticated
            USING (user_id = (SELECT auth.uid())) WITH CHECK (user_id = (SELECT auth.uid()) AND status = 'canceled');
        CREATE POLICY batch_queue_delete_own ON public.batch_queue FOR DELETE TO authenticated
            USING (user_id = (SELECT auth.uid()));

        -- generations: users create queued ones, read, cancel and delete their own.
        GRANT SELECT, DELETE ON public.generations TO authenticated;
        GRANT INSERT (id, user_id, model_id, batch_id, type, provider, prompt, params) ON public.generations TO authenticated;
        GRANT UPDATE (status) ON public.generations TO authenticated;
        CREATE POLICY generations_select_own ON public.generations FOR SELECT TO authenticated
            USING (user_id = (SELECT auth.uid()));
        CREATE POLICY generations_insert_own ON public.generations FOR INSERT TO authenticated
            WITH CHECK (user_id = (SELECT auth.uid()) AND status = 'queued');
        CREATE POLICY generations_cancel_own ON public.generations FOR UPDATE TO authenticated
            USING (user_id = (SELECT auth.uid())) WITH CHECK (user_id = (SELECT auth.uid()) AND status = 'canceled');
        CREATE POLICY generations_delete_own ON public.generations FOR DELETE TO authenticated
            USING (user_id = (SELECT auth.uid()));

        -- jobs: enqueued by the user's own request, in the same transaction; run by workers.
        GRANT SELECT ON public.jobs TO authenticated;
        GRANT INSERT (kind, user_id, generation_id, priority, payload) ON public.jobs TO authenticated;
        CREATE POLICY jobs_select_own ON public.jobs FOR SELECT TO authenticated
            USING (user_id = (SELECT auth.uid()));
        CREATE POLICY jobs_insert_own ON public.jobs FOR INSERT TO authenticated
            WITH CHECK (user_id = (SELECT auth.uid()) AND status = 'queued'
                        AND (generation_id IS NULL OR EXISTS (
                            SELECT 1 FROM public.generations g
                             WHERE g.id = generation_id AND g.user_id = (SELECT auth.uid()))));

        -- media_objects: private to the owner; users upload attachments, workers store results.
        GRANT SELECT, DELETE ON public.media_objects TO authenticated;
        GRANT INSERT (id, owner_id, bucket, key, size_bytes, content_type, checksum_sha256) ON public.media_objects TO authenticated;
        CREATE POLICY media_objects_select_own ON public.media_objects FOR SELECT TO authenticated
            USING (owner_id = (SELECT auth.uid()));
        CREATE POLICY media_objects_insert_own ON public.media_objects FOR INSERT TO authenticated
            WITH CHECK (owner_id = (SELECT auth.uid()) AND bucket = 'attachments');
        CREATE POLICY media_objects_delete_own ON public.media_objects FOR DELETE TO authenticated
            USING (owner_id = (SELECT auth.uid()));

        -- shared_content: the owner manages links to their own items.
        GRANT SELECT, DELETE ON public.shared_content TO authenticated;
        GRANT INSERT (user_id, slug, generation_id, conversation_id, expires_at) ON public.shared_content TO authenticated;
        GRANT UPDATE (revoked_at, expires_at) ON public.shared_content TO authenticated;
        CREATE POLICY shared_content_select_own ON public.shared_content FOR SELECT TO authenticated
            USING (user_id = (SELECT auth.uid()));
        CREATE POLICY shared_content_insert_own ON public.shared_content FOR INSERT TO authenticated
            WITH CHECK (user_id = (SELECT auth.uid())
                        AND (generation_id IS NULL OR EXISTS (SELECT 1 FROM public.generations g
                              WHERE g.id = generation_id AND g.user_id = (SELECT auth.uid())))
                        AND (conversation_id IS NULL OR EXISTS (SELECT 1 FROM public.conversations c
                              WHERE c.id = conversation_id AND c.user_id = (SELECT auth.uid()))));
        CREATE POLICY shared_content_update_own ON public.shared_content FOR UPDATE TO authenticated
            USING (user_id = (SELECT auth.uid())) WITH CHECK (user_id = (SELECT auth.uid()));
        CREATE POLICY shared_content_delete_own ON public.shared_content FOR DELETE TO authenticated
            USING (user_id = (SELECT auth.uid()));

        -- Workers see the queue and the work it points at; they may change only
        -- unfinished work, so a finished result can't be rewritten by a worker.
        -- Column lists: a worker reports on work, it cannot reassign whose work it is.
        GRANT SELECT ON public.jobs, public.generations, public.batch_queue TO studio_worker;
        GRANT UPDATE (status, attempts, run_after, lease_expires_at, worker_id, heartbeat_at, last_error)
            ON public.jobs TO studio_worker;
        GRANT UPDATE (status, provider_job_id, result, error, progress, attempts, cost_cents, started_at, finished_at)
            ON public.generations TO studio_worker;
        GRANT UPDATE (status, completed_items, failed_items) ON public.batch_queue TO studio_worker;
        GRANT SELECT, INSERT ON public.media_objects TO studio_worker;
        CREATE POLICY jobs_worker_select ON public.jobs FOR SELECT TO studio_worker USING (true);
        CREATE POLICY jobs_worker_update ON public.jobs FOR UPDATE TO studio_worker
            USING (status IN ('queued', 'running')) WITH CHECK (true);
        CREATE POLICY generations_worker_select ON public.generations FOR SELECT TO studio_worker USING (true);
        CREATE POLICY generations_worker_update ON public.generations FOR UPDATE TO studio_worker
            USING (status IN ('queued', 'running')) WITH CHECK (true);
        CREATE POLICY batch_queue_worker_select ON public.batch_queue FOR SELECT TO studio_worker USING (true);
        CREATE POLICY batch_queue_worker_update ON public.batch_queue FOR UPDATE TO studio_worker
            USING (status IN ('queued', 'running')) WITH CHECK (true);
        CREATE POLICY media_objects_worker_select ON public.media_objects FOR SELECT TO studio_worker
            USING (generation_id IS NOT NULL);
        CREATE POLICY media_objects_worker_insert ON public.media_objects FOR INSERT TO studio_worker
            WITH CHECK (bucket = 'media' AND EXISTS (
                SELECT 1 FROM public.generations g
                 WHERE g.id = generation_id AND g.user_id = owner_id AND g.status = 'running'));
        """
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        DROP TABLE public.shared_content;
        DROP TABLE public.media_objects;
        DROP TABLE public.jobs;
        DROP TABLE public.generations;
        DROP TABLE public.batch_queue;
        """
    )
