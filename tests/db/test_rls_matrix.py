"""The RLS matrix (K1, K5, F5): nobody but A reads or changes A's rows, in every table.

The tables come from the catalog (pg_class), not from a list kept here: a new table
shows up in the matrix by itself, and `sample_data.fill_every_table` refuses to run
until it has sample rows. For every table, every command (SELECT, INSERT, UPDATE,
DELETE) and every actor:

- B, another signed-in user (role authenticated with B's claims);
- anon (role anon, no claims), and anon carrying A's claims (policies are per role);
- C, an admin, except on the tables admins manage by design (ADMIN_MANAGED): admins
  manage models, nodes, approvals and quotas, never other users' private content;

reading A's rows by primary key returns nothing or is refused (42501), updating or
deleting them touches no row or is refused, inserting a copy of them (still owned by
A) is refused with 42501 exactly, and afterwards every table is identical, row for
row (to_jsonb), to what it was.

Actors act exactly like the API: connected as studio_api, and in each transaction
`set_config('role', ..., true)` plus the claims `studio.user_id` / `studio.user_role`.
Each attempt is its own transaction and is committed when it succeeds, so a write
that slipped through would show in the after-image.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.db.sample_data import (
    UnknownTableError,
    catalog_tables,
    check_known_tables,
    copy_row,
    fetch_row,
    ident,
    pk_where,
    primary_key_columns,
    rls_problems,
    table_columns,
)

# Admins manage these (DESIGN.md: "Admins manage models, workers and approvals"), so
# the admin is not an attacker there; every other table holds users' own content.
ADMIN_MANAGED = frozenset({
    "public.model_registry", "public.model_tutorials", "public.node_resources",
    "public.admin_approval_requests", "public.quotas", "public.backup_runs", "public.audit_runs",
    "public.provider_connections",
})
COMMANDS = ("SELECT", "UPDATE", "DELETE", "INSERT")
PERMISSION_DENIED = "42501"  # insufficient_privilege: no grant, or an RLS violation


# --------------------------------------------------------------------------- actors


@dataclass(frozen=True)
class Actor:
    name: str
    role: str  # 'anon' | 'authenticated'
    user_id: uuid.UUID | None = None
    user_role: str | None = None  # 'user' | 'admin'

    def __str__(self) -> str:
        return self.name


@dataclass
class Outcome:
    rows: list[tuple[Any, ...]]
    rowcount: int
    sqlstate: str | None = None
    error: str | None = None

    def describe(self) -> str:
        if self.sqlstate:
            return f"failed with SQLSTATE {self.sqlstate} ({self.error})"
        return f"succeeded, {self.rowcount} row(s)"


def actors_for(sample) -> dict[str, Actor]:
    return {
        "A": Actor("user A", "authenticated", sample.user_a, "user"),
        "B": Actor("user B", "authenticated", sample.user_b, "user"),
        "C": Actor("admin C", "authenticated", sample.admin_c, "admin"),
        "anon": Actor("anon", "anon"),
        "anon+A": Actor("anon carrying A's claims", "anon", sample.user_a, "user"),
    }


def _become(conn: psycopg.Connection, actor: Actor) -> None:
    """What the API does at the start of every transaction."""
    conn.execute("SELECT pg_catalog.set_config('role', %s, true)", (actor.role,))
    if actor.user_id is not None:
        conn.execute("SELECT pg_catalog.set_config('studio.user_id', %s, true)", (str(actor.user_id),))
    if actor.user_role is not None:
        conn.execute("SELECT pg_catalog.set_config('studio.user_role', %s, true)", (actor.user_role,))
    # The machinery itself must work, or every "0 rows" below would be meaningless.
    who = conn.execute("SELECT current_user::text, auth.uid(), auth.is_admin()").fetchone()
    assert who == (actor.role, actor.user_id, actor.user_role == "admin"), \
        f"could not act as {actor}: current_user, auth.uid(), auth.is_admin() = {who}"


def attempt(conn: psycopg.Connection, actor: Actor, query: sql.Composable | str,
            params: list[Any] | tuple[Any, ...] = ()) -> Outcome:
    """Run one statement as `actor` in its own transaction (committed on success)."""
    try:
        with conn.transaction():
            _become(conn, actor)
            cur = conn.execute(query, params)
            rows = cur.fetchall() if cur.description else []
            return Outcome(rows, cur.rowcount)
    except psycopg.Error as exc:
        return Outcome([], -1, exc.sqlstate, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


@pytest.fixture
def api_factory(pg) -> Iterator:
    opened: list[psycopg.Connection] = []

    def connect(dbname: str, role: str = "studio_api") -> psycopg.Connection:
        conn = psycopg.connect(pg.conninfo(role, dbname), autocommit=True)
        opened.append(conn)
        return conn

    yield connect
    for conn in opened:
        conn.close()


# --------------------------------------------------------------------------- statements


def _has_column_privilege(admin: psycopg.Connection, role: str, table: str, column: str, priv: str) -> bool:
    return admin.execute("SELECT pg_catalog.has_column_privilege(%s, %s, %s, %s)",
                         (role, table, column, priv)).fetchone()[0]


def select_statement(admin, table: str, pk: dict[str, Any]) -> tuple[sql.Composable, list[Any]]:
    where, params = pk_where(pk)
    return sql.SQL("SELECT {} FROM {} WHERE {}").format(
        sql.SQL(", ").join(map(sql.Identifier, pk)), ident(table), where), params


def update_statement(admin, table: str, pk: dict[str, Any], role: str) -> tuple[sql.Composable, list[Any]]:
    """UPDATE setting one column to itself: a column `role` may update if there is one."""
    columns = [c.name for c in table_columns(admin, table)]
    allowed = [c for c in columns if _has_column_privilege(admin, role, table, c, "UPDATE")]
    column = (allowed or columns)[0]
    where, params = pk_where(pk)
    return sql.SQL("UPDATE {} SET {} = {} WHERE {}").format(
        ident(table), sql.Identifier(column), sql.Identifier(column), where), params


def delete_statement(admin, table: str, pk: dict[str, Any]) -> tuple[sql.Composable, list[Any]]:
    where, params = pk_where(pk)
    return sql.SQL("DELETE FROM {} WHERE {}").format(ident(table), where), params


def insert_statement(admin, table: str, row: dict[str, Any], role: str) -> tuple[sql.Composable, list[Any]]:
    """INSERT of a copy of the (full) row: new key, same owner, limited to the columns
    `role` may insert when it may insert any."""
    copy = copy_row(admin, table, row)
    allowed = [c for c in copy if _has_column_privilege(admin, role, table, c, "INSERT")]
    columns = allowed or list(copy)
    return sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        ident(table), sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(sql.Placeholder() * len(columns))), [copy[c] for c in columns]


def check_table(admin: psycopg.Connection, api: psycopg.Connection, table: str,
                a_rows: list[dict[str, Any]], actors: list[Actor]) -> tuple[list[str], int]:
    """Try every command on A's rows as every actor. Returns (violations, checks run)."""
    if not a_rows:
        return [f"{table}: user A has no rows, so nothing would be checked"], 0
    violations: list[str] = []
    checks = 0
    # Read up front: a faulty policy may let a DELETE through before the INSERT attempts.
    full_rows = [fetch_row(admin, table, pk) for pk in a_rows]
    for actor in actors:
        for command in COMMANDS:
            checks += 1
            for pk, full_row in zip(a_rows, full_rows):
                where = f"{table} {command} by {actor} on A's row {pk}"
                try:
                    if command == "SELECT":
                        out = attempt(api, actor, *select_statement(admin, table, pk))
                        if out.sqlstate is None and out.rows:
                            violations.append(f"{where}: read {len(out.rows)} row(s)")
                    elif command == "UPDATE":
                        out = attempt(api, actor, *update_statement(admin, table, pk, actor.role))
                        if out.sqlstate is None and out.rowcount != 0:
                            violations.append(f"{where}: updated {out.rowcount} row(s)")
                    elif command == "DELETE":
                        out = attempt(api, actor, *delete_statement(admin, table, pk))
                        if out.sqlstate is None and out.rowcount != 0:
                            violations.append(f"{where}: deleted {out.rowcount} row(s)")
                    else:
                        out = attempt(api, actor, *insert_statement(admin, table, full_row, actor.role))
                        if out.sqlstate != PERMISSION_DENIED:
                            violations.append(f"{where}: inserting a copy owned by A {out.describe()}, "
                                              f"expected SQLSTATE {PERMISSION_DENIED}")
                        continue
                    if out.sqlstate not in (None, PERMISSION_DENIED):
                        violations.append(f"{where}: unexpected error {out.describe()}")
                except LookupError as exc:  # no rewrite for a unique index, row vanished...
                    violations.append(f"{where}: could not build the statement: {exc}")
    return violations, checks


