"""Transaction scopes against the real database: identity is fixed per transaction,
resolved by the database, and nothing of it survives into the next transaction on the
same pooled connection (the property that makes PgBouncer transaction mode safe)."""

from __future__ import annotations

import asyncio
import hashlib
import uuid

import psycopg
import pytest
from psycopg import sql

from studio.auth.identity import Credential, RequestContext, Unauthenticated
from studio.config import API_ROLE, WORKER_ROLE
from studio.chat import repository as chat_repo
from studio.db.scopes import ApiDatabase, UserStatement, WorkerDatabase

CTX = RequestContext(request_id="test-request", client_ip="127.0.0.9", user_agent="pytest")


def make_user(admin_conn: psycopg.Connection, email: str) -> tuple[uuid.UUID, str]:
    """A user with a session, arranged from outside RLS; returns (id, session token)."""
    user_id = admin_conn.execute("INSERT INTO users (email) VALUES (%s) RETURNING id", (email,)).fetchone()[0]
    token = uuid.uuid4().hex
    admin_conn.execute("INSERT INTO sessions (user_id, token_hash, expires_at) VALUES (%s, %s, now() + interval '1 hour')",
                       (user_id, hashlib.sha256(token.encode()).digest()))
    return user_id, token


def session(token: str) -> Credential:
    return Credential("session", hashlib.sha256(token.encode()).digest(), via_cookie=True)


def run(coro):
    return asyncio.run(coro)


def test_claims_do_not_outlive_the_transaction(pg, db, admin_conn):
    alice, token = make_user(admin_conn, "alice@example.org")

    async def scenario():
        api = ApiDatabase(pg.conninfo(API_ROLE, db), min_size=1, max_size=1, timeout=5)  # one connection
        await api.open()
        try:
            async with api.as_user(session(token), CTX) as tx:
                cur = await tx.conn.execute(
                    "SELECT current_user AS role, auth.uid() AS uid, current_setting('studio.client_ip') AS ip,"
                    "       pg_backend_pid() AS pid")
                inside = await cur.fetchone()
            async with api.as_anon(CTX) as tx:
                cur = await tx.conn.execute(
                    "SELECT current_user AS role, auth.uid() AS uid, pg_backend_pid() AS pid")
                after = await cur.fetchone()
            async with api.pool.connection() as conn:  # outside any scope
                cur = await conn.execute("SELECT current_user AS role, current_setting('studio.user_id', true) AS claim")
                bare = await cur.fetchone()
            return inside, after, bare
        finally:
            await api.close()

    inside, after, bare = run(scenario())
    assert inside["role"] == "authenticated" and inside["uid"] == alice and inside["ip"] == "127.0.0.9"
    assert after["pid"] == inside["pid"]  # the very same server connection
    assert after["role"] == "anon" and after["uid"] is None
    assert bare["role"] == API_ROLE and bare["claim"] in (None, "")


def test_unknown_or_revoked_credentials_are_refused(pg, db, admin_conn):
    alice, token = make_user(admin_conn, "alice@example.org")

    async def attempt(credential: Credential) -> uuid.UUID:
        api = ApiDatabase(pg.conninfo(API_ROLE, db), min_size=0, max_size=1, timeout=5)
        await api.open()
        try:
            async with api.as_user(credential, CTX) as tx:
                return tx.user.id
        finally:
            await api.close()

    assert run(attempt(session(token))) == alice
    with pytest.raises(Unauthenticated):
        run(attempt(session("not-a-token")))
    with pytest.raises(Unauthenticated):  # a session token is not an API key
        run(attempt(Credential("api_key", hashlib.sha256(token.encode()).digest(), via_cookie=False)))
    admin_conn.execute("DELETE FROM sessions WHERE user_id = %s", (alice,))
    with pytest.raises(Unauthenticated):
        run(attempt(session(token)))


def test_a_failed_statement_rolls_back_the_whole_scope(pg, db, admin_conn):
    alice, token = make_user(admin_conn, "alice@example.org")

    async def scenario():
        api = ApiDatabase(pg.conninfo(API_ROLE, db), min_size=0, max_size=1, timeout=5)
        await api.open()
        try:
            async with api.as_user(session(token), CTX) as tx:
                await tx.conn.execute("INSERT INTO conversations (user_id, title) VALUES (%s, 'kept?')", (alice,))
                cur = await tx.conn.execute("INSERT INTO conversations (user_id, title) VALUES (%s, '')", (alice,))
                await cur.fetchone()
        finally:
            await api.close()

    with pytest.raises(psycopg.errors.CheckViolation):
        run(scenario())
    assert admin_conn.execute("SELECT count(*) FROM conversations").fetchone()[0] == 0


