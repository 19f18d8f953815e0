"""Fine-tuning: datasets, their images, training jobs and the models they produce.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        CREATE TABLE public.datasets (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            user_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
            name text NOT NULL CONSTRAINT datasets_name_length CHECK (length(name) BETWEEN 1 AND 200),
            description text CONSTRAINT datasets_description_length CHECK (length(description) <= 2000),
            status text NOT NULL DEFAULT 'draft'
                CONSTRAINT datasets_status_valid CHECK (status IN ('draft', 'ready', 'in_use', 'archived')),
            image_count integer NOT NULL DEFAULT 0 CONSTRAINT datasets_image_count_nonnegative CHECK (image_count >= 0),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX datasets_user_id_created_idx ON public.datasets (user_id, created_at DESC, id DESC);

        CREATE TABLE public.dataset_images (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            dataset_id uuid NOT NULL REFERENCES public.datasets (id) ON DELETE CASCADE,
            media_object_id uuid NOT NULL REFERENCES public.media_objects (id) ON DELETE CASCADE,
            caption text CONSTRAINT dataset_images_caption_length CHECK (length(caption) <= 2000),
            position integer NOT NULL DEFAULT 0 CONSTRAINT dataset_images_position_range CHECK (position BETWEEN 0 AND 100000),
            width integer CONSTRAINT dataset_images_width_range CHECK (width BETWEEN 1 AND 16384),
            height integer CONSTRAINT dataset_images_height_range CHECK (height BETWEEN 1 AND 16384),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT dataset_images_dataset_media_key UNIQUE (dataset_id, media_object_id)
        );
        CREATE INDEX dataset_images_dataset_id_position_idx ON public.dataset_images (dataset_id, position, id);
        CREATE INDEX dataset_images_media_object_id_idx ON public.dataset_images (media_object_id);

        CREATE TABLE public.training_jobs (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            user_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
            -- A dataset that trained something can't vanish underneath its job's history.
            dataset_id uuid NOT NULL REFERENCES public.datasets (id) ON DELETE RESTRICT,
            base_model_id uuid REFERENCES public.model_registry (id) ON DELETE SET NULL,
            status text NOT NULL DEFAULT 'queued'
                CONSTRAINT training_jobs_status_valid CHECK (status IN ('queued', 'preparing', 'training', 'succeeded', 'failed', 'canceled')),
            progress numeric(5, 2) NOT NULL DEFAULT 0 CONSTRAINT training_jobs_progress_range CHECK (progress BETWEEN 0 AND 100),
            current_step integer NOT NULL DEFAULT 0,
            total_steps integer NOT NULL CONSTRAINT training_jobs_total_steps_range CHECK (total_steps BETWEEN 1 AND 1000000),
            loss_history jsonb NOT NULL DEFAULT '[]' CONSTRAINT training_jobs_loss_history_array CHECK (jsonb_typeof(loss_history) = 'array'),
            hyperparams jsonb NOT NULL DEFAULT '{}' CONSTRAINT training_jobs_hyperparams_object CHECK (jsonb_typeof(hyperparams) = 'object'),
            error text CONSTRAINT training_jobs_error_length CHECK (length(error) <= 2000),
            started_at timestamptz,
            finished_at timestamptz,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT training_jobs_steps_valid CHECK (current_step BETWEEN 0 AND total_steps)
        );
        CREATE INDEX training_jobs_user_id_created_idx ON public.training_jobs (user_id, created_at DESC, id DESC);
        CREATE INDEX training_jobs_dataset_id_idx ON public.training_jobs (dataset_id);
        CREATE INDEX training_jobs_base_model_id_idx ON public.training_jobs (base_model_id);
        CREATE INDEX training_jobs_active_idx ON public.training_jobs (status, created_at)
            WHERE status IN ('queued', 'preparing', 'training');

        CREATE TABLE public.trained_models (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            user_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
            training_job_id uuid REFERENCES public.training_jobs (id) ON DELETE SET NULL,
            model_id uuid REFERENCES public.model_registry (id) ON DELETE SET NULL,
            weights_media_id uuid REFERENCES public.media_objects (id) ON DELETE SET NULL,
            name text NOT NULL CONSTRAINT trained_models_name_length CHECK (length(name) BETWEEN 1 AND 200),
            metrics jsonb NOT NULL DEFAULT '{}' CONSTRAINT trained_models_metrics_object CHECK (jsonb_typeof(metrics) = 'object'),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT trained_models_training_job_id_key UNIQUE (training_job_id)
        );
        CREATE INDEX trained_models_user_id_created_idx ON public.trained_models (user_id, created_at DESC, id DESC);
        CREATE INDEX trained_models_model_id_idx ON public.trained_models (model_id);
        CREATE INDEX trained_models_weights_media_id_idx ON public.trained_models (weights_media_id);

        CREATE TRIGGER datasets_updated_at BEFORE UPDATE ON public.datasets
            FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
        CREATE TRIGGER dataset_images_updated_at BEFORE UPDATE ON public.dataset_images
            FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
        CREATE TRIGGER training_jobs_updated_at BEFORE UPDATE ON public.training_jobs
            FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
        CREATE TRIGGER trained_models_updated_at BEFORE UPDATE ON public.trained_models
            FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

        ALTER TABLE public.datasets ENABLE ROW LEVEL SECURITY;
        ALTER TABLE public.datasets FORCE ROW LEVEL SECURITY;
        ALTER TABLE public.dataset_images ENABLE ROW LEVEL SECURITY;
        ALTER TABLE public.dataset_images FORCE ROW LEVEL SECURITY;
        ALTER TABLE public.training_jobs ENABLE ROW LEVEL SECURITY;
        ALTER TABLE public.training_jobs FORCE ROW LEVEL SECURITY;
        ALTER TABLE public.trained_models ENABLE ROW LEVEL SECURITY;
        ALTER TABLE public.trained_models FORCE ROW LEVEL SECURITY;

        GRANT SELECT, DELETE ON public.datasets TO authenticated;
        GRANT INSERT (id, user_id, name, description) ON public.datasets TO authenticated;
        GRANT UPDATE (name, description, status) ON public.datasets TO authenticated;
        CREATE POLICY datasets_select_own ON public.datasets FOR SELECT TO authenticated
            USING (user_id = (SELECT auth.uid()));
        CREATE POLICY datasets_insert_own ON public.datasets FOR INSERT TO authenticated
            WITH CHECK (user_id = (SELECT auth.uid()));
        CREATE POLICY datasets_update_own ON public.datasets FOR UPDATE TO authenticated
            USING (user_id = (SELECT auth.uid())) WITH CHECK (user_id = (SELECT auth.uid()));
        CREATE POLICY datasets_delete_own ON public.datasets FOR DELETE TO authenticated
            USING (user_id = (SELECT auth.uid()));

        -- Images inherit ownership from their dataset, and may only point at the owner's files.
        GRANT SELECT, DELETE ON public.dataset_images TO authenticated;
        GRANT INSERT (dataset_id, media_object_id, caption, position, width, height) ON public.dataset_images TO authenticated;
        GRANT UPDATE (caption, position) ON public.dataset_images TO authenticated;
        CREATE POLICY dataset_images_select_own ON public.dataset_images FOR SELECT TO authenticated
            USING (EXISTS (SELECT 1 FROM public.datasets d
                            WHERE d.id = dataset_id AND d.user_id = (SELECT auth.uid())));
        CREATE POLICY dataset_images_insert_own ON public.dataset_images FOR INSERT TO authenticated
            WITH CHECK (EXISTS (SELECT 1 FROM public.datasets d
                                 WHERE d.id = dataset_id AND d.user_id = (SELECT auth.uid()))
                        AND EXISTS (SELECT 1 FROM public.media_objects m
                                     WHERE m.id = media_object_id AND m.owner_id = (SELECT auth.uid())));
        CREATE POLICY dataset_images_update_own ON public.dataset_images FOR UPDATE TO authenticated
            USING (EXISTS (SELECT 1 FROM public.datasets d
                            WHERE d.id = dataset_id AND d.user_id = (SELECT auth.uid())))
            WITH CHECK (EXISTS (SELECT 1 FROM public.datasets d
                                 WHERE d.id = dataset_id AND d.user_id = (SELECT auth.uid())));
        CREATE POLICY dataset_images_delete_own ON public.dataset_images FOR DELETE TO authenticated
            USING (EXISTS (SELECT 1 FROM public.datasets d
                            WHERE d.id = dataset_id AND d.user_id = (SELECT auth.uid())));

        GRANT SELECT ON public.training_jobs TO authenticated;
        GRANT INSERT (id, user_id, dataset_id, base_model_id, total_steps, hyperparams) ON public.training_jobs TO authenticated;
        GRANT UPDATE (status) ON public.training_jobs TO authenticated;
        CREATE POLICY training_jobs_select_own ON public.training_jobs FOR SELECT TO authenticated
            USING (user_id = (SELECT auth.uid()));
        CREATE POLICY training_jobs_insert_own ON public.training_jobs FOR INSERT TO authenticated
            WITH CHECK (user_id = (SELECT auth.uid()) AND status = 'queued'
                        AND EXISTS (SELECT 1 FROM public.datasets d
                                     WHERE d.id = dataset_id AND d.user_id = (SELECT auth.uid())));
        CREATE POLICY training_jobs_cancel_own ON public.training_jobs FOR UPDATE TO authenticated
            USING (user_id = (SELECT auth.uid())) WITH CHECK (user_id = (SELECT auth.uid()) AND status = 'canceled');

        GRANT SELECT, DELETE ON public.trained_models TO authenticated;
        GRANT UPDATE (name) ON public.trained_models TO authenticated;
        CREATE POLICY trained_models_select_own ON public.trained_models FOR SELECT TO authenticated
            USING (user_id = (SELECT auth.uid()));
        CREATE POLICY trained_models_update_own ON public.trained_models FOR UPDATE TO authenticated
            USING (user_id = (SELECT auth.uid())) WITH CHECK (user_id = (SELECT auth.uid()));
        CREATE POLICY trained_models_delete_own ON public.trained_models FOR DELETE TO authenticated
            USING (user_id = (SELECT auth.uid()));

        -- Workers run training: they read datasets and images, update unfinished jobs,
        -- and record the trained model of a job they ran.
        GRANT SELECT ON public.datasets, public.dataset_images TO studio_worker;
        GRANT UPDATE (status) ON public.datasets TO studio_worker;
        GRANT SELECT ON public.training_jobs TO studio_worker;
        GRANT UPDATE (status, progress, current_step, loss_history, error, started_at, finished_at)
            ON public.training_jobs TO studio_worker;
        GRANT SELECT, INSERT ON public.trained_models TO studio_worker;
        CREATE POLICY datasets_worker_select ON public.datasets FOR SELECT TO studio_worker USING (true);
        CREATE POLICY datasets_worker_update ON public.datasets FOR UPDATE TO studio_worker
            USING (status IN ('ready', 'in_use')) WITH CHECK (status IN ('ready', 'in_use'));
        CREATE POLICY dataset_images_worker_select ON public.dataset_images FOR SELECT TO studio_worker USING (true);
        CREATE POLICY training_jobs_worker_select ON public.training_jobs FOR SELECT TO studio_worker USING (true);
        CREATE POLICY training_jobs_worker_update ON public.training_jobs FOR UPDATE TO studio_worker
            USING (status IN ('queued', 'preparing', 'training')) WITH CHECK (true);
        CREATE POLICY trained_models_worker_select ON public.trained_models FOR SELECT TO studio_worker USING (true);
        CREATE POLICY trained_models_worker_insert ON public.trained_models FOR INSERT TO studio_worker
            WITH CHECK (EXISTS (SELECT 1 FROM public.training_jobs t
                                 WHERE t.id = training_job_id AND t.user_id = trained_models.user_id));
        """
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        DROP TABLE public.trained_models;
        DROP TABLE public.training_jobs;
        DROP TABLE public.dataset_images;
        DROP TABLE public.datasets;
        """
    )