# --------------------------------------------------------------------------- snapshots


def snapshot(admin: psycopg.Connection, tables: list[str]) -> dict[str, dict[str, str]]:
    """table -> {primary key as JSON: whole row as JSON}, read as superuser."""
    image: dict[str, dict[str, str]] = {}
    for table in tables:
        pk = primary_key_columns(admin, table)
        query = sql.SQL("SELECT pg_catalog.jsonb_build_array({})::text, pg_catalog.to_jsonb(t)::text FROM {} t").format(
            sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in pk), ident(table))
        image[table] = dict(admin.execute(query).fetchall())
    return image


def snapshot_diff(before: dict[str, dict[str, str]], after: dict[str, dict[str, str]]) -> list[str]:
    problems = []
    for table in sorted(set(before) | set(after)):
        old, new = before.get(table, {}), after.get(table, {})
        for key in sorted(set(old) - set(new)):
            problems.append(f"{table}: row {key} disappeared")
        for key in sorted(set(new) - set(old)):
            problems.append(f"{table}: row {key} appeared: {new[key]}")
        for key in sorted(k for k in set(old) & set(new) if old[k] != new[k]):
            problems.append(f"{table}: row {key} changed from {old[key]} to {new[key]}")
    return problems


def rows_image(admin: psycopg.Connection, rows: dict[str, list[dict[str, Any]]]) -> dict[str, list[str | None]]:
    """to_jsonb of each given row (None when it is gone), read as superuser."""
    image: dict[str, list[str | None]] = {}
    for table, pks in rows.items():
        image[table] = []
        for pk in pks:
            where, params = pk_where(pk)
            found = admin.execute(sql.SQL("SELECT pg_catalog.to_jsonb(t)::text FROM {} t WHERE {}").format(
                ident(table), where), params).fetchone()
            image[table].append(found[0] if found else None)
    return image


