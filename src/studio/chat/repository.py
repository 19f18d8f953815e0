"""Chat SQL. RLS scopes every statement to the caller; the explicit owner filters let
the planner use the (user_id, created_at DESC, id DESC) index."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from studio.db.scopes import UserStatement, UserScope, WorkerScope, run_statement

# A user's conversations, newest first: written with auth.uid() for the user, so that
# the list endpoint sends them with the scope's opening (scopes.run_as_user).
_LIST_FIRST = """
SELECT id, title, title_auto, system_prompt, model_id, created_at, updated_at
  FROM public.conversations
 WHERE user_id = auth.uid()
 ORDER BY created_at DESC, id DESC
 LIMIT %(limit)s
"""
_LIST_AFTER = """
SELECT id, title, title_auto, system_prompt, model_id, created_at, updated_at
  FROM public.conversations
 WHERE user_id = auth.uid() AND (created_at, id) < (%(after_ts)s, %(after_id)s)
 ORDER BY created_at DESC, id DESC
 LIMIT %(limit)s
"""
# The same pages of the titles containing a text (ILIKE, the pattern from like_pattern):
# the same walk of the index in page order, the title checked on top of it.
_SEARCH_FIRST = """
SELECT id, title, title_auto, system_prompt, model_id, created_at, updated_at
  FROM public.conversations
 WHERE user_id = auth.uid() AND title ILIKE %(pattern)s ESCAPE '\\'
 ORDER BY created_at DESC, id DESC
 LIMIT %(limit)s
"""
_SEARCH_AFTER = """
SELECT id, title, title_auto, system_prompt, model_id, created_at, updated_at
  FROM public.conversations
 WHERE user_id = auth.uid() AND (created_at, id) < (%(after_ts)s, %(after_id)s) AND title ILIKE %(pattern)s ESCAPE '\\'
 ORDER BY created_at DESC, id DESC
 LIMIT %(limit)s
"""


async def create_conversation(tx: UserScope, *, title: str, system_prompt: str | None,
                              model_id: UUID | None, title_auto: bool = False) -> dict[str, Any]:
    """`title_auto`: no title was given; the title model writes one after the first answer."""
    cur = await tx.conn.execute(
        """
        INSERT INTO public.conversations (user_id, title, system_prompt, model_id, title_auto)
        VALUES (%s, %s, %s, %s, %s)
        RETURNING id, title, title_auto, system_prompt, model_id, created_at, updated_at
        """,
        (tx.user.id, title, system_prompt, model_id, title_auto),
    )
    row = await cur.fetchone()
    assert row is not None
    return row


def like_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, its own %, _ and \\ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def conversations_page(*, after: tuple[datetime, UUID] | None, limit: int,
                       title_contains: str | None = None) -> UserStatement:
    """Newest first, `limit` + 1 rows (the page and whether there is a next one); with
    `title_contains`, only the titles containing it, ignoring case."""
    params: dict[str, object] = {"limit": limit + 1}
    if after is not None:
        params.update(after_ts=after[0], after_id=after[1])
    if title_contains is not None:
        params["pattern"] = like_pattern(title_contains)
        return UserStatement(_SEARCH_FIRST if after is None else _SEARCH_AFTER, params)
    return UserStatement(_LIST_FIRST if after is None else _LIST_AFTER, params)


async def list_conversations(tx: UserScope, *, after: tuple[datetime, UUID] | None, limit: int,
                             title_contains: str | None = None) -> list[dict[str, Any]]:
    """`conversations_page` in a scope that is already open."""
    return await run_statement(tx, conversations_page(after=after, limit=limit, title_contains=title_contains))


async def get_conversation(tx: UserScope, *, conversation_id: UUID) -> dict[str, Any] | None:
    cur = await tx.conn.execute(
        "SELECT id, title, title_auto, system_prompt, model_id, created_at, updated_at"
        "  FROM public.conversations WHERE id = %s",
        (conversation_id,),
    )
    return await cur.fetchone()


async def update_conversation(tx: UserScope, *, conversation_id: UUID, changes: dict[str, Any]) -> dict[str, Any] | None:
    """Only the fields present in `changes` are written (a JSON null clears a field)."""
    cur = await tx.conn.execute(
        """
        UPDATE public.conversations
           SET title = CASE WHEN %(set_title)s THEN %(title)s ELSE title END,
               -- A title the user gives is theirs: the title model no longer writes one.
               title_auto = title_auto AND NOT %(set_title)s,
               system_prompt = CASE WHEN %(set_system_prompt)s THEN %(system_prompt)s ELSE system_prompt END,
               model_id = CASE WHEN %(set_model_id)s THEN %(model_id)s::uuid ELSE model_id END
         WHERE id = %(id)s
        RETURNING id, title, title_auto, system_prompt, model_id, created_at, updated_at
        """,
        {
            "id": conversation_id,
            "set_title": "title" in changes, "title": changes.get("title"),
            "set_system_prompt": "system_prompt" in changes, "system_prompt": changes.get("system_prompt"),
            "set_model_id": "model_id" in changes, "model_id": changes.get("model_id"),
        },
    )
    return await cur.fetchone()


async def delete_conversation(tx: UserScope, *, conversation_id: UUID) -> bool:
    cur = await tx.conn.execute("DELETE FROM public.conversations WHERE id = %s RETURNING id", (conversation_id,))
    return await cur.fetchone() is not None


def new_message(*, conversation_id: UUID, role: str, content: str, model: str | None,
                parent_id: UUID | None, parent_given: bool) -> UserStatement:
    """Returns no row when the conversation is not the caller's. Without an explicit
    parent the message continues the conversation's latest message."""
    params = {"conversation_id": conversation_id, "role": role, "content": content, "model": model}
    if parent_given:
        return UserStatement(
            """
            INSERT INTO public.messages (conversation_id, parent_id, role, content, model)
            SELECT c.id, %(parent_id)s, %(role)s, %(content)s, %(model)s
              FROM public.conversations c WHERE c.id = %(conversation_id)s
            RETURNING id, conversation_id, parent_id, role, content, model, created_at
            """, {**params, "parent_id": parent_id})
    return UserStatement(
        """
        INSERT INTO public.messages (conversation_id, parent_id, role, content, model)
        SELECT c.id,
               (SELECT m.id FROM public.messages m WHERE m.conversation_id = c.id
                 ORDER BY m.created_at DESC, m.id DESC LIMIT 1),
               %(role)s, %(content)s, %(model)s
          FROM public.conversations c WHERE c.id = %(conversation_id)s
        RETURNING id, conversation_id, parent_id, role, content, model, created_at
        """, params)


