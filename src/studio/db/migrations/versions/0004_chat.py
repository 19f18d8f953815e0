"""Chat: conversations and their messages, a tree through parent_id.

Editing or regenerating a message adds a sibling under the same parent, so messages
are immutable: users insert and delete them, never update them.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        CREATE TABLE public.conversations (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            user_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
            title text NOT NULL DEFAULT 'New conversation'
                CONSTRAINT conversations_title_length CHECK (length(title) BETWEEN 1 AND 200),
            system_prompt text CONSTRAINT conversations_system_prompt_length CHECK (length(system_prompt) <= 10000),
            model_id uuid REFERENCES public.model_registry (id) ON DELETE SET NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        -- A user's conversations, newest first (keyset pagination on created_at, id).
        CREATE INDEX conversations_user_id_created_idx ON public.conversations (user_id, created_at DESC, id DESC);
        CREATE INDEX conversations_model_id_idx ON public.conversations (model_id);

        CREATE TABLE public.messages (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            conversation_id uuid NOT NULL REFERENCES public.conversations (id) ON DELETE CASCADE,
            parent_id uuid,
            role text NOT NULL CONSTRAINT messages_role_valid CHECK (role IN ('system', 'user', 'assistant', 'tool')),
            content text NOT NULL CONSTRAINT messages_content_length CHECK (length(content) <= 100000),
            model text CONSTRAINT messages_model_length CHECK (length(model) <= 200),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT messages_conversation_id_id_key UNIQUE (conversation_id, id),
            -- A parent is always in the same conversation; deleting a message deletes its subtree.
            CONSTRAINT messages_parent_fkey FOREIGN KEY (conversation_id, parent_id)
                REFERENCES public.messages (conversation_id, id) ON DELETE CASCADE,
            CONSTRAINT messages_not_own_parent CHECK (parent_id IS DISTINCT FROM id)
        );
        CREATE INDEX messages_conversation_id_created_idx ON public.messages (conversation_id, created_at, id);
        CREATE INDEX messages_conversation_id_parent_id_idx ON public.messages (conversation_id, parent_id);

        CREATE TRIGGER conversations_updated_at BEFORE UPDATE ON public.conversations
            FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
        CREATE TRIGGER messages_updated_at BEFORE UPDATE ON public.messages
            FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

        ALTER TABLE public.conversations ENABLE ROW LEVEL SECURITY;
        ALTER TABLE public.conversations FORCE ROW LEVEL SECURITY;
        ALTER TABLE public.messages ENABLE ROW LEVEL SECURITY;
        ALTER TABLE public.messages FORCE ROW LEVEL SECURITY;

        GRANT SELECT, DELETE ON public.conversations TO authenticated;
        GRANT INSERT (user_id, title, system_prompt, model_id) ON public.conversations TO authenticated;
        GRANT UPDATE (title, system_prompt, model_id) ON public.conversations TO authenticated;
        CREATE POLICY conversations_select_own ON public.conversations FOR SELECT TO authenticated
            USING (user_id = (SELECT auth.uid()));
        CREATE POLICY conversations_insert_own ON public.conversations FOR INSERT TO authenticated
            WITH CHECK (user_id = (SELECT auth.uid()));
        CREATE POLICY conversations_update_own ON public.conversations FOR UPDATE TO authenticated
            USING (user_id = (SELECT auth.uid())) WITH CHECK (user_id = (SELECT auth.uid()));
        CREATE POLICY conversations_delete_own ON public.conversations FOR DELETE TO authenticated
            USING (user_id = (SELECT auth.uid()));

        -- Messages inherit ownership from their conversation (EXISTS, F18).
        GRANT SELECT, DELETE ON public.messages TO authenticated;
        GRANT INSERT (id, conversation_id, parent_id, role, content, model) ON public.messages TO authenticated;
        CREATE POLICY messages_select_own ON public.messages FOR SELECT TO authenticated
            USING (EXISTS (SELECT 1 FROM public.conversations c
                            WHERE c.id = conversation_id AND c.user_id = (SELECT auth.uid())));
        CREATE POLICY messages_insert_own ON public.messages FOR INSERT TO authenticated
            WITH CHECK (EXISTS (SELECT 1 FROM public.conversations c
                                 WHERE c.id = conversation_id AND c.user_id = (SELECT auth.uid())));
        CREATE POLICY messages_delete_own ON public.messages FOR DELETE TO authenticated
            USING (EXISTS (SELECT 1 FROM public.conversations c
                            WHERE c.id = conversation_id AND c.user_id = (SELECT auth.uid())));
        """
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        DROP TABLE public.messages;
        DROP TABLE public.conversations;
        """
    )