# --------------------------------------------------------------------------- the matrix


def test_rls_matrix_every_table_command_and_actor(pg, filled_db, api_factory):
    """Every catalog table x {SELECT, INSERT, UPDATE, DELETE} x {B, anon, anon with A's
    claims, admin C (private tables)}: A's rows are neither readable nor changeable."""
    sample = filled_db.sample
    actors = actors_for(sample)
    with psycopg.connect(pg.admin(filled_db.name), autocommit=True) as admin:
        tables = catalog_tables(admin)
        assert set(tables) == set(sample.rows_of_a), (
            f"the sample rows and the catalog disagree: {sorted(set(tables) ^ set(sample.rows_of_a))}")
        api = api_factory(filled_db.name)
        before = snapshot(admin, tables)
        violations: list[str] = []
        checks = expected = 0
        for table in tables:
            table_actors = [actors["B"], actors["anon"], actors["anon+A"]]
            if table not in ADMIN_MANAGED:
                table_actors.append(actors["C"])
            expected += len(table_actors) * len(COMMANDS)
            found, ran = check_table(admin, api, table, sample.rows_of_a[table], table_actors)
            violations += found
            checks += ran
            changes = snapshot_diff(before, snapshot(admin, tables))
            if changes:
                violations += [f"after the attempts on {table}: {c}" for c in changes]
                before = snapshot(admin, tables)  # report each change once
    assert not violations, "RLS matrix violations:\n" + "\n".join(violations)
    assert checks == expected > 0, f"ran {checks} table/command/actor checks, expected {expected}"


