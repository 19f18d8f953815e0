"""The admins' ops page (GET /v1/admin/ops): the queue per kind, for admins only.

- public.queue_summary() returns one row per job kind of jobs_kind_valid (0005), every
  kind even when it has no job: how many jobs are queued, how many of those are due
  (run_after reached; the rest wait out a retry's backoff), how many are running, and
  how long the longest-waiting due job has waited (since its run_after: when it was
  enqueued, or when its backoff ended; null when none is due), as
  studio_jobs_oldest_age_seconds counts it in /metrics. Counts and ages only: no
  user, no payload, no generation.
- Admins cannot read other users' jobs (jobs_select_own), and should not: the function
  runs as studio_system, which reads the columns it needs through jobs_system_select
  (0017). Any signed-in user may call it; it answers admins only (auth.is_admin()) and
  returns no row to anybody else, like public.top_statements().
- It reads only queued and running jobs, through the queue's partial indexes
  (jobs_queued_idx, jobs_running_lease_idx), never the finished ones.

Revision ID: 0019
Revises: 0018
"""

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        CREATE FUNCTION public.queue_summary()
            RETURNS TABLE (kind text, queued bigint, due bigint, running bigint,
                           oldest_queued_age_seconds double precision)
            LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
            AS $$
            SELECT k.kind,
                   COALESCE(q.queued, 0), COALESCE(q.due, 0), COALESCE(q.running, 0),
                   pg_catalog.date_part('epoch', pg_catalog.now() - q.oldest_due)
              FROM (VALUES ('generation'), ('training'), ('storage_cleanup'), ('maintenance')) AS k (kind)
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
        REVOKE EXECUTE ON FUNCTION public.queue_summary() FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION public.queue_summary() TO authenticated;
        ALTER FUNCTION public.queue_summary() OWNER TO studio_system;
        """
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("DROP FUNCTION public.queue_summary();")
