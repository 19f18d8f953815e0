"""The audit log, complete (F20): shares and password changes are recorded too.

- Shares: a trigger on public.shared_content records 'share.created' on INSERT and
  'share.revoked' when revoked_at is first set, or when a share that was still live
  (not revoked, not expired) is deleted: directly, or with the generation or
  conversation it shares. The retention job (0015) deletes only ended shares, and an
  account deletion takes its shares along with its audit records (0014): neither
  records anything. The details name the share and what it shares, never the slug:
  the slug is the link, a bearer secret.
- Password change: auth.change_password(p_new_hash) is the one path. The API verifies
  the current password first (argon2, outside any transaction); the function stores
  the new hash for auth.uid(), ends every other session of the user (the current one
  is the studio.session_id claim; with an API key, every session) and records
  'password.changed'. The sessions trigger of 0002 records each ended session as
  'session.revoked'.

studio_auth gets exactly the powers the function needs, limited to the caller's rows:
UPDATE of password_hash on auth.credentials and DELETE on public.sessions.

Revision ID: 0016
Revises: 0015
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        CREATE FUNCTION auth.audit_share_change() RETURNS trigger
            LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
            AS $$
            BEGIN
                IF TG_OP = 'INSERT' THEN
                    PERFORM auth.audit(NEW.user_id, 'share.created', pg_catalog.jsonb_strip_nulls(
                        pg_catalog.jsonb_build_object('share_id', NEW.id, 'generation_id', NEW.generation_id,
                            'conversation_id', NEW.conversation_id, 'expires_at', NEW.expires_at)));
                ELSIF TG_OP = 'UPDATE' THEN
                    IF OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL THEN
                        PERFORM auth.audit(NEW.user_id, 'share.revoked', pg_catalog.jsonb_strip_nulls(
                            pg_catalog.jsonb_build_object('share_id', NEW.id, 'generation_id', NEW.generation_id,
                                'conversation_id', NEW.conversation_id)));
                    END IF;
                -- A deleted share ends a link only if it still worked. Shares also go
                -- with their account (recorded as account.deleted, whose erasure leaves
                -- no record of the user): only an existing user's share is recorded.
                ELSIF OLD.revoked_at IS NULL
                      AND (OLD.expires_at IS NULL OR OLD.expires_at > pg_catalog.now())
                      AND EXISTS (SELECT 1 FROM public.users u WHERE u.id = OLD.user_id) THEN
                    PERFORM auth.audit(OLD.user_id, 'share.revoked', pg_catalog.jsonb_strip_nulls(
                        pg_catalog.jsonb_build_object('share_id', OLD.id, 'generation_id', OLD.generation_id,
                            'conversation_id', OLD.conversation_id, 'deleted', true)));
                END IF;
                RETURN NULL;
            END
            $$;
        CREATE TRIGGER shared_content_audit AFTER INSERT OR UPDATE OF revoked_at OR DELETE ON public.shared_content
            FOR EACH ROW EXECUTE FUNCTION auth.audit_share_change();

        -- The caller's new password (hashed by the API after it verified the current one).
        CREATE FUNCTION auth.change_password(p_new_hash text)
            RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
            AS $$
            DECLARE
                v_user_id uuid := auth.uid();
                v_session_id uuid := NULLIF(pg_catalog.current_setting('studio.session_id', true), '')::uuid;
                v_ended integer;
            BEGIN
                IF v_user_id IS NULL THEN
                    RETURN false;
                END IF;
                UPDATE auth.credentials c SET password_hash = p_new_hash WHERE c.user_id = v_user_id;
                IF NOT FOUND THEN
                    RETURN false;
                END IF;
                -- Whoever knew the old password may hold another session: it ends now.
                DELETE FROM public.sessions s
                 WHERE s.user_id = v_user_id AND s.id IS DISTINCT FROM v_session_id;
                GET DIAGNOSTICS v_ended = ROW_COUNT;
                PERFORM auth.audit(v_user_id, 'password.changed',
                    pg_catalog.jsonb_build_object('sessions_ended', v_ended));
                RETURN true;
            END
            $$;

        GRANT UPDATE (password_hash) ON auth.credentials TO studio_auth;
        CREATE POLICY credentials_auth_update_own ON auth.credentials FOR UPDATE TO studio_auth
            USING (user_id = (SELECT auth.uid())) WITH CHECK (user_id = (SELECT auth.uid()));
        GRANT DELETE ON public.sessions TO studio_auth;
        CREATE POLICY sessions_auth_delete_own ON public.sessions FOR DELETE TO studio_auth
            USING (user_id = (SELECT auth.uid()));

        -- Granted before the functions change hands (see 0002).
        REVOKE EXECUTE ON FUNCTION auth.audit_share_change(), auth.change_password(text) FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION auth.change_password(text) TO authenticated;
        ALTER FUNCTION auth.audit_share_change() OWNER TO studio_auth;
        ALTER FUNCTION auth.change_password(text) OWNER TO studio_auth;
        """
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        DROP FUNCTION auth.change_password(text);
        DROP POLICY sessions_auth_delete_own ON public.sessions;
        REVOKE DELETE ON public.sessions FROM studio_auth;
        DROP POLICY credentials_auth_update_own ON auth.credentials;
        REVOKE UPDATE (password_hash) ON auth.credentials FROM studio_auth;
        DROP TRIGGER shared_content_audit ON public.shared_content;
        DROP FUNCTION auth.audit_share_change();
        """
    )