def test_new_table_without_rls_is_caught(pg, filled_db, api_factory):
    """A table added without RLS is picked up from the catalog and fails every guard:
    the RLS check names it, the sample filler refuses it, and the matrix reports B
    reading A's row."""
    table = "public.zz_unprotected_notes"
    sample = filled_db.sample
    with psycopg.connect(pg.admin(filled_db.name), autocommit=True) as admin:
        assert table not in catalog_tables(admin)
        assert not rls_problems(admin), rls_problems(admin)
        admin.execute("""
            CREATE TABLE public.zz_unprotected_notes (
                id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
                user_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
                note text NOT NULL)""")
        admin.execute("ALTER TABLE public.zz_unprotected_notes OWNER TO studio_owner")
        admin.execute("GRANT SELECT ON public.zz_unprotected_notes TO authenticated")
        note_id = uuid.uuid4()
        admin.execute("INSERT INTO public.zz_unprotected_notes (id, user_id, note) VALUES (%s, %s, 'A only')",
                      (note_id, sample.user_a))

        assert table in catalog_tables(admin)
        problems = rls_problems(admin)
        assert any(p.startswith(table + ":") for p in problems), problems
        with pytest.raises(UnknownTableError, match="zz_unprotected_notes"):
            check_known_tables(admin)
        violations, _ = check_table(admin, api_factory(filled_db.name), table, [{"id": note_id}],
                                    [actors_for(sample)["B"]])
    assert any("SELECT by user B" in v and "read 1 row" in v for v in violations), violations


FAULTS = (
    # (table, faulty policy body, actor, commands the matrix must then report)
    ("public.conversations", "FOR SELECT TO authenticated USING (true)", "B", ("SELECT",)),
    ("public.messages", "FOR ALL TO authenticated USING (true) WITH CHECK (true)", "B",
     ("SELECT", "DELETE", "INSERT")),
    ("public.generations", "FOR INSERT TO authenticated WITH CHECK (true)", "B", ("INSERT",)),
    ("public.api_usage", "FOR SELECT TO authenticated USING ((SELECT auth.is_admin()))", "C", ("SELECT",)),
    ("public.batch_queue", "FOR ALL TO authenticated USING ((SELECT auth.is_admin()))", "C",
     ("SELECT", "UPDATE", "DELETE", "INSERT")),
)


def test_matrix_catches_injected_policy_faults(filled_db, pg, api_factory):
    """Mutation check of the matrix itself: add one too-permissive policy at a time and
    the very same check_table reports exactly the commands it opens up."""
    sample = filled_db.sample
    actors = actors_for(sample)
    api = api_factory(filled_db.name)
    with psycopg.connect(pg.admin(filled_db.name), autocommit=True) as admin:
        for table, body, who, commands in FAULTS:
            clean, _ = check_table(admin, api, table, sample.rows_of_a[table], [actors[who]])
            assert clean == [], clean
            admin.execute(sql.SQL("CREATE POLICY zz_fault ON {} ").format(ident(table)) + sql.SQL(body))
            try:
                found, _ = check_table(admin, api, table, sample.rows_of_a[table], [actors[who]])
            finally:
                admin.execute(sql.SQL("DROP POLICY zz_fault ON {}").format(ident(table)))
            reported = {c for c in COMMANDS for v in found if f"{table} {c} by {actors[who]}" in v}
            assert reported == set(commands), f"{table} with policy {body!r}: matrix reported {found}"


# --------------------------------------------------------------------------- positive controls

OWN_READ_TABLES = ("public.conversations", "public.messages", "public.generations", "public.api_keys",
                   "public.datasets", "public.dataset_images")


def test_owner_reads_own_rows_through_the_same_machinery(filled_db, pg, api_factory):
    sample = filled_db.sample
    actor = actors_for(sample)["A"]
    api = api_factory(filled_db.name)
    with psycopg.connect(pg.admin(filled_db.name), autocommit=True) as admin:
        for table in OWN_READ_TABLES:
            assert sample.rows_of_a[table], table
            for pk in sample.rows_of_a[table]:
                out = attempt(api, actor, *select_statement(admin, table, pk))
                assert out.sqlstate is None and len(out.rows) == 1, f"{table}: A reading own row {pk}: {out.describe()}"
        # And not B's: the owner's view is filtered too.
        for table in OWN_READ_TABLES:
            for pk in sample.rows_of_b[table]:
                out = attempt(api, actor, *select_statement(admin, table, pk))
                assert out.sqlstate is None and out.rows == [], f"{table}: A read B's row {pk}"


