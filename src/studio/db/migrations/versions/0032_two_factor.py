"""Two-factor authentication: time-based one-time passwords (TOTP) and recovery codes.

- auth.totp_factors: one per user (keyed by user_id, like auth.credentials), `secret` (base32, what the authenticator app was
  given), `confirmed_at` (null while being set up: not required at login until a first
  code confirmed it) and `last_step` (the 30-second step of the last accepted code:
  a code is accepted once). auth.recovery_codes: SHA-256 of each one-time recovery
  code, `used_at` once used. Both in the auth schema, like password hashes: no grant
  to anon or authenticated; studio_auth's functions reach them, for the caller's own
  rows or, at login, for the account whose password the API has just verified.
- For the signed-in user (authenticated): auth.totp_begin(secret) (a new, unconfirmed
  factor; refused while one is confirmed), auth.totp_pending() (its secret, to check
  the first code), auth.totp_confirm(step, recovery hashes) (enabled; recorded as
  'totp.enabled'), auth.totp_replace_recovery_codes(hashes), auth.totp_disable()
  ('totp.disabled'), auth.totp_status().
- The audit log records 'totp.enabled', 'totp.disabled', 'totp.recovery_codes_replaced'
  and 'totp.recovery_code_used'.
- At login (anon): auth.login_totp(user id) (the confirmed factor's secret and last
  step), auth.login_totp_accept(user id, step) (false for a step not after the last:
  a replayed code), auth.login_recovery_code(user id, hash) (true once per code;
  'totp.recovery_code_used').

Revision ID: 0032
Revises: 0031
"""

