"""Chat usage recorded like generations', and full-text search over one's conversations.

- api_usage gains message_id (the answer a chat row is about) and the vendor's token
  counts. A signed-in user's API transaction adds the usage of its own answer, in the
  same transaction that stores the answer: only kind 'chat', only about a message of
  their own or none (the OpenAI-compatible endpoint stores no conversation), never a
  generation's row (workers add those). Users can only add rows about
  themselves and never change or delete one, so they cannot lower what they used.
- messages and conversations get a generated tsvector (the 'simple' configuration: no
  stemming, so every language is searchable alike) with a GIN index each. RLS scopes
  every search to the caller's rows.

Revision ID: 0023
Revises: 0022
"""

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        ALTER TABLE public.api_usage
            ADD COLUMN message_id uuid REFERENCES public.messages (id) ON DELETE SET NULL,
            ADD COLUMN input_tokens integer CONSTRAINT api_usage_input_tokens_nonnegative CHECK (input_tokens >= 0),
            ADD COLUMN output_tokens integer CONSTRAINT api_usage_output_tokens_nonnegative CHECK (output_tokens >= 0);
        CREATE INDEX api_usage_message_id_idx ON public.api_usage (message_id);

        GRANT INSERT (user_id, message_id, kind, provider, model, units, cost_cents, input_tokens, output_tokens)
            ON public.api_usage TO authenticated;
        CREATE POLICY api_usage_insert_own_chat ON public.api_usage FOR INSERT TO authenticated
            WITH CHECK (user_id = (SELECT auth.uid()) AND kind = 'chat' AND generation_id IS NULL
                        AND (message_id IS NULL
                             OR EXISTS (SELECT 1 FROM public.messages m
                                         WHERE m.id = message_id AND m.user_id = (SELECT auth.uid()))));

        ALTER TABLE public.messages ADD COLUMN search tsvector
            GENERATED ALWAYS AS (to_tsvector('pg_catalog.simple'::regconfig, content)) STORED;
        CREATE INDEX messages_search_idx ON public.messages USING gin (search);
        ALTER TABLE public.conversations ADD COLUMN search tsvector
            GENERATED ALWAYS AS (to_tsvector('pg_catalog.simple'::regconfig, title)) STORED;
        CREATE INDEX conversations_search_idx ON public.conversations USING gin (search);
        """
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        ALTER TABLE public.conversations DROP COLUMN search;
        ALTER TABLE public.messages DROP COLUMN search;
        DROP POLICY api_usage_insert_own_chat ON public.api_usage;
        REVOKE INSERT (user_id, message_id, kind, provider, model, units, cost_cents, input_tokens, output_tokens)
            ON public.api_usage FROM authenticated;
        ALTER TABLE public.api_usage DROP COLUMN output_tokens, DROP COLUMN input_tokens, DROP COLUMN message_id;
        """
    )
