"""Training runs through the queue.

- training_jobs gains its name, its checkpoint (the step and where the file is: a run
  that resumes on another worker starts there, not from zero) and its sample images.
  Users name a run when they start it; workers write the rest.
- Workers read the files of a dataset a run is training on (its images), and record a
  run's files as its owner's: the trained weights and the sample images, in the `media`
  bucket under <owner>/training/<run>/, only while that run is training.
- A run that changes wakes its owner's event streams (NOTIFY studio_events with the
  user id, as generation events do): /v1/events sends `event: training`.
- A generation may take a `lora` input: the weights of a trained model of its owner's,
  read by the worker like any other input of an unfinished generation.

Revision ID: 0027
Revises: 0026
"""

from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        ALTER TABLE public.training_jobs
            ADD COLUMN name text CONSTRAINT training_jobs_name_length CHECK (length(name) BETWEEN 1 AND 200),
            ADD COLUMN checkpoint_step integer NOT NULL DEFAULT 0
                CONSTRAINT training_jobs_checkpoint_step_nonnegative CHECK (checkpoint_step >= 0),
            ADD COLUMN checkpoint_key text CONSTRAINT training_jobs_checkpoint_key_length CHECK (length(checkpoint_key) <= 1024),
            ADD COLUMN samples jsonb NOT NULL DEFAULT '[]'
                CONSTRAINT training_jobs_samples_array CHECK (jsonb_typeof(samples) = 'array');
        GRANT INSERT (name) ON public.training_jobs TO authenticated;
        GRANT UPDATE (checkpoint_step, checkpoint_key, samples) ON public.training_jobs TO studio_worker;

        ALTER TABLE public.generation_inputs DROP CONSTRAINT generation_inputs_role_valid;
        ALTER TABLE public.generation_inputs ADD CONSTRAINT generation_inputs_role_valid
            CHECK (role IN ('image', 'mask', 'audio', 'lora'));

        -- Only a wake-up: streams re-read the runs under RLS.
        CREATE FUNCTION public.notify_training_changed() RETURNS trigger
            LANGUAGE plpgsql SET search_path = ''
            AS $$ BEGIN PERFORM pg_catalog.pg_notify('studio_events', NEW.user_id::text); RETURN NULL; END $$;
        CREATE TRIGGER training_jobs_notify AFTER INSERT OR UPDATE ON public.training_jobs
            FOR EACH ROW EXECUTE FUNCTION public.notify_training_changed();
        REVOKE EXECUTE ON FUNCTION public.notify_training_changed() FROM PUBLIC;

        -- One policy per command and role (a lint): the generations' cases, and now a run's.
        DROP POLICY media_objects_worker_select ON public.media_objects;
        CREATE POLICY media_objects_worker_select ON public.media_objects FOR SELECT TO studio_worker
            USING (generation_id IS NOT NULL
                   OR EXISTS (SELECT 1 FROM public.generation_inputs i JOIN public.generations g ON g.id = i.generation_id
                               WHERE i.media_object_id = media_objects.id AND g.status IN ('queued', 'running'))
                   OR EXISTS (SELECT 1 FROM public.dataset_images i
                                JOIN public.training_jobs t ON t.dataset_id = i.dataset_id
                               WHERE i.media_object_id = media_objects.id
                                 AND t.status IN ('queued', 'preparing', 'training')));
        DROP POLICY media_objects_worker_insert ON public.media_objects;
        CREATE POLICY media_objects_worker_insert ON public.media_objects FOR INSERT TO studio_worker
            WITH CHECK (bucket = 'media' AND (
                EXISTS (SELECT 1 FROM public.generations g
                         WHERE g.id = generation_id AND g.user_id = owner_id AND g.status = 'running')
                OR (generation_id IS NULL AND EXISTS (
                        SELECT 1 FROM public.training_jobs t
                         WHERE t.user_id = owner_id AND t.status = 'training'
                           AND key LIKE owner_id::text || '/training/' || t.id::text || '/%'))));
        """
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        DROP TRIGGER training_jobs_notify ON public.training_jobs;
        DROP FUNCTION public.notify_training_changed();
        DELETE FROM public.generation_inputs WHERE role = 'lora';
        ALTER TABLE public.generation_inputs DROP CONSTRAINT generation_inputs_role_valid;
        ALTER TABLE public.generation_inputs ADD CONSTRAINT generation_inputs_role_valid
            CHECK (role IN ('image', 'mask', 'audio'));
        DROP POLICY media_objects_worker_insert ON public.media_objects;
        CREATE POLICY media_objects_worker_insert ON public.media_objects FOR INSERT TO studio_worker
            WITH CHECK (bucket = 'media' AND EXISTS (
                SELECT 1 FROM public.generations g
                 WHERE g.id = generation_id AND g.user_id = owner_id AND g.status = 'running'));
        DROP POLICY media_objects_worker_select ON public.media_objects;
        CREATE POLICY media_objects_worker_select ON public.media_objects FOR SELECT TO studio_worker
            USING (generation_id IS NOT NULL
                   OR EXISTS (SELECT 1 FROM public.generation_inputs i JOIN public.generations g ON g.id = i.generation_id
                               WHERE i.media_object_id = media_objects.id AND g.status IN ('queued', 'running')));
        REVOKE UPDATE (checkpoint_step, checkpoint_key, samples) ON public.training_jobs FROM studio_worker;
        REVOKE INSERT (name) ON public.training_jobs FROM authenticated;
        ALTER TABLE public.training_jobs DROP COLUMN samples, DROP COLUMN checkpoint_key,
            DROP COLUMN checkpoint_step, DROP COLUMN name;
        """
    )