def test_owner_writes_own_rows_through_the_same_statements(filled_db, pg, api_factory):
    """The statements the matrix sends are valid: for A they do work, so B's zero rows
    and 42501s come from privileges and policies, not from broken statements."""
    sample = filled_db.sample
    actor = actors_for(sample)["A"]
    api = api_factory(filled_db.name)
    with psycopg.connect(pg.admin(filled_db.name), autocommit=True) as admin:
        for table in ("public.conversations", "public.messages", "public.api_keys", "public.generations",
                      "public.datasets", "public.shared_content", "public.batch_queue"):
            pk = sample.rows_of_a[table][-1]
            out = attempt(api, actor, *insert_statement(admin, table, fetch_row(admin, table, pk), actor.role))
            assert out.sqlstate is None and out.rowcount == 1, f"{table}: A inserting a copy of own row: {out.describe()}"
        for table in ("public.conversations", "public.users", "public.datasets", "public.api_keys"):
            pk = sample.rows_of_a[table][0]
            out = attempt(api, actor, *update_statement(admin, table, pk, actor.role))
            assert out.sqlstate is None and out.rowcount == 1, f"{table}: A updating own row: {out.describe()}"
        for table in ("public.messages", "public.user_notifications", "public.sessions"):
            pk = sample.rows_of_a[table][-1]
            out = attempt(api, actor, *delete_statement(admin, table, pk))
            assert out.sqlstate is None and out.rowcount == 1, f"{table}: A deleting own row: {out.describe()}"


def test_worker_reads_jobs_and_generations(filled_db, api_factory):
    sample = filled_db.sample
    worker = api_factory(filled_db.name, "studio_worker")
    assert worker.execute("SELECT current_user::text").fetchone()[0] == "studio_worker"
    for table in ("public.jobs", "public.generations"):
        for pk in sample.rows_of_a[table]:
            where, params = pk_where(pk)
            rows = worker.execute(sql.SQL("SELECT id FROM {} WHERE {}").format(ident(table), where), params).fetchall()
            assert len(rows) == 1, f"studio_worker cannot read A's {table} row {pk}"


def test_public_model_catalog_readable_but_not_writable_by_users(filled_db, pg, api_factory):
    """The one designed exception to 'B sees nothing of others': enabled models and
    their tutorials. B reads them, but may not change them; admin C may."""
    sample = filled_db.sample
    actors = actors_for(sample)
    api = api_factory(filled_db.name)
    with psycopg.connect(pg.admin(filled_db.name), autocommit=True) as admin:
        for table in ("public.model_registry", "public.model_tutorials"):
            pk = sample.public_rows[table][0]
            out = attempt(api, actors["B"], *select_statement(admin, table, pk))
            assert len(out.rows) == 1, f"B cannot read the public {table} row: {out.describe()}"
            out = attempt(api, actors["anon"], *select_statement(admin, table, pk))
            assert out.sqlstate == PERMISSION_DENIED, f"anon reading {table}: {out.describe()}"
            violations, _ = check_table(admin, api, table, [pk], [actors["B"]])
            assert [v for v in violations if " SELECT " not in v] == [], violations
            out = attempt(api, actors["C"], *update_statement(admin, table, pk, "authenticated"))
            assert out.sqlstate is None and out.rowcount == 1, f"admin C updating {table}: {out.describe()}"


def test_admin_manages_admin_tables_but_not_private_content(filled_db, pg, api_factory):
    """Why ADMIN_MANAGED is excluded for C: C does see A's quota, approval requests and
    the nodes; while A's conversation stays invisible to C."""
    sample = filled_db.sample
    admin_c = actors_for(sample)["C"]
    api = api_factory(filled_db.name)
    with psycopg.connect(pg.admin(filled_db.name), autocommit=True) as admin:
        for table in ("public.quotas", "public.admin_approval_requests", "public.node_resources",
                      "public.model_registry"):
            out = attempt(api, admin_c, *select_statement(admin, table, sample.rows_of_a[table][0]))
            assert len(out.rows) == 1, f"admin C cannot read {table}: {out.describe()}"
        out = attempt(api, admin_c, *select_statement(admin, "public.conversations",
                                                      sample.rows_of_a["public.conversations"][0]))
        assert out.sqlstate is None and out.rows == [], "admin C reads A's conversation"


# --------------------------------------------------------------------------- K1: bypass attempts


