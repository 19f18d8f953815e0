"""Account defences: a sign-up that does not tell whether an email has an account, and a
login throttle that does not let a stranger lock a person out (docs/decisions/0011).

- auth.request_signup(email, password hash, display name), for anon: the API's sign-up.
  It creates the account through auth.signup, the one path that creates accounts (which
  keeps raising unique_violation for `studio user create` and the first admin's setup).
  When the email has an account already it creates nothing and tells that account's
  owner instead: a 'system' notification, at most one an hour per account (bucket
  `signup_notice:user:<id>`, erased with the account), unless they muted 'system'.
  Returns whether it created; the API answers the same either way.
- The login throttle, three counters per failed attempt in the same fixed windows as
  before: the email (`login:email:<email>`, as before), the client address
  (`login:ip:<address>`, as before) and the pair of both
  (`login:ip:<address>:user:<id>`, or `...:email:<sha256 of the email>` for an email
  without an account; auth.login_pair_bucket).
  auth.login_retry_after(email, pair max, client max, delay after, delay max, window)
  replaces the three-argument function:
    * a lockout until the window ends, per client only: the pair's failures reached the
      pair maximum, or the address's failures (any email) the client maximum;
    * a progressive delay per account, never a lockout: from `delay after` failures of
      the email (from anywhere) in the window, the next attempt waits
      min(delay max, 2^(failures - delay after)) seconds after the last failure. It is
      not applied to an address from which the account has a live session.
- auth.create_session clears the pair counter of its account and address: a successful
  login forgives that client's failures (not the account's, not the address's).
- auth.login_failed (same signature) counts the pair too.

studio_auth gets INSERT on user_notifications (only this notice, by policy) and reads
notification preferences (user_id, muted); anon and authenticated get nothing new.

Revision ID: 0031
Revises: 0030
"""

from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None

_PAIR_BUCKET = """
        -- The pair counter of an email and a client address: keyed by the account when
        -- the email has one (so erasing the account erases it: '%:user:<id>'), else by a
        -- digest of the email. Not a definer: only studio_auth's functions call it.
        CREATE FUNCTION auth.login_pair_bucket(p_email text, p_user_id uuid, p_ip inet)
            RETURNS text LANGUAGE sql STABLE
            AS $$
                SELECT 'login:ip:' || COALESCE(pg_catalog.host(p_ip), 'unknown')
                    || CASE WHEN p_user_id IS NOT NULL THEN ':user:' || p_user_id::text
                            ELSE ':email:' || pg_catalog.encode(
                                pg_catalog.sha256(pg_catalog.convert_to(p_email, 'UTF8')), 'hex') END
            $$;
        REVOKE EXECUTE ON FUNCTION auth.login_pair_bucket(text, uuid, inet) FROM PUBLIC;
        ALTER FUNCTION auth.login_pair_bucket(text, uuid, inet) OWNER TO studio_auth;
"""

