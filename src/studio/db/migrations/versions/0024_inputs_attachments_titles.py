"""Media in, and titles by themselves.

- public.generation_inputs: the media a generation starts from (image-to-image, the mask
  of an inpainting, the images and audio of an image-to-video), in order, each with its
  role. A user adds them for their own generation from their own media only (the policy
  checks both); workers read them to fetch the files.
- public.message_attachments: images attached to a chat message, sent to vision models.
  Own message, own media, checked by the policy.
- conversations.title_auto: the title was not given, so the title model writes it
  after the first answer (a job of kind 'conversation_title'). A rename by the user
  makes the title theirs (false). Workers see and rename only conversations whose title
  is automatic, and only their title (column grants): a user's own title is never
  theirs to read or change. The job's payload carries the exchange to title, so
  workers read no message.

Revision ID: 0024
Revises: 0023
"""

from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

_KINDS_BEFORE = "'generation', 'training', 'storage_cleanup', 'maintenance'"
_KINDS_AFTER = "'generation', 'training', 'storage_cleanup', 'maintenance', 'conversation_title'"

_QUEUE_SUMMARY = """
        CREATE OR REPLACE FUNCTION public.queue_summary()
            RETURNS TABLE (kind text, queued bigint, due bigint, running bigint,
                           oldest_queued_age_seconds double precision)
            LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
            AS $$
            SELECT k.kind,
                   COALESCE(q.queued, 0), COALESCE(q.due, 0), COALESCE(q.running, 0),
                   pg_catalog.date_part('epoch', pg_catalog.now() - q.oldest_due)
              FROM (VALUES %s) AS k (kind)
              LEFT JOIN (
                    SELECT j.kind,
                           pg_catalog.count(*) FILTER (WHERE j.status = 'queued') AS queued,
                           pg_catalog.count(*) FILTER (WHERE j.status = 'queued'
                                                         AND j.run_after <= pg_catalog.now()) AS due,
                           pg_catalog.count(*) FILTER (WHERE j.status = 'running') AS running,
                           pg_catalog.min(j.run_after) FILTER (WHERE j.status = 'queued'
                                                                 AND j.run_after <= pg_catalog.now()) AS oldest_due
                      FROM public.jobs j
                     WHERE j.status IN ('queued', 'running')
                     GROUP BY j.kind
                   ) q ON q.kind = k.kind
             WHERE (SELECT auth.is_admin())
             ORDER BY k.kind
            $$;
"""


