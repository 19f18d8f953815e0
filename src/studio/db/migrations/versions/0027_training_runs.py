"""Training runs through the queue.

- training_jobs gains its name, its checkpoint (the step and where the file is: a run
  that resumes on another worker starts there, not from zero) and its sample images.
  Users name a run when they start it; workers write the rest.
- Workers read the files of a dataset a run is training on (its images), and record a
  run's files as its owner's: the trained weights and the sample images, in the `media`
  bucket under <owner>/training/<run>/, only while that run is training.

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

        CREATE POLICY media_objects_worker_select_training ON public.media_objects FOR SELECT TO studio_worker
            USING (EXISTS (SELECT 1 FROM public.dataset_images i
                             JOIN public.training_jobs t ON t.dataset_id = i.dataset_id
                            WHERE i.media_object_id = media_objects.id
                              AND t.status IN ('queued', 'preparing', 'training')));
        CREATE POLICY media_objects_worker_insert_training ON public.media_objects FOR INSERT TO studio_worker
            WITH CHECK (bucket = 'media' AND generation_id IS NULL AND EXISTS (
                SELECT 1 FROM public.training_jobs t
                 WHERE t.user_id = owner_id AND t.status = 'training'
                   AND key LIKE owner_id::text || '/training/' || t.id::text || '/%'));
        """
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        DROP POLICY media_objects_worker_insert_training ON public.media_objects;
        DROP POLICY media_objects_worker_select_training ON public.media_objects;
        REVOKE UPDATE (checkpoint_step, checkpoint_key, samples) ON public.training_jobs FROM studio_worker;
        REVOKE INSERT (name) ON public.training_jobs FROM authenticated;
        ALTER TABLE public.training_jobs DROP COLUMN samples, DROP COLUMN checkpoint_key,
            DROP COLUMN checkpoint_step, DROP COLUMN name;
        """
    )
