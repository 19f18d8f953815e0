"""The audit log (F20): append-only, written by the database, not editable at runtime.

The RLS matrix (test_rls_matrix.py) already shows that B, anon and admin C can neither
read nor change A's audit records. This module adds what the matrix does not try:

- A cannot change or delete even their own records, nor write a record of their own,
  nor call the writer (auth.audit) directly; neither can the login roles studio_api
  (before it becomes anyone) and studio_worker, nor anon;
- in the catalog, no runtime role holds UPDATE or TRUNCATE on audit_log, only
  studio_auth holds INSERT and DELETE (the latter limited to the caller's own rows),
  no runtime role can become studio_auth or create code that would run as it, and
  the only function that deletes records is auth.delete_account (0014);
- the triggers and functions of 0016: shares created, revoked or deleted while live
  are recorded (never their slug), ended shares removed by the retention job are not;
  auth.change_password changes only the caller's password and ends only their other
  sessions.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from studio.auth import repository as auth_repo
from studio.config import API_ROLE, WORKER_ROLE
from tests.db.test_query_plans import assert_ordered_index_scan, explain
from tests.db.test_rls_matrix import (
    PERMISSION_DENIED,
    Outcome,
    _become,
    actors_for,
    attempt,
    snapshot,
)

AUDIT_LOG = "public.audit_log"
RUNTIME_ROLES = ("studio_api", "studio_worker", "anon", "authenticated", "studio_auth", "studio_system")
# Every policy on audit_log, and for whom (0002, 0014). A new one must be added here knowingly.
EXPECTED_POLICIES = {
    ("audit_log_select_own", "SELECT", ("authenticated",)),
    ("audit_log_auth_insert", "INSERT", ("studio_auth",)),
    ("audit_log_auth_select_own", "SELECT", ("studio_auth",)),
    ("audit_log_auth_delete_own", "DELETE", ("studio_auth",)),
}
FAKE_HASH = "$argon2id$v=19$m=65536,t=3,p=4$" + "c" * 43


@pytest.fixture
def connect(pg) -> Iterator:
    opened: list[psycopg.Connection] = []

    def open_as(dbname: str, role: str) -> psycopg.Connection:
        conn = psycopg.connect(pg.conninfo(role, dbname), autocommit=True)
        opened.append(conn)
        return conn

    yield open_as
    for conn in opened:
        conn.close()


def run_as_login(conn: psycopg.Connection, query: str, params: tuple[Any, ...] = ()) -> Outcome:
    """One statement in its own transaction as the login role itself (no SET ROLE)."""
    try:
        with conn.transaction():
            cur = conn.execute(query, params)
            return Outcome(cur.fetchall() if cur.description else [], cur.rowcount)
    except psycopg.Error as exc:
        return Outcome([], -1, exc.sqlstate, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


def audit_rows(admin: psycopg.Connection, user_id: uuid.UUID) -> list[tuple[str, dict[str, Any]]]:
    return admin.execute("SELECT event, details FROM public.audit_log WHERE user_id = %s ORDER BY created_at, id",
                         (user_id,)).fetchall()


# --------------------------------------------------------------------------- not editable: behaviour


def tampering(own: uuid.UUID, own_user: uuid.UUID | None) -> list[tuple[str, tuple[Any, ...]]]:
    """Statements that would change the record `own` (of user `own_user`), or forge one."""
    forged_for = own_user or uuid.uuid4()
    return [
        ("UPDATE public.audit_log SET event = 'logout' WHERE id = %s", (own,)),
        ("UPDATE public.audit_log SET details = '{}', ip = NULL WHERE id = %s", (own,)),
        ("UPDATE public.audit_log SET user_id = NULL WHERE user_id = %s", (forged_for,)),
        ("DELETE FROM public.audit_log WHERE id = %s", (own,)),
        ("DELETE FROM public.audit_log WHERE user_id = %s", (forged_for,)),
        ("INSERT INTO public.audit_log (user_id, event, details) VALUES (%s, 'login.succeeded', '{\"forged\": 1}')",
         (forged_for,)),
        ("INSERT INTO public.audit_log (event) VALUES ('account.deleted')", ()),
        ("TRUNCATE public.audit_log", ()),
        ("SELECT auth.audit(%s, 'admin.action', '{\"forged\": 1}')", (forged_for,)),
    ]


def test_no_runtime_role_can_change_delete_or_forge_audit_records(pg, filled_db, connect):
    """A on their own records, admin C on theirs, anon with A's claims, and the login roles
    studio_api (before switching) and studio_worker: every attempt is refused (42501), and
    the table is identical afterwards, row for row."""
    sample = filled_db.sample
    actors = actors_for(sample)
    with psycopg.connect(pg.admin(filled_db.name), autocommit=True) as admin:
        before = snapshot(admin, [AUDIT_LOG])
        assert len(before[AUDIT_LOG]) >= 3, before
        a_record = sample.rows_of_a[AUDIT_LOG][0]["id"]
        c_record = admin.execute("SELECT id FROM public.audit_log WHERE user_id = %s LIMIT 1",
                                 (sample.admin_c,)).fetchone()[0]
        api = connect(filled_db.name, API_ROLE)
        worker = connect(filled_db.name, WORKER_ROLE)

        refused: list[str] = []
        checks = 0
        for actor, record, owner in ((actors["A"], a_record, sample.user_a), (actors["C"], c_record, sample.admin_c),
                                     (actors["anon+A"], a_record, sample.user_a)):
            for query, params in tampering(record, owner):
                checks += 1
                out = attempt(api, actor, query, params)
                if out.sqlstate != PERMISSION_DENIED:
                    refused.append(f"{actor}: {query} {out.describe()}")
        for name, conn in (("studio_api", api), ("studio_worker", worker)):
            assert run_as_login(conn, "SELECT current_user::text").rows == [(name,)]
            for query, params in tampering(a_record, sample.user_a):
                checks += 1
                out = run_as_login(conn, query, params)
                if out.sqlstate != PERMISSION_DENIED:
                    refused.append(f"{name}: {query} {out.describe()}")
            # Nor can either become the role that writes the records.
            for switch in ("SELECT pg_catalog.set_config('role', 'studio_auth', true)", "SET ROLE studio_auth",
                           "SET ROLE studio_owner"):
                checks += 1
                out = run_as_login(conn, switch)
                if out.sqlstate != PERMISSION_DENIED:
                    refused.append(f"{name}: {switch} {out.describe()}")
        assert checks == 3 * 9 + 2 * (9 + 3)
        assert not refused, "audit records could be changed at runtime:\n" + "\n".join(refused)
        assert snapshot(admin, [AUDIT_LOG]) == before, "the audit log changed"

        # Non-vacuity: the same connection and claims do read A's own records.
        out = attempt(api, actors["A"], "SELECT id FROM public.audit_log WHERE id = %s", (a_record,))
        assert out.rows == [(a_record,)], out.describe()


def test_delete_account_removes_only_the_callers_records(pg, filled_db, connect):
    """The one deletion path (0014): the caller's records go, one anonymous
    account.deleted record comes, every other record stays exactly as it was."""
    sample = filled_db.sample
    api = connect(filled_db.name, API_ROLE)
    with psycopg.connect(pg.admin(filled_db.name), autocommit=True) as admin:
        before = snapshot(admin, [AUDIT_LOG])[AUDIT_LOG]
        a_ids = {str(r[0]) for r in admin.execute("SELECT id FROM public.audit_log WHERE user_id = %s",
                                                  (sample.user_a,)).fetchall()}
        assert a_ids
        out = attempt(api, actors_for(sample)["A"], "SELECT auth.delete_account()")
        assert out.rows == [(True,)], out.describe()
        after = snapshot(admin, [AUDIT_LOG])[AUDIT_LOG]
    kept = {k: v for k, v in before.items() if not any(i in k for i in a_ids)}
    assert {k: v for k, v in after.items() if k in kept} == kept, "other users' records changed"
    new = [v for k, v in after.items() if k not in before]
    assert len(new) == 1 and '"event": "account.deleted"' in new[0] and '"user_id": null' in new[0], new
    assert len(after) == len(kept) + 1


# --------------------------------------------------------------------------- not editable: catalog


def test_audit_log_privileges_policies_and_writers(admin_conn):
    privileges = {}
    for role in RUNTIME_ROLES:
        privileges[role] = {p for p in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
                            if admin_conn.execute(
                                "SELECT pg_catalog.has_table_privilege(%(r)s, %(t)s, %(p)s)"
                                " OR (%(p)s IN ('SELECT', 'INSERT', 'UPDATE', 'REFERENCES')"
                                "     AND pg_catalog.has_any_column_privilege(%(r)s, %(t)s, %(p)s))",
                                {"r": role, "t": AUDIT_LOG, "p": p}).fetchone()[0]}
    assert privileges == {"studio_api": set(), "studio_worker": set(), "anon": set(), "authenticated": {"SELECT"},
                          "studio_auth": {"SELECT", "INSERT", "DELETE"}, "studio_system": set()}, privileges
    owner = admin_conn.execute("SELECT relowner::regrole::text FROM pg_catalog.pg_class "
                               "WHERE oid = 'public.audit_log'::regclass").fetchone()[0]
    assert owner == "studio_owner"

    policies = {(name, cmd, tuple(roles)) for name, cmd, roles in admin_conn.execute(
        "SELECT policyname, cmd, roles::text[] FROM pg_catalog.pg_policies "
        "WHERE schemaname = 'public' AND tablename = 'audit_log'").fetchall()}
    assert policies == EXPECTED_POLICIES, policies
    delete_qual = admin_conn.execute("SELECT qual FROM pg_catalog.pg_policies "
                                     "WHERE policyname = 'audit_log_auth_delete_own'").fetchone()[0]
    assert "auth.uid()" in delete_qual and "true" not in delete_qual, delete_qual

    # No connection can act as the writer, or plant code (a function, a trigger) of its own.
    # (studio_auth has CREATE on auth only to be handed functions, 0001; it never logs in.)
    for role in ("studio_api", "studio_worker", "anon", "authenticated"):
        for target in ("studio_auth", "studio_system", "studio_owner"):
            assert not admin_conn.execute("SELECT pg_catalog.pg_has_role(%s, %s, 'MEMBER')",
                                          (role, target)).fetchone()[0], f"{role} is a member of {target}"
        for schema in ("public", "auth"):
            assert not admin_conn.execute("SELECT pg_catalog.has_schema_privilege(%s, %s, 'CREATE')",
                                          (role, schema)).fetchone()[0], f"{role} may create objects in {schema}"

    # The code that runs with those powers: only auth.delete_account deletes records, none updates them.
    functions = admin_conn.execute(
        "SELECT n.nspname || '.' || p.proname, p.prosrc, p.proowner::regrole::text FROM pg_catalog.pg_proc p "
        "JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname IN ('public', 'auth')").fetchall()
    assert len(functions) > 20
    # That code is fixed: no dynamic SQL in what runs as studio_auth or studio_system.
    dynamic = {name for name, src, owner in functions
               if owner in ("studio_auth", "studio_system") and re.search(r"\bEXECUTE\s", src, re.I)}
    assert dynamic == set(), dynamic
    deleting = {name for name, src, _ in functions if re.search(r"DELETE\s+FROM\s+public\.audit_log\b", src, re.I)}
    updating = {name for name, src, _ in functions if re.search(r"UPDATE\s+public\.audit_log\b", src, re.I)}
    assert deleting == {"auth.delete_account"} and updating == set(), (deleting, updating)


# --------------------------------------------------------------------------- shares (0016)


def test_share_events_without_slugs_and_none_from_retention(pg, filled_db, connect):
    sample = filled_db.sample
    actors = actors_for(sample)
    api = connect(filled_db.name, API_ROLE)
    worker = connect(filled_db.name, WORKER_ROLE)
    with psycopg.connect(pg.admin(filled_db.name), autocommit=True) as admin:
        shares = {label: admin.execute(
            "SELECT id, slug, generation_id, conversation_id FROM public.shared_content WHERE user_id = %s "
            "ORDER BY generation_id NULLS LAST", (uid,)).fetchall() for label, uid in (("A", sample.user_a),
                                                                                         ("B", sample.user_b))}
        slugs = [s[1] for rows in shares.values() for s in rows]
        # The sample rows' inserts were recorded too.
        created = [d for e, d in audit_rows(admin, sample.user_a) if e == "share.created"]
        assert sorted(d["share_id"] for d in created) == sorted(str(s[0]) for s in shares["A"]), created
        [a_gen, a_conv], [b_gen, b_conv] = shares["A"], shares["B"]
        count_before = admin.execute("SELECT count(*) FROM public.audit_log").fetchone()[0]

        # Revoked by its owner (the API's way): recorded once, a second revocation is not.
        revoke = "UPDATE public.shared_content SET revoked_at = now() WHERE id = %s"
        assert attempt(api, actors["A"], revoke, (a_gen[0],)).rowcount == 1
        assert attempt(api, actors["A"], "UPDATE public.shared_content SET revoked_at = now(), "
                                         "expires_at = now() + interval '1 day' WHERE id = %s", (a_gen[0],)).rowcount == 1
        # Expiry is not a revocation: the link ends by itself, nobody acted.
        assert attempt(api, actors["A"], "UPDATE public.shared_content SET expires_at = now() - interval '1 minute' "
                                         "WHERE id = %s", (a_conv[0],)).rowcount == 1
        assert [(e, d) for e, d in audit_rows(admin, sample.user_a)
                if e == "share.revoked"] == [("share.revoked", {"share_id": str(a_gen[0]),
                                                                "generation_id": str(a_gen[2])})]

        # The retention job deletes both ended shares and records nothing.
        before_retention = snapshot(admin, [AUDIT_LOG])
        done = run_as_login(worker, "SELECT public.apply_retention(0, 1)")
        assert done.sqlstate is None and done.rows[0][0]["expired_shares"] == 2, done.describe()
        assert snapshot(admin, [AUDIT_LOG]) == before_retention, "retention wrote audit records"

        # Deleting a live share, directly or with what it shares, revokes its link.
        assert attempt(api, actors["B"], "DELETE FROM public.shared_content WHERE id = %s", (b_gen[0],)).rowcount == 1
        assert attempt(api, actors["B"], "DELETE FROM public.conversations WHERE id = %s", (b_conv[3],)).rowcount == 1
        revoked = [d for e, d in audit_rows(admin, sample.user_b) if e == "share.revoked"]
        assert revoked == [{"share_id": str(b_gen[0]), "generation_id": str(b_gen[2]), "deleted": True},
                           {"share_id": str(b_conv[0]), "conversation_id": str(b_conv[3]), "deleted": True}], revoked

        assert admin.execute("SELECT count(*) FROM public.audit_log").fetchone()[0] == count_before + 3
        everything = admin.execute("SELECT string_agg(to_jsonb(a)::text, ' ') FROM public.audit_log a").fetchone()[0]
        assert not [s for s in slugs if s in everything], "a share's slug is in the audit log"


def test_an_erased_account_leaves_no_share_events(pg, filled_db, connect):
    """Account erasure takes the user's live shares along: no share.revoked record
    (it would name the erased user), only the anonymous account.deleted."""
    sample = filled_db.sample
    api = connect(filled_db.name, API_ROLE)
    with psycopg.connect(pg.admin(filled_db.name), autocommit=True) as admin:
        share_ids = [str(r[0]) for r in admin.execute("SELECT id FROM public.shared_content WHERE user_id = %s",
                                                      (sample.user_a,)).fetchall()]
        assert share_ids
        out = attempt(api, actors_for(sample)["A"], "SELECT auth.delete_account()")
        assert out.rows == [(True,)], out.describe()
        mentions = admin.execute("SELECT event FROM public.audit_log WHERE details ->> 'share_id' = ANY(%s)",
                                 (share_ids,)).fetchall()
        assert mentions == [], mentions
        assert audit_rows(admin, sample.user_a) == []


# --------------------------------------------------------------------------- password change (0016)


def test_change_password_touches_only_the_callers_credentials_and_other_sessions(pg, filled_db, connect):
    sample = filled_db.sample
    actors = actors_for(sample)
    api = connect(filled_db.name, API_ROLE)
    with psycopg.connect(pg.admin(filled_db.name), autocommit=True) as admin:
        current = sample.rows_of_a["public.sessions"][0]["id"]
        other = admin.execute(
            "INSERT INTO public.sessions (user_id, token_hash, expires_at) VALUES (%s, %s, now() + interval '1 day') "
            "RETURNING id", (sample.user_a, hashlib.sha256(b"another device").digest())).fetchone()[0]
        hashes = dict(admin.execute("SELECT user_id, password_hash FROM auth.credentials").fetchall())
        sessions = {r[0] for r in admin.execute("SELECT id FROM public.sessions").fetchall()}

        # Nobody changes a password through the table, not even their own.
        out = attempt(api, actors["A"], "UPDATE auth.credentials SET password_hash = %s WHERE user_id = %s",
                      (FAKE_HASH, sample.user_a))
        assert out.sqlstate == PERMISSION_DENIED, out.describe()
        out = attempt(api, actors["anon"], "SELECT auth.change_password(%s)", (FAKE_HASH,))
        assert out.sqlstate == PERMISSION_DENIED, out.describe()

        events_before = len(audit_rows(admin, sample.user_a))
        with api.transaction():  # as the API calls it: A, in the session `current`
            _become(api, actors["A"])
            api.execute("SELECT pg_catalog.set_config('studio.session_id', %s, true)", (str(current),))
            assert api.execute("SELECT auth.change_password(%s)", (FAKE_HASH,)).fetchone() == (True,)

        assert dict(admin.execute("SELECT user_id, password_hash FROM auth.credentials").fetchall()) == \
            hashes | {sample.user_a: FAKE_HASH}
        assert {r[0] for r in admin.execute("SELECT id FROM public.sessions").fetchall()} == sessions - {other}
        events = sorted(audit_rows(admin, sample.user_a)[events_before:])  # one transaction: one created_at
        assert events == [("password.changed", {"sessions_ended": 1}),
                          ("session.revoked", {"session_id": str(other)})], events


# --------------------------------------------------------------------------- the list query


def test_audit_log_pages_walk_the_user_created_index(pg, db, admin_conn):
    """1,000 users with 20 events each over the same two days as one heavy user's 3,000."""
    admin_conn.execute("INSERT INTO users (email) SELECT 'u' || i || '@example.org' FROM generate_series(1, 1000) i")
    heavy = admin_conn.execute("INSERT INTO users (email) VALUES ('heavy@example.org') RETURNING id").fetchone()[0]
    admin_conn.execute(
        "INSERT INTO audit_log (user_id, event, created_at)"
        " SELECT u.id, 'login.succeeded', now() - i * CASE WHEN u.id = %s THEN interval '1 minute'"
        "                                                  ELSE interval '150 minutes' END + random() * interval '1 minute'"
        "   FROM users u, generate_series(1, CASE WHEN u.id = %s THEN 3000 ELSE 20 END) i", (heavy, heavy))
    admin_conn.execute("ANALYZE")
    conninfo = pg.conninfo(API_ROLE, db)
    assert_ordered_index_scan(explain(conninfo, heavy, auth_repo._LIST_AUDIT_FIRST, (heavy, 51)),
                              "audit_log_user_id_created_idx")
    middle = admin_conn.execute("SELECT created_at, id FROM audit_log WHERE user_id = %s "
                                "ORDER BY created_at DESC, id DESC OFFSET 1500 LIMIT 1", (heavy,)).fetchone()
    after = (heavy, middle[0], middle[1], 51)
    assert_ordered_index_scan(explain(conninfo, heavy, auth_repo._LIST_AUDIT_AFTER, after),
                              "audit_log_user_id_created_idx")