def test_subqueries_and_joins_do_not_bypass_rls(filled_db, pg, api_factory):
    sample = filled_db.sample
    b = actors_for(sample)["B"]
    api = api_factory(filled_db.name)
    a_messages = {pk["id"] for pk in sample.rows_of_a["public.messages"]}
    b_messages = {pk["id"] for pk in sample.rows_of_b["public.messages"]}
    a_conversation = sample.rows_of_a["public.conversations"][0]["id"]
    with psycopg.connect(pg.admin(filled_db.name), autocommit=True) as admin:
        a_content = admin.execute("SELECT content FROM public.messages WHERE id = %s",
                                  (sample.rows_of_a["public.messages"][0]["id"],)).fetchone()[0]

    out = attempt(api, b, "SELECT count(*) FROM public.messages "
                          "WHERE conversation_id IN (SELECT id FROM public.conversations)")
    assert out.rows == [(len(b_messages),)], f"count through IN (subquery): {out.describe()} {out.rows}"

    out = attempt(api, b, "SELECT m.id FROM public.conversations c JOIN public.messages m ON m.conversation_id = c.id")
    assert out.sqlstate is None and {r[0] for r in out.rows} == b_messages, out.rows

    out = attempt(api, b, "SELECT m.id FROM public.messages m WHERE m.conversation_id = %s", [a_conversation])
    assert out.sqlstate is None and out.rows == [], out.rows

    out = attempt(api, b, "SELECT count(*) FROM public.messages m WHERE EXISTS ("
                          "SELECT 1 FROM public.conversations c WHERE c.user_id = %s)", [sample.user_a])
    assert out.rows == [(0,)], out.rows

    out = attempt(api, b, "SELECT m.id FROM public.messages m "
                          "LEFT JOIN public.conversations c ON c.id = m.conversation_id WHERE c.id IS NULL")
    assert out.sqlstate is None and out.rows == [], "messages whose conversation is hidden leaked"

    # Error side channel: a non-leakproof expression (division by zero) that would fail
    # only on A's row must run after the policy has filtered that row out.
    # (The divisor is per row: a constant 1 / 0 would fail at plan time, for any row.)
    out = attempt(api, b, "SELECT count(*) FROM public.messages WHERE CASE WHEN content = %s "
                          "THEN 1 / (length(content) * 0) = 1 ELSE false END", [a_content])
    assert out.sqlstate is None and out.rows == [(0,)], f"error side channel: {out.describe()}"

    out = attempt(api, b, "SELECT id FROM public.messages WHERE id = ANY(%s)", [list(a_messages)])
    assert out.sqlstate is None and out.rows == [], out.rows

    # Nor can B plant a leaky function or a view of their own.
    out = attempt(api, b, "CREATE FUNCTION public.leak(text) RETURNS boolean LANGUAGE sql "
                          "COST 0.0000001 AS 'SELECT true'")
    assert out.sqlstate == PERMISSION_DENIED, out.describe()
    out = attempt(api, b, "CREATE TEMPORARY VIEW v AS SELECT * FROM public.messages")
    assert out.sqlstate == PERMISSION_DENIED, out.describe()


def test_authenticate_as_b_touches_only_b(filled_db, pg, api_factory):
    sample = filled_db.sample
    actors = actors_for(sample)
    b = actors["B"]
    api = api_factory(filled_db.name)
    with psycopg.connect(pg.admin(filled_db.name), autocommit=True) as admin:
        a_before = rows_image(admin, sample.rows_of_a)
        b_key = sample.rows_of_b["public.api_keys"][0]
        b_key_before = rows_image(admin, {"public.api_keys": [b_key]})

        def auth_call(kind: str, token: bytes) -> Outcome:
            return attempt(api, b, "SELECT a.user_id, a.role, auth.uid(), auth.is_admin() "
                                   "FROM auth.authenticate(%s, %s) a", [kind, hashlib.sha256(token).digest()])

        out = auth_call("session", sample.session_tokens[sample.user_b])
        assert out.rows == [(sample.user_b, "user", sample.user_b, False)], out.describe()
        out = auth_call("api_key", sample.api_key_tokens[sample.user_b])
        assert out.rows == [(sample.user_b, "user", sample.user_b, False)], out.describe()
        for kind in ("session", "api_key", "bogus"):
            out = auth_call(kind, b"not a token of anybody")
            assert out.sqlstate is None and out.rows == [], f"{kind}: {out.describe()}"
        # A failed lookup leaves B's claims as they were (B, not A, not admin).
        out = attempt(api, b, "SELECT (SELECT count(*) FROM auth.authenticate('session', %s)), auth.uid()",
                      [b"\x00" * 32])
        assert out.rows == [(0, sample.user_b)], out.rows

        assert rows_image(admin, sample.rows_of_a) == a_before, "authenticate as B changed A's rows"
        # Non-vacuity: B's own key was touched (last_used_at set), proving writes happen.
        assert rows_image(admin, {"public.api_keys": [b_key]}) != b_key_before


