"""Metrics (F7, F23): one aggregate snapshot for /metrics, the top statements for admins.

- public.metrics_snapshot() returns, as one jsonb document, what GET /metrics reports
  from the database: the queue (depth and oldest age per kind and status), jobs that
  ended in the last 5 minutes (count and duration percentiles), the last backup and
  drill, connections by state, sessions waiting on locks, the oldest open transaction,
  deadlocks, cache hits, and per table dead rows and scans. Aggregates only: no row of
  any user, no query text. /metrics runs in an anon scope (like /readyz), so EXECUTE
  goes to anon and nobody else.
- public.top_statements(p_order, p_limit) reads pg_stat_statements for
  GET /v1/admin/statements: the normalized statements (constants replaced by $n) that
  Studio's runtime roles ran in this database. Any signed-in user may call it; it
  answers admins only (auth.is_admin()) and returns nothing to anybody else. It is
  PL/pgSQL so that it is created even where the extension is missing (external
  clusters): it then raises object_not_in_prerequisite_state, answered 503.
- Both run as studio_system, which reads other sessions' activity and statements as a
  member of pg_read_all_stats (roles.bootstrap), and reads jobs through a policy of its own.
- jobs_finished_idx: the 5-minute window of ended jobs is read through a partial index
  on updated_at (the time a job ended), not a scan of every job ever run. It costs one
  index entry when a job ends; running jobs (heartbeats) never touch it.

Revision ID: 0017
Revises: 0016
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        CREATE INDEX jobs_finished_idx ON public.jobs (updated_at)
            WHERE status IN ('succeeded', 'failed', 'canceled');
        GRANT SELECT (kind, status, run_after, created_at, updated_at) ON public.jobs TO studio_system;
        CREATE POLICY jobs_system_select ON public.jobs FOR SELECT TO studio_system USING (true);
        GRANT EXECUTE ON FUNCTION auth.is_admin() TO studio_system;

        CREATE FUNCTION public.metrics_snapshot() RETURNS jsonb
            LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
            AS $$
            WITH queue AS (
                -- Queued: age of the oldest job that is due (run_after reached), so
                -- retries waiting out their backoff do not count as a backlog.
                -- Running: age since it was enqueued (a job has no start time of its own).
                SELECT j.kind, j.status, pg_catalog.count(*) AS depth,
                       COALESCE(pg_catalog.date_part('epoch', pg_catalog.now() -
                           pg_catalog.min(CASE WHEN j.status = 'running' THEN j.created_at
                                               WHEN j.run_after <= pg_catalog.now() THEN j.run_after
                                          END)), 0) AS oldest_age_seconds
                  FROM public.jobs j
                 WHERE j.status IN ('queued', 'running')
                 GROUP BY j.kind, j.status
            ), expected AS (
                -- Every kind of jobs_kind_valid (0005) in both states, so an empty
                -- queue reports 0 rather than nothing.
                SELECT k.kind, s.status
                  FROM (VALUES ('generation'), ('training'), ('storage_cleanup'), ('maintenance')) AS k (kind)
                 CROSS JOIN (VALUES ('queued'), ('running')) AS s (status)
            ), ended AS (
                -- Jobs that ended in the last 5 minutes, from enqueue to end (queue
                -- wait included: what a user waits for).
                SELECT j.kind, j.status,
                       pg_catalog.date_part('epoch', j.updated_at - j.created_at) AS seconds
                  FROM public.jobs j
                 WHERE j.status IN ('succeeded', 'failed', 'canceled')
                   AND j.updated_at > pg_catalog.now() - interval '5 minutes'
            ), sessions AS (
                SELECT a.pid, a.state, a.wait_event_type, a.xact_start
                  FROM pg_catalog.pg_stat_activity a
                 WHERE a.datname = pg_catalog.current_database()
                   AND a.backend_type = 'client backend'
                   AND a.pid <> pg_catalog.pg_backend_pid()
            )
            SELECT pg_catalog.jsonb_build_object(
                'queue', (SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                                     'kind', COALESCE(e.kind, q.kind), 'status', COALESCE(e.status, q.status),
                                     'depth', COALESCE(q.depth, 0), 'oldest_age_seconds', COALESCE(q.oldest_age_seconds, 0))
                                     ORDER BY COALESCE(e.kind, q.kind), COALESCE(e.status, q.status)), '[]'::jsonb)
                            FROM expected e FULL JOIN queue q ON q.kind = e.kind AND q.status = e.status),
                'ended', (SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                                     'kind', x.kind, 'status', x.status, 'count', x.count, 'p50', x.p50,
                                     'p95', x.p95, 'max', x.max) ORDER BY x.kind, x.status), '[]'::jsonb)
                            FROM (SELECT n.kind, n.status, pg_catalog.count(*) AS count,
                                         pg_catalog.percentile_cont(0.5) WITHIN GROUP (ORDER BY n.seconds) AS p50,
                                         pg_catalog.percentile_cont(0.95) WITHIN GROUP (ORDER BY n.seconds) AS p95,
                                         pg_catalog.max(n.seconds) AS max
                                    FROM ended n GROUP BY n.kind, n.status) x),
                'backups', pg_catalog.jsonb_build_object(
                    'last_success_age_seconds',
                        (SELECT pg_catalog.date_part('epoch', pg_catalog.now() - pg_catalog.max(r.finished_at))
                           FROM public.backup_runs r
                          WHERE r.kind = 'backup' AND r.status = 'succeeded'),
                    'last_backup_succeeded',
                        (SELECT r.status = 'succeeded' FROM public.backup_runs r
                          WHERE r.kind = 'backup' AND r.status <> 'running'
                          ORDER BY r.started_at DESC LIMIT 1),
                    'last_drill_succeeded',
                        (SELECT r.status = 'succeeded' FROM public.backup_runs r
                          WHERE r.kind = 'drill' AND r.status <> 'running'
                          ORDER BY r.started_at DESC LIMIT 1),
                    'last_drill_age_seconds',
                        (SELECT pg_catalog.date_part('epoch', pg_catalog.now() - r.finished_at)
                           FROM public.backup_runs r
                          WHERE r.kind = 'drill' AND r.status <> 'running'
                          ORDER BY r.started_at DESC LIMIT 1)),
                'connections', (SELECT COALESCE(pg_catalog.jsonb_object_agg(c.state, c.count), '{}'::jsonb)
                                  FROM (SELECT COALESCE(s.state, 'unknown') AS state, pg_catalog.count(*) AS count
                                          FROM sessions s GROUP BY 1) c),
                'cluster_connections', (SELECT pg_catalog.count(*) FROM pg_catalog.pg_stat_activity a
                                         WHERE a.backend_type = 'client backend'),
                'max_connections', pg_catalog.current_setting('max_connections')::integer,
                'lock_waiting', (SELECT pg_catalog.count(*) FROM sessions s WHERE s.wait_event_type = 'Lock'),
                'oldest_transaction_seconds',
                    (SELECT COALESCE(pg_catalog.max(pg_catalog.date_part('epoch', pg_catalog.now() - s.xact_start)), 0)
                       FROM sessions s WHERE s.xact_start IS NOT NULL),
                'database', (SELECT pg_catalog.jsonb_build_object(
                                 'deadlocks', d.deadlocks, 'blks_hit', d.blks_hit, 'blks_read', d.blks_read,
                                 'xact_commit', d.xact_commit, 'xact_rollback', d.xact_rollback,
                                 'temp_bytes', d.temp_bytes,
                                 -- Needs CONNECT or pg_read_all_stats: left out rather than failing
                                 -- where the bootstrap could not grant the latter.
                                 'size_bytes', CASE WHEN pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE')
                                                    THEN pg_catalog.pg_database_size(d.datid) END)
                               FROM pg_catalog.pg_stat_database d
                              WHERE d.datname = pg_catalog.current_database()),
                'tables', (SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                                   'table', t.schemaname || '.' || t.relname,
                                   'live', t.n_live_tup, 'dead', t.n_dead_tup,
                                   'seq_scan', t.seq_scan, 'idx_scan', COALESCE(t.idx_scan, 0))
                                   ORDER BY t.schemaname, t.relname), '[]'::jsonb)
                             FROM pg_catalog.pg_stat_user_tables t WHERE t.schemaname IN ('public', 'auth')))
            $$;
        REVOKE EXECUTE ON FUNCTION public.metrics_snapshot() FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION public.metrics_snapshot() TO anon;
        ALTER FUNCTION public.metrics_snapshot() OWNER TO studio_system;

        CREATE FUNCTION public.top_statements(p_order text, p_limit integer)
            RETURNS TABLE (query text, calls bigint, total_ms double precision, mean_ms double precision,
                           max_ms double precision, rows bigint, shared_blks_hit bigint, shared_blks_read bigint)
            LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
            AS $$
            #variable_conflict use_column
            BEGIN
                IF p_order IS NULL OR p_order NOT IN ('total_time', 'mean_time', 'calls') THEN
                    RAISE EXCEPTION 'unknown order %', p_order USING ERRCODE = '22023';
                END IF;
                IF p_limit IS NULL OR p_limit < 1 OR p_limit > 100 THEN
                    RAISE EXCEPTION 'limit out of range' USING ERRCODE = '22023';
                END IF;
                IF NOT auth.is_admin() THEN
                    RETURN;
                END IF;
                IF pg_catalog.to_regclass('public.pg_stat_statements') IS NULL THEN
                    RAISE EXCEPTION 'the pg_stat_statements extension is not installed in this database'
                        USING ERRCODE = '55000';
                END IF;
                -- Studio's runtime roles only: their statements are parameterized, so the
                -- normalized text holds no user data. Operators' own sessions (psql,
                -- migrations, the bootstrap's ALTER ROLE ... PASSWORD) stay out.
                RETURN QUERY
                SELECT s.query, s.calls, s.total_exec_time, s.mean_exec_time, s.max_exec_time, s.rows,
                       s.shared_blks_hit, s.shared_blks_read
                  FROM public.pg_stat_statements s
                 WHERE s.dbid = (SELECT d.oid FROM pg_catalog.pg_database d
                                  WHERE d.datname = pg_catalog.current_database())
                   AND s.userid IN (SELECT r.oid FROM pg_catalog.pg_roles r
                                     WHERE r.rolname IN ('studio_api', 'studio_worker', 'anon', 'authenticated'))
                 ORDER BY CASE p_order WHEN 'total_time' THEN s.total_exec_time
                                       WHEN 'mean_time' THEN s.mean_exec_time
                                       ELSE s.calls::double precision END DESC
                 LIMIT p_limit;
            END
            $$;
        REVOKE EXECUTE ON FUNCTION public.top_statements(text, integer) FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION public.top_statements(text, integer) TO authenticated;
        ALTER FUNCTION public.top_statements(text, integer) OWNER TO studio_system;
        """
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        DROP FUNCTION public.top_statements(text, integer);
        DROP FUNCTION public.metrics_snapshot();
        REVOKE EXECUTE ON FUNCTION auth.is_admin() FROM studio_system;
        DROP POLICY jobs_system_select ON public.jobs;
        REVOKE SELECT (kind, status, run_after, created_at, updated_at) ON public.jobs FROM studio_system;
        DROP INDEX public.jobs_finished_idx;
        """
    )
