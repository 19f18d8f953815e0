"""The hot queries at scale (F6, F18, F19): with a million rows over ten thousand users,
each one, run for the heaviest user exactly as the application runs it, walks the index
made for it: no Seq Scan of a big table, no Sort of a user's rows. And row-level
security adds little to it: the plan under RLS uses the same index as the same
statement run by a superuser, to whom RLS does not apply, and touches at most a few more
buffers (the policy's own lookups).

Plans are checked twice: planned with the parameter values (the first executions of a
statement) and generic (planned once for any values, which PostgreSQL may switch to
once psycopg has prepared a statement).

The SQL is the repositories' own, captured from a real call: each hot query calls its
repository function on a real connection that also records what it sends. Three
statements are written here instead: two of the audit's latency table whose domain has
no repository yet (training), and the lookup inside public.record_webhook(). Buffer
counts are deterministic for a given plan and data, so they are what is compared;
elapsed times are noise on a shared machine and live in bench/.

What these tests found and is not fixed yet is marked xfail(strict=True), with the
finding as the reason: fixing it turns the test red until the mark goes.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from studio.auth import repository as auth_repo
from studio.auth.identity import CurrentUser
from studio.chat import repository as chat_repo
from studio.config import API_ROLE, WORKER_ROLE
from studio.db.scopes import AnonScope, UserScope, WorkerScope
from studio.events import repository as events_repo
from studio.generation import repository as generation_repo
from studio.jobs import repository as jobs_repo
from studio.sharing import repository as sharing_repo
from studio.webhooks import repository as webhooks_repo
from tests.scale.conftest import ScaleDb

# Sorting this many rows costs next to nothing (the heaviest user's 30-odd API keys);
# sorting a user's thousands of rows for a page of 20 is what the indexes are for.
SMALL_SORT = 100

# What a policy's own lookups may add, in buffers: an EXISTS policy (messages through
# their conversation, a job through its generation) reads one btree path of two or three
# pages and one heap page, and the claims' InitPlans read nothing.
POLICY_BUFFERS = 8

# Statements of domains that have no repository yet (no training endpoints, no dataset
# listing): what the audit's operations "list datasets" and "update a training job's
# status" will send, on the indexes migration 0007 made for them.
DATASETS_FIRST_PAGE = """
SELECT id, name, description, status, image_count, created_at, updated_at
  FROM public.datasets
 WHERE user_id = %s
 ORDER BY created_at DESC, id DESC
 LIMIT %s
"""
TRAINING_STATUS_UPDATE = """
UPDATE public.training_jobs SET status = %s, progress = %s, current_step = %s
 WHERE id = %s AND status IN ('queued', 'preparing', 'training')
"""
# The lookup inside public.record_webhook() (migration 0010), which runs as its owner,
# studio_system; test_the_webhook_lookup_is_the_functions_own checks the function still
# says this.
WEBHOOK_LOOKUP = "SELECT g.id FROM public.generations g WHERE g.provider = %s AND g.provider_job_id = %s"
WEBHOOK_LOOKUP_IN_FUNCTION = "g.provider = p_provider AND g.provider_job_id = p_provider_job_id"


class RecordingConnection(psycopg.AsyncConnection):
    """A real connection that also keeps every statement it is given, so the tests
    EXPLAIN exactly what the repository functions send."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.statements: list[tuple[str, Any]] = []

    async def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:  # type: ignore[override]
        # Composed statements (psycopg.sql) as the text the server receives.
        self.statements.append((query if isinstance(query, str) else query.as_string(self), params))
        return await super().execute(query, params, **kwargs)


@dataclass(frozen=True)
class Identity:
    """Who runs a statement, as the application sets it up: a login role and the
    transaction-local settings of its scope (db/scopes.py)."""

    login: str | None                   # None: the superuser (no RLS)
    setup: tuple[tuple[str, tuple], ...]


