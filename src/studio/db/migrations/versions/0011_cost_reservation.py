"""Cost reservation: a generation carries its model's price from the moment it is queued.

The price per generation lives in model_registry.config.cost_cents (admins set it;
absent means free). A BEFORE INSERT trigger copies it onto the generation, so the cost
a user is charged is decided by the database, not by what a client sends. Queued and
running generations count against the monthly cost cap as reserved spending; failed and
cancelled ones release it. The API checks the cap under a per-user transaction lock in
the same transaction that inserts the generation and its job (F10).

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        CREATE FUNCTION public.price_generation() RETURNS trigger
            LANGUAGE plpgsql SET search_path = ''
            AS $$
            BEGIN
                NEW.cost_cents := COALESCE((
                    SELECT CASE WHEN pg_catalog.jsonb_typeof(m.config -> 'cost_cents') = 'number'
                                THEN GREATEST(0, (m.config ->> 'cost_cents')::numeric)::integer END
                      FROM public.model_registry m WHERE m.id = NEW.model_id), 0);
                RETURN NEW;
            END
            $$;
        REVOKE EXECUTE ON FUNCTION public.price_generation() FROM PUBLIC;
        CREATE TRIGGER generations_price BEFORE INSERT ON public.generations
            FOR EACH ROW EXECUTE FUNCTION public.price_generation();
        -- The monthly spend of a user: reserved (queued, running) plus succeeded.
        CREATE INDEX generations_user_id_spend_idx ON public.generations (user_id, created_at)
            WHERE status IN ('queued', 'running', 'succeeded') AND cost_cents > 0;
        """
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        DROP INDEX public.generations_user_id_spend_idx;
        DROP TRIGGER generations_price ON public.generations;
        DROP FUNCTION public.price_generation();
        """
    )
