"""Transaction scopes: the only way runtime code reaches the database.

Every request or job runs in exactly one transaction whose identity is fixed when it
opens, never remembered per query (F4, K5):

* `AnonScope`: role `anon`, no user (sign-up, login, readiness);
* `UserScope`: role `authenticated`, claims of the user behind a session cookie or an
  API key, resolved by the database itself (`auth.authenticate`) in the same round trip
  that opens the transaction;
* `WorkerScope`: the worker's own login role, under policies written for it.

The scopes are distinct types, so a repository function that needs a user's identity
cannot be handed a worker scope without the type checker noticing. Claims are set with
`set_config(..., true)` (SET LOCAL semantics), so nothing outlives the transaction:
safe behind PgBouncer in transaction mode.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import psycopg
from psycopg import AsyncClientCursor, AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from studio.auth.identity import Credential, CurrentUser, RequestContext, Unauthenticated
from studio.db.roles import ROLE_ATTRIBUTES_SQL


@dataclass(slots=True)
class AnonScope:
    conn: AsyncConnection[DictRow]


@dataclass(slots=True)
class UserScope:
    conn: AsyncConnection[DictRow]
    user: CurrentUser


@dataclass(slots=True)
class WorkerScope:
    conn: AsyncConnection[DictRow]


@dataclass(frozen=True, slots=True)
class UserStatement:
    """One statement of the caller's that returns rows (a read, or a write with RETURNING
    whose rules the database holds: RLS, constraints, triggers) and names its user as `auth.uid()`, never as a value:
    it is written before the user is known, so that `ApiDatabase.run_as_user` can send
    it in the message that opens the scope (one round trip for the whole request). Its
    placeholders are named (`%(name)s`); a literal percent sign is `%%`."""
    query: str
    params: Mapping[str, object] = field(default_factory=dict)


async def run_statement(tx: UserScope, statement: UserStatement) -> list[DictRow]:
    """A UserStatement inside a scope that is already open (other statements around it)."""
    cur = await tx.conn.execute(statement.query, statement.params)
    return await cur.fetchall()


# The client context and the switch to anon come first: studio_api itself may do
# nothing, not even call auth.authenticate, until it has become anon.
_BEGIN_ANON = """
SELECT pg_catalog.set_config('role', 'anon', true),
       pg_catalog.set_config('studio.request_id', %(request_id)s, true),
       -- Shown by pg_stat_activity and in the server log (%%a): the request behind a statement.
       pg_catalog.set_config('application_name', 'studio-api ' || %(request_id)s, true),
       pg_catalog.set_config('studio.client_ip', %(client_ip)s, true),
       pg_catalog.set_config('studio.user_agent', %(user_agent)s, true)
"""
_AUTHENTICATE = """
SELECT a.user_id AS id, a.role, a.email, a.display_name, a.session_id,
       pg_catalog.set_config('role', 'authenticated', true) AS _role
  FROM auth.authenticate(%(kind)s, %(token_hash)s) AS a
"""
# A scope opens with one message to the server: the statements in order, in one
# simple-query string whose values psycopg binds on the client (ClientCursor quotes each
# one; nothing of a request is ever spliced into SQL by us). Each statement is checked
# when it runs, so auth.authenticate's EXECUTE privilege is checked after the switch
# to anon. One round trip, and a third of the driver's work of a pipeline.
_OPEN_ANON = "BEGIN;\n" + _BEGIN_ANON
_OPEN_USER = _OPEN_ANON + ";\n" + _AUTHENTICATE
# After the authentication in run_as_user's one message: without a user, back to the
# login role, which may do nothing at all (NOINHERIT, no grants), so whatever follows fails.
_NO_USER_NO_ACCESS = """
SELECT pg_catalog.set_config('role', 'none', true)
 WHERE pg_catalog.current_setting('role') OPERATOR(pg_catalog.<>) 'authenticated'