WHO = UserStatement("SELECT current_user AS role, auth.uid() AS uid, current_setting('studio.client_ip') AS ip,"
                    "       current_setting('studio.request_id') AS request_id, pg_backend_pid() AS pid,"
                    "       %(echo)s::text AS echo", {"echo": "it's 100%"})


def test_one_statement_runs_as_the_user_in_a_scope_of_its_own(pg, db, admin_conn):
    """run_as_user: the opening, the statement and COMMIT in one message; the same
    identity and client context as as_user, and nothing of it left on the connection."""
    alice, alice_token = make_user(admin_conn, "alice@example.org")
    bob, bob_token = make_user(admin_conn, "bob@example.org")
    admin_conn.execute("INSERT INTO conversations (user_id, title) VALUES (%s, 'a1'), (%s, 'a2'), (%s, 'b1')",
                       (alice, alice, bob))

    async def scenario():
        api = ApiDatabase(pg.conninfo(API_ROLE, db), min_size=1, max_size=1, timeout=5)  # one connection
        await api.open()
        try:
            [who] = await api.run_as_user(session(alice_token), CTX, WHO)
            pages = {name: await api.run_as_user(session(token), CTX, chat_repo.conversations_page(after=None, limit=20))
                     for name, token in (("alice", alice_token), ("bob", bob_token))}
            async with api.pool.connection() as conn:  # outside any scope, on the same server connection
                cur = await conn.execute("SELECT current_user AS role, current_setting('studio.user_id', true) AS claim,"
                                         "       pg_backend_pid() AS pid, pg_catalog.txid_current_if_assigned() AS tx,"
                                         "       (SELECT state FROM pg_stat_activity WHERE pid = pg_backend_pid()) AS state")
                bare = await cur.fetchone()
            return who, pages, bare
        finally:
            await api.close()

    who, pages, bare = run(scenario())
    assert who["role"] == "authenticated" and who["uid"] == alice and who["ip"] == "127.0.0.9"
    assert who["request_id"] == CTX.request_id and who["echo"] == "it's 100%"
    assert sorted(c["title"] for c in pages["alice"]) == ["a1", "a2"] and [c["title"] for c in pages["bob"]] == ["b1"]
    assert bare["pid"] == who["pid"] and bare["role"] == API_ROLE and bare["claim"] in (None, "")
    assert bare["tx"] is None  # the transaction was committed, none is open


def test_one_statement_without_a_user_does_nothing(pg, db, admin_conn):
    """An unknown session: the write is not made, whatever it would touch, and the caller
    gets Unauthenticated, also for a statement that reads no table."""
    alice, _ = make_user(admin_conn, "alice@example.org")
    [conversation] = admin_conn.execute("INSERT INTO conversations (user_id, title) VALUES (%s, 'a') RETURNING id",
                                        (alice,)).fetchone()
    writes = [chat_repo.new_message(conversation_id=conversation, role="user", content="hello", model=None,
                                    parent_id=None, parent_given=False),
              UserStatement("INSERT INTO public.conversations (user_id, title) VALUES (%(user)s, 'x')", {"user": alice}),
              UserStatement("SELECT 1 AS one")]

    async def scenario(statement: UserStatement):
        api = ApiDatabase(pg.conninfo(API_ROLE, db), min_size=0, max_size=1, timeout=5)
        await api.open()
        try:
            return await api.run_as_user(session("not a session"), CTX, statement)
        finally:
            await api.close()

    for statement in writes:
        with pytest.raises(Unauthenticated):
            run(scenario(statement))
    assert admin_conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 0
    assert admin_conn.execute("SELECT count(*) FROM conversations").fetchone()[0] == 1


def test_one_statement_that_fails_changes_nothing_and_says_why(pg, db, admin_conn):
    """A statement the database refuses raises what as_user would raise (the endpoint
    answers it like any other), and its transaction is rolled back."""
    alice, token = make_user(admin_conn, "alice@example.org")
    statement = UserStatement(
        "WITH kept AS (INSERT INTO public.conversations (user_id, title) VALUES (auth.uid(), 'kept?') RETURNING id)"
        " INSERT INTO public.conversations (user_id, title) SELECT auth.uid(), '' FROM kept RETURNING id")

    async def scenario():
        api = ApiDatabase(pg.conninfo(API_ROLE, db), min_size=0, max_size=1, timeout=5)
        await api.open()
        try:
            with pytest.raises(ValueError):  # the opening's own parameters cannot be overridden
                await api.run_as_user(session(token), CTX, UserStatement("SELECT 1", {"request_id": "x"}))
            await api.run_as_user(session(token), CTX, statement)
        finally:
            await api.close()

    with pytest.raises(psycopg.errors.CheckViolation):
        run(scenario())
    assert admin_conn.execute("SELECT count(*) FROM conversations").fetchone()[0] == 0