from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        CREATE TABLE auth.totp_factors (
            user_id uuid PRIMARY KEY REFERENCES public.users (id) ON DELETE CASCADE,
            secret text NOT NULL CONSTRAINT totp_factors_secret_format CHECK (secret ~ '^[A-Z2-7]{16,64}$'),
            confirmed_at timestamptz,
            last_step bigint,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE auth.recovery_codes (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            user_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
            code_hash text NOT NULL CONSTRAINT recovery_codes_hash_format CHECK (code_hash ~ '^[0-9a-f]{64}$'),
            used_at timestamptz,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT recovery_codes_user_code_key UNIQUE (user_id, code_hash)
        );
        -- The audit log's events gain the second factor's. NOT VALID, then validated: the
        -- check of existing rows does not block writes to the log meanwhile.
        ALTER TABLE public.audit_log DROP CONSTRAINT audit_log_event_valid;
        ALTER TABLE public.audit_log ADD CONSTRAINT audit_log_event_valid CHECK (event IN (
                'signup', 'login.succeeded', 'login.failed', 'logout', 'password.changed',
                'api_key.created', 'api_key.revoked', 'session.revoked', 'account.deleted',
                'share.created', 'share.revoked', 'data.exported', 'admin.action',
                'totp.enabled', 'totp.disabled', 'totp.recovery_codes_replaced', 'totp.recovery_code_used')) NOT VALID;
        ALTER TABLE public.audit_log VALIDATE CONSTRAINT audit_log_event_valid;

        CREATE TRIGGER totp_factors_updated_at BEFORE UPDATE ON auth.totp_factors
            FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
        CREATE TRIGGER recovery_codes_updated_at BEFORE UPDATE ON auth.recovery_codes
            FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
        ALTER TABLE auth.totp_factors ENABLE ROW LEVEL SECURITY;
        ALTER TABLE auth.totp_factors FORCE ROW LEVEL SECURITY;
        ALTER TABLE auth.recovery_codes ENABLE ROW LEVEL SECURITY;
        ALTER TABLE auth.recovery_codes FORCE ROW LEVEL SECURITY;

        GRANT SELECT, INSERT, UPDATE, DELETE ON auth.totp_factors, auth.recovery_codes TO studio_auth;
        -- The functions below are studio_auth's; login reads any account's factor (after
        -- the API verified its password), everything else only the caller's own.
        CREATE POLICY totp_factors_auth_select ON auth.totp_factors FOR SELECT TO studio_auth USING (true);
        CREATE POLICY totp_factors_auth_write_own ON auth.totp_factors FOR ALL TO studio_auth
            USING (user_id = (SELECT auth.uid())) WITH CHECK (user_id = (SELECT auth.uid()));
        CREATE POLICY totp_factors_auth_accept ON auth.totp_factors FOR UPDATE TO studio_auth
            USING (confirmed_at IS NOT NULL) WITH CHECK (confirmed_at IS NOT NULL);
        CREATE POLICY recovery_codes_auth_select ON auth.recovery_codes FOR SELECT TO studio_auth USING (true);
        CREATE POLICY recovery_codes_auth_write_own ON auth.recovery_codes FOR ALL TO studio_auth
            USING (user_id = (SELECT auth.uid())) WITH CHECK (user_id = (SELECT auth.uid()));
        CREATE POLICY recovery_codes_auth_use ON auth.recovery_codes FOR UPDATE TO studio_auth
            USING (used_at IS NULL) WITH CHECK (used_at IS NOT NULL);

        CREATE FUNCTION auth.totp_begin(p_secret text)
            RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
            AS $$
            DECLARE
                v_user_id uuid := auth.uid();
            BEGIN
                IF v_user_id IS NULL OR EXISTS (SELECT 1 FROM auth.totp_factors f
                                                 WHERE f.user_id = v_user_id AND f.confirmed_at IS NOT NULL) THEN
                    RETURN false;
                END IF;
                INSERT INTO auth.totp_factors AS f (user_id, secret) VALUES (v_user_id, p_secret)
                ON CONFLICT (user_id) DO UPDATE SET secret = EXCLUDED.secret, last_step = NULL;
                RETURN true;
            END
            $$;

        CREATE FUNCTION auth.totp_pending()
            RETURNS text LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
            AS $$
                SELECT f.secret FROM auth.totp_factors f
                 WHERE f.user_id = auth.uid() AND f.confirmed_at IS NULL
            $$;

        CREATE FUNCTION auth.totp_confirm(p_step bigint, p_code_hashes text[])
            RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
            AS $$
            DECLARE
                v_user_id uuid := auth.uid();
            BEGIN
                UPDATE auth.totp_factors f SET confirmed_at = pg_catalog.now(), last_step = p_step
                 WHERE f.user_id = v_user_id AND f.confirmed_at IS NULL;
                IF NOT FOUND THEN
                    RETURN false;
                END IF;
                DELETE FROM auth.recovery_codes r WHERE r.user_id = v_user_id;
                INSERT INTO auth.recovery_codes (user_id, code_hash)
                SELECT v_user_id, h FROM pg_catalog.unnest(p_code_hashes) AS h;
                PERFORM auth.audit(v_user_id, 'totp.enabled');
                RETURN true;
            END
            $$;

        CREATE FUNCTION auth.totp_replace_recovery_codes(p_code_hashes text[])
            RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
            AS $$
            DECLARE
                v_user_id uuid := auth.uid();
            BEGIN
                IF NOT EXISTS (SELECT 1 FROM auth.totp_factors f
                                WHERE f.user_id = v_user_id AND f.confirmed_at IS NOT NULL) THEN
                    RETURN false;
                END IF;
                DELETE FROM auth.recovery_codes r WHERE r.user_id = v_user_id;
                INSERT INTO auth.recovery_codes (user_id, code_hash)
                SELECT v_user_id, h FROM pg_catalog.unnest(p_code_hashes) AS h;
                PERFORM auth.audit(v_user_id, 'totp.recovery_codes_replaced');
                RETURN true;
            END
            $$;

        CREATE FUNCTION auth.totp_disable()
            RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
            AS $$
            DECLARE
                v_user_id uuid := auth.uid();
                v_was_on boolean;
            BEGIN
                DELETE FROM auth.totp_factors f WHERE f.user_id = v_user_id
                RETURNING f.confirmed_at IS NOT NULL INTO v_was_on;
                DELETE FROM auth.recovery_codes r WHERE r.user_id = v_user_id;
                IF v_was_on THEN
                    PERFORM auth.audit(v_user_id, 'totp.disabled');
                END IF;
                RETURN COALESCE(v_was_on, false);
            END
            $$;

        CREATE FUNCTION auth.totp_status(OUT enabled boolean, OUT recovery_codes_left integer)
            LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
            AS $$
                SELECT EXISTS (SELECT 1 FROM auth.totp_factors f
                                WHERE f.user_id = auth.uid() AND f.confirmed_at IS NOT NULL),
                       (SELECT pg_catalog.count(*)::integer FROM auth.recovery_codes r
                         WHERE r.user_id = auth.uid() AND r.used_at IS NULL)
            $$;

        CREATE FUNCTION auth.login_totp(p_user_id uuid, OUT secret text, OUT last_step bigint)
            LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
            AS $$
                SELECT f.secret, f.last_step FROM auth.totp_factors f
                 WHERE f.user_id = p_user_id AND f.confirmed_at IS NOT NULL
            $$;

        -- Two logins racing with the same code: the row lock lets one through.
        CREATE FUNCTION auth.login_totp_accept(p_user_id uuid, p_step bigint)
            RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
            AS $$
            BEGIN
                UPDATE auth.totp_factors f SET last_step = p_step
                 WHERE f.user_id = p_user_id AND f.confirmed_at IS NOT NULL
                   AND (f.last_step IS NULL OR f.last_step < p_step);
                RETURN FOUND;
            END
            $$;

        CREATE FUNCTION auth.login_recovery_code(p_user_id uuid, p_code_hash text)
            RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
            AS $$
            DECLARE
                v_left integer;
            BEGIN
                UPDATE auth.recovery_codes r SET used_at = pg_catalog.now()
                 WHERE r.user_id = p_user_id AND r.code_hash = p_code_hash AND r.used_at IS NULL;
                IF NOT FOUND THEN
                    RETURN false;
                END IF;
                SELECT pg_catalog.count(*)::integer INTO v_left FROM auth.recovery_codes r
                 WHERE r.user_id = p_user_id AND r.used_at IS NULL;
                PERFORM auth.audit(p_user_id, 'totp.recovery_code_used',
                                   pg_catalog.jsonb_build_object('codes_left', v_left));
                RETURN true;
            END
            $$;

        -- Granted before the functions change hands (see 0002).
        REVOKE EXECUTE ON FUNCTION auth.totp_begin(text), auth.totp_pending(), auth.totp_confirm(bigint, text[]),
            auth.totp_replace_recovery_codes(text[]), auth.totp_disable(), auth.totp_status(),
            auth.login_totp(uuid), auth.login_totp_accept(uuid, bigint), auth.login_recovery_code(uuid, text)
            FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION auth.totp_begin(text), auth.totp_pending(), auth.totp_confirm(bigint, text[]),
            auth.totp_replace_recovery_codes(text[]), auth.totp_disable(), auth.totp_status() TO authenticated;
        GRANT EXECUTE ON FUNCTION auth.login_totp(uuid), auth.login_totp_accept(uuid, bigint),
            auth.login_recovery_code(uuid, text) TO anon;
        ALTER FUNCTION auth.totp_begin(text) OWNER TO studio_auth;
        ALTER FUNCTION auth.totp_pending() OWNER TO studio_auth;
        ALTER FUNCTION auth.totp_confirm(bigint, text[]) OWNER TO studio_auth;
        ALTER FUNCTION auth.totp_replace_recovery_codes(text[]) OWNER TO studio_auth;
        ALTER FUNCTION auth.totp_disable() OWNER TO studio_auth;
        ALTER FUNCTION auth.totp_status() OWNER TO studio_auth;
        ALTER FUNCTION auth.login_totp(uuid) OWNER TO studio_auth;
        ALTER FUNCTION auth.login_totp_accept(uuid, bigint) OWNER TO studio_auth;
        ALTER FUNCTION auth.login_recovery_code(uuid, text) OWNER TO studio_auth;
        """
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        DROP FUNCTION auth.login_recovery_code(uuid, text);
        DROP FUNCTION auth.login_totp_accept(uuid, bigint);
        DROP FUNCTION auth.login_totp(uuid);
        DROP FUNCTION auth.totp_status();
        DROP FUNCTION auth.totp_disable();
        DROP FUNCTION auth.totp_replace_recovery_codes(text[]);
        DROP FUNCTION auth.totp_confirm(bigint, text[]);
        DROP FUNCTION auth.totp_pending();
        DROP FUNCTION auth.totp_begin(text);
        DROP TABLE auth.recovery_codes;
        DROP TABLE auth.totp_factors;
        DELETE FROM public.audit_log WHERE event LIKE 'totp.%';
        ALTER TABLE public.audit_log DROP CONSTRAINT audit_log_event_valid;
        ALTER TABLE public.audit_log ADD CONSTRAINT audit_log_event_valid CHECK (event IN (
                'signup', 'login.succeeded', 'login.failed', 'logout', 'password.changed',
                'api_key.created', 'api_key.revoked', 'session.revoked', 'account.deleted',
                'share.created', 'share.revoked', 'data.exported', 'admin.action'));
        """
    )
