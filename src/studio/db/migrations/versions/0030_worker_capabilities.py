"""Capability-aware routing: a job may need something only some workers have (the
`local` extra for diffusers, espeak-ng, ffmpeg), and the API host need not have it.

- jobs.requires: a capability name the worker that claims the job must offer; NULL for
  jobs any worker runs. The queue compares names and knows nothing of what they mean.
  Set by the API when it enqueues (in the user's transaction, like the rest of the row).
- node_resources, written at run time at last: each worker registers its node (its
  host, or STUDIO_WORKER_NODE) with `capabilities = {"provides": [...]}` and renews
  last_heartbeat_at every few seconds. A change of what a node offers, its status, or a
  node coming back after a silence NOTIFYs `studio_connections`, which every process
  already follows to know what it can run, so the API sees a new GPU worker within a
  second or two.
- public.fleet_capabilities(): what the live workers offer (online nodes heard from in
  the last minute), for the API, which may not read node_resources (admins only). It runs
  as studio_system, which may read just the columns it needs.

Revision ID: 0030
Revises: 0029
"""

from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        ALTER TABLE public.jobs
            ADD COLUMN requires text CONSTRAINT jobs_requires_format CHECK (requires ~ '^[a-z][a-z0-9_-]{0,39}$');
        GRANT INSERT (requires) ON public.jobs TO authenticated;

        CREATE FUNCTION public.notify_fleet_changed() RETURNS trigger
            LANGUAGE plpgsql SET search_path = ''
            AS $$ BEGIN PERFORM pg_catalog.pg_notify('studio_connections', ''); RETURN NULL; END $$;
        REVOKE EXECUTE ON FUNCTION public.notify_fleet_changed() FROM PUBLIC;
        CREATE TRIGGER node_resources_registered AFTER INSERT OR DELETE ON public.node_resources
            FOR EACH ROW EXECUTE FUNCTION public.notify_fleet_changed();
        -- Heartbeats alone change nothing the API sees, unless the node was silent long
        -- enough to count as gone.
        CREATE TRIGGER node_resources_changed AFTER UPDATE ON public.node_resources
            FOR EACH ROW WHEN (OLD.capabilities IS DISTINCT FROM NEW.capabilities
                               OR OLD.status IS DISTINCT FROM NEW.status
                               OR OLD.last_heartbeat_at IS NULL
                               OR OLD.last_heartbeat_at < NEW.last_heartbeat_at - interval '60 seconds')
            EXECUTE FUNCTION public.notify_fleet_changed();

        GRANT SELECT (status, capabilities, last_heartbeat_at) ON public.node_resources TO studio_system;
        CREATE POLICY node_resources_system_select ON public.node_resources FOR SELECT TO studio_system
            USING (status = 'online');
        CREATE FUNCTION public.fleet_capabilities()
            RETURNS SETOF text
            LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
            AS $$
                SELECT DISTINCT c.name
                  FROM public.node_resources n,
                       LATERAL pg_catalog.jsonb_array_elements_text(
                           CASE WHEN pg_catalog.jsonb_typeof(n.capabilities -> 'provides') = 'array'
                                THEN n.capabilities -> 'provides' ELSE '[]'::jsonb END) AS c (name)
                 WHERE n.status = 'online'
                   AND n.last_heartbeat_at > pg_catalog.now() - interval '60 seconds'
                 ORDER BY 1
            $$;
        REVOKE EXECUTE ON FUNCTION public.fleet_capabilities() FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION public.fleet_capabilities() TO anon;
        ALTER FUNCTION public.fleet_capabilities() OWNER TO studio_system;
        """
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        DROP FUNCTION public.fleet_capabilities();
        DROP POLICY node_resources_system_select ON public.node_resources;
        REVOKE SELECT (status, capabilities, last_heartbeat_at) ON public.node_resources FROM studio_system;
        DROP TRIGGER node_resources_changed ON public.node_resources;
        DROP TRIGGER node_resources_registered ON public.node_resources;
        DROP FUNCTION public.notify_fleet_changed();
        REVOKE INSERT (requires) ON public.jobs FROM authenticated;
        ALTER TABLE public.jobs DROP COLUMN requires;
        """
    )
