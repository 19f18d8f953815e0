"""Hosted training: runs trained at a provider (Replicate's trainings API).

- training_jobs.provider_job_id: the training at the provider, recorded as soon as it
  exists, so a worker that takes the run over (its first one died) follows that
  training instead of paying for a second one. Workers write it.
- trained_models.provider_weights: where a hosted LoRA lives at its provider (e.g.
  owner/name:version); a generation with the model hands it to the base model there.
- public.record_webhook also wakes the hosted run a delivery is about: the run's id is
  NOTIFYed on studio_webhooks, as a generation's is. The function (studio_system's,
  replaced as that role, its owner) reads
  only the runs that have a training at a provider, and which provider their base
  model is on.

Revision ID: 0029
Revises: 0028
"""

from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

_RECORD_WEBHOOK = """
CREATE OR REPLACE FUNCTION public.record_webhook(p_provider text, p_delivery_id text, p_provider_job_id text,
                                                 p_payload jsonb)
    RETURNS uuid LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
    AS $$
    DECLARE
        v_generation_id uuid;
        v_run_id uuid;
    BEGIN
        SELECT g.id INTO v_generation_id FROM public.generations g
         WHERE g.provider = p_provider AND g.provider_job_id = p_provider_job_id;
        INSERT INTO public.webhook_deliveries (provider, delivery_id, provider_job_id, generation_id, payload)
        VALUES (p_provider, p_delivery_id, p_provider_job_id, v_generation_id, p_payload);
        IF v_generation_id IS NOT NULL THEN
            PERFORM pg_catalog.pg_notify('studio_webhooks', v_generation_id::text);
        ELSE
            %s
        END IF;
        RETURN v_generation_id;
    END
    $$;
"""

_WAKE_RUN = """SELECT t.id INTO v_run_id FROM public.training_jobs t
              JOIN public.model_registry r ON r.id = t.base_model_id
             WHERE r.provider = p_provider AND t.provider_job_id = p_provider_job_id;
            IF v_run_id IS NOT NULL THEN
                PERFORM pg_catalog.pg_notify('studio_webhooks', v_run_id::text);
            END IF;"""


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        ALTER TABLE public.training_jobs
            ADD COLUMN provider_job_id text
                CONSTRAINT training_jobs_provider_job_id_length CHECK (length(provider_job_id) BETWEEN 1 AND 200);
        CREATE INDEX training_jobs_provider_job_id_idx ON public.training_jobs (provider_job_id)
            WHERE provider_job_id IS NOT NULL;
        GRANT UPDATE (provider_job_id) ON public.training_jobs TO studio_worker;

        ALTER TABLE public.trained_models
            ADD COLUMN provider_weights text
                CONSTRAINT trained_models_provider_weights_length CHECK (length(provider_weights) BETWEEN 1 AND 1000);

        GRANT SELECT (id, base_model_id, provider_job_id) ON public.training_jobs TO studio_system;
        CREATE POLICY training_jobs_system_select ON public.training_jobs FOR SELECT TO studio_system
            USING (provider_job_id IS NOT NULL);
        GRANT SELECT (id, provider) ON public.model_registry TO studio_system;
        CREATE POLICY model_registry_system_select ON public.model_registry FOR SELECT TO studio_system
            USING (true);
        """
    )
    op.execute("SET LOCAL ROLE studio_system;" + _RECORD_WEBHOOK % _WAKE_RUN + " RESET ROLE;")


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("SET LOCAL ROLE studio_system;" + _RECORD_WEBHOOK % "NULL;" + " RESET ROLE;")
    op.execute(
        """
        DROP POLICY model_registry_system_select ON public.model_registry;
        REVOKE SELECT (id, provider) ON public.model_registry FROM studio_system;
        DROP POLICY training_jobs_system_select ON public.training_jobs;
        REVOKE SELECT (id, base_model_id, provider_job_id) ON public.training_jobs FROM studio_system;
        ALTER TABLE public.trained_models DROP COLUMN provider_weights;
        REVOKE UPDATE (provider_job_id) ON public.training_jobs FROM studio_worker;
        DROP INDEX public.training_jobs_provider_job_id_idx;
        ALTER TABLE public.training_jobs DROP COLUMN provider_job_id;
        """
    )
