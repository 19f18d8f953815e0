"""Retention (F20): expired and revoked shares, and uploads nothing uses, go away.

public.apply_retention() is the one path, run hourly by the workers (studio_worker may
call it; it runs as studio_system, whose powers here are exactly these deletes):
- shares expired or revoked more than `p_share_days` days ago (a revoked link is dead
  at once; the row is kept a while so its owner still sees what was revoked);
- uploads (bucket 'attachments', no generation) older than `p_upload_days` days that
  no dataset image and no trained model refers to. Their files follow through the
  storage outbox (retired for the recovery window, like any deleted file).

Revision ID: 0015
Revises: 0014
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        CREATE FUNCTION public.apply_retention(p_share_days integer, p_upload_days integer) RETURNS jsonb
            LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
            AS $$
            DECLARE
                v_shares integer;
                v_uploads integer;
            BEGIN
                IF p_share_days < 0 OR p_upload_days < 1 THEN
                    RAISE EXCEPTION 'retention periods out of range' USING ERRCODE = '22023';
                END IF;
                DELETE FROM public.shared_content s
                 WHERE LEAST(s.revoked_at, s.expires_at)
                       < pg_catalog.now() - pg_catalog.make_interval(days => p_share_days);
                GET DIAGNOSTICS v_shares = ROW_COUNT;
                DELETE FROM public.media_objects m
                 WHERE m.bucket = 'attachments' AND m.generation_id IS NULL
                   AND m.created_at < pg_catalog.now() - pg_catalog.make_interval(days => p_upload_days)
                   AND NOT EXISTS (SELECT 1 FROM public.dataset_images d WHERE d.media_object_id = m.id)
                   AND NOT EXISTS (SELECT 1 FROM public.trained_models t WHERE t.weights_media_id = m.id);
                GET DIAGNOSTICS v_uploads = ROW_COUNT;
                RETURN pg_catalog.jsonb_build_object('expired_shares', v_shares, 'orphaned_uploads', v_uploads);
            END
            $$;
        REVOKE EXECUTE ON FUNCTION public.apply_retention(integer, integer) FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION public.apply_retention(integer, integer) TO studio_worker;
        ALTER FUNCTION public.apply_retention(integer, integer) OWNER TO studio_system;

        GRANT SELECT (id, revoked_at, expires_at), DELETE ON public.shared_content TO studio_system;
        CREATE POLICY shared_content_system_select_ended ON public.shared_content FOR SELECT TO studio_system
            USING (revoked_at IS NOT NULL OR expires_at IS NOT NULL);
        CREATE POLICY shared_content_system_delete_ended ON public.shared_content FOR DELETE TO studio_system
            USING (LEAST(revoked_at, expires_at) < pg_catalog.now());
        GRANT SELECT (id, bucket, generation_id, created_at), DELETE ON public.media_objects TO studio_system;
        CREATE POLICY media_objects_system_select_uploads ON public.media_objects FOR SELECT TO studio_system
            USING (bucket = 'attachments' AND generation_id IS NULL);
        CREATE POLICY media_objects_system_delete_uploads ON public.media_objects FOR DELETE TO studio_system
            USING (bucket = 'attachments' AND generation_id IS NULL);
        GRANT SELECT (media_object_id) ON public.dataset_images TO studio_system;
        CREATE POLICY dataset_images_system_select ON public.dataset_images FOR SELECT TO studio_system USING (true);
        GRANT SELECT (weights_media_id) ON public.trained_models TO studio_system;
        CREATE POLICY trained_models_system_select ON public.trained_models FOR SELECT TO studio_system USING (true);
        """
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        DROP POLICY trained_models_system_select ON public.trained_models;
        REVOKE SELECT (weights_media_id) ON public.trained_models FROM studio_system;
        DROP POLICY dataset_images_system_select ON public.dataset_images;
        REVOKE SELECT (media_object_id) ON public.dataset_images FROM studio_system;
        DROP POLICY media_objects_system_delete_uploads ON public.media_objects;
        DROP POLICY media_objects_system_select_uploads ON public.media_objects;
        REVOKE SELECT (id, bucket, generation_id, created_at), DELETE ON public.media_objects FROM studio_system;
        DROP POLICY shared_content_system_delete_ended ON public.shared_content;
        DROP POLICY shared_content_system_select_ended ON public.shared_content;
        REVOKE SELECT (id, revoked_at, expires_at), DELETE ON public.shared_content FROM studio_system;
        DROP FUNCTION public.apply_retention(integer, integer);
        """
    )