"""
_OPENING_PARAMS = frozenset({"request_id", "client_ip", "user_agent", "kind", "token_hash"})


class _Pool:
    """One bounded pool per process (F2). A request that finds every connection busy
    waits at most `timeout` seconds, then gets psycopg_pool.PoolTimeout (answered 503)."""

    # A round trip ("" query) at every checkout; the worker does without (see WorkerDatabase).
    _check_on_checkout = True

    def __init__(self, conninfo: str, *, min_size: int, max_size: int, timeout: float,
                 prepared_statements: bool = True) -> None:
        kwargs: dict[str, object] = {"autocommit": True, "row_factory": dict_row}
        if not prepared_statements:
            kwargs["prepare_threshold"] = None  # behind PgBouncer (config.Settings.prepared_statements)
        self.pool: AsyncConnectionPool[AsyncConnection[DictRow]] = AsyncConnectionPool(
            conninfo,
            connection_class=AsyncConnection[DictRow],
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            open=False,
            kwargs=kwargs,
            check=AsyncConnectionPool.check_connection if self._check_on_checkout else None,
            name=type(self).__name__,
        )

    async def open(self) -> None:
        await self.pool.open(wait=True, timeout=self.pool.timeout)

    async def close(self) -> None:
        await self.pool.close()

    async def role_attributes(self) -> dict[str, object]:
        """The login role's own attributes, checked at start-up (fail closed)."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(ROLE_ATTRIBUTES_SQL)
            row = await cur.fetchone()
            assert row is not None
            return dict(row)


class ApiDatabase(_Pool):
    """The API's pool, logged in as studio_api: it can only become anon or a user.

    No check query at checkout (a round trip per request): a connection that died while
    idle (the server restarted, a pooler closed it) fails at the scope's opening
    statement, before anything of the request ran; the pool's idle connections are then
    checked (they died together) and the opening is retried once on a live one."""

    _check_on_checkout = False

    async def _open(self, opening: str, params: dict[str, object]) -> tuple[AsyncConnection[DictRow],
                                                                          AsyncClientCursor[DictRow]]:
        for attempt in (1, 2):
            conn = await self.pool.getconn()
            cur = AsyncClientCursor(conn, row_factory=dict_row)
            try:
                await cur.execute(opening, params)
                return conn, cur
            except psycopg.OperationalError:
                await self.pool.putconn(conn)  # a broken connection is discarded
                if attempt == 2 or not conn.broken:
                    raise
                # The server restarted: every idle connection died with this one. Drop
                # them all at once, so the retry gets a live one (or waits for a new one).
                await self.pool.check()
            except BaseException:
                await _rollback(conn)
                await self.pool.putconn(conn)
                raise
        raise AssertionError("unreachable")

    @asynccontextmanager
    async def _transaction(self, opening: str, ctx: RequestContext,
                           extra: dict[str, object] | None = None) -> AsyncIterator[AsyncClientCursor[DictRow]]:
        conn, cur = await self._open(opening, _opening_params(ctx, extra))
        try:
            yield cur
        except BaseException:
            await _rollback(conn)
            raise
        else:
            await conn.execute("COMMIT")
        finally:
            await self.pool.putconn(conn)

    @asynccontextmanager
    async def as_anon(self, ctx: RequestContext) -> AsyncIterator[AnonScope]:
        async with self._transaction(_OPEN_ANON, ctx) as cur:
            yield AnonScope(cur.connection)

    @asynccontextmanager
    async def as_user(self, credential: Credential, ctx: RequestContext) -> AsyncIterator[UserScope]:
        async with self._transaction(_OPEN_USER, ctx,
                                     {"kind": credential.kind, "token_hash": credential.token_hash}) as cur:
            cur.nextset()  # BEGIN's result, then the switch to anon's
            cur.nextset()
            row = await cur.fetchone()
            if row is None:
                raise Unauthenticated
            row.pop("_role")
            yield UserScope(cur.connection, CurrentUser(**row))

    async def run_as_user(self, credential: Credential, ctx: RequestContext,
                          statement: UserStatement) -> list[DictRow]:
        """A request that is one statement, in one round trip: the scope's opening, the
        statement and COMMIT in one message, the statement running as the user the
        opening authenticated, under the same row-level security as in `as_user`. Sending
        the statement and COMMIT as messages of their own cost a list request more of the
        API's CPU than routing, validation and the response together (decision 0007).

        Without a user (no such session or key) the message switches back to the login
        role, which may do nothing, so the statement fails and the transaction is rolled back;
        then, and on any other error of the database, the statement runs again the
        ordinary way (`as_user`), which answers exactly as every other endpoint does
        (Unauthenticated, or the error). A lost connection is not retried: a write may
        have committed."""
        if clash := _OPENING_PARAMS & statement.params.keys():
            raise ValueError(f"a UserStatement may not name its parameters {sorted(clash)}")
        params = _opening_params(ctx, {"kind": credential.kind, "token_hash": credential.token_hash,
                                       **statement.params})
        try:
            conn, cur = await self._open(f"{_OPEN_USER};{_NO_USER_NO_ACCESS};\n{statement.query};\nCOMMIT", params)
        except psycopg.OperationalError:
            raise
        except psycopg.Error:
            async with self.as_user(credential, ctx) as tx:
                return await run_statement(tx, statement)
        try:
            cur.nextset()  # BEGIN's result, then the switch to anon's, then the authentication's
            cur.nextset()
            authenticated = await cur.fetchone() is not None
            cur.nextset()  # the guard's
            cur.nextset()
            rows = await cur.fetchall()
        finally:
            await self.pool.putconn(conn)
        if not authenticated:  # a statement that touched no table ran without a user
            raise Unauthenticated
        return rows


