"""Privacy: account erasure leaves nothing of the user behind, exports are audited (F20).

auth.delete_account() now erases rather than only deletes:
- `studio.erasure` is set first, so the media trigger (0013) queues every file of the
  account in mode 'erase': the file and every retained copy go at once;
- one 'erase_prefix' row per bucket sweeps whatever else lives under the user's key
  prefix, live or retired (files the user deleted earlier and that wait out the
  recovery window). It is due a second after the per-file erasures of the same
  transaction (they share now()), so the sweep comes last and takes S3's leftover
  delete markers with it;
- what holds the user's data outside the foreign-key cascades goes too: their own
  audit records (and failed logins naming their email before the account existed),
  rate-limit counters named after their id or email, and provider webhook payloads
  about their generations (generation_id is ON DELETE SET NULL there);
- one 'account.deleted' record remains, without user, address, agent or details.

studio_auth gets exactly the powers the function needs, each as an explicit policy
limited to the caller's own rows. auth.audit_export() records 'data.exported' for the
caller (authenticated may not call auth.audit itself).

Revision ID: 0014
Revises: 0013
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        ALTER TABLE public.storage_deletions DROP CONSTRAINT storage_deletions_mode_valid;
        ALTER TABLE public.storage_deletions ADD CONSTRAINT storage_deletions_mode_valid
            CHECK (mode IN ('delete', 'retire', 'erase', 'erase_prefix'));

        -- studio_auth's powers for auth.delete_account(), each limited to the caller's rows.
        GRANT SELECT (user_id, event, details), DELETE ON public.audit_log TO studio_auth;
        CREATE POLICY audit_log_auth_select_own ON public.audit_log FOR SELECT TO studio_auth
            USING (user_id = (SELECT auth.uid())
                   OR (user_id IS NULL AND event = 'login.failed' AND details ->> 'email' =
                       (SELECT u.email FROM public.users u WHERE u.id = (SELECT auth.uid()))));
        CREATE POLICY audit_log_auth_delete_own ON public.audit_log FOR DELETE TO studio_auth
            USING (user_id = (SELECT auth.uid())
                   OR (user_id IS NULL AND event = 'login.failed' AND details ->> 'email' =
                       (SELECT u.email FROM public.users u WHERE u.id = (SELECT auth.uid()))));

        GRANT DELETE ON public.rate_limit_counters TO studio_auth;
        CREATE POLICY rate_limit_counters_auth_delete_own ON public.rate_limit_counters FOR DELETE TO studio_auth
            USING (bucket = 'login:email:' || (SELECT u.email FROM public.users u WHERE u.id = (SELECT auth.uid()))
                   OR bucket LIKE '%:user:' || (SELECT auth.uid())::text);

        GRANT SELECT (id, user_id) ON public.generations TO studio_auth;
        CREATE POLICY generations_auth_select_own ON public.generations FOR SELECT TO studio_auth
            USING (user_id = (SELECT auth.uid()));
        GRANT SELECT (id, generation_id), DELETE ON public.webhook_deliveries TO studio_auth;
        CREATE POLICY webhook_deliveries_auth_select_own ON public.webhook_deliveries FOR SELECT TO studio_auth
            USING (EXISTS (SELECT 1 FROM public.generations g
                            WHERE g.id = generation_id AND g.user_id = (SELECT auth.uid())));
        CREATE POLICY webhook_deliveries_auth_delete_own ON public.webhook_deliveries FOR DELETE TO studio_auth
            USING (EXISTS (SELECT 1 FROM public.generations g
                            WHERE g.id = generation_id AND g.user_id = (SELECT auth.uid())));

        GRANT INSERT (bucket, key, mode, run_after) ON public.storage_deletions TO studio_auth;
        CREATE POLICY storage_deletions_auth_insert_erasure ON public.storage_deletions FOR INSERT TO studio_auth
            WITH CHECK (mode = 'erase_prefix' AND attempts = 0 AND key = (SELECT auth.uid())::text || '/');

        -- Records that the caller downloaded an export of their data.
        CREATE FUNCTION auth.audit_export()
            RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
            AS $$
            DECLARE
                v_user_id uuid := auth.uid();
            BEGIN
                IF v_user_id IS NULL THEN
                    RETURN false;
                END IF;
                PERFORM auth.audit(v_user_id, 'data.exported');
                RETURN true;
            END
            $$;
        REVOKE EXECUTE ON FUNCTION auth.audit_export() FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION auth.audit_export() TO authenticated;
        ALTER FUNCTION auth.audit_export() OWNER TO studio_auth;

        -- Only its owner may replace the function (0002 handed it to studio_auth); the
        -- grant to authenticated stays with it.
        SET LOCAL ROLE studio_auth;
        CREATE OR REPLACE FUNCTION auth.delete_account()
            RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
            AS $$
            DECLARE
                v_user_id uuid := auth.uid();
                v_email text;
            BEGIN
                IF v_user_id IS NULL THEN
                    RETURN false;
                END IF;
                -- First: the media trigger reads it for every file row the cascade removes.
                PERFORM pg_catalog.set_config('studio.erasure', 'on', true);
                -- Locked, so nothing new can point at the account while it goes.
                SELECT u.email INTO v_email FROM public.users u WHERE u.id = v_user_id FOR UPDATE;
                IF NOT FOUND THEN
                    RETURN false;
                END IF;
                DELETE FROM public.audit_log a
                 WHERE a.user_id = v_user_id
                    OR (a.user_id IS NULL AND a.event = 'login.failed' AND a.details ->> 'email' = v_email);
                DELETE FROM public.rate_limit_counters c
                 WHERE c.bucket = 'login:email:' || v_email OR c.bucket LIKE '%:user:' || v_user_id::text;
                DELETE FROM public.webhook_deliveries w
                 WHERE w.generation_id IN (SELECT g.id FROM public.generations g WHERE g.user_id = v_user_id);
                -- Due after the per-file erasures the cascade queues (they default to now()).
                INSERT INTO public.storage_deletions (bucket, key, mode, run_after)
                SELECT b, v_user_id::text || '/', 'erase_prefix', pg_catalog.now() + interval '1 second'
                  FROM pg_catalog.unnest(ARRAY['media', 'attachments']) AS b;
                DELETE FROM public.users u WHERE u.id = v_user_id;
                INSERT INTO public.audit_log (user_id, event, ip, user_agent, details)
                VALUES (NULL, 'account.deleted', NULL, NULL, '{}');
                RETURN true;
            END
            $$;
        RESET ROLE;
        """
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        SET LOCAL ROLE studio_auth;
        CREATE OR REPLACE FUNCTION auth.delete_account()
            RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
            AS $$
            DECLARE
                v_user_id uuid := auth.uid();
            BEGIN
                IF v_user_id IS NULL THEN
                    RETURN false;
                END IF;
                DELETE FROM public.users u WHERE u.id = v_user_id;
                IF NOT FOUND THEN
                    RETURN false;
                END IF;
                PERFORM auth.audit(NULL, 'account.deleted');
                RETURN true;
            END
            $$;
        RESET ROLE;
        DROP FUNCTION auth.audit_export();

        DROP POLICY storage_deletions_auth_insert_erasure ON public.storage_deletions;
        REVOKE INSERT (bucket, key, mode, run_after) ON public.storage_deletions FROM studio_auth;
        DROP POLICY webhook_deliveries_auth_delete_own ON public.webhook_deliveries;
        DROP POLICY webhook_deliveries_auth_select_own ON public.webhook_deliveries;
        REVOKE SELECT (id, generation_id), DELETE ON public.webhook_deliveries FROM studio_auth;
        DROP POLICY generations_auth_select_own ON public.generations;
        REVOKE SELECT (id, user_id) ON public.generations FROM studio_auth;
        DROP POLICY rate_limit_counters_auth_delete_own ON public.rate_limit_counters;
        REVOKE DELETE ON public.rate_limit_counters FROM studio_auth;
        DROP POLICY audit_log_auth_delete_own ON public.audit_log;
        DROP POLICY audit_log_auth_select_own ON public.audit_log;
        REVOKE SELECT (user_id, event, details), DELETE ON public.audit_log FROM studio_auth;

        -- 0013's workers know no prefix sweeps: pending ones become nothing they could
        -- misread (the per-file erasures queued with them stay).
        ALTER TABLE public.storage_deletions NO FORCE ROW LEVEL SECURITY;
        DELETE FROM public.storage_deletions WHERE mode = 'erase_prefix';
        ALTER TABLE public.storage_deletions FORCE ROW LEVEL SECURITY;
        ALTER TABLE public.storage_deletions DROP CONSTRAINT storage_deletions_mode_valid;
        ALTER TABLE public.storage_deletions ADD CONSTRAINT storage_deletions_mode_valid
            CHECK (mode IN ('delete', 'retire', 'erase'));
        """
    )
