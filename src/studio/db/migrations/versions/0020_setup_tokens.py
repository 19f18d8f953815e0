"""The first admin, by a one-time setup link: auth.setup_tokens and three functions.

While the installation has no admin, `studio up` (and `studio setup-link`) prints a link
`http://host:port/setup#token=<token>`. The token is 256 random bits; only its SHA-256
is stored, with its creation time, and it works once. Never "the first sign-up becomes
admin": an admin account is created only by someone holding the link, or by an operator
(`studio user create --admin`).

- auth.issue_setup_token(hash), for studio_owner (the launcher and the CLI): unless an
  admin exists, replaces every unused token by this one; false when an admin exists.
- auth.setup_token_state(hash), for anon: 'valid', 'used', 'unknown' or 'admin_exists'
  (so the setup page can say why a link does not work).
- auth.setup_admin(hash, email, password hash, display name), for anon: in one
  transaction, checks the token (unused) and that no admin exists, creates the account
  through auth.signup, makes it an admin (recorded as admin.action, action 'setup') and
  marks the token used. Its state says what happened: 'created' with the user id, or
  why not. The API creates the session in the same transaction.

Issuing and using take the same transaction-level advisory lock, so two uses of one
link at once, or a use racing a new link, are serialised: one admin at most.

studio_auth gets exactly what the functions need on the new table (FORCE RLS applies
to it too); anon and authenticated get no grant on it at all.

Revision ID: 0020
Revises: 0019
"""

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        CREATE TABLE auth.setup_tokens (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            token_hash bytea NOT NULL CONSTRAINT setup_tokens_token_hash_length CHECK (octet_length(token_hash) = 32),
            used_at timestamptz,
            used_by uuid REFERENCES public.users (id) ON DELETE SET NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT setup_tokens_token_hash_key UNIQUE (token_hash),
            CONSTRAINT setup_tokens_used_by_when_used CHECK (used_by IS NULL OR used_at IS NOT NULL)
        );
        CREATE INDEX setup_tokens_used_by_idx ON auth.setup_tokens (used_by);
        CREATE TRIGGER setup_tokens_updated_at BEFORE UPDATE ON auth.setup_tokens
            FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

        ALTER TABLE auth.setup_tokens ENABLE ROW LEVEL SECURITY;
        ALTER TABLE auth.setup_tokens FORCE ROW LEVEL SECURITY;

        -- Only studio_auth's functions touch it: a new token replaces unused ones, a token
        -- is used once, used tokens stay as the record of how the first admin came.
        GRANT SELECT, INSERT, DELETE ON auth.setup_tokens TO studio_auth;
        GRANT UPDATE (used_at, used_by) ON auth.setup_tokens TO studio_auth;
        CREATE POLICY setup_tokens_auth_select ON auth.setup_tokens FOR SELECT TO studio_auth USING (true);
        CREATE POLICY setup_tokens_auth_insert ON auth.setup_tokens FOR INSERT TO studio_auth
            WITH CHECK (used_at IS NULL AND used_by IS NULL);
        CREATE POLICY setup_tokens_auth_use ON auth.setup_tokens FOR UPDATE TO studio_auth
            USING (used_at IS NULL) WITH CHECK (used_at IS NOT NULL);
        CREATE POLICY setup_tokens_auth_replace ON auth.setup_tokens FOR DELETE TO studio_auth
            USING (used_at IS NULL);

        CREATE FUNCTION auth.issue_setup_token(p_token_hash bytea)
            RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
            AS $$
            BEGIN
                PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('studio.setup_admin'));
                IF EXISTS (SELECT 1 FROM public.users u WHERE u.role = 'admin') THEN
                    RETURN false;
                END IF;
                DELETE FROM auth.setup_tokens t WHERE t.used_at IS NULL;
                INSERT INTO auth.setup_tokens (token_hash) VALUES (p_token_hash);
                RETURN true;
            END
            $$;

        CREATE FUNCTION auth.setup_token_state(p_token_hash bytea)
            RETURNS text LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
            AS $$
            DECLARE
                v_found boolean;
                v_used timestamptz;
            BEGIN
                SELECT true, t.used_at INTO v_found, v_used FROM auth.setup_tokens t WHERE t.token_hash = p_token_hash;
                IF v_found IS NULL THEN
                    RETURN 'unknown';
                ELSIF v_used IS NOT NULL THEN
                    RETURN 'used';
                ELSIF EXISTS (SELECT 1 FROM public.users u WHERE u.role = 'admin') THEN
                    RETURN 'admin_exists';
                END IF;
                RETURN 'valid';
            END
            $$;

        CREATE FUNCTION auth.setup_admin(p_token_hash bytea, p_email text, p_password_hash text,
                                         p_display_name text DEFAULT NULL,
                                         OUT state text, OUT user_id uuid)
            LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
            AS $$
            DECLARE
                v_token_id uuid;
                v_used timestamptz;
            BEGIN
                -- Serialises uses and issues: each statement below takes its snapshot after
                -- the lock, so it sees every use and issue before this one. (Not FOR UPDATE:
                -- that would also apply the UPDATE policy and hide a used token.)
                PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('studio.setup_admin'));
                SELECT t.id, t.used_at INTO v_token_id, v_used
                  FROM auth.setup_tokens t WHERE t.token_hash = p_token_hash;
                IF v_token_id IS NULL THEN
                    state := 'unknown';
                    RETURN;
                ELSIF v_used IS NOT NULL THEN
                    state := 'used';
                    RETURN;
                ELSIF EXISTS (SELECT 1 FROM public.users u WHERE u.role = 'admin') THEN
                    state := 'admin_exists';
                    RETURN;
                END IF;
                user_id := auth.signup(p_email, p_password_hash, p_display_name);
                UPDATE public.users u SET role = 'admin' WHERE u.id = user_id;
                PERFORM auth.audit(user_id, 'admin.action',
                    pg_catalog.jsonb_build_object('action', 'setup', 'role', 'admin'));
                UPDATE auth.setup_tokens t SET used_at = pg_catalog.now(), used_by = user_id WHERE t.id = v_token_id;
                state := 'created';
            END
            $$;

        -- Granted before the functions change hands (see 0002).
        REVOKE EXECUTE ON FUNCTION auth.issue_setup_token(bytea), auth.setup_token_state(bytea),
            auth.setup_admin(bytea, text, text, text) FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION auth.setup_token_state(bytea), auth.setup_admin(bytea, text, text, text) TO anon;
        ALTER FUNCTION auth.issue_setup_token(bytea) OWNER TO studio_auth;
        ALTER FUNCTION auth.setup_token_state(bytea) OWNER TO studio_auth;
        ALTER FUNCTION auth.setup_admin(bytea, text, text, text) OWNER TO studio_auth;
        -- The launcher's and the CLI's path (as studio_owner), granted by the new owner.
        SET LOCAL ROLE studio_auth;
        GRANT EXECUTE ON FUNCTION auth.issue_setup_token(bytea) TO studio_owner;
        RESET ROLE;
        """
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        DROP FUNCTION auth.setup_admin(bytea, text, text, text);
        DROP FUNCTION auth.setup_token_state(bytea);
        DROP FUNCTION auth.issue_setup_token(bytea);
        DROP TABLE auth.setup_tokens;
        """
    )