def _jobs_kinds(kinds: str) -> str:
    """The job kinds' constraint, and the ops page's summary listing each kind (0019)."""
    values = ", ".join("(" + kind.strip() + ")" for kind in kinds.split(","))
    return ("ALTER TABLE public.jobs DROP CONSTRAINT jobs_kind_valid,"
            " ADD CONSTRAINT jobs_kind_valid CHECK (kind IN (" + kinds + "));"
            # The function's owner replaces it (studio_owner is a NOINHERIT member).
            " SET LOCAL ROLE studio_system;" + _QUEUE_SUMMARY.replace("%s", values) + " RESET ROLE;")


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        CREATE TABLE public.generation_inputs (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            generation_id uuid NOT NULL REFERENCES public.generations (id) ON DELETE CASCADE,
            user_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
            media_object_id uuid NOT NULL REFERENCES public.media_objects (id) ON DELETE CASCADE,
            role text NOT NULL CONSTRAINT generation_inputs_role_valid CHECK (role IN ('image', 'mask', 'audio')),
            position smallint NOT NULL CONSTRAINT generation_inputs_position_range CHECK (position BETWEEN 0 AND 15),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT generation_inputs_generation_position_key UNIQUE (generation_id, position)
        );
        CREATE INDEX generation_inputs_user_id_idx ON public.generation_inputs (user_id);
        CREATE INDEX generation_inputs_media_object_id_idx ON public.generation_inputs (media_object_id);
        CREATE TRIGGER generation_inputs_updated_at BEFORE UPDATE ON public.generation_inputs
            FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
        ALTER TABLE public.generation_inputs ENABLE ROW LEVEL SECURITY;
        ALTER TABLE public.generation_inputs FORCE ROW LEVEL SECURITY;
        GRANT SELECT ON public.generation_inputs TO authenticated;
        GRANT INSERT (generation_id, user_id, media_object_id, role, position) ON public.generation_inputs TO authenticated;
        CREATE POLICY generation_inputs_select_own ON public.generation_inputs FOR SELECT TO authenticated
            USING (user_id = (SELECT auth.uid()));
        CREATE POLICY generation_inputs_insert_own ON public.generation_inputs FOR INSERT TO authenticated
            WITH CHECK (user_id = (SELECT auth.uid())
                        AND EXISTS (SELECT 1 FROM public.generations g
                                     WHERE g.id = generation_id AND g.user_id = (SELECT auth.uid()))
                        AND EXISTS (SELECT 1 FROM public.media_objects o
                                     WHERE o.id = media_object_id AND o.owner_id = (SELECT auth.uid())));
        GRANT SELECT ON public.generation_inputs TO studio_worker;
        CREATE POLICY generation_inputs_worker_select ON public.generation_inputs FOR SELECT TO studio_worker
            USING (true);
        -- A worker fetches the input files of the work it may do: unfinished generations'.
        -- One policy per command and role (a lint): results, or inputs of unfinished work.
        DROP POLICY media_objects_worker_select ON public.media_objects;
        CREATE POLICY media_objects_worker_select ON public.media_objects FOR SELECT TO studio_worker
            USING (generation_id IS NOT NULL
                   OR EXISTS (SELECT 1 FROM public.generation_inputs i JOIN public.generations g ON g.id = i.generation_id
                               WHERE i.media_object_id = media_objects.id AND g.status IN ('queued', 'running')));
        -- The slideshow video composes images (and audio) given to it.
        ALTER TABLE public.model_registry NO FORCE ROW LEVEL SECURITY;
        UPDATE public.model_registry SET capabilities = ARRAY['video', 'image-to-video']
         WHERE slug = 'ffmpeg-video' AND provider = 'ffmpeg';
        ALTER TABLE public.model_registry FORCE ROW LEVEL SECURITY;

        CREATE TABLE public.message_attachments (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            message_id uuid NOT NULL REFERENCES public.messages (id) ON DELETE CASCADE,
            user_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
            media_object_id uuid NOT NULL REFERENCES public.media_objects (id) ON DELETE CASCADE,
            position smallint NOT NULL CONSTRAINT message_attachments_position_range CHECK (position BETWEEN 0 AND 15),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT message_attachments_message_position_key UNIQUE (message_id, position)
        );
        CREATE INDEX message_attachments_user_id_idx ON public.message_attachments (user_id);
        CREATE INDEX message_attachments_media_object_id_idx ON public.message_attachments (media_object_id);
        CREATE TRIGGER message_attachments_updated_at BEFORE UPDATE ON public.message_attachments
            FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
        ALTER TABLE public.message_attachments ENABLE ROW LEVEL SECURITY;
        ALTER TABLE public.message_attachments FORCE ROW LEVEL SECURITY;
        GRANT SELECT ON public.message_attachments TO authenticated;
        GRANT INSERT (message_id, user_id, media_object_id, position) ON public.message_attachments TO authenticated;
        CREATE POLICY message_attachments_select_own ON public.message_attachments FOR SELECT TO authenticated
            USING (user_id = (SELECT auth.uid()));
        CREATE POLICY message_attachments_insert_own ON public.message_attachments FOR INSERT TO authenticated
            WITH CHECK (user_id = (SELECT auth.uid())
                        AND EXISTS (SELECT 1 FROM public.messages m
                                     WHERE m.id = message_id AND m.user_id = (SELECT auth.uid()))
                        AND EXISTS (SELECT 1 FROM public.media_objects o
                                     WHERE o.id = media_object_id AND o.owner_id = (SELECT auth.uid())));

        ALTER TABLE public.conversations ADD COLUMN title_auto boolean NOT NULL DEFAULT false;
        GRANT INSERT (title_auto), UPDATE (title_auto) ON public.conversations TO authenticated;
        GRANT SELECT (id, user_id, title, title_auto), UPDATE (title)
            ON public.conversations TO studio_worker;
        CREATE POLICY conversations_worker_select_pending ON public.conversations FOR SELECT TO studio_worker
            USING (title_auto);
        CREATE POLICY conversations_worker_title ON public.conversations FOR UPDATE TO studio_worker
            USING (title_auto) WITH CHECK (title_auto);
        """
    )
    op.execute(_jobs_kinds(_KINDS_AFTER))


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    # FORCE RLS binds the owner too: lifted for this transaction's data change.
    op.execute("ALTER TABLE public.jobs NO FORCE ROW LEVEL SECURITY;"
               " DELETE FROM public.jobs WHERE kind = 'conversation_title';"
               " ALTER TABLE public.jobs FORCE ROW LEVEL SECURITY;")
    op.execute(_jobs_kinds(_KINDS_BEFORE))
    op.execute(
        """
        DROP POLICY conversations_worker_title ON public.conversations;
        DROP POLICY conversations_worker_select_pending ON public.conversations;
        REVOKE SELECT (id, user_id, title, title_auto), UPDATE (title)
            ON public.conversations FROM studio_worker;
        ALTER TABLE public.conversations DROP COLUMN title_auto;
        DROP TABLE public.message_attachments;
        DROP POLICY media_objects_worker_select ON public.media_objects;
        CREATE POLICY media_objects_worker_select ON public.media_objects FOR SELECT TO studio_worker
            USING (generation_id IS NOT NULL);
        DROP TABLE public.generation_inputs;
        """
    )