async def add_message(tx: UserScope, *, conversation_id: UUID, role: str, content: str, model: str | None,
                      parent_id: UUID | None, parent_given: bool) -> dict[str, Any] | None:
    """`new_message` in a scope that is already open; None when the conversation is not the caller's."""
    rows = await run_statement(tx, new_message(conversation_id=conversation_id, role=role, content=content,
                                               model=model, parent_id=parent_id, parent_given=parent_given))
    return rows[0] if rows else None


async def list_messages(tx: UserScope, *, conversation_id: UUID,
                        leaf_id: UUID | None) -> list[dict[str, Any]] | None:
    """The whole tree, or the branch from the root down to `leaf_id`, oldest first.
    None when the conversation is not the caller's. Both statements go out in one
    round trip (pipeline mode)."""
    async with tx.conn.pipeline():
        return await _list_messages(tx, conversation_id=conversation_id, leaf_id=leaf_id)


async def _list_messages(tx: UserScope, *, conversation_id: UUID,
                         leaf_id: UUID | None) -> list[dict[str, Any]] | None:
    exists = await tx.conn.execute("SELECT 1 FROM public.conversations WHERE id = %s", (conversation_id,))
    if leaf_id is None:
        messages = await tx.conn.execute(
            """
            SELECT id, conversation_id, parent_id, role, content, model, created_at
              FROM public.messages WHERE conversation_id = %s
             ORDER BY created_at, id
            """,
            (conversation_id,),
        )
    else:
        messages = await tx.conn.execute(
            """
            WITH RECURSIVE branch AS (
                SELECT m.id, m.conversation_id, m.parent_id, m.role, m.content, m.model, m.created_at, 0 AS depth
                  FROM public.messages m WHERE m.conversation_id = %s AND m.id = %s
                UNION ALL
                -- By primary key: the foreign key keeps a parent in its child's conversation.
                SELECT p.id, p.conversation_id, p.parent_id, p.role, p.content, p.model, p.created_at, b.depth + 1
                  FROM public.messages p JOIN branch b ON p.id = b.parent_id
            )
            SELECT id, conversation_id, parent_id, role, content, model, created_at
              FROM branch ORDER BY depth DESC
            """,
            (conversation_id, leaf_id),
        )
    if await exists.fetchone() is None:
        return None
    return await messages.fetchall()


async def chat_model(tx: UserScope, *, conversation_id: UUID, model_id: UUID | None) -> dict[str, Any] | None:
    """The model to answer with (the given one, else the conversation's) and the
    conversation's system prompt. None when the conversation is not the caller's."""
    cur = await tx.conn.execute(
        """
        SELECT c.system_prompt, m.id AS model_id, m.slug, m.type, m.provider, m.provider_model, m.connection_id,
               m.default_params, m.config, m.capabilities, m.enabled
          FROM public.conversations c
          LEFT JOIN public.model_registry m ON m.id = COALESCE(%s, c.model_id)
         WHERE c.id = %s
        """,
        (model_id, conversation_id))
    return await cur.fetchone()


