"""Queue: fair claims, wake-ups, generation events, the storage outbox, built-in models.

- jobs.fair_rank: a job's place among its user's queued jobs when it was enqueued; the
  claim order (priority, fair_rank, run_after) interleaves users, so one user's
  thousand jobs do not starve everyone else.
- NOTIFY studio_jobs on enqueue wakes idle workers (they also poll, as a fallback).
- generation_events: every status/progress change of a generation, written by a
  trigger, is what Server-Sent Events replay from (Last-Event-ID) and NOTIFY
  studio_events announces. Ordered bigint ids, since clients resume "after id N".
- storage_deletions: the outbox of files to delete. A trigger adds a row whenever a
  media_objects row goes (a deleted generation, a deleted account), in the same
  transaction; a worker deletes the file and then the row. Neither a row without its
  file nor a file without its row is left behind.
- The system triggers run as `studio_system` (NOLOGIN), whose powers are explicit
  policies.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        GRANT USAGE ON SCHEMA public, auth TO studio_system;
        -- Needed to hand the trigger functions over to studio_system.
        GRANT CREATE ON SCHEMA public TO studio_system;

        ALTER TABLE public.jobs ADD COLUMN fair_rank integer NOT NULL DEFAULT 0
            CONSTRAINT jobs_fair_rank_nonnegative CHECK (fair_rank >= 0);
        DROP INDEX public.jobs_queued_idx;
        CREATE INDEX jobs_queued_idx ON public.jobs (priority DESC, fair_rank, run_after, id) WHERE status = 'queued';
        GRANT INSERT (fair_rank) ON public.jobs TO authenticated;
        -- Queue tables churn: vacuum them early so dead rows at the head of the claim
        -- index do not slow every claim down.
        ALTER TABLE public.jobs SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 200,
                                     autovacuum_vacuum_cost_delay = 0);

        CREATE FUNCTION public.notify_jobs_enqueued() RETURNS trigger
            LANGUAGE plpgsql SET search_path = ''
            AS $$ BEGIN PERFORM pg_catalog.pg_notify('studio_jobs', ''); RETURN NULL; END $$;
        CREATE TRIGGER jobs_enqueued AFTER INSERT ON public.jobs
            FOR EACH STATEMENT EXECUTE FUNCTION public.notify_jobs_enqueued();

        CREATE TABLE public.generation_events (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            generation_id uuid NOT NULL REFERENCES public.generations (id) ON DELETE CASCADE,
            user_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
            status text NOT NULL CONSTRAINT generation_events_status_valid
                CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'canceled')),
            progress smallint NOT NULL CONSTRAINT generation_events_progress_range CHECK (progress BETWEEN 0 AND 100),
            error text CONSTRAINT generation_events_error_length CHECK (length(error) <= 2000),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX generation_events_user_id_idx ON public.generation_events (user_id, id);
        CREATE INDEX generation_events_generation_id_idx ON public.generation_events (generation_id, id);
        CREATE TRIGGER generation_events_updated_at BEFORE UPDATE ON public.generation_events
            FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
        ALTER TABLE public.generation_events ENABLE ROW LEVEL SECURITY;
        ALTER TABLE public.generation_events FORCE ROW LEVEL SECURITY;
        GRANT SELECT ON public.generation_events TO authenticated;
        CREATE POLICY generation_events_select_own ON public.generation_events FOR SELECT TO authenticated
            USING (user_id = (SELECT auth.uid()));
        GRANT INSERT ON public.generation_events TO studio_system;
        CREATE POLICY generation_events_system_insert ON public.generation_events FOR INSERT TO studio_system
            WITH CHECK (EXISTS (SELECT 1 FROM public.generations g
                                 WHERE g.id = generation_id AND g.user_id = generation_events.user_id));
        GRANT SELECT ON public.generations TO studio_system;
        CREATE POLICY generations_system_select ON public.generations FOR SELECT TO studio_system USING (true);

        CREATE FUNCTION public.record_generation_event() RETURNS trigger
            LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
            AS $$
            BEGIN
                IF TG_OP = 'UPDATE' AND NEW.status IS NOT DISTINCT FROM OLD.status
                   AND NEW.progress IS NOT DISTINCT FROM OLD.progress THEN
                    RETURN NULL;
                END IF;
                INSERT INTO public.generation_events (generation_id, user_id, status, progress, error)
                VALUES (NEW.id, NEW.user_id, NEW.status, NEW.progress, NEW.error);
                -- Only a wake-up: listeners re-read the events under RLS.
                PERFORM pg_catalog.pg_notify('studio_events', NEW.user_id::text);
                RETURN NULL;
            END
            $$;
        CREATE TRIGGER generations_events AFTER INSERT OR UPDATE OF status, progress ON public.generations
            FOR EACH ROW EXECUTE FUNCTION public.record_generation_event();

        CREATE TABLE public.storage_deletions (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            bucket text NOT NULL CONSTRAINT storage_deletions_bucket_valid CHECK (bucket IN ('media', 'attachments')),
            key text NOT NULL CONSTRAINT storage_deletions_key_length CHECK (length(key) BETWEEN 1 AND 1024),
            attempts integer NOT NULL DEFAULT 0 CONSTRAINT storage_deletions_attempts_nonnegative CHECK (attempts >= 0),
            run_after timestamptz NOT NULL DEFAULT now(),
            last_error text CONSTRAINT storage_deletions_last_error_length CHECK (length(last_error) <= 2000),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX storage_deletions_run_after_idx ON public.storage_deletions (run_after);
        CREATE TRIGGER storage_deletions_updated_at BEFORE UPDATE ON public.storage_deletions
            FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
        ALTER TABLE public.storage_deletions ENABLE ROW LEVEL SECURITY;
        ALTER TABLE public.storage_deletions FORCE ROW LEVEL SECURITY;
        -- No grant to anon or authenticated: users delete media rows, the trigger queues the files.
        GRANT INSERT ON public.storage_deletions TO studio_system;
        CREATE POLICY storage_deletions_system_insert ON public.storage_deletions FOR INSERT TO studio_system
            WITH CHECK (attempts = 0);
        -- Workers also add a row before they upload a result, deleted again in the
        -- transaction that records the file: a worker dying in between leaves a
        -- deletion due later, not an orphan file.
        GRANT SELECT, INSERT, DELETE ON public.storage_deletions TO studio_worker;
        CREATE POLICY storage_deletions_worker_insert ON public.storage_deletions FOR INSERT TO studio_worker
            WITH CHECK (attempts = 0);
        GRANT UPDATE (attempts, run_after, last_error) ON public.storage_deletions TO studio_worker;
        CREATE POLICY storage_deletions_worker_select ON public.storage_deletions FOR SELECT TO studio_worker USING (true);
        CREATE POLICY storage_deletions_worker_update ON public.storage_deletions FOR UPDATE TO studio_worker
            USING (true) WITH CHECK (attempts > 0);
        CREATE POLICY storage_deletions_worker_delete ON public.storage_deletions FOR DELETE TO studio_worker USING (true);

        CREATE FUNCTION public.queue_storage_deletion() RETURNS trigger
            LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
            AS $$
            BEGIN
                INSERT INTO public.storage_deletions (bucket, key) VALUES (OLD.bucket, OLD.key);
                RETURN NULL;
            END
            $$;
        CREATE TRIGGER media_objects_queue_deletion AFTER DELETE ON public.media_objects
            FOR EACH ROW EXECUTE FUNCTION public.queue_storage_deletion();

        REVOKE EXECUTE ON FUNCTION public.notify_jobs_enqueued(), public.record_generation_event(),
            public.queue_storage_deletion() FROM PUBLIC;
        ALTER FUNCTION public.record_generation_event() OWNER TO studio_system;
        ALTER FUNCTION public.queue_storage_deletion() OWNER TO studio_system;

        -- Built-in models: the local providers work offline; cloud ones are listed as
        -- unavailable until their provider is configured. FORCE RLS binds the owner too,
        -- so a data migration lifts it inside its own transaction (nobody else can see
        -- the table meanwhile: ALTER TABLE holds an exclusive lock until commit).
        ALTER TABLE public.model_registry NO FORCE ROW LEVEL SECURITY;
        INSERT INTO public.model_registry (slug, display_name, type, provider, provider_model, description, config) VALUES
            ('espeak-en', 'eSpeak NG (English)', 'audio', 'espeak', 'en-us', 'Offline text to speech.', '{}'),
            ('ffmpeg-video', 'Slideshow video (ffmpeg)', 'video', 'ffmpeg', 'h264',
             'Images and audio, or text, composed into an MP4 of exact duration.', '{}'),
            ('openai-image', 'OpenAI-compatible images', 'image', 'openai', 'gpt-image-1', NULL, '{}'),
            ('openai-speech', 'OpenAI-compatible speech', 'audio', 'openai', 'tts-1', NULL, '{}'),
            ('openai-chat', 'OpenAI-compatible chat', 'chat', 'openai', 'gpt-4o-mini', NULL, '{}'),
            ('elevenlabs-tts', 'ElevenLabs speech', 'audio', 'elevenlabs', 'eleven_multilingual_v2', NULL, '{}'),
            ('replicate-image', 'Replicate image model', 'image', 'replicate', 'black-forest-labs/flux-schnell', NULL, '{}'),
            ('comfyui-image', 'ComfyUI workflow', 'image', 'comfyui', 'default', NULL, '{}');
        ALTER TABLE public.model_registry FORCE ROW LEVEL SECURITY;
        """
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        ALTER TABLE public.model_registry NO FORCE ROW LEVEL SECURITY;
        DELETE FROM public.model_registry WHERE slug IN ('espeak-en', 'ffmpeg-video', 'openai-image', 'openai-speech',
            'openai-chat', 'elevenlabs-tts', 'replicate-image', 'comfyui-image');
        ALTER TABLE public.model_registry FORCE ROW LEVEL SECURITY;
        DROP TRIGGER media_objects_queue_deletion ON public.media_objects;
        DROP FUNCTION public.queue_storage_deletion();
        DROP TABLE public.storage_deletions;
        DROP TRIGGER generations_events ON public.generations;
        DROP FUNCTION public.record_generation_event();
        DROP POLICY generations_system_select ON public.generations;
        REVOKE SELECT ON public.generations FROM studio_system;
        DROP TABLE public.generation_events;
        DROP TRIGGER jobs_enqueued ON public.jobs;
        DROP FUNCTION public.notify_jobs_enqueued();
        ALTER TABLE public.jobs RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold,
                                       autovacuum_vacuum_cost_delay);
        REVOKE INSERT (fair_rank) ON public.jobs FROM authenticated;
        DROP INDEX public.jobs_queued_idx;
        CREATE INDEX jobs_queued_idx ON public.jobs (priority DESC, run_after, id) WHERE status = 'queued';
        ALTER TABLE public.jobs DROP COLUMN fair_rank;
        REVOKE CREATE ON SCHEMA public FROM studio_system;
        REVOKE USAGE ON SCHEMA public, auth FROM studio_system;
        """
    )