_RETRY_AFTER = """
        -- Seconds until this client may try this email again; 0 when it may now.
        -- A lockout applies to the client only (this email from this address, or this
        -- address for any email); the account as a whole only slows down.
        CREATE FUNCTION auth.login_retry_after(p_email text, p_pair_max_failures integer,
                                               p_client_max_failures integer, p_delay_after integer,
                                               p_delay_max_seconds integer, p_window_seconds integer)
            RETURNS integer LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
            AS $$
            DECLARE
                v_now timestamptz := pg_catalog.now();
                v_window timestamptz := pg_catalog.to_timestamp(
                    pg_catalog.floor(extract(epoch FROM v_now) / p_window_seconds) * p_window_seconds);
                v_window_end timestamptz := v_window + pg_catalog.make_interval(secs => p_window_seconds);
                v_ip inet := auth.client_ip();
                v_user_id uuid;
                v_pair_bucket text;
                v_client_bucket text := 'login:ip:' || pg_catalog.host(v_ip);
                v_account_bucket text := 'login:email:' || p_email;
                v_pair integer;
                v_client integer;
                v_account integer;
                v_last timestamptz;
                v_until timestamptz := v_now;
            BEGIN
                SELECT u.id INTO v_user_id FROM public.users u WHERE u.email = p_email;
                v_pair_bucket := auth.login_pair_bucket(p_email, v_user_id, v_ip);
                SELECT COALESCE(pg_catalog.max(c.hits) FILTER (WHERE c.bucket = v_pair_bucket), 0),
                       COALESCE(pg_catalog.max(c.hits) FILTER (WHERE c.bucket = v_client_bucket), 0),
                       COALESCE(pg_catalog.max(c.hits) FILTER (WHERE c.bucket = v_account_bucket), 0),
                       pg_catalog.max(c.updated_at) FILTER (WHERE c.bucket = v_account_bucket)
                  INTO v_pair, v_client, v_account, v_last
                  FROM public.rate_limit_counters c
                 WHERE c.window_start = v_window
                   AND c.bucket IN (v_pair_bucket, v_client_bucket, v_account_bucket);
                IF v_pair >= p_pair_max_failures OR v_client >= p_client_max_failures THEN
                    v_until := v_window_end;
                ELSIF v_account >= p_delay_after
                      AND NOT EXISTS (SELECT 1 FROM public.sessions s
                                       WHERE s.user_id = v_user_id AND s.ip = v_ip AND s.expires_at > v_now) THEN
                    v_until := LEAST(v_window_end, v_last + pg_catalog.make_interval(
                        secs => LEAST(p_delay_max_seconds, 2 ^ LEAST(v_account - p_delay_after, 30))));
                END IF;
                IF v_until <= v_now THEN
                    RETURN 0;
                END IF;
                RETURN GREATEST(1, pg_catalog.ceil(extract(epoch FROM v_until - v_now)))::integer;
            END
            $$;
        REVOKE EXECUTE ON FUNCTION auth.login_retry_after(text, integer, integer, integer, integer, integer)
            FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION auth.login_retry_after(text, integer, integer, integer, integer, integer) TO anon;
        ALTER FUNCTION auth.login_retry_after(text, integer, integer, integer, integer, integer) OWNER TO studio_auth;
"""

_LOGIN_FAILED = """
        CREATE OR REPLACE FUNCTION auth.login_failed(p_email text, p_window_seconds integer)
            RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
            AS $$
            DECLARE
                v_window timestamptz := pg_catalog.to_timestamp(
                    pg_catalog.floor(extract(epoch FROM pg_catalog.now()) / p_window_seconds) * p_window_seconds);
                v_ip inet := auth.client_ip();
                v_user_id uuid;
            BEGIN
                SELECT u.id INTO v_user_id FROM public.users u WHERE u.email = p_email;
                -- Always in this order (email, address, pair): concurrent failures lock
                -- the rows in the same order.
                INSERT INTO public.rate_limit_counters AS c (bucket, window_start, hits)
                SELECT b, v_window, 1
                  FROM pg_catalog.unnest(ARRAY['login:email:' || p_email,
                                               'login:ip:' || pg_catalog.host(v_ip),
                                               auth.login_pair_bucket(p_email, v_user_id, v_ip)]) AS b
                 WHERE b IS NOT NULL
                ON CONFLICT (bucket, window_start) DO UPDATE SET hits = c.hits + 1;
                PERFORM auth.audit(v_user_id, 'login.failed', pg_catalog.jsonb_build_object('email', p_email));
            END
            $$;
"""

_CREATE_SESSION = """
        CREATE OR REPLACE FUNCTION auth.create_session(p_user_id uuid, p_token_hash bytea, p_expires_at timestamptz)
            RETURNS uuid LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
            AS $$
            DECLARE
                v_session_id uuid;
            BEGIN
                INSERT INTO public.sessions (user_id, token_hash, expires_at, ip, user_agent)
                VALUES (p_user_id, p_token_hash, p_expires_at, auth.client_ip(), auth.user_agent())
                RETURNING id INTO v_session_id;
                PERFORM auth.audit(p_user_id, 'login.succeeded',
                                   pg_catalog.jsonb_build_object('session_id', v_session_id));
                -- The password was right: this client's failures on this account are forgiven.
                UPDATE public.rate_limit_counters c SET hits = 0
                 WHERE c.bucket = auth.login_pair_bucket(NULL, p_user_id, auth.client_ip()) AND c.hits > 0;
                RETURN v_session_id;
            END
            $$;
"""

