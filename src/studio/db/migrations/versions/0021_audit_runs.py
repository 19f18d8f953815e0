"""Audit runs: every `studio audit` keeps its report, and the admins' ops page shows the
latest (GET /v1/admin/ops).

- public.audit_runs holds the score, the verdict, the exit code and the whole report
  (`Report.as_json()`, what `studio audit --format json` prints), at most 256 KiB of it.
- `studio audit` writes it on the login it already audits with, studio_owner's (the
  operator's command on the server), under policies written for it: it may add a run,
  read the runs and delete old ones (it keeps the latest 50, in the same transaction);
  no role may change a stored run. Not studio_worker: worker credentials live on
  worker hosts, and a verdict about the installation must not be forgeable from there.
- Admins read it as authenticated, with a policy of their own (like backup_runs); no
  other role gets a grant.

Revision ID: 0021
Revises: 0020
"""

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        CREATE TABLE public.audit_runs (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            score numeric(3, 1) NOT NULL CONSTRAINT audit_runs_score_range CHECK (score BETWEEN 0 AND 10),
            status text NOT NULL CONSTRAINT audit_runs_status_valid
                CHECK (status IN ('PRODUCTION READY', 'NEARLY PRODUCTION READY', 'NOT PRODUCTION READY')),
            exit_code smallint NOT NULL CONSTRAINT audit_runs_exit_code_range CHECK (exit_code BETWEEN 0 AND 255),
            report jsonb NOT NULL
                CONSTRAINT audit_runs_report_object CHECK (jsonb_typeof(report) = 'object')
                CONSTRAINT audit_runs_report_size CHECK (octet_length(report::text) <= 262144),
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX audit_runs_created_idx ON public.audit_runs (created_at DESC);
        ALTER TABLE public.audit_runs ENABLE ROW LEVEL SECURITY;
        ALTER TABLE public.audit_runs FORCE ROW LEVEL SECURITY;

        -- `studio audit` (studio_owner, the table's owner: FORCE RLS applies to it too).
        -- No UPDATE policy: a stored run never changes.
        CREATE POLICY audit_runs_owner_select ON public.audit_runs FOR SELECT TO studio_owner USING (true);
        CREATE POLICY audit_runs_owner_insert ON public.audit_runs FOR INSERT TO studio_owner WITH CHECK (true);
        CREATE POLICY audit_runs_owner_delete ON public.audit_runs FOR DELETE TO studio_owner USING (true);

        -- The ops page: admins read, nobody else.
        GRANT SELECT ON public.audit_runs TO authenticated;
        CREATE POLICY audit_runs_admin_select ON public.audit_runs FOR SELECT TO authenticated
            USING ((SELECT auth.is_admin()));
        """
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("DROP TABLE public.audit_runs;")
