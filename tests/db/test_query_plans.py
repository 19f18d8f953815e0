"""The indexes match the ORDER BY of the list queries they serve (F6, F18): with
realistic data, each list query runs under RLS as a user, walks its index in order and
needs no Sort. The SQL is the repositories' own."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import psycopg
import pytest

from studio.auth import repository as auth_repo
from studio.chat import repository as chat_repo
from studio.config import API_ROLE


def plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


@pytest.fixture
def populated(pg, db, admin_conn):
    """400 users with 25 conversations and 5 API keys each, and one heavy user (the case
    where the index order matters) with 3,000 conversations, 300 API keys and a
    conversation of 3,000 messages."""
    admin_conn.execute("INSERT INTO users (email) SELECT 'u' || i || '@example.org' FROM generate_series(1, 400) i")
    heavy = admin_conn.execute("INSERT INTO users (email) VALUES ('heavy@example.org') RETURNING id").fetchone()[0]
    admin_conn.execute(
        "INSERT INTO conversations (user_id, title, created_at)"
        " SELECT u.id, 'c' || i, now() - i * interval '1 minute'"
        "   FROM users u, generate_series(1, CASE WHEN u.id = %s THEN 3000 ELSE 25 END) i", (heavy,))
    admin_conn.execute(
        "INSERT INTO api_keys (user_id, name, prefix, key_hash)"
        " SELECT u.id, 'k' || i, 'sk_studio_abcdef', sha256((u.id::text || i)::bytea)"
        "   FROM users u, generate_series(1, CASE WHEN u.id = %s THEN 300 ELSE 5 END) i", (heavy,))
    long_conversation = admin_conn.execute(
        "SELECT id FROM conversations WHERE user_id = %s ORDER BY created_at DESC LIMIT 1", (heavy,)).fetchone()[0]
    admin_conn.execute(
        "INSERT INTO messages (conversation_id, user_id, role, content, created_at)"
        " SELECT c.id, c.user_id, 'user', 'm' || i, now() - i * interval '1 second'"
        "   FROM conversations c, generate_series(1, CASE WHEN c.id = %s THEN 3000 ELSE 2 END) i",
        (long_conversation,))
    admin_conn.execute("ANALYZE")
    return pg.conninfo(API_ROLE, db), heavy, long_conversation


def explain(conninfo: str, user_id, sql: str, params: tuple | Mapping[str, Any]) -> dict[str, Any]:
    with psycopg.connect(conninfo) as conn:
        conn.execute("SELECT set_config('role', 'authenticated', true), set_config('studio.user_id', %s, true),"
                     " set_config('studio.user_role', 'user', true)", (str(user_id),))
        cur = psycopg.ClientCursor(conn)
        cur.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        return cur.fetchone()[0][0]["Plan"]


def assert_ordered_index_scan(plan: dict[str, Any], index: str) -> None:
    nodes = list(plan_nodes(plan))
    used = [n.get("Index Name") for n in nodes if "Index" in n["Node Type"]]
    assert index in used, f"expected {index}, plan used {used}: {plan}"
    assert not [n for n in nodes if n["Node Type"] in ("Sort", "Incremental Sort", "Seq Scan")], plan


def test_conversation_pages_walk_the_user_created_index(populated):
    conninfo, user_id, _ = populated
    first = chat_repo.conversations_page(after=None, limit=20)
    assert_ordered_index_scan(explain(conninfo, user_id, first.query, first.params),
                              "conversations_user_id_created_idx")
    after = chat_repo.conversations_page(after=(dt.datetime(2026, 1, 1, tzinfo=dt.UTC), uuid.UUID(int=0)), limit=20)
    assert_ordered_index_scan(explain(conninfo, user_id, after.query, after.params),
                              "conversations_user_id_created_idx")


def explain_generic(conninfo: str, user_id, sql: str, params: tuple | Mapping[str, Any]) -> dict[str, Any]:
    """The plan PostgreSQL caches for a prepared statement (psycopg prepares a query it
    has run five times on a connection): parameters unknown, nothing folded."""
    with psycopg.connect(conninfo) as conn:
        conn.execute("SELECT set_config('role', 'authenticated', true), set_config('studio.user_id', %s, true),"
                     " set_config('studio.user_role', 'user', true),"
                     " set_config('plan_cache_mode', 'force_generic_plan', true)", (str(user_id),))
        return conn.execute("EXPLAIN (FORMAT JSON) " + sql, params).fetchone()[0][0]["Plan"]


def test_a_title_search_filters_the_same_index_walk(populated):
    """q: the user's conversations in page order through their index, the title checked
    on top (a filter, no Sort, no scan of anybody else's), with or without a cursor,
    planned for these values or generically."""
    conninfo, user_id, _ = populated
    first = chat_repo.conversations_page(after=None, limit=20, title_contains="C1_")
    after = chat_repo.conversations_page(after=(dt.datetime(2026, 1, 1, tzinfo=dt.UTC), uuid.UUID(int=0)), limit=20,
                                         title_contains="C1_")
    assert first.query == chat_repo._SEARCH_FIRST and after.query == chat_repo._SEARCH_AFTER
    for how in (explain, explain_generic):
        for read in (first, after):
            plan = how(conninfo, user_id, read.query, read.params)
            assert_ordered_index_scan(plan, "conversations_user_id_created_idx")
            scan = next(n for n in plan_nodes(plan) if n.get("Index Name") == "conversations_user_id_created_idx")
            assert "~~*" in scan.get("Filter", ""), scan


def test_api_key_pages_walk_the_user_created_index(populated):
    conninfo, user_id, _ = populated
    assert_ordered_index_scan(explain(conninfo, user_id, auth_repo._LIST_API_KEYS_FIRST, (user_id, 51)),
                              "api_keys_user_id_created_idx")


def test_a_conversations_messages_are_an_index_lookup(populated):
    """The whole tree is read (no LIMIT), so sorting it or walking the index in order
    are both fair plans; what must not happen is a scan of everybody's messages."""
    conninfo, user_id, conversation_id = populated
    sql = ("SELECT id, conversation_id, parent_id, role, content, model, created_at"
           "  FROM public.messages WHERE conversation_id = %s ORDER BY created_at, id")
    nodes = list(plan_nodes(explain(conninfo, user_id, sql, (conversation_id,))))
    message_scans = [n for n in nodes if n.get("Relation Name") == "messages" or
                     (n.get("Index Name") or "").startswith("messages_")]
    assert message_scans and all(n["Node Type"] != "Seq Scan" for n in message_scans), nodes
    assert any((n.get("Index Name") or "").startswith("messages_conversation_user_") for n in nodes), nodes


def test_rls_policies_use_the_wrapped_uid(populated):
    """(SELECT auth.uid()) is an InitPlan evaluated once, not a per-row function call."""
    conninfo, user_id, _ = populated
    first = chat_repo.conversations_page(after=None, limit=20)
    plan = explain(conninfo, user_id, first.query, first.params)
    assert any(n.get("Subplan Name", "").startswith("InitPlan") for n in plan_nodes(plan)), plan