_REQUEST_SIGNUP = """
        -- The API's sign-up: the account through auth.signup, or, when the email has one
        -- already, nothing created and its owner told (at most once an hour). The caller
        -- answers the same either way.
        CREATE FUNCTION auth.request_signup(p_email text, p_password_hash text, p_display_name text DEFAULT NULL)
            RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
            AS $$
            DECLARE
                v_owner uuid;
            BEGIN
                BEGIN
                    PERFORM auth.signup(p_email, p_password_hash, p_display_name);
                    RETURN true;
                EXCEPTION WHEN unique_violation THEN
                    NULL;
                END;
                SELECT u.id INTO v_owner FROM public.users u WHERE u.email = p_email;
                IF v_owner IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM public.notification_preferences p
                                    WHERE p.user_id = v_owner AND 'system' = ANY(p.muted))
                   AND auth.rate_limit_hit('signup_notice:user:' || v_owner::text, 1, 3600) = 0 THEN
                    INSERT INTO public.user_notifications (user_id, kind, title, body, data)
                    VALUES (v_owner, 'system', 'Someone tried to sign up with your email',
                            'Someone tried to create a new account with ' || p_email || ', which is already '
                            || 'yours. Nothing changed: your password and sessions are as they were. If it '
                            || 'was you, log in instead; if not, there is nothing to do.',
                            pg_catalog.jsonb_build_object('reason', 'signup_with_existing_email'));
                END IF;
                RETURN false;
            END
            $$;
        REVOKE EXECUTE ON FUNCTION auth.request_signup(text, text, text) FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION auth.request_signup(text, text, text) TO anon;
        ALTER FUNCTION auth.request_signup(text, text, text) OWNER TO studio_auth;
"""

# 0002's definitions, restored by the downgrade.
_OLD_RETRY_AFTER = """
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
        REVOKE EXECUTE ON FUNCTION auth.login_retry_after(text, integer, integer) FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION auth.login_retry_after(text, integer, integer) TO anon;
        ALTER FUNCTION auth.login_retry_after(text, integer, integer) OWNER TO studio_auth;
"""

_OLD_LOGIN_FAILED = """
        CREATE OR REPLACE FUNCTION auth.login_failed(p_email text, p_window_seconds integer)
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
"""

_OLD_CREATE_SESSION = """
        CREATE OR REPLACE FUNCTION auth.create_session(p_user_id uuid, p_token_hash bytea, p_expires_at timestamptz)
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
"""


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        -- The owner's notice of a sign-up with their email, and nothing else.
        GRANT INSERT ON public.user_notifications TO studio_auth;
        CREATE POLICY user_notifications_auth_insert_signup_notice ON public.user_notifications
            FOR INSERT TO studio_auth
            WITH CHECK (kind = 'system' AND data ->> 'reason' = 'signup_with_existing_email');
        GRANT SELECT (user_id, muted) ON public.notification_preferences TO studio_auth;
        CREATE POLICY notification_preferences_auth_select ON public.notification_preferences
            FOR SELECT TO studio_auth USING (true);
        """
    )
    # New functions: created by studio_owner, granted, then handed to studio_auth (0002).
    op.execute(_PAIR_BUCKET + _REQUEST_SIGNUP)
    # The old throttle's function goes; its owner drops it and replaces the other two.
    op.execute("SET LOCAL ROLE studio_auth;"
               "DROP FUNCTION auth.login_retry_after(text, integer, integer);"
               + _LOGIN_FAILED + _CREATE_SESSION + "RESET ROLE;")
    op.execute(_RETRY_AFTER)


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("SET LOCAL ROLE studio_auth;"
               "DROP FUNCTION auth.login_retry_after(text, integer, integer, integer, integer, integer);"
               "DROP FUNCTION auth.request_signup(text, text, text);"
               + _OLD_LOGIN_FAILED + _OLD_CREATE_SESSION
               + "DROP FUNCTION auth.login_pair_bucket(text, uuid, inet); RESET ROLE;")
    op.execute(_OLD_RETRY_AFTER)
    op.execute(
        """
        DROP POLICY notification_preferences_auth_select ON public.notification_preferences;
        REVOKE SELECT (user_id, muted) ON public.notification_preferences FROM studio_auth;
        DROP POLICY user_notifications_auth_insert_signup_notice ON public.user_notifications;
        REVOKE INSERT ON public.user_notifications FROM studio_auth;
        """
    )
