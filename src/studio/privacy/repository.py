"""Privacy SQL: the caller's rows for an export, read in their own scope, and the erasure
of their account. Table and column names come from the lists below and the catalog,
never from a request, and always pass through sql.Identifier."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import sql

from studio.db.scopes import UserScope


@dataclass(frozen=True)
class Owned:
    """How rows of `table` belong to a user: `column` holds the user's id, or, with
    `parent`, the id of a `parent` row whose `parent_owner` column holds it."""

    table: str
    column: str
    parent: str | None = None
    parent_owner: str | None = None


# The stored files; their rows also say where the bytes are.
MEDIA_OBJECTS = Owned("public.media_objects", "owner_id")

# Every table with rows that belong to a user, and how they are theirs. RLS already
# limits what the caller reads, but for some tables to more than their own rows (an
# admin reads every quota and approval request), so each table is also filtered by
# its owner. Together with NOT_EXPORTED this is every table of the schema; a new table
# goes into one or the other (tests/api/test_privacy.py compares with the catalog).
EXPORTED: tuple[Owned, ...] = (
    Owned("public.users", "id"),
    Owned("public.sessions", "user_id"),
    Owned("public.api_keys", "user_id"),
    Owned("public.audit_log", "user_id"),
    Owned("public.quotas", "user_id"),
    Owned("public.conversations", "user_id"),
    Owned("public.messages", "user_id"),
    Owned("public.message_attachments", "user_id"),
    Owned("public.batch_queue", "user_id"),
    Owned("public.generations", "user_id"),
    Owned("public.generation_events", "user_id"),
    Owned("public.jobs", "user_id"),
    MEDIA_OBJECTS,
    Owned("public.shared_content", "user_id"),
    Owned("public.api_usage", "user_id"),
    Owned("public.generation_inputs", "user_id"),
    Owned("public.datasets", "user_id"),
    Owned("public.dataset_images", "dataset_id", parent="public.datasets", parent_owner="user_id"),
    Owned("public.training_jobs", "user_id"),
    Owned("public.trained_models", "user_id"),
    Owned("public.user_notifications", "user_id"),
    Owned("public.notification_preferences", "user_id"),
    Owned("public.admin_approval_requests", "requester_id"),
)

# Tables left out of the export, and why.
NOT_EXPORTED: dict[str, str] = {
    "auth.credentials": "the password hash: a secret nobody may read back",
    "auth.totp_factors": "the second factor's secret: nobody may read it back",
    "auth.recovery_codes": "hashes of the one-time recovery codes",
    "public.model_registry": "the model catalog; created_by records an admin's authorship, not ownership",
    "public.model_tutorials": "the model catalog",
    "public.provider_connections": "the installation's provider connections and their (encrypted) API keys",
    "public.node_resources": "the installation's compute nodes",
    "public.backup_runs": "the installation's backups",
    "public.audit_runs": "the installation's audit reports (`studio audit`): no user's data",
    "public.storage_deletions": "the file-deletion outbox, internal",
    "public.webhook_deliveries": "providers' callbacks, owned by nobody (erased with the account)",
    "public.rate_limit_counters": "request counters, internal",
    "auth.setup_tokens": "the first admin's one-time setup links: hashes of secrets, the installation's",
    "public.alembic_version": "migration bookkeeping",
}


def _ident(table: str) -> sql.Identifier:
    schema, _, name = table.partition(".")
    return sql.Identifier(schema, name)


async def readable_columns(tx: UserScope) -> dict[str, list[str]]:
    """The columns of each exported table the caller's role may read (column grants keep
    hashes and tokens out), in table order, from the catalog at run time; not the
    generated ones."""
    cur = await tx.conn.execute(
        """
        SELECT n.nspname || '.' || c.relname AS table_name,
               pg_catalog.array_agg(a.attname::text ORDER BY a.attnum) AS columns
          FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
         WHERE n.nspname || '.' || c.relname = ANY(%s)
           AND a.attnum > 0 AND NOT a.attisdropped
           -- Generated columns (search vectors) are derived from the exported ones.
           AND a.attgenerated = ''
           AND pg_catalog.has_column_privilege(c.oid, a.attnum, 'SELECT')
         GROUP BY 1
        """,
        ([owned.table for owned in EXPORTED],))
    readable = {row["table_name"]: row["columns"] for row in await cur.fetchall()}
    unkeyed = [owned.table for owned in EXPORTED if "id" not in readable.get(owned.table, [])]
    if unkeyed:  # refused before the first byte, not halfway through the archive
        raise RuntimeError(f"exported tables without a readable id column: {', '.join(unkeyed)}")
    return readable


def _owner_filter(owned: Owned) -> sql.Composable:
    if owned.parent is None:
        return sql.SQL("t.{} = %(user_id)s").format(sql.Identifier(owned.column))
    assert owned.parent_owner is not None
    return sql.SQL("EXISTS (SELECT 1 FROM {} p WHERE p.id = t.{} AND p.{} = %(user_id)s)").format(
        _ident(owned.parent), sql.Identifier(owned.column), sql.Identifier(owned.parent_owner))


async def rows_page(tx: UserScope, owned: Owned, *, columns: list[str], after: Any,
                    limit: int) -> list[dict[str, Any]]:
    """One page of the caller's rows of a table, in primary-key order, after `after`
    (None: from the start). Every exported table is keyed by `id`."""
    query = sql.SQL("SELECT {columns} FROM {table} t WHERE {owner}{after} ORDER BY t.id LIMIT %(limit)s").format(
        columns=sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in columns),
        table=_ident(owned.table),
        owner=_owner_filter(owned),
        after=sql.SQL(" AND t.id > %(after)s") if after is not None else sql.SQL(""))
    cur = await tx.conn.execute(query, {"user_id": tx.user.id, "after": after, "limit": limit})
    return await cur.fetchall()


async def record_export(tx: UserScope) -> None:
    await tx.conn.execute("SELECT auth.audit_export()")


async def delete_account(tx: UserScope) -> bool:
    """The caller's account with everything of theirs; files are queued for erasure
    (migration 0014)."""
    cur = await tx.conn.execute("SELECT auth.delete_account() AS deleted")
    row = await cur.fetchone()
    assert row is not None
    return bool(row["deleted"])
