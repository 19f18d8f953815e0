"""Catalog SQL: provider connections and the model registry (public.provider_connections,
public.model_registry; the only writer of both).

- Admins manage both as authenticated, under admin-only policies (a non-admin's scope
  sees no connection and only enabled models); their column grants never let the key's
  ciphertext be read back.
- Every process reads the connections it runs through provider_connections_runtime(),
  as anon (the API, before any request) or as studio_worker.
- The launcher (studio_owner, a plain connection) seeds connections from the environment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from studio.db.scopes import AnonScope, UserScope, WorkerScope

_CONNECTION_SELECT = """
SELECT c.id, c.name, c.kind, c.base_url, c.api_key_last4, c.enabled, c.created_at, c.updated_at,
       (SELECT count(*) FROM public.model_registry m WHERE m.connection_id = c.id) AS model_count
  FROM public.provider_connections c
"""
_MODEL_SELECT = """
SELECT m.id, m.slug, m.display_name, m.type, m.provider, m.provider_model, m.description, m.config,
       m.enabled, m.connection_id, m.capabilities, m.default_params, m.created_at, m.updated_at,
       c.name AS connection_name
  FROM public.model_registry m LEFT JOIN public.provider_connections c ON c.id = m.connection_id
"""


class Conflict(Exception):
    """A unique key is taken: which one, in words."""


async def runtime_connections(tx: AnonScope | WorkerScope) -> list[dict[str, Any]]:
    cur = await tx.conn.execute(
        "SELECT id, name, kind, base_url, api_key_encrypted, enabled, updated_at"
        " FROM public.provider_connections_runtime()")
    return await cur.fetchall()


# -- connections (admins) ---------------------------------------------------------------------


async def list_connections(tx: UserScope) -> list[dict[str, Any]]:
    cur = await tx.conn.execute(_CONNECTION_SELECT + " ORDER BY c.name")
    return await cur.fetchall()


async def get_connection(tx: UserScope, *, connection_id: UUID) -> dict[str, Any] | None:
    cur = await tx.conn.execute(_CONNECTION_SELECT + " WHERE c.id = %s", (connection_id,))
    return await cur.fetchone()


async def create_connection(tx: UserScope, *, name: str, kind: str, base_url: str, api_key_encrypted: bytes | None,
                            api_key_last4: str | None, enabled: bool) -> dict[str, Any]:
    try:
        async with tx.conn.transaction():
            cur = await tx.conn.execute(
                """
                INSERT INTO public.provider_connections AS c
                       (name, kind, base_url, api_key_encrypted, api_key_last4, enabled, created_by)
                VALUES (%s, %s, %s, %s, %s, %s, %s)
                RETURNING c.id
                """, (name, kind, base_url, api_key_encrypted, api_key_last4, enabled, tx.user.id))
            row = await cur.fetchone()
    except psycopg.errors.UniqueViolation:
        raise Conflict(f"a connection named {name!r} exists already") from None
    assert row is not None
    created = await get_connection(tx, connection_id=row["id"])
    assert created is not None
    return created


async def update_connection(tx: UserScope, *, connection_id: UUID, changes: dict[str, Any]) -> dict[str, Any] | None:
    """`changes`: any of name, base_url, api_key_encrypted + api_key_last4, enabled."""
    if set(changes) - {"name", "base_url", "api_key_encrypted", "api_key_last4", "enabled"}:
        raise ValueError(f"not connection columns an admin changes: {sorted(changes)}")
    if changes:
        query = sql.SQL("UPDATE public.provider_connections SET {} WHERE id = %(id)s RETURNING id").format(
            _assignments(changes))
        try:
            async with tx.conn.transaction():
                cur = await tx.conn.execute(query, {**changes, "id": connection_id})
                if await cur.fetchone() is None:
                    return None
        except psycopg.errors.UniqueViolation:
            raise Conflict(f"a connection named {changes.get('name')!r} exists already") from None
    return await get_connection(tx, connection_id=connection_id)


async def delete_connection(tx: UserScope, *, connection_id: UUID) -> int | None:
    """None when there is no such connection (for this caller); else how many models
    went with it."""
    cur = await tx.conn.execute(
        """
        WITH gone AS (DELETE FROM public.provider_connections WHERE id = %s RETURNING id)
        SELECT (SELECT count(*) FROM gone) AS deleted,
               (SELECT count(*) FROM public.model_registry m WHERE m.connection_id = %s) AS models
        """, (connection_id, connection_id))
    row = await cur.fetchone()
    assert row is not None
    return int(row["models"]) if row["deleted"] else None


# -- models (admins) -----------------------------------------------------------------------


async def list_models(tx: UserScope, *, connection_id: UUID | None = None) -> list[dict[str, Any]]:
    cur = await tx.conn.execute(
        _MODEL_SELECT + " WHERE %(connection)s::uuid IS NULL OR m.connection_id = %(connection)s::uuid"
                        " ORDER BY m.type, m.slug", {"connection": connection_id})
    return await cur.fetchall()


async def get_model(tx: UserScope, *, model_id: UUID) -> dict[str, Any] | None:
    cur = await tx.conn.execute(_MODEL_SELECT + " WHERE m.id = %s", (model_id,))
    return await cur.fetchone()


def _assignments(values: dict[str, Any]) -> sql.Composed:
    return sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.Identifier(c), sql.Placeholder(c)) for c in values)


_MODEL_WRITABLE = ("slug", "display_name", "type", "provider", "provider_model", "description", "config", "enabled",
                   "connection_id", "capabilities", "default_params")
_JSON_COLUMNS = frozenset({"config", "default_params"})


def _model_values(values: dict[str, Any]) -> dict[str, Any]:
    unknown = set(values) - set(_MODEL_WRITABLE)
    if unknown:
        raise ValueError(f"not model columns: {sorted(unknown)}")
    return {k: Jsonb(v) if k in _JSON_COLUMNS else v for k, v in values.items()}


def _model_conflict(exc: psycopg.errors.UniqueViolation, values: dict[str, Any]) -> Conflict:
    constraint = exc.diag.constraint_name or ""
    if constraint == "model_registry_slug_key":
        return Conflict(f"a model with the slug {values.get('slug')!r} exists already")
    return Conflict(f"this connection has a {values.get('type', '')} model named "
                    f"{values.get('provider_model')!r} already")


async def create_models(tx: UserScope, *, models: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """All or none: one conflict (slug, or the same upstream model twice) fails them all."""
    created = []
    try:
        async with tx.conn.transaction():
            for values in models:
                row = {**_model_values(values), "created_by": tx.user.id}
                query = sql.SQL("INSERT INTO public.model_registry ({}) VALUES ({}) RETURNING id").format(
                    sql.SQL(", ").join(map(sql.Identifier, row)), sql.SQL(", ").join(map(sql.Placeholder, row)))
                cur = await tx.conn.execute(query, row)
                inserted = await cur.fetchone()
                assert inserted is not None
                created.append(inserted["id"])
    except psycopg.errors.UniqueViolation as exc:
        raise _model_conflict(exc, values) from None
    rows = []
    for model_id in created:
        found = await get_model(tx, model_id=model_id)
        assert found is not None
        rows.append(found)
    return rows


async def update_model(tx: UserScope, *, model_id: UUID, changes: dict[str, Any]) -> dict[str, Any] | None:
    if changes:
        values = _model_values(changes)
        query = sql.SQL("UPDATE public.model_registry SET {} WHERE id = %(id)s RETURNING id").format(
            _assignments(values))
        try:
            async with tx.conn.transaction():
                cur = await tx.conn.execute(query, {**values, "id": model_id})
                if await cur.fetchone() is None:
                    return None
        except psycopg.errors.UniqueViolation as exc:
            raise _model_conflict(exc, changes) from None
    return await get_model(tx, model_id=model_id)


async def clear_title_model(tx: UserScope, *, except_id: UUID) -> None:
    """One model writes titles: every other one stops."""
    await tx.conn.execute(
        "UPDATE public.model_registry SET config = config - 'use_for_titles'"
        " WHERE id <> %s AND config ? 'use_for_titles'", (except_id,))


async def delete_model(tx: UserScope, *, model_id: UUID) -> bool:
    cur = await tx.conn.execute("DELETE FROM public.model_registry WHERE id = %s RETURNING id", (model_id,))
    return await cur.fetchone() is not None


async def connection_model_names(tx: UserScope, *, connection_id: UUID) -> dict[str, list[str]]:
    """Upstream name -> the types already registered for it on this connection."""
    cur = await tx.conn.execute(
        "SELECT provider_model, type FROM public.model_registry WHERE connection_id = %s", (connection_id,))
    names: dict[str, list[str]] = {}
    for row in await cur.fetchall():
        names.setdefault(row["provider_model"], []).append(row["type"])
    return names


async def slugs_like(tx: UserScope, *, prefix: str) -> set[str]:
    cur = await tx.conn.execute(
        "SELECT slug FROM public.model_registry WHERE starts_with(slug, %s)", (prefix,))
    return {row["slug"] for row in await cur.fetchall()}


# -- seeding from the environment (the launcher, as studio_owner) -------------------------


def seed_connection(conn: psycopg.Connection[Any], *, name: str, kind: str, base_url: str,
                    api_key_encrypted: bytes | None, api_key_last4: str | None) -> bool:
    """Adds the connection unless one of that name exists (the admin's settings win), and
    links the built-in models of its kind that have none. True when it was added."""
    with conn.transaction():
        row = conn.execute(
            """
            INSERT INTO public.provider_connections (name, kind, base_url, api_key_encrypted, api_key_last4)
            VALUES (%s, %s, %s, %s, %s)
            ON CONFLICT (name) DO NOTHING
            RETURNING id
            """, (name, kind, base_url, api_key_encrypted, api_key_last4)).fetchone()
        if row is None:
            return False
        conn.execute("UPDATE public.model_registry SET connection_id = %s WHERE provider = %s AND connection_id IS NULL",
                     (row[0], kind))
    return True


def stored_key_ciphertexts(conn: psycopg.Connection[Any]) -> list[tuple[str, bytes]]:
    """(connection name, ciphertext) of every stored key: the audit's secret scan."""
    return [(r[0], bytes(r[1])) for r in conn.execute(
        "SELECT name, api_key_encrypted FROM public.provider_connections WHERE api_key_encrypted IS NOT NULL")]