# Full-text search: words in any order (websearch syntax: "a phrase", -not, or), over the
# caller's message texts and conversation titles (RLS scopes both). Newest first, keyset
# pages on (created_at, id) across both kinds of hit. Matches in the snippet are between
# the markers « and ».
_SEARCH_HITS = """
WITH q AS (SELECT pg_catalog.websearch_to_tsquery('pg_catalog.simple'::regconfig, %(q)s) AS query),
hits AS (
    SELECT m.id, m.conversation_id, c.title AS conversation_title, m.id AS message_id, m.role, m.created_at,
           pg_catalog.ts_headline('pg_catalog.simple'::regconfig, m.content, q.query, %(options)s) AS snippet
      FROM q, public.messages m JOIN public.conversations c ON c.id = m.conversation_id
     WHERE m.search @@ q.query AND m.user_id = %(user)s
    UNION ALL
    SELECT c.id, c.id, c.title, NULL, NULL, c.created_at,
           pg_catalog.ts_headline('pg_catalog.simple'::regconfig, c.title, q.query, %(options)s)
      FROM q, public.conversations c
     WHERE c.search @@ q.query AND c.user_id = %(user)s
)
SELECT * FROM hits
 WHERE %(after_at)s::timestamptz IS NULL OR (created_at, id) < (%(after_at)s::timestamptz, %(after_id)s::uuid)
 ORDER BY created_at DESC, id DESC
 LIMIT %(limit)s
"""
_HEADLINE = "StartSel=«, StopSel=», MaxWords=24, MinWords=8, MaxFragments=2, FragmentDelimiter=\" … \""


async def search(tx: UserScope, *, query: str, after: tuple[datetime, UUID] | None, limit: int) -> list[dict[str, Any]]:
    """`limit` + 1 hits, newest first."""
    cur = await tx.conn.execute(_SEARCH_HITS, {
        "q": query, "options": _HEADLINE, "user": tx.user.id, "limit": limit + 1,
        "after_at": after[0] if after else None, "after_id": after[1] if after else None})
    return await cur.fetchall()


async def add_attachments(tx: UserScope, *, message_id: UUID, media_ids: list[UUID]) -> None:
    """In order; the policy checks that the message and every file are the caller's."""
    for position, media_id in enumerate(media_ids):
        await tx.conn.execute(
            "INSERT INTO public.message_attachments (message_id, user_id, media_object_id, position)"
            " VALUES (%s, %s, %s, %s)", (message_id, tx.user.id, media_id, position))


async def attachments_of(tx: UserScope, *, message_ids: list[UUID]) -> dict[UUID, list[dict[str, Any]]]:
    """Message id -> its attached files (where their bytes are), in order."""
    if not message_ids:
        return {}
    cur = await tx.conn.execute(
        """
        SELECT a.message_id, o.id, o.content_type, o.bucket, o.key
          FROM public.message_attachments a JOIN public.media_objects o ON o.id = a.media_object_id
         WHERE a.message_id = ANY(%s)
         ORDER BY a.message_id, a.position
        """, (message_ids,))
    found: dict[UUID, list[dict[str, Any]]] = {}
    for row in await cur.fetchall():
        found.setdefault(row.pop("message_id"), []).append(row)
    return found


async def title_due(tx: UserScope, *, conversation_id: UUID) -> dict[str, Any] | None:
    """After an answer is stored: the title model, when the conversation's title is still
    to be written and this was its first answer (a regenerated one does not ask again)."""
    cur = await tx.conn.execute(
        """
        SELECT m.id AS model_id
          FROM public.conversations c, public.model_registry m
         WHERE c.id = %s AND c.title_auto
           AND (SELECT count(*) FROM public.messages a WHERE a.conversation_id = c.id AND a.role = 'assistant') = 1
           AND m.enabled AND m.type = 'chat' AND m.config @> '{"use_for_titles": true}'
         LIMIT 1
        """, (conversation_id,))
    return await cur.fetchone()


async def title_model(tx: WorkerScope) -> dict[str, Any] | None:
    """The chat model admins chose to write titles, if enabled."""
    cur = await tx.conn.execute(
        """
        SELECT id, slug, type, provider, provider_model, connection_id, default_params
          FROM public.model_registry
         WHERE enabled AND type = 'chat' AND config @> '{"use_for_titles": true}'
         ORDER BY updated_at DESC LIMIT 1
        """)
    return await cur.fetchone()


async def set_title(tx: WorkerScope, *, conversation_id: UUID, title: str) -> bool:
    """Only while the title is automatic (the policy allows nothing else): a rename by
    the user meanwhile wins."""
    cur = await tx.conn.execute(
        "UPDATE public.conversations SET title = %s WHERE id = %s AND title_auto",
        (title, conversation_id))
    return cur.rowcount == 1