class DirectApiLogin:
    """studio_api's own login outside the API's pool, for the operator's `studio user
    create`: each `as_anon` is one transaction on a connection of its own, switched to
    anon as ApiDatabase.as_anon switches the API's. No request is behind it, so no
    client address or user agent is set (the audit log records none)."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo

    @asynccontextmanager
    async def as_anon(self, ctx: RequestContext) -> AsyncIterator[AnonScope]:
        # The connection commits when the block ends, rolls back when it raises.
        async with await psycopg.AsyncConnection.connect(self.conninfo, row_factory=dict_row) as conn:
            await conn.execute("SELECT pg_catalog.set_config('role', 'anon', true)")
            yield AnonScope(conn)


def _opening_params(ctx: RequestContext, extra: Mapping[str, object] | None) -> dict[str, object]:
    return {"request_id": ctx.request_id, "client_ip": ctx.client_ip or "", "user_agent": ctx.user_agent or "",
            **(extra or {})}


async def _rollback(conn: AsyncConnection[DictRow]) -> None:
    """End a failed scope's transaction; a broken connection has none left to end (the
    pool discards it)."""
    if not conn.broken:
        try:
            await conn.execute("ROLLBACK")
        except psycopg.OperationalError:
            pass


class WorkerDatabase(_Pool):
    """The worker's pool, logged in as studio_worker, under the policies written for it.

    No check query at checkout: the queue's statements are its hot path (one round trip
    each). A connection that died (the server restarted) is found by the statement
    itself; the worker then calls `recheck()`, which drops every dead idle connection
    at once, and retries or gives the job back (jobs/worker.py)."""

    _check_on_checkout = False

    async def recheck(self) -> None:
        await self.pool.check()

    @asynccontextmanager
    async def as_worker(self) -> AsyncIterator[WorkerScope]:
        async with self.pool.connection() as conn, conn.transaction():
            yield WorkerScope(conn)

    @asynccontextmanager
    async def single_statement(self) -> AsyncIterator[WorkerScope]:
        """For exactly one statement, which is then its own transaction (autocommit):
        one round trip instead of BEGIN, statement, COMMIT. Only for statements that are
        a whole transaction by themselves (the claim, the batched completion)."""
        async with self.pool.connection() as conn:
            yield WorkerScope(conn)