def test_studio_api_can_do_nothing_by_itself(pg, db):
    with psycopg.connect(pg.conninfo(API_ROLE, db)) as conn:
        for statement in ("SELECT count(*) FROM public.users", "SELECT count(*) FROM public.conversations",
                          "SELECT auth.authenticate('session', '\\x00')"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
            conn.rollback()
        for target in ("studio_owner", "studio_worker", "studio_auth", "postgres"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(target)))
            conn.rollback()


def test_worker_scope_sees_the_queue_not_private_content(pg, db, admin_conn):
    alice, _ = make_user(admin_conn, "alice@example.org")
    admin_conn.execute("INSERT INTO conversations (user_id, title) VALUES (%s, 'private')", (alice,))
    generation = admin_conn.execute(
        "INSERT INTO generations (user_id, type, provider, prompt) VALUES (%s, 'audio', 'espeak', 'hi') RETURNING id",
        (alice,)).fetchone()[0]
    admin_conn.execute("INSERT INTO jobs (kind, user_id, generation_id) VALUES ('generation', %s, %s)",
                       (alice, generation))

    async def read_conversations(query: str):
        worker = WorkerDatabase(pg.conninfo(WORKER_ROLE, db), min_size=0, max_size=1, timeout=5)
        await worker.open()
        try:
            async with worker.as_worker() as tx:
                return await (await tx.conn.execute(query)).fetchone()
        finally:
            await worker.close()

    # Only what titling needs (0024): no content column, and only conversations whose
    # title is still to be written.
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        run(read_conversations("SELECT system_prompt FROM public.conversations"))
    assert run(read_conversations("SELECT count(*) AS n FROM public.conversations"))["n"] == 0

    async def jobs_only():
        worker = WorkerDatabase(pg.conninfo(WORKER_ROLE, db), min_size=0, max_size=1, timeout=5)
        await worker.open()
        try:
            async with worker.as_worker() as tx:
                return await (await tx.conn.execute("SELECT count(*) AS n FROM public.jobs")).fetchone()
        finally:
            await worker.close()

    assert run(jobs_only())["n"] == 1


def test_a_connection_that_died_while_idle_costs_the_request_nothing(pg, db, admin_conn):
    """No check query at checkout: the dead connection fails at the scope's opening
    statement, before anything of the request ran, and the opening is retried once on a
    fresh connection."""
    alice, token = make_user(admin_conn, "alice@example.org")

    async def scenario():
        api = ApiDatabase(pg.conninfo(API_ROLE, db), min_size=1, max_size=1, timeout=5)
        await api.open()
        try:
            async with api.as_user(session(token), CTX) as tx:
                first = (await (await tx.conn.execute("SELECT pg_backend_pid() AS pid")).fetchone())["pid"]
            # The server ends the idle connection (a restart, an idle timeout, a pooler).
            admin_conn.execute("SELECT pg_terminate_backend(%s)", (first,))
            async with api.as_user(session(token), CTX) as tx:
                cur = await tx.conn.execute("SELECT pg_backend_pid() AS pid, auth.uid() AS uid")
                second = await cur.fetchone()
            stats = api.pool.get_stats()
            return first, second, stats
        finally:
            await api.close()

    first, second, stats = run(scenario())
    assert second["uid"] == alice and second["pid"] != first
    assert stats.get("connections_lost", 0) + stats.get("returns_bad", 0) >= 1, stats


def test_when_every_idle_connection_died_together_the_request_still_succeeds(pg, db, admin_conn):
    """A server restart ends all of the pool's idle connections at once: the first dead
    one found makes the pool check the others, so the one retry lands on a live
    connection instead of the next dead one."""
    alice, token = make_user(admin_conn, "alice@example.org")

    async def scenario():
        api = ApiDatabase(pg.conninfo(API_ROLE, db), min_size=4, max_size=4, timeout=5)
        await api.open()
        try:
            # Four connections in use at once, so the pool holds four when they are idle.
            async def hold(ready: asyncio.Event, release: asyncio.Event) -> int:
                async with api.as_user(session(token), CTX) as tx:
                    pid = (await (await tx.conn.execute("SELECT pg_backend_pid() AS pid")).fetchone())["pid"]
                    ready.set()
                    await release.wait()
                    return pid

            release = asyncio.Event()
            readies = [asyncio.Event() for _ in range(4)]
            holders = [asyncio.create_task(hold(ready, release)) for ready in readies]
            for ready in readies:
                await ready.wait()
            release.set()
            pids = set(await asyncio.gather(*holders))
            assert len(pids) == 4
            for pid in pids:
                admin_conn.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
            async with api.as_user(session(token), CTX) as tx:
                row = await (await tx.conn.execute("SELECT pg_backend_pid() AS pid, auth.uid() AS uid")).fetchone()
            return pids, row
        finally:
            await api.close()

    pids, row = run(scenario())
    assert row["uid"] == alice and row["pid"] not in pids