def user_identity(scale: ScaleDb) -> Identity:
    claims = ("SELECT pg_catalog.set_config('role', 'authenticated', true),"
              "       pg_catalog.set_config('studio.user_id', %s, true),"
              "       pg_catalog.set_config('studio.user_role', 'user', true)")
    return Identity(API_ROLE, ((claims, (str(scale.heavy_user),)),))


ANON = Identity(API_ROLE, (("SELECT pg_catalog.set_config('role', 'anon', true)", ()),))
WORKER = Identity(WORKER_ROLE, ())
# record_webhook()'s owner: a NOLOGIN role, reached with SET ROLE from the superuser.
SYSTEM = Identity(None, (("SET LOCAL ROLE studio_system", ()),))
SUPERUSER = Identity(None, ())


def superuser_knowing(scale: ScaleDb, hot: HotQuery) -> Identity:
    """The superuser (no RLS), with the user's claims set when the statement is a user's:
    a statement that names its user as auth.uid() reads the same rows."""
    if hot.scope != "user":
        return SUPERUSER
    claims = ("SELECT pg_catalog.set_config('studio.user_id', %s, true),"
              "       pg_catalog.set_config('studio.user_role', 'user', true)")
    return Identity(None, ((claims, (str(scale.heavy_user),)),))


def conninfo_of(scale: ScaleDb, identity: Identity) -> str:
    return scale.admin() if identity.login is None else scale.conninfo(identity.login)


Call = Callable[[RecordingConnection, ScaleDb], Awaitable[Any]]


@dataclass(frozen=True)
class HotQuery:
    name: str
    scope: str            # "user", "worker" or "system"
    call: Call            # runs the repository function (its statements are recorded)
    index: str            # the index the hot statement must use
    statement: int = -1   # which recorded statement is the hot one; those before it are replayed first
    also: tuple[str, ...] = ()  # other indexes that serve it as well
    sorts: bool = False   # may sort its result (it reads a whole set, no LIMIT: a sort is a fair plan)

    @property
    def indexes(self) -> tuple[str, ...]:
        return (self.index, *self.also)

    def identity(self, scale: ScaleDb) -> Identity:
        return {"user": user_identity(scale), "worker": WORKER, "system": SYSTEM}[self.scope]


def user_scope(conn: RecordingConnection, scale: ScaleDb) -> UserScope:
    user = CurrentUser(scale.heavy_user, "user", scale.heavy_email, None, None)
    return UserScope(conn, user)  # type: ignore[arg-type]


async def conversations_next_page(conn: RecordingConnection, scale: ScaleDb) -> None:
    first = await chat_repo.list_conversations(user_scope(conn, scale), after=None, limit=20)
    cursor = first[19]  # the page's last row (the list holds a 21st, to tell whether there is a next page)
    await chat_repo.list_conversations(user_scope(conn, scale), after=(cursor["created_at"], cursor["id"]), limit=20)


async def create_generation(conn: RecordingConnection, scale: ScaleDb) -> None:
    cur = await conn.execute("SELECT id, provider FROM public.model_registry WHERE type = 'image' AND enabled"
                             " ORDER BY slug LIMIT 1")
    model = await cur.fetchone()
    assert model is not None
    conn.statements.clear()  # the model lookup above is the test's, not the repository's
    tx, generation_id = user_scope(conn, scale), uuid.uuid4()
    await generation_repo.create_generation(
        tx, generation_id=generation_id, type_="image", model_id=model["id"], provider=model["provider"],
        prompt="a lighthouse at dawn", params={},
        enqueue=lambda: jobs_repo.enqueue(tx, kind="generation", generation_id=generation_id))


async def quota_state(conn: RecordingConnection, scale: ScaleDb) -> None:
    cur = await conn.execute("SELECT id FROM public.model_registry WHERE type = 'image' AND enabled"
                             " ORDER BY slug LIMIT 1")
    model = await cur.fetchone()
    assert model is not None
    conn.statements.clear()
    await generation_repo.quota_state(user_scope(conn, scale), model_id=model["id"], default_jobs_per_day=200,
                                      default_cost_cap_cents=1000)