def _delete_account_as_b(pg, filled_db, api_factory) -> None:
    sample = filled_db.sample
    actors = actors_for(sample)
    api = api_factory(filled_db.name)
    with psycopg.connect(pg.admin(filled_db.name), autocommit=True) as admin:
        a_before = rows_image(admin, sample.rows_of_a)
        users_before = admin.execute("SELECT count(*) FROM public.users").fetchone()[0]

        out = attempt(api, actors["anon"], "SELECT auth.delete_account()")
        assert out.sqlstate == PERMISSION_DENIED or out.rows == [(False,)], out.describe()
        assert admin.execute("SELECT count(*) FROM public.users").fetchone()[0] == users_before

        out = attempt(api, actors["B"], "SELECT auth.delete_account()")
        assert out.rows == [(True,)], f"auth.delete_account() as B {out.describe()}"

        remaining = {r[0] for r in admin.execute("SELECT id FROM public.users").fetchall()}
        assert sample.user_b not in remaining, "B still exists"
        assert {sample.user_a, sample.admin_c} <= remaining, "delete_account as B deleted someone else"
        assert rows_image(admin, sample.rows_of_a) == a_before, "delete_account as B changed A's rows"
        # Everything of B's that hangs off the account by ON DELETE CASCADE went with it.
        reach = _cascade_reach(admin)
        b_rows = {t: pks for t, pks in sample.rows_of_b.items() if t in reach and pks}
        assert "public.conversations" in b_rows and "public.messages" in b_rows, sorted(b_rows)
        b_left = {t: [img for img in imgs if img is not None] for t, imgs in rows_image(admin, b_rows).items()}
        assert not any(b_left.values()), f"B's rows survived the account deletion: {b_left}"
        anonymised = admin.execute("SELECT count(*) FROM public.audit_log "
                                   "WHERE event = 'account.deleted' AND user_id IS NULL").fetchone()[0]
        assert anonymised == 1, "no anonymised account.deleted audit record"


def test_delete_account_as_b_deletes_only_b(filled_db, pg, api_factory):
    """Isolation of auth.delete_account(). B's sessions are removed first (as superuser,
    outside any user's claims) to step around the finding of the next test."""
    with psycopg.connect(pg.admin(filled_db.name), autocommit=True) as admin:
        admin.execute("DELETE FROM public.sessions WHERE user_id = %s", [filled_db.sample.user_b])
    _delete_account_as_b(pg, filled_db, api_factory)


def test_delete_account_with_a_live_session(filled_db, pg, api_factory):
    """How the API calls it: the user deletes their account while logged in."""
    with psycopg.connect(pg.admin(filled_db.name), autocommit=True) as admin:
        live = admin.execute("SELECT count(*) FROM public.sessions WHERE user_id = %s",
                             [filled_db.sample.user_b]).fetchone()[0]
    assert live > 0
    _delete_account_as_b(pg, filled_db, api_factory)


def test_users_cannot_promote_themselves(filled_db, pg, api_factory):
    sample = filled_db.sample
    actors = actors_for(sample)
    api = api_factory(filled_db.name)
    for actor in (actors["B"], actors["anon"]):
        out = attempt(api, actor, "SELECT auth.set_user_role(%s, 'admin')", [sample.emails[sample.user_b]])
        with psycopg.connect(pg.admin(filled_db.name), autocommit=True) as admin:
            role = admin.execute("SELECT role FROM public.users WHERE id = %s", [sample.user_b]).fetchone()[0]
        assert role == "user", f"{actor} made B an admin through auth.set_user_role ({out.describe()})"
        assert out.sqlstate == PERMISSION_DENIED, f"{actor} calling auth.set_user_role: {out.describe()}"
    # Through the table, the role column is not writable either.
    out = attempt(api, actors["B"], "UPDATE public.users SET role = 'admin' WHERE id = %s", [sample.user_b])
    assert out.sqlstate == PERMISSION_DENIED, out.describe()


