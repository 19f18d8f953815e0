"""Accounts: users, credentials, sessions, API keys, the audit log, rate-limit counters.

Account creation, login and account deletion each go through one narrow SECURITY
DEFINER function owned by `studio_auth` (F5): anon and authenticated have no INSERT
or DELETE grant on users, and no grant at all on credentials.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        CREATE TABLE public.users (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            email text NOT NULL
                CONSTRAINT users_email_format CHECK (
                    length(email) BETWEEN 3 AND 254 AND email = lower(email) AND email ~ '^[^@\\s]+@[^@\\s]+$'),
            display_name text CONSTRAINT users_display_name_length CHECK (length(display_name) BETWEEN 1 AND 100),
            role text NOT NULL DEFAULT 'user' CONSTRAINT users_role_valid CHECK (role IN ('user', 'admin')),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT users_email_key UNIQUE (email)
        );

        CREATE TABLE auth.credentials (
            user_id uuid PRIMARY KEY REFERENCES public.users (id) ON DELETE CASCADE,
            password_hash text NOT NULL CONSTRAINT credentials_hash_length CHECK (length(password_hash) BETWEEN 20 AND 512),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE public.sessions (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            user_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
            token_hash bytea NOT NULL CONSTRAINT sessions_token_hash_length CHECK (octet_length(token_hash) = 32),
            expires_at timestamptz NOT NULL,
            ip inet,
            user_agent text CONSTRAINT sessions_user_agent_length CHECK (length(user_agent) <= 512),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT sessions_token_hash_key UNIQUE (token_hash)
        );
        CREATE INDEX sessions_user_id_created_idx ON public.sessions (user_id, created_at DESC, id DESC);
        CREATE INDEX sessions_expires_at_idx ON public.sessions (expires_at);

        CREATE TABLE public.api_keys (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            user_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
            name text NOT NULL CONSTRAINT api_keys_name_length CHECK (length(name) BETWEEN 1 AND 100),
            prefix text NOT NULL CONSTRAINT api_keys_prefix_length CHECK (length(prefix) BETWEEN 8 AND 32),
            key_hash bytea NOT NULL CONSTRAINT api_keys_key_hash_length CHECK (octet_length(key_hash) = 32),
            last_used_at timestamptz,
            expires_at timestamptz,
            revoked_at timestamptz,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash)
        );
        CREATE INDEX api_keys_user_id_created_idx ON public.api_keys (user_id, created_at DESC, id DESC);

        -- Append-only: rows are never updated, so there is no updated_at. The user link is
        -- cleared when the account is deleted, leaving an anonymised record (F20).
        CREATE TABLE public.audit_log (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            user_id uuid REFERENCES public.users (id) ON DELETE SET NULL,
            event text NOT NULL CONSTRAINT audit_log_event_valid CHECK (event IN (
                'signup', 'login.succeeded', 'login.failed', 'logout', 'password.changed',
                'api_key.created', 'api_key.revoked', 'session.revoked', 'account.deleted',
                'share.created', 'share.revoked', 'data.exported', 'admin.action')),
            ip inet,
            user_agent text CONSTRAINT audit_log_user_agent_length CHECK (length(user_agent) <= 512),
            details jsonb NOT NULL DEFAULT '{}' CONSTRAINT audit_log_details_object CHECK (jsonb_typeof(details) = 'object'),
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX audit_log_user_id_created_idx ON public.audit_log (user_id, created_at DESC, id DESC);
        CREATE INDEX audit_log_created_at_idx ON public.audit_log (created_at);

        -- Fixed-window counters shared by every process (login throttling now, API rate
        -- limits later). Keyed by (bucket, window) rather than a UUID: the natural key is
        -- what every upsert looks up, and a second unique index would only slow it down.
        CREATE TABLE public.rate_limit_counters (
            bucket text NOT NULL CONSTRAINT rate_limit_counters_bucket_length CHECK (length(bucket) BETWEEN 1 AND 300),
            window_start timestamptz NOT NULL,
            hits integer NOT NULL DEFAULT 0 CONSTRAINT rate_limit_counters_hits_nonnegative CHECK (hits >= 0),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (bucket, window_start)
        );
        CREATE INDEX rate_limit_counters_window_start_idx ON public.rate_limit_counters (window_start);

        CREATE TRIGGER users_updated_at BEFORE UPDATE ON public.users
            FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
        CREATE TRIGGER credentials_updated_at BEFORE UPDATE ON auth.credentials
            FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
        CREATE TRIGGER sessions_updated_at BEFORE UPDATE ON public.sessions
            FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
        CREATE TRIGGER api_keys_updated_at BEFORE UPDATE ON public.api_keys
            FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
        CREATE TRIGGER rate_limit_counters_updated_at BEFORE UPDATE ON public.rate_limit_counters
            FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

        ALTER TABLE public.users ENABLE ROW LEVEL SECURITY;
        ALTER TABLE public.users FORCE ROW LEVEL SECURITY;
        ALTER TABLE auth.credentials ENABLE ROW LEVEL SECURITY;
        ALTER TABLE auth.credentials FORCE ROW LEVEL SECURITY;
        ALTER TABLE public.sessions ENABLE ROW LEVEL SECURITY;
        ALTER TABLE public.sessions FORCE ROW LEVEL SECURITY;
        ALTER TABLE public.api_keys ENABLE ROW LEVEL SECURITY;
        ALTER TABLE public.api_keys FORCE ROW LEVEL SECURITY;
        ALTER TABLE public.audit_log ENABLE ROW LEVEL SECURITY;
        ALTER TABLE public.audit_log FORCE ROW LEVEL SECURITY;
        ALTER TABLE public.rate_limit_counters ENABLE ROW LEVEL SECURITY;
        ALTER TABLE public.rate_limit_counters FORCE ROW LEVEL SECURITY;

        -- users: read and rename yourself; creation and deletion only through auth.signup()
        -- and auth.delete_account(). The role column is not writable by users.
        GRANT SELECT ON public.users TO authenticated;
        GRANT UPDATE (display_name) ON public.users TO authenticated;
        CREATE POLICY users_select_self ON public.users FOR SELECT TO authenticated
            USING (id = (SELECT auth.uid()));
        CREATE POLICY users_update_self ON public.users FOR UPDATE TO authenticated
            USING (id = (SELECT auth.uid())) WITH CHECK (id = (SELECT auth.uid()));

        -- sessions: list your sessions, end them (logout); created only by auth.create_session().
        GRANT SELECT (id, user_id, expires_at, ip, user_agent, created_at, updated_at) ON public.sessions TO authenticated;
        GRANT DELETE ON public.sessions TO authenticated;
        CREATE POLICY sessions_select_own ON public.sessions FOR SELECT TO authenticated
            USING (user_id = (SELECT auth.uid()));
        CREATE POLICY sessions_delete_own ON public.sessions FOR DELETE TO authenticated
            USING (user_id = (SELECT auth.uid()));

        -- api_keys: create, list and revoke your own; the hash is never readable.
        GRANT SELECT (id, user_id, name, prefix, last_used_at, expires_at, revoked_at, created_at, updated_at)
            ON public.api_keys TO authenticated;
        GRANT INSERT (user_id, name, prefix, key_hash, expires_at) ON public.api_keys TO authenticated;
        GRANT UPDATE (revoked_at) ON public.api_keys TO authenticated;
        CREATE POLICY api_keys_select_own ON public.api_keys FOR SELECT TO authenticated
            USING (user_id = (SELECT auth.uid()));
        CREATE POLICY api_keys_insert_own ON public.api_keys FOR INSERT TO authenticated
            WITH CHECK (user_id = (SELECT auth.uid()));
        CREATE POLICY api_keys_update_own ON public.api_keys FOR UPDATE TO authenticated
            USING (user_id = (SELECT auth.uid())) WITH CHECK (user_id = (SELECT auth.uid()));

        -- audit_log: readable by its subject; written only by studio_auth's functions.
        GRANT SELECT ON public.audit_log TO authenticated;
        CREATE POLICY audit_log_select_own ON public.audit_log FOR SELECT TO authenticated
            USING (user_id = (SELECT auth.uid()));

        -- rate_limit_counters: no grant to anon or authenticated at all.

        -- studio_auth owns the narrow SECURITY DEFINER paths below. FORCE RLS applies to it
        -- too, so each of its powers is an explicit policy here.
        GRANT SELECT, INSERT, DELETE ON public.users TO studio_auth;
        GRANT UPDATE (role) ON public.users TO studio_auth;
        GRANT SELECT, INSERT ON auth.credentials TO studio_auth;
        GRANT SELECT, INSERT ON public.sessions TO studio_auth;
        GRANT SELECT, UPDATE (last_used_at) ON public.api_keys TO studio_auth;
        GRANT INSERT ON public.audit_log TO studio_auth;
        GRANT SELECT, INSERT, UPDATE ON public.rate_limit_counters TO studio_auth;
        CREATE POLICY users_auth_select ON public.users FOR SELECT TO studio_auth USING (true);
        CREATE POLICY users_auth_insert ON public.users FOR INSERT TO studio_auth WITH CHECK (role = 'user');
        CREATE POLICY users_auth_set_role ON public.users FOR UPDATE TO studio_auth
            USING (true) WITH CHECK (role IN ('user', 'admin'));
        CREATE POLICY users_auth_delete_self ON public.users FOR DELETE TO studio_auth
            USING (id = (SELECT auth.uid()));
        CREATE POLICY credentials_auth_select ON auth.credentials FOR SELECT TO studio_auth USING (true);
        CREATE POLICY credentials_auth_insert ON auth.credentials FOR INSERT TO studio_auth WITH CHECK (true);
        CREATE POLICY sessions_auth_select ON public.sessions FOR SELECT TO studio_auth USING (true);
        CREATE POLICY sessions_auth_insert ON public.sessions FOR INSERT TO studio_auth WITH CHECK (true);
        CREATE POLICY api_keys_auth_select ON public.api_keys FOR SELECT TO studio_auth USING (true);
        CREATE POLICY api_keys_auth_touch ON public.api_keys FOR UPDATE TO studio_auth
            USING (revoked_at IS NULL) WITH CHECK (revoked_at IS NULL);
        CREATE POLICY audit_log_auth_insert ON public.audit_log FOR INSERT TO studio_auth WITH CHECK (true);
        CREATE POLICY rate_limit_counters_auth_select ON public.rate_limit_counters FOR SELECT TO studio_auth USING (true);
        CREATE POLICY rate_limit_counters_auth_insert ON public.rate_limit_counters FOR INSERT TO studio_auth WITH CHECK (true);
        CREATE POLICY rate_limit_counters_auth_update ON public.rate_limit_counters FOR UPDATE TO studio_auth
            USING (true) WITH CHECK (true);
        """
    )
    op.execute(
        """
        -- Writes one audit record with the request's client context.
        CREATE FUNCTION auth.audit(p_user_id uuid, p_event text, p_details jsonb DEFAULT '{}')
            RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = ''
            AS $$
                INSERT INTO public.audit_log (user_id, event, ip, user_agent, details)
                VALUES (p_user_id, p_event, auth.client_ip(), auth.user_agent(), p_details)
            $$;

        CREATE FUNCTION auth.signup(p_email text, p_password_hash text, p_display_name text DEFAULT NULL)
            RETURNS uuid LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
            AS $$
            DECLARE
                v_user_id uuid;
            BEGIN
                INSERT INTO public.users (email, display_name) VALUES (p_email, p_display_name)
                RETURNING id INTO v_user_id;
                INSERT INTO auth.credentials (user_id, password_hash) VALUES (v_user_id, p_password_hash);
                PERFORM auth.audit(v_user_id, 'signup');
                RETURN v_user_id;
            END
            $$;

        -- Seconds until another login attempt for this email (and client address) is
        -- allowed; 0 when allowed. Counts failures only, in fixed windows.
        CREATE FUNCTION auth.login_retry_after(p_email text, p_max_failures integer, p_window_seconds integer)
            RETURNS integer LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
            AS $$
            DECLARE
                v_window timestamptz := pg_catalog.to_timestamp(
                    pg_catalog.floor(extract(epoch FROM pg_catalog.now()) / p_window_seconds) * p_window_seconds);
                v_hits integer;
            BEGIN
                SELECT pg_catalog.max(CASE WHEN c.bucket = 'login:email:' || p_email THEN c.hits
                                           ELSE c.hits / 5 END)
                  INTO v_hits
                  FROM public.rate_limit_counters c
                 WHERE c.window_start = v_window
                   AND c.bucket IN ('login:email:' || p_email, 'login:ip:' || pg_catalog.host(auth.client_ip()));
                IF COALESCE(v_hits, 0) < p_max_failures THEN
                    RETURN 0;
                END IF;
                RETURN pg_catalog.ceil(extract(epoch FROM
                    v_window + pg_catalog.make_interval(secs => p_window_seconds) - pg_catalog.now()))::integer;
            END
            $$;

        -- The stored hash for an email, for the API to verify with argon2.
        CREATE FUNCTION auth.login_credentials(p_email text)
            RETURNS TABLE (user_id uuid, password_hash text)
            LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
            AS $$
                SELECT u.id, c.password_hash
                  FROM public.users u JOIN auth.credentials c ON c.user_id = u.id
                 WHERE u.email = p_email
            $$;

        CREATE FUNCTION auth.login_failed(p_email text, p_window_seconds integer)
            RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
            AS $$
            DECLARE
                v_window timestamptz := pg_catalog.to_timestamp(
                    pg_catalog.floor(extract(epoch FROM pg_catalog.now()) / p_window_seconds) * p_window_seconds);
            BEGIN
                INSERT INTO public.rate_limit_counters AS c (bucket, window_start, hits)
                SELECT b, v_window, 1
                  FROM pg_catalog.unnest(ARRAY['login:email:' || p_email,
                                               'login:ip:' || pg_catalog.host(auth.client_ip())]) AS b
                 WHERE b IS NOT NULL
                ON CONFLICT (bucket, window_start) DO UPDATE SET hits = c.hits + 1;
                PERFORM auth.audit((SELECT u.id FROM public.users u WHERE u.email = p_email), 'login.failed',
                                   pg_catalog.jsonb_build_object('email', p_email));
            END
            $$;

        CREATE FUNCTION auth.create_session(p_user_id uuid, p_token_hash bytea, p_expires_at timestamptz)
            RETURNS uuid LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
            AS $$
            DECLARE
                v_session_id uuid;
            BEGIN
                INSERT INTO public.sessions (user_id, token_hash, expires_at, ip, user_agent)
                VALUES (p_user_id, p_token_hash, p_expires_at, auth.client_ip(), auth.user_agent())
                RETURNING id INTO v_session_id;
                PERFORM auth.audit(p_user_id, 'login.succeeded', pg_catalog.jsonb_build_object('session_id', v_session_id));
                RETURN v_session_id;
            END
            $$;

        -- Resolves a session cookie or API key to its user and sets the transaction's
        -- claims. The API calls it first in every authenticated transaction, so a logout
        -- or a revoked key takes effect on the very next request.
        CREATE FUNCTION auth.authenticate(p_kind text, p_token_hash bytea)
            RETURNS TABLE (user_id uuid, role text, email text, display_name text, session_id uuid)
            LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
            AS $$
            #variable_conflict use_column
            DECLARE
                v_key_id uuid;
                v_last_used timestamptz;
            BEGIN
                IF p_kind = 'session' THEN
                    SELECT u.id, u.role, u.email, u.display_name, s.id
                      INTO user_id, role, email, display_name, session_id
                      FROM public.sessions s JOIN public.users u ON u.id = s.user_id
                     WHERE s.token_hash = p_token_hash AND s.expires_at > pg_catalog.now();
                ELSIF p_kind = 'api_key' THEN
                    SELECT u.id, u.role, u.email, u.display_name, k.id, k.last_used_at
                      INTO user_id, role, email, display_name, v_key_id, v_last_used
                      FROM public.api_keys k JOIN public.users u ON u.id = k.user_id
                     WHERE k.key_hash = p_token_hash AND k.revoked_at IS NULL
                       AND (k.expires_at IS NULL OR k.expires_at > pg_catalog.now());
                    -- At most one write a minute per key, not one per request.
                    IF v_key_id IS NOT NULL AND (v_last_used IS NULL
                            OR v_last_used < pg_catalog.now() - interval '1 minute') THEN
                        UPDATE public.api_keys k SET last_used_at = pg_catalog.now() WHERE k.id = v_key_id;
                    END IF;
                END IF;
                IF user_id IS NULL THEN
                    RETURN;
                END IF;
                PERFORM pg_catalog.set_config('studio.user_id', user_id::text, true),
                        pg_catalog.set_config('studio.user_role', role, true),
                        pg_catalog.set_config('studio.session_id', COALESCE(session_id::text, ''), true);
                RETURN NEXT;
            END
            $$;

        -- The one path that deletes an account: the caller's own, with everything that
        -- cascades from it, leaving an anonymised audit record.
        CREATE FUNCTION auth.delete_account()
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

        -- Operators (the `studio user` CLI, logged in as studio_owner) grant or take back
        -- the admin role; users cannot change their own role.
        CREATE FUNCTION auth.set_user_role(p_email text, p_role text)
            RETURNS uuid LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
            AS $$
            DECLARE
                v_user_id uuid;
            BEGIN
                UPDATE public.users u SET role = p_role WHERE u.email = p_email RETURNING u.id INTO v_user_id;
                IF v_user_id IS NOT NULL THEN
                    PERFORM auth.audit(v_user_id, 'admin.action',
                        pg_catalog.jsonb_build_object('action', 'set_role', 'role', p_role));
                END IF;
                RETURN v_user_id;
            END
            $$;

        -- Audit triggers: the database records key and session events whoever writes them.
        CREATE FUNCTION auth.audit_api_key_change() RETURNS trigger
            LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
            AS $$
            BEGIN
                IF TG_OP = 'INSERT' THEN
                    PERFORM auth.audit(NEW.user_id, 'api_key.created',
                        pg_catalog.jsonb_build_object('api_key_id', NEW.id, 'name', NEW.name, 'prefix', NEW.prefix));
                ELSIF OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL THEN
                    PERFORM auth.audit(NEW.user_id, 'api_key.revoked',
                        pg_catalog.jsonb_build_object('api_key_id', NEW.id, 'name', NEW.name, 'prefix', NEW.prefix));
                END IF;
                RETURN NULL;
            END
            $$;
        CREATE TRIGGER api_keys_audit AFTER INSERT OR UPDATE OF revoked_at ON public.api_keys
            FOR EACH ROW EXECUTE FUNCTION auth.audit_api_key_change();

        CREATE FUNCTION auth.audit_session_end() RETURNS trigger
            LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
            AS $$
            BEGIN
                -- Sessions also disappear when their account is deleted (that event is
                -- recorded as account.deleted); only a user ending one of their own
                -- sessions of a still existing account is a logout.
                IF OLD.user_id = auth.uid()
                   AND EXISTS (SELECT 1 FROM public.users u WHERE u.id = OLD.user_id) THEN
                    PERFORM auth.audit(OLD.user_id,
                        CASE WHEN OLD.id::text = pg_catalog.current_setting('studio.session_id', true)
                             THEN 'logout' ELSE 'session.revoked' END,
                        pg_catalog.jsonb_build_object('session_id', OLD.id));
                END IF;
                RETURN NULL;
            END
            $$;
        CREATE TRIGGER sessions_audit AFTER DELETE ON public.sessions
            FOR EACH ROW EXECUTE FUNCTION auth.audit_session_end();

        -- Who may call what. Granted before the functions change hands: studio_owner
        -- (NOINHERIT) cannot grant on studio_auth's functions afterwards.
        REVOKE EXECUTE ON FUNCTION auth.audit(uuid, text, jsonb), auth.signup(text, text, text),
            auth.login_retry_after(text, integer, integer), auth.login_credentials(text),
            auth.login_failed(text, integer), auth.create_session(uuid, bytea, timestamptz),
            auth.authenticate(text, bytea), auth.delete_account(), auth.set_user_role(text, text),
            auth.audit_api_key_change(), auth.audit_session_end()
            FROM PUBLIC;
        -- Signing up and logging in happen before there is a user.
        GRANT EXECUTE ON FUNCTION auth.signup(text, text, text), auth.login_retry_after(text, integer, integer),
            auth.login_credentials(text), auth.login_failed(text, integer),
            auth.create_session(uuid, bytea, timestamptz), auth.authenticate(text, bytea)
            TO anon;
        GRANT EXECUTE ON FUNCTION auth.authenticate(text, bytea), auth.delete_account() TO authenticated;
        ALTER FUNCTION auth.audit(uuid, text, jsonb) OWNER TO studio_auth;
        ALTER FUNCTION auth.signup(text, text, text) OWNER TO studio_auth;
        ALTER FUNCTION auth.login_retry_after(text, integer, integer) OWNER TO studio_auth;
        ALTER FUNCTION auth.login_credentials(text) OWNER TO studio_auth;
        ALTER FUNCTION auth.login_failed(text, integer) OWNER TO studio_auth;
        ALTER FUNCTION auth.create_session(uuid, bytea, timestamptz) OWNER TO studio_auth;
        ALTER FUNCTION auth.authenticate(text, bytea) OWNER TO studio_auth;
        ALTER FUNCTION auth.delete_account() OWNER TO studio_auth;
        ALTER FUNCTION auth.set_user_role(text, text) OWNER TO studio_auth;
        ALTER FUNCTION auth.audit_api_key_change() OWNER TO studio_auth;
        ALTER FUNCTION auth.audit_session_end() OWNER TO studio_auth;
        -- The operators' path to the admin role (`studio user create --admin`). Granted by
        -- the new owner: an owner's grant to itself would move away with the ownership.
        SET LOCAL ROLE studio_auth;
        GRANT EXECUTE ON FUNCTION auth.set_user_role(text, text) TO studio_owner;
        RESET ROLE;

        """
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        DROP TRIGGER sessions_audit ON public.sessions;
        DROP TRIGGER api_keys_audit ON public.api_keys;
        DROP FUNCTION auth.audit_session_end();
        DROP FUNCTION auth.audit_api_key_change();
        DROP FUNCTION auth.set_user_role(text, text);
        DROP FUNCTION auth.delete_account();
        DROP FUNCTION auth.authenticate(text, bytea);
        DROP FUNCTION auth.create_session(uuid, bytea, timestamptz);
        DROP FUNCTION auth.login_failed(text, integer);
        DROP FUNCTION auth.login_credentials(text);
        DROP FUNCTION auth.login_retry_after(text, integer, integer);
        DROP FUNCTION auth.signup(text, text, text);
        DROP FUNCTION auth.audit(uuid, text, jsonb);
        DROP TABLE public.rate_limit_counters;
        DROP TABLE public.audit_log;
        DROP TABLE public.api_keys;
        DROP TABLE public.sessions;
        DROP TABLE auth.credentials;
        DROP TABLE public.users;
        """
    )