HOT = [
    HotQuery("conversations, first page", "user",
             lambda c, s: chat_repo.list_conversations(user_scope(c, s), after=None, limit=20),
             "conversations_user_id_created_idx"),
    HotQuery("conversations, next page", "user", conversations_next_page, "conversations_user_id_created_idx"),
    # The whole tree, no LIMIT: sorting it or walking the index in order are both fair
    # plans; what must not happen is a scan of everybody's messages.
    HotQuery("a conversation's messages", "user",
             lambda c, s: chat_repo.list_messages(user_scope(c, s), conversation_id=s.long_conversation, leaf_id=None),
             "messages_conversation_user_created_idx", also=("messages_conversation_user_parent_idx",), sorts=True),
    # The branch from the conversation's newest message up to its root: one lookup per
    # message on the way (the thread is a chain of parent links), then sorted by depth.
    HotQuery("a branch of a conversation", "user",
             lambda c, s: chat_repo.list_messages(user_scope(c, s), conversation_id=s.long_conversation,
                                                  leaf_id=s.long_conversation_leaf),
             "messages_conversation_user_id_key", also=("messages_pkey",), sorts=True),
    HotQuery("generations, first page", "user",
             lambda c, s: generation_repo.list_generations(user_scope(c, s), type_=None, status=None, after=None,
                                                           limit=20),
             "generations_user_id_created_idx"),
    HotQuery("generations by status", "user",
             lambda c, s: generation_repo.list_generations(user_scope(c, s), type_=None, status="succeeded",
                                                           after=None, limit=20),
             "generations_user_id_status_created_idx"),
    HotQuery("create a generation: its job's fair rank", "user", create_generation, "jobs_user_id_status_idx"),
    HotQuery("quota check before a generation", "user", quota_state, "generations_user_id_created_idx"),
    # From the start of the heaviest user's events: they are 3% of all events, so walking
    # the primary key in id order and skipping everybody else's is as cheap (about 20
    # pages for 100 rows); for a light user the planner takes (user_id, id).
    HotQuery("generation events of a user", "user",
             lambda c, s: events_repo.user_events(user_scope(c, s), after=0, skip=[], limit=100),
             "generation_events_user_id_idx", also=("generation_events_pkey",)),
    HotQuery("API keys", "user", lambda c, s: auth_repo.list_api_keys(user_scope(c, s), after=None, limit=50),
             "api_keys_user_id_created_idx"),
    HotQuery("audit log", "user", lambda c, s: auth_repo.list_audit_events(user_scope(c, s), after=None, limit=50),
             "audit_log_user_id_created_idx"),
    HotQuery("shares", "user", lambda c, s: sharing_repo.list_shares(user_scope(c, s), generation_id=None,
                                                                  conversation_id=None, after=None, limit=50),
             "shared_content_user_id_created_idx"),
    HotQuery("datasets, first page (no repository yet)", "user",
             lambda c, s: c.execute(DATASETS_FIRST_PAGE, (s.heavy_user, 21)), "datasets_user_id_created_idx"),
    HotQuery("training job status update (no repository yet)", "worker",
             lambda c, s: c.execute(TRAINING_STATUS_UPDATE, ("training", 42.5, 425, s.training_job)),
             "training_jobs_pkey"),
    HotQuery("job claim", "worker",
             lambda c, s: jobs_repo.claim(WorkerScope(c), worker_id="scale-test", batch=10, lease_seconds=30),
             "jobs_queued_idx"),
    HotQuery("webhook lookup by provider job id", "system",
             lambda c, s: c.execute(WEBHOOK_LOOKUP, s.provider_job), "generations_provider_job_key"),
]


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]