# --------------------------------------------------------------------------- cascades


def _user_fks(admin: psycopg.Connection) -> list[tuple[str, str, str, str]]:
    """(referencing table, constraint, column, on-delete action) of every FK to users."""
    return admin.execute(
        """
        SELECT n.nspname || '.' || c.relname, k.conname, a.attname, k.confdeltype::text
          FROM pg_catalog.pg_constraint k
          JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
         WHERE k.contype = 'f' AND k.confrelid = 'public.users'::regclass
           AND pg_catalog.array_length(k.conkey, 1) = 1
         ORDER BY 1, 2
        """).fetchall()


def _cascade_reach(admin: psycopg.Connection) -> set[str]:
    """Tables whose rows go when a user goes: reachable from users over ON DELETE CASCADE."""
    edges = admin.execute(
        """
        SELECT nf.nspname || '.' || cf.relname, n.nspname || '.' || c.relname
          FROM pg_catalog.pg_constraint k
          JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          JOIN pg_catalog.pg_class cf ON cf.oid = k.confrelid
          JOIN pg_catalog.pg_namespace nf ON nf.oid = cf.relnamespace
         WHERE k.contype = 'f' AND k.confdeltype = 'c'
        """).fetchall()
    reach, frontier = {"public.users"}, ["public.users"]
    while frontier:
        parent = frontier.pop()
        for referenced, referencing in edges:
            if referenced == parent and referencing not in reach:
                reach.add(referencing)
                frontier.append(referencing)
    return reach


def test_deleting_a_user_cascades_everywhere(filled_db, pg):
    sample = filled_db.sample
    a = sample.user_a
    with psycopg.connect(pg.admin(filled_db.name), autocommit=True) as admin:
        fks = _user_fks(admin)
        assert fks, "no foreign keys to users found"
        unexpected = [f"{t}.{col} ({name}): ON DELETE {action}" for t, name, col, action in fks
                      if action not in ("c", "n")]
        assert not unexpected, f"FKs to users that neither cascade nor set null: {unexpected}"

        set_null_rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for table, name, column, action in fks:
            pk = primary_key_columns(admin, table)
            rows = admin.execute(sql.SQL("SELECT {} FROM {} WHERE {} = %s").format(
                sql.SQL(", ").join(map(sql.Identifier, pk)), ident(table), sql.Identifier(column)), [a]).fetchall()
            assert rows, f"sample data has no row pointing at A in {table}.{column}: the check would be vacuous"
            if action == "n":
                set_null_rows[table, column] = [dict(zip(pk, r)) for r in rows]
        audit_ids = [pk["id"] for pk in sample.rows_of_a["public.audit_log"]]
        reach = _cascade_reach(admin)

        admin.execute("DELETE FROM public.users WHERE id = %s", [a])

        for table, name, column, action in fks:
            left = admin.execute(sql.SQL("SELECT count(*) FROM {} WHERE {} = %s").format(
                ident(table), sql.Identifier(column)), [a]).fetchone()[0]
            assert left == 0, f"{table}.{column} ({name}) still has {left} row(s) pointing at the deleted user"
        image = rows_image(admin, sample.rows_of_a)
        for table, rows in image.items():
            if table in reach:
                assert all(r is None for r in rows), f"{table}: A's rows survived ON DELETE CASCADE"
            else:
                assert all(r is not None for r in rows), f"{table}: A's rows vanished without a cascade path"
        # ON DELETE SET NULL: the rows stay, without the link.
        for (table, column), pks in set_null_rows.items():
            for pk in pks:
                where, params = pk_where(pk)
                found = admin.execute(sql.SQL("SELECT {} FROM {} WHERE {}").format(
                    sql.Identifier(column), ident(table), where), params).fetchall()
                assert found == [(None,)], f"{table} row {pk}: expected {column} NULL after deleting A, got {found}"
        # The audit trail stays, anonymised.
        nulls = admin.execute("SELECT count(*) FROM public.audit_log WHERE id = ANY(%s) AND user_id IS NULL",
                              [audit_ids]).fetchone()[0]
        assert nulls == len(audit_ids) > 0, "audit_log.user_id was not set to NULL"
        assert "public.audit_log" not in reach
