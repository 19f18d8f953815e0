"""Messages carry their owner (F18): the policies test `user_id` on the row itself.

Before, every policy on messages asked EXISTS (a conversation of this id owned by the
caller). RLS conditions are security barriers, so PostgreSQL cannot turn that EXISTS
into a join: reading one conversation's messages ran a hashed subplan over all of the
caller's conversations, and a branch walk looked its conversation up once per message
(tests/scale: +80% buffers for the heaviest user, against +0 now).

- messages.user_id, filled by default with auth.uid(): the API's INSERTs do not change.
- A foreign key (conversation_id, user_id) -> conversations (id, user_id) replaces the
  one on conversation_id alone: a message's owner is its conversation's owner, checked
  by the database whoever writes (foreign key checks do not go through RLS), and
  deleting a conversation still deletes its messages. The parent link becomes
  (conversation_id, user_id, parent_id) -> (conversation_id, user_id, id) likewise.
- The policies compare user_id = (SELECT auth.uid()), evaluated once per statement.
  Every index on messages but the primary key leads with (conversation_id, user_id),
  so the policy's condition is part of each index lookup: a conversation's page walks
  (conversation_id, user_id, created_at, id), a branch walk looks each parent up by
  (conversation_id, user_id, id). (With the old (conversation_id, id) key the planner
  chose the created_at index for every step of a branch walk: quadratic.)

Revision ID: 0018
Revises: 0017
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        ALTER TABLE public.conversations ADD CONSTRAINT conversations_id_user_id_key UNIQUE (id, user_id);

        ALTER TABLE public.messages ADD COLUMN user_id uuid;
        -- The owner runs migrations and is subject to the forced policies like anyone:
        -- for this one statement, in this transaction, the table is not forced. The
        -- backfill is not an edit, so updated_at keeps its meaning.
        ALTER TABLE public.messages NO FORCE ROW LEVEL SECURITY;
        ALTER TABLE public.conversations NO FORCE ROW LEVEL SECURITY;
        ALTER TABLE public.messages DISABLE TRIGGER messages_updated_at;
        UPDATE public.messages m SET user_id = c.user_id FROM public.conversations c WHERE c.id = m.conversation_id;
        ALTER TABLE public.messages ENABLE TRIGGER messages_updated_at;
        ALTER TABLE public.conversations FORCE ROW LEVEL SECURITY;
        ALTER TABLE public.messages FORCE ROW LEVEL SECURITY;

        ALTER TABLE public.messages ALTER COLUMN user_id SET NOT NULL,
                                    ALTER COLUMN user_id SET DEFAULT auth.uid();
        ALTER TABLE public.messages
            ADD CONSTRAINT messages_conversation_user_id_key UNIQUE (conversation_id, user_id, id);
        ALTER TABLE public.messages
            DROP CONSTRAINT messages_parent_fkey,
            DROP CONSTRAINT messages_conversation_id_fkey,
            ADD CONSTRAINT messages_conversation_owner_fkey FOREIGN KEY (conversation_id, user_id)
                REFERENCES public.conversations (id, user_id) ON DELETE CASCADE,
            -- A parent is in the same conversation; deleting a message deletes its subtree.
            ADD CONSTRAINT messages_parent_fkey FOREIGN KEY (conversation_id, user_id, parent_id)
                REFERENCES public.messages (conversation_id, user_id, id) ON DELETE CASCADE;
        ALTER TABLE public.messages DROP CONSTRAINT messages_conversation_id_id_key;
        DROP INDEX public.messages_conversation_id_created_idx;
        DROP INDEX public.messages_conversation_id_parent_id_idx;
        CREATE INDEX messages_conversation_user_created_idx
            ON public.messages (conversation_id, user_id, created_at, id);
        CREATE INDEX messages_conversation_user_parent_idx ON public.messages (conversation_id, user_id, parent_id);
        -- user_id follows from conversation_id. Without this the planner multiplies the
        -- two conditions' selectivities, expects one row from (conversation_id, user_id)
        -- alone, and may walk a long conversation for each step of a branch.
        CREATE STATISTICS public.messages_conversation_owner (dependencies) ON conversation_id, user_id
            FROM public.messages;

        DROP POLICY messages_select_own ON public.messages;
        DROP POLICY messages_insert_own ON public.messages;
        DROP POLICY messages_delete_own ON public.messages;
        CREATE POLICY messages_select_own ON public.messages FOR SELECT TO authenticated
            USING (user_id = (SELECT auth.uid()));
        -- The foreign key alone would refuse a message in someone else's conversation
        -- too, but as a constraint violation; the policy refuses it as what it is (and
        -- a one-row insert's lookup costs nothing).
        CREATE POLICY messages_insert_own ON public.messages FOR INSERT TO authenticated
            WITH CHECK (user_id = (SELECT auth.uid())
                        AND EXISTS (SELECT 1 FROM public.conversations c
                                     WHERE c.id = conversation_id AND c.user_id = (SELECT auth.uid())));
        CREATE POLICY messages_delete_own ON public.messages FOR DELETE TO authenticated
            USING (user_id = (SELECT auth.uid()));
        """
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        DROP POLICY messages_select_own ON public.messages;
        DROP POLICY messages_insert_own ON public.messages;
        DROP POLICY messages_delete_own ON public.messages;
        CREATE POLICY messages_select_own ON public.messages FOR SELECT TO authenticated
            USING (EXISTS (SELECT 1 FROM public.conversations c
                            WHERE c.id = conversation_id AND c.user_id = (SELECT auth.uid())));
        CREATE POLICY messages_insert_own ON public.messages FOR INSERT TO authenticated
            WITH CHECK (EXISTS (SELECT 1 FROM public.conversations c
                                 WHERE c.id = conversation_id AND c.user_id = (SELECT auth.uid())));
        CREATE POLICY messages_delete_own ON public.messages FOR DELETE TO authenticated
            USING (EXISTS (SELECT 1 FROM public.conversations c
                            WHERE c.id = conversation_id AND c.user_id = (SELECT auth.uid())));

        DROP STATISTICS public.messages_conversation_owner;
        DROP INDEX public.messages_conversation_user_created_idx;
        DROP INDEX public.messages_conversation_user_parent_idx;
        CREATE INDEX messages_conversation_id_created_idx ON public.messages (conversation_id, created_at, id);
        CREATE INDEX messages_conversation_id_parent_id_idx ON public.messages (conversation_id, parent_id);
        ALTER TABLE public.messages ADD CONSTRAINT messages_conversation_id_id_key UNIQUE (conversation_id, id);
        ALTER TABLE public.messages
            DROP CONSTRAINT messages_parent_fkey,
            DROP CONSTRAINT messages_conversation_owner_fkey,
            ADD CONSTRAINT messages_conversation_id_fkey FOREIGN KEY (conversation_id)
                REFERENCES public.conversations (id) ON DELETE CASCADE,
            ADD CONSTRAINT messages_parent_fkey FOREIGN KEY (conversation_id, parent_id)
                REFERENCES public.messages (conversation_id, id) ON DELETE CASCADE;
        ALTER TABLE public.messages DROP CONSTRAINT messages_conversation_user_id_key;
        ALTER TABLE public.messages DROP COLUMN user_id;
        ALTER TABLE public.conversations DROP CONSTRAINT conversations_id_user_id_key;
        """
    )