def record(scale: ScaleDb, identity: Identity, call: Call) -> list[tuple[str, Any]]:
    """The statements `call` sends, run for real as `identity`, in a transaction that is
    rolled back."""

    async def recorded() -> list[tuple[str, Any]]:
        conn = await RecordingConnection.connect(conninfo_of(scale, identity), row_factory=dict_row)
        try:
            async with conn.transaction(force_rollback=True):
                for statement, params in identity.setup:
                    await conn.execute(statement, params)
                conn.statements.clear()
                await call(conn, scale)
            return list(conn.statements)
        finally:
            await conn.close()

    statements = run(recorded())
    assert statements, "the call sent no statement"
    return statements


EXPLAIN_ANALYZE = "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) "


def explain(scale: ScaleDb, identity: Identity, statements: list[tuple[str, Any]], index: int, *,
            generic: bool = False) -> dict[str, Any]:
    """EXPLAIN ANALYZE the statement at `index` as `identity`, after replaying the ones
    before it (a job insert needs its generation), in a transaction that is rolled back.

    Parameters are bound on the client: the first executions of a statement are planned
    with their values. With `generic`, the statement is prepared and planned once for
    any values instead, as PostgreSQL may plan a statement psycopg has prepared (it does
    after five executions on a connection).

    The statement runs twice and the second run is measured: the first one (rolled back
    to a savepoint) fills this new session's caches, whose misses (a function compiled,
    a catalog row read) would otherwise count as the query's."""
    with psycopg.connect(conninfo_of(scale, identity)) as conn:
        try:
            for statement, params in identity.setup:
                conn.execute(statement, params)
            for statement, params in statements[:index % len(statements)]:
                conn.execute(statement, params)
            cur = psycopg.ClientCursor(conn)
            statement, params = statements[index]
            if generic:
                prepared, values = numbered(statement, params)
                conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
                conn.execute("PREPARE hot AS " + prepared)
                statement, params = "EXECUTE hot (" + ", ".join(["%s"] * len(values)) + ")", values
            conn.execute("SAVEPOINT warm_up")
            cur.execute(EXPLAIN_ANALYZE + statement, params)
            conn.execute("ROLLBACK TO SAVEPOINT warm_up")
            cur.execute(EXPLAIN_ANALYZE + statement, params)
            row = cur.fetchone()
            assert row is not None
            return row[0][0]
        finally:
            conn.rollback()


_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s|%%")


def numbered(statement: str, params: Any) -> tuple[str, list[Any]]:
    """`statement` with PostgreSQL's $n parameters instead of psycopg's placeholders, as
    PREPARE takes it, and the values in their order."""
    names: list[str] = []
    values: list[Any] = []

    def number(match: re.Match[str]) -> str:
        if match.group(0) == "%%":
            return "%"
        if match.group(1) is None:  # positional: the next value
            values.append(params[len(values)])
            return "$" + str(len(values))
        if match.group(1) not in names:
            names.append(match.group(1))
            values.append(params[match.group(1)])
        return "$" + str(names.index(match.group(1)) + 1)

    return _PLACEHOLDER.sub(number, statement), values


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def indexes_used(plan: dict[str, Any]) -> set[str]:
    return {n["Index Name"] for n in nodes(plan) if "Index Name" in n}


def problems(plan: dict[str, Any], scale: ScaleDb, hot: HotQuery) -> list[str]:
    found = []
    used = indexes_used(plan)
    if not used & set(hot.indexes):
        found.append(f"none of {hot.indexes} used (used: {sorted(used) or 'no index'})")
    for node in nodes(plan):
        if node["Node Type"] == "Seq Scan" and node.get("Relation Name") in scale.big_tables:
            found.append(f"Seq Scan on {node['Relation Name']}")
        if node["Node Type"] in ("Sort", "Incremental Sort") and not hot.sorts:
            sorted_rows = sum(child["Actual Rows"] * child["Actual Loops"] for child in node["Plans"])
            if sorted_rows > SMALL_SORT:
                found.append(f"{node['Node Type']} of {sorted_rows} rows on {node.get('Sort Key')}")
    return found


