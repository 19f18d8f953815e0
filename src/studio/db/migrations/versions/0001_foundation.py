"""Foundation: the auth schema, request claims, the updated_at trigger, the version table.

Roles (studio_owner, studio_api, studio_worker, studio_auth, anon, authenticated) are
cluster-wide and created by `studio db bootstrap` before any migration runs.

Revision ID: 0001
Revises:
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        REVOKE CREATE ON SCHEMA public FROM PUBLIC;
        GRANT USAGE ON SCHEMA public TO anon, authenticated, studio_worker, studio_auth;

        CREATE SCHEMA auth;
        REVOKE ALL ON SCHEMA auth FROM PUBLIC;
        GRANT USAGE ON SCHEMA auth TO anon, authenticated, studio_worker, studio_auth;
        -- Needed to hand the SECURITY DEFINER functions over to studio_auth.
        GRANT CREATE ON SCHEMA auth TO studio_auth;
        -- Functions Studio creates are not callable by PUBLIC unless granted one by one.
        -- (A per-schema default can only add to the global one, hence FOR ROLE.)
        ALTER DEFAULT PRIVILEGES FOR ROLE studio_owner REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

        -- The caller's identity, read from transaction-local settings that the API sets
        -- at the start of every transaction (SET LOCAL semantics: safe behind PgBouncer).
        -- These stay inlinable: LANGUAGE sql, STABLE, no SET clause, not SECURITY DEFINER,
        -- every reference schema-qualified. A SET clause here made RLS reads 46% slower.
        CREATE FUNCTION auth.uid() RETURNS uuid
            LANGUAGE sql STABLE PARALLEL SAFE
            AS $$ SELECT NULLIF(pg_catalog.current_setting('studio.user_id', true), '')::pg_catalog.uuid $$;

        CREATE FUNCTION auth.user_role() RETURNS text
            LANGUAGE sql STABLE PARALLEL SAFE
            AS $$ SELECT NULLIF(pg_catalog.current_setting('studio.user_role', true), '') $$;

        CREATE FUNCTION auth.is_admin() RETURNS boolean
            LANGUAGE sql STABLE PARALLEL SAFE
            AS $$ SELECT COALESCE(
                       pg_catalog.current_setting('studio.user_role', true) OPERATOR(pg_catalog.=) 'admin', false) $$;

        CREATE FUNCTION auth.client_ip() RETURNS inet
            LANGUAGE sql STABLE PARALLEL SAFE
            AS $$ SELECT NULLIF(pg_catalog.current_setting('studio.client_ip', true), '')::pg_catalog.inet $$;

        CREATE FUNCTION auth.user_agent() RETURNS text
            LANGUAGE sql STABLE PARALLEL SAFE
            AS $$ SELECT pg_catalog.left(NULLIF(pg_catalog.current_setting('studio.user_agent', true), ''), 512) $$;

        GRANT EXECUTE ON FUNCTION auth.uid(), auth.user_role(), auth.is_admin(), auth.client_ip(), auth.user_agent()
            TO anon, authenticated, studio_worker, studio_auth;

        -- updated_at is maintained by the database, whatever the client sends.
        CREATE FUNCTION public.set_updated_at() RETURNS trigger
            LANGUAGE plpgsql SET search_path = ''
            AS $$ BEGIN NEW.updated_at := pg_catalog.now(); RETURN NEW; END $$;

        -- Alembic's bookkeeping table lives in public, so it obeys the same rules as every
        -- other table: RLS forced, readable (for /readyz) but writable only by migrations.
        ALTER TABLE public.alembic_version ENABLE ROW LEVEL SECURITY;
        ALTER TABLE public.alembic_version FORCE ROW LEVEL SECURITY;
        CREATE POLICY alembic_version_read ON public.alembic_version
            FOR SELECT TO anon, authenticated, studio_worker USING (true);
        CREATE POLICY alembic_version_migrate ON public.alembic_version
            FOR ALL TO studio_owner USING (true) WITH CHECK (true);
        GRANT SELECT ON public.alembic_version TO anon, authenticated, studio_worker;
        """
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        REVOKE SELECT ON public.alembic_version FROM anon, authenticated, studio_worker;
        DROP POLICY alembic_version_migrate ON public.alembic_version;
        DROP POLICY alembic_version_read ON public.alembic_version;
        ALTER TABLE public.alembic_version NO FORCE ROW LEVEL SECURITY;
        ALTER TABLE public.alembic_version DISABLE ROW LEVEL SECURITY;

        DROP FUNCTION public.set_updated_at();
        ALTER DEFAULT PRIVILEGES FOR ROLE studio_owner GRANT EXECUTE ON FUNCTIONS TO PUBLIC;
        DROP FUNCTION auth.user_agent(), auth.client_ip(), auth.is_admin(), auth.user_role(), auth.uid();
        DROP SCHEMA auth;
        REVOKE USAGE ON SCHEMA public FROM anon, authenticated, studio_worker, studio_auth;
        """
    )