def shared_buffers(explained: dict[str, Any]) -> int:
    """Pages the execution touched (hit or read), planning left out: the planner's
    catalog lookups depend on what this backend has cached, not on the query."""
    plan = explained["Plan"]
    return plan["Shared Hit Blocks"] + plan["Shared Read Blocks"]


@pytest.mark.parametrize("hot", HOT, ids=[h.name for h in HOT])
def test_hot_query_walks_its_index(scale: ScaleDb, hot: HotQuery) -> None:
    statements = record(scale, hot.identity(scale), hot.call)
    plan = explain(scale, hot.identity(scale), statements, hot.statement)["Plan"]
    assert not problems(plan, scale, hot), (hot.name, problems(plan, scale, hot), plan)


@pytest.mark.parametrize("hot", HOT, ids=[h.name for h in HOT])
def test_rls_adds_little(scale: ScaleDb, hot: HotQuery) -> None:
    """The same statement with the same parameters, once under the application's RLS
    identity and once as the superuser (no RLS; the statements filter by owner
    themselves, which is what lets them use the per-user indexes)."""
    statements = record(scale, hot.identity(scale), hot.call)
    baseline = explain(scale, superuser_knowing(scale, hot), statements, hot.statement)
    under_rls = explain(scale, hot.identity(scale), statements, hot.statement)
    assert indexes_used(baseline["Plan"]) & set(hot.indexes), (hot.name, baseline["Plan"])
    assert indexes_used(baseline["Plan"]) <= indexes_used(under_rls["Plan"]), \
        (hot.name, indexes_used(baseline["Plan"]), indexes_used(under_rls["Plan"]))
    assert under_rls["Plan"].get("Actual Rows") == baseline["Plan"].get("Actual Rows"), hot.name
    assert shared_buffers(under_rls) <= shared_buffers(baseline) + POLICY_BUFFERS, \
        (hot.name, shared_buffers(under_rls), shared_buffers(baseline))


@pytest.mark.parametrize("hot", HOT, ids=[h.name for h in HOT])
def test_generic_plans_walk_the_index_too(scale: ScaleDb, hot: HotQuery) -> None:
    """A generic plan knows no parameter values: the heaviest user's rows are estimated
    like an average user's. The plan must still be the index's."""
    statements = record(scale, hot.identity(scale), hot.call)
    plan = explain(scale, hot.identity(scale), statements, hot.statement, generic=True)["Plan"]
    assert not problems(plan, scale, hot), (hot.name, problems(plan, scale, hot), plan)


def test_the_webhook_lookup_is_the_functions_own(scale: ScaleDb) -> None:
    with psycopg.connect(scale.admin()) as conn:
        row = conn.execute("SELECT prosrc FROM pg_catalog.pg_proc"
                           " WHERE oid = 'public.record_webhook'::regproc").fetchone()
    assert row is not None and WEBHOOK_LOOKUP_IN_FUNCTION in " ".join(row[0].split())


def test_a_webhook_costs_a_few_pages(scale: ScaleDb) -> None:
    """The whole delivery as the API sends it (anon calls public.record_webhook): the
    lookup by provider job id, the insert, the wake-up. Through the index this touches
    a few dozen pages; a scan of the generations would touch all of theirs."""
    provider, provider_job_id = scale.provider_job

    async def deliver(conn: RecordingConnection, s: ScaleDb) -> None:
        await webhooks_repo.record_webhook(AnonScope(conn), provider=provider, delivery_id="scale-test-delivery",
                                           provider_job_id=provider_job_id, payload_json='{"status": "succeeded"}')

    statements = record(scale, ANON, deliver)
    explained = explain(scale, ANON, statements, -1)
    with psycopg.connect(scale.admin()) as conn:
        pages = conn.execute("SELECT relpages FROM pg_catalog.pg_class WHERE oid = 'public.generations'::regclass"
                             ).fetchone()[0]
    assert pages >= 1000, "too few generations for this test to tell an index lookup from a scan"
    assert shared_buffers(explained) < 100, (shared_buffers(explained), pages)

