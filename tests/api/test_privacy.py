"""Privacy (F20) over HTTP, with a real worker on the same database:

- GET /v1/me/export streams a ZIP holding every row and file of the caller's, in every
  table of the schema that has an owner, and nothing of anybody else's;
- DELETE /v1/me, only with the right password, erases the account: afterwards no table
  of the catalog holds the user's id or email, no file of theirs is left in the
  storage (the recovery area included), and everybody else's data is untouched.
"""

from __future__ import annotations

import io
import os
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from psycopg import sql

from studio.config import WORKER_ROLE
from studio.privacy import repository as privacy_repo
from tests.api.conftest import PASSWORD, Account, Server
from tests.api.test_generations import WorkerThread, model_id, wait_for
from tests.api.test_sharing_and_uploads import png

OWNER_COLUMNS = ("user_id", "owner_id", "requester_id")
# Tables whose rows belong to a user through a parent row (the RLS policies' EXISTS).
PARENT_LINKS = {"public.dataset_images": ("dataset_id", "public.datasets", "user_id")}
SECRET_COLUMNS = {"token_hash", "key_hash", "password_hash"}


# Owned, and never exported: the password hash and the second factor's secret and codes.
SIGN_IN_SECRETS = {"auth.credentials", "auth.totp_factors", "auth.recovery_codes"}


@pytest.fixture
def worker(server: Server, pg, db) -> Iterator[WorkerThread]:
    """A real worker that retires deleted files for the recovery window, as it does when
    backups are on: only an erasure removes them at once."""
    running = WorkerThread(server.settings, pg.conninfo(WORKER_ROLE, db), retire_deleted_files=True)
    try:
        yield running
    finally:
        running.stop()


# --------------------------------------------------------------------------- the catalog


def catalog_tables(conn) -> list[str]:
    """Every table of every schema but PostgreSQL's own."""
    return [r[0] for r in conn.execute(
        """
        SELECT n.nspname || '.' || c.relname FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
         ORDER BY 1
        """).fetchall()]


def columns_of(conn, table: str) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT a.attname FROM pg_catalog.pg_attribute a WHERE a.attrelid = %s::regclass "
        "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum", (table,)).fetchall()]


def ident(table: str) -> sql.Identifier:
    return sql.Identifier(*table.split("."))


def owner_filter(conn, table: str) -> tuple[sql.Composable, str] | None:
    """How the catalog says rows of `table` belong to a user (None: they do not)."""
    if table == "public.users":
        return sql.SQL("t.id = %s"), "id"
    if table in PARENT_LINKS:
        link, parent, owner = PARENT_LINKS[table]
        return sql.SQL("EXISTS (SELECT 1 FROM {} p WHERE p.id = t.{} AND p.{} = %s)").format(
            ident(parent), sql.Identifier(link), sql.Identifier(owner)), link
    for column in OWNER_COLUMNS:
        if column in columns_of(conn, table):
            return sql.SQL("t.{} = %s").format(sql.Identifier(column)), column
    return None


def owned_tables(conn) -> list[str]:
    return [t for t in catalog_tables(conn) if owner_filter(conn, t) is not None]


def ids_of(conn, table: str, user_id: str) -> set[str]:
    """The ids of the user's rows (auth.credentials, keyed by user_id: that)."""
    where = owner_filter(conn, table)
    assert where is not None, table
    key = "id" if "id" in columns_of(conn, table) else where[1]
    rows = conn.execute(sql.SQL("SELECT t.{}::text FROM {} t WHERE {}").format(
        sql.Identifier(key), ident(table), where[0]), (user_id,)).fetchall()
    return {r[0] for r in rows}


def test_every_table_is_exported_or_left_out_on_purpose(admin_conn):
    """A new table must be put in privacy.repository.EXPORTED or NOT_EXPORTED; one with
    an owner column must be exported (the secrets of signing in are the exceptions)."""
    tables = set(catalog_tables(admin_conn))
    exported = {owned.table for owned in privacy_repo.EXPORTED}
    left_out = set(privacy_repo.NOT_EXPORTED)
    assert len(exported) == len(privacy_repo.EXPORTED), "a table is listed twice in EXPORTED"
    assert not exported & left_out, f"both exported and left out: {sorted(exported & left_out)}"
    unlisted, unknown = tables - exported - left_out, (exported | left_out) - tables
    assert not unlisted, f"tables neither exported nor left out on purpose (privacy/repository.py): {sorted(unlisted)}"
    assert not unknown, f"listed but not in the catalog: {sorted(unknown)}"
    unexported_owned = set(owned_tables(admin_conn)) - exported
    assert unexported_owned == SIGN_IN_SECRETS, f"tables with an owner left out of the export: {unexported_owned}"
    for owned in privacy_repo.EXPORTED:
        assert owned.column in columns_of(admin_conn, owned.table), owned
        expected = owner_filter(admin_conn, owned.table)
        assert expected is not None and expected[1] == owned.column, (owned, expected)
        if owned.parent is not None:
            assert PARENT_LINKS[owned.table][1:] == (owned.parent, owned.parent_owner), owned


# --------------------------------------------------------------------------- data in every table


def generate_speech(account: Account, prompt: str) -> dict[str, Any]:
    r = account.client.post("/v1/generations", json={"type": "audio", "model_id": model_id(account, "espeak-en"),
                                                     "prompt": prompt})
    assert r.status_code == 202, r.text
    done = wait_for(account, r.json()["id"], {"succeeded", "failed"})
    assert done["status"] == "succeeded", done
    return done


def populate(account: Account, admin_conn) -> dict[str, Any]:
    """Rows of `account` in every table that has an owner: through the API where it
    has a way in, otherwise inserted as the system would (admin_conn)."""
    client = account.client
    conversation = client.post("/v1/conversations", json={"title": f"Plans of {account.email}"}).json()
    upload = client.post("/v1/uploads", content=png(3, 2), headers={"Content-Type": "image/png"})
    assert upload.status_code == 201, upload.text
    for role, content in (("user", "Hello there"), ("assistant", "Hi, how can I help?")):
        attachments = [upload.json()["id"]] if role == "user" else []
        r = client.post(f"/v1/conversations/{conversation['id']}/messages",
                        json={"role": role, "content": content, "attachments": attachments})
        assert r.status_code == 201, r.text
    generation = generate_speech(account, f"Hello from {account.email.split('@')[0]}.")
    for target in ({"generation_id": generation["id"]}, {"conversation_id": conversation["id"]}):
        assert client.post("/v1/shares", json=target).status_code == 201
    key = client.post("/v1/api-keys", json={"name": "laptop"})
    assert key.status_code == 201, key.text

    uid = account.id
    admin_conn.execute("INSERT INTO public.batch_queue (user_id, name, total_items) VALUES (%s, 'batch', 1)", (uid,))
    admin_conn.execute("INSERT INTO public.generation_inputs (generation_id, user_id, media_object_id, role, position)"
                       " VALUES (%s, %s, %s, 'image', 0)", (generation["id"], uid, upload.json()["id"]))
    admin_conn.execute("INSERT INTO public.quotas (user_id, jobs_per_day) VALUES (%s, 100)", (uid,))
    dataset = admin_conn.execute(
        "INSERT INTO public.datasets (user_id, name) VALUES (%s, 'faces') RETURNING id", (uid,)).fetchone()[0]
    admin_conn.execute("INSERT INTO public.dataset_images (dataset_id, media_object_id, caption) "
                       "VALUES (%s, %s, 'me')", (dataset, upload.json()["id"]))
    training = admin_conn.execute(
        "INSERT INTO public.training_jobs (user_id, dataset_id, total_steps) VALUES (%s, %s, 10) RETURNING id",
        (uid, dataset)).fetchone()[0]
    admin_conn.execute("INSERT INTO public.trained_models (user_id, training_job_id, name, metrics) "
                       "VALUES (%s, %s, 'mine', '{\"loss\": 0.25}')", (uid, training))
    admin_conn.execute("INSERT INTO public.user_notifications (user_id, kind, title) VALUES (%s, 'system', 'Hi')",
                       (uid,))
    admin_conn.execute("INSERT INTO public.notification_preferences (user_id, muted) VALUES (%s, '{share}')",
                       (uid,))
    admin_conn.execute("INSERT INTO public.admin_approval_requests (requester_id, kind, reason) "
                       "VALUES (%s, 'quota_increase', 'more, please')", (uid,))
    return {"api_key": key.json()["key"], "generation": generation, "upload": upload.json(),
            "conversation": conversation}


def snapshot(conn, user_id: str) -> dict[str, set[str]]:
    return {table: ids_of(conn, table, user_id) for table in owned_tables(conn)}


def storage_files(server: Server) -> list[str]:
    """Every directory and file under the storage root, the recovery area included."""
    root = Path(server.settings.home_dir) / "storage"
    found = []
    for directory, dirs, files in os.walk(root):
        found += [str(Path(directory, name).relative_to(root)) for name in [*dirs, *files]]
    return found


def wait_for_outbox(admin_conn, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while admin_conn.execute("SELECT count(*) FROM public.storage_deletions").fetchone()[0]:
        assert time.monotonic() < deadline, admin_conn.execute(
            "SELECT bucket, key, mode, attempts, last_error FROM public.storage_deletions").fetchall()
        time.sleep(0.1)


# --------------------------------------------------------------------------- export


def download_export(account: Account) -> tuple[dict[str, str], bytes]:
    with account.client.stream("GET", "/v1/me/export") as r:
        assert r.status_code == 200, r.read()
        headers = dict(r.headers)
        body = r.read()
    return headers, body


def test_export_holds_everything_of_the_user_and_nothing_else(server: Server, alice: Account, bob: Account,
                                                            worker, admin_conn):
    populate(alice, admin_conn)
    bob_data = populate(bob, admin_conn)
    # An admin's RLS shows everybody's quotas and approval requests: the export must not.
    admin_conn.execute("UPDATE public.users SET role = 'admin' WHERE id = %s", (alice.id,))
    wait_for_outbox(admin_conn)  # the worker's upload announcements are settled

    headers, body = download_export(alice)
    assert "content-length" not in headers and headers.get("transfer-encoding") == "chunked", headers
    assert headers["content-type"] == "application/zip"
    disposition = headers["content-disposition"]
    assert disposition.startswith('attachment; filename="studio-export-') and disposition.endswith('.zip"')
    assert headers["cache-control"] == "no-store"

    archive = zipfile.ZipFile(io.BytesIO(body))
    assert archive.testzip() is None
    names = archive.namelist()
    assert names[0] == "README.txt" and alice.id in archive.read("README.txt").decode()
    data = {name[len("data/"):-len(".json")]: orjson.loads(archive.read(name))
            for name in names if name.startswith("data/")}

    # Every table with an owner, per the catalog, is there with exactly alice's rows.
    tables = owned_tables(admin_conn)
    assert set(data) == set(tables) - SIGN_IN_SECRETS, sorted(set(data) ^ set(tables))
    for table, rows in data.items():
        expected = ids_of(admin_conn, table, alice.id)
        assert expected, f"{table}: alice has no rows; the check would be vacuous"
        assert {str(row["id"]) for row in rows} == expected, table
        assert not SECRET_COLUMNS & {key for row in rows for key in row}, table
        # ...and only columns alice's role may read (generated ones, search vectors, derive from them).
        readable = {r[0] for r in admin_conn.execute(
            "SELECT a.attname FROM pg_catalog.pg_attribute a WHERE a.attrelid = %s::regclass AND a.attnum > 0 "
            "AND NOT a.attisdropped AND a.attgenerated = '' "
            "AND pg_catalog.has_column_privilege('authenticated', a.attrelid, a.attnum, "
            "'SELECT')", (table,)).fetchall()}
        assert set(rows[0]) == readable, table
    assert data["public.users"][0]["email"] == alice.email
    assert {row["event"] for row in data["public.audit_log"]} >= {"signup", "login.succeeded", "data.exported"}

    # Nothing of bob's: neither his email nor any id of his rows (bigint event ids are
    # too short to search for; the id sets above cover them).
    bob_ids = {i for table, ids in snapshot(admin_conn, bob.id).items() for i in ids if len(i) == 36}
    assert len(bob_ids) > 20
    contents = [body, *(name.encode() for name in names), *(archive.read(name) for name in names)]
    for needle in [bob.email, *bob_ids]:
        assert not any(needle.encode() in content for content in contents), f"{needle} of bob's in alice's export"

    # The files, byte for byte as downloads give them.
    media = data["public.media_objects"]
    assert {m["bucket"] for m in media} == {"media", "attachments"}
    for item in media:
        stored = archive.read(f"media/{item['bucket']}/{item['key']}")
        download = alice.client.get(f"/v1/media/{item['id']}")
        assert download.status_code == 200 and stored == download.content and len(stored) == item["size_bytes"]
    assert len([n for n in names if n.startswith("media/")]) == len(media)
    assert "missing-media.json" not in names

    assert admin_conn.execute("SELECT count(*) FROM public.audit_log WHERE user_id = %s AND event = 'data.exported'",
                              (alice.id,)).fetchone()[0] == 1
    # With an API key, bob gets his own.
    with server.client() as by_key:
        r = by_key.get("/v1/me/export", headers={"Authorization": f"Bearer {bob_data['api_key']}"})
    assert r.status_code == 200
    bob_users = orjson.loads(zipfile.ZipFile(io.BytesIO(r.content)).read("data/public.users.json"))
    assert [u["id"] for u in bob_users] == [bob.id]


def test_export_needs_a_credential(server: Server, anon):
    r = anon.get("/v1/me/export")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"


# --------------------------------------------------------------------------- erasure


def scan_for(conn, needles: list[str]) -> list[str]:
    """Every column of every table, cast to text, that contains one of `needles`."""
    patterns = [f"%{needle}%" for needle in needles]
    hits = []
    for table in catalog_tables(conn):
        for column in columns_of(conn, table):
            count = conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE {}::text ILIKE ANY(%s)").format(
                ident(table), sql.Identifier(column)), (patterns,)).fetchone()[0]
            if count:
                hits.append(f"{table}.{column}: {count} row(s)")
    return hits


def test_account_deletion_erases_everything_of_the_user(server: Server, alice: Account, bob: Account, worker,
                                                       admin_conn):
    alice_data = populate(alice, admin_conn)
    bob_data = populate(bob, admin_conn)
    # A file alice deleted before: retired for the recovery window, not yet gone.
    earlier = generate_speech(alice, "Soon deleted.")
    assert alice.client.delete(f"/v1/generations/{earlier['id']}").status_code == 204
    wait_for_outbox(admin_conn)
    files = storage_files(server)
    assert any(f.startswith(".retired/media/") and alice.id in f for f in files), files
    assert any(alice.id in f for f in files if not f.startswith(".retired"))

    alice_before, bob_before = snapshot(admin_conn, alice.id), snapshot(admin_conn, bob.id)
    bob_files = sorted(f for f in files if bob.id in f)
    bob_media_ids = [bob_data["upload"]["id"], *(m["id"] for m in bob_data["generation"]["result"]["media"])]
    bob_media = {media_id: bob.client.get(f"/v1/media/{media_id}").content for media_id in bob_media_ids}
    assert all(bob_media.values())
    alice_key = {"Authorization": f"Bearer {alice_data['api_key']}"}
    alice_session = alice.client.cookies["studio_session"]

    # Wrong password (or none): refused, nothing changes.
    wrong = alice.client.request("DELETE", "/v1/me", json={"password": "not my password"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_credentials", wrong.text
    with server.client() as by_key:
        r = by_key.request("DELETE", "/v1/me", json={"password": "not my password either"}, headers=alice_key)
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_credentials"
        assert by_key.request("DELETE", "/v1/me", headers=alice_key).status_code == 422
        assert by_key.get("/v1/me", headers=alice_key).status_code == 200
    # Without the CSRF header a cookie is not enough, even with the password.
    with server.client() as no_csrf:
        no_csrf.cookies.update(alice.client.cookies)
        assert no_csrf.request("DELETE", "/v1/me", json={"password": PASSWORD}).status_code == 403
    assert alice.client.get("/v1/me").status_code == 200
    after_refusals = snapshot(admin_conn, alice.id)
    assert {t: ids for t, ids in after_refusals.items() if t != "public.audit_log"} == \
        {t: ids for t, ids in alice_before.items() if t != "public.audit_log"}
    assert admin_conn.execute("SELECT count(*) FROM public.storage_deletions").fetchone()[0] == 0

    # The right password: erased.
    deleted = alice.client.request("DELETE", "/v1/me", json={"password": PASSWORD})
    assert deleted.status_code == 204, deleted.text
    cookie = deleted.headers["set-cookie"]
    assert cookie.startswith("studio_session=") and "Max-Age=0" in cookie
    with server.client() as stale:
        stale.cookies.set("studio_session", alice_session)
        assert stale.get("/v1/me").status_code == 401
        assert stale.get("/v1/me", headers=alice_key).status_code == 401
    assert admin_conn.execute("SELECT count(*) FROM public.users WHERE id = %s", (alice.id,)).fetchone()[0] == 0

    wait_for_outbox(admin_conn)
    hits = scan_for(admin_conn, [alice.id, alice.email])
    assert not hits, f"alice's id or email is still in: {hits}"
    record = admin_conn.execute(
        "SELECT user_id, ip, user_agent, details FROM public.audit_log WHERE event = 'account.deleted'").fetchall()
    assert record == [(None, None, None, {})]
    files = storage_files(server)
    assert not [f for f in files if alice.id in f], "alice's files are still in the storage"

    # Bob's rows, files and access are untouched.
    assert snapshot(admin_conn, bob.id) == bob_before
    assert sorted(f for f in files if bob.id in f) == bob_files
    assert bob.client.get("/v1/me").status_code == 200
    for media_id, content in bob_media.items():
        assert bob.client.get(f"/v1/media/{media_id}").content == content
    assert bob_data["conversation"]["id"] in {c["id"] for c in bob.client.get("/v1/conversations").json()["items"]}

    # The email may be used again.
    with server.client() as again:
        assert again.post("/v1/auth/signup", json={"email": alice.email, "password": PASSWORD}).status_code == 201
        assert again.post("/v1/auth/login", json={"email": alice.email, "password": PASSWORD}).status_code == 200


def test_deleting_an_account_with_an_api_key_needs_the_password_too(server: Server, alice: Account, admin_conn):
    key = alice.client.post("/v1/api-keys", json={"name": "script"}).json()["key"]
    with server.client() as client:
        client.headers["Authorization"] = f"Bearer {key}"
        assert client.request("DELETE", "/v1/me", json={}).status_code == 422
        assert client.request("DELETE", "/v1/me", json={"password": PASSWORD}).status_code == 204
        assert client.get("/v1/me").status_code == 401
    assert alice.client.get("/v1/me").status_code == 401
    assert admin_conn.execute("SELECT count(*) FROM public.users").fetchone()[0] == 0


def test_export_of_a_missing_file_says_so(server: Server, alice: Account, admin_conn):
    kept = alice.client.post("/v1/uploads", content=png(2, 2), headers={"Content-Type": "image/png"}).json()
    lost = alice.client.post("/v1/uploads", content=png(4, 4), headers={"Content-Type": "image/png"}).json()
    key = admin_conn.execute("SELECT key FROM public.media_objects WHERE id = %s", (lost["id"],)).fetchone()[0]
    (Path(server.settings.home_dir) / "storage" / "attachments" / key).unlink()

    _, body = download_export(alice)
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert archive.testzip() is None
    media = [name for name in archive.namelist() if name.startswith("media/")]
    assert media == [f"media/attachments/{alice.id}/uploads/{kept['id']}"]
    assert orjson.loads(archive.read("missing-media.json")) == [
        {"media_id": lost["id"], "bucket": "attachments", "key": key}]


def test_a_client_going_away_ends_the_export_cleanly(server: Server, alice: Account, caplog):
    """Files bigger than what the sockets buffer: the server is still writing when the
    client hangs up, and the archive's generators close without an error."""
    for seed in range(3):
        big = png() + os.urandom(server.settings.max_upload_bytes - 100 - seed)
        assert alice.client.post("/v1/uploads", content=big, headers={"Content-Type": "image/png"}).status_code == 201
    with caplog.at_level("WARNING"), alice.client.stream("GET", "/v1/me/export") as r:
        assert r.status_code == 200
        received = b""
        for chunk in r.iter_raw():
            received += chunk
            if len(received) > 1024 * 1024:  # halfway through the first file
                break
        assert received.startswith(b"PK\x03\x04")
    time.sleep(0.5)
    assert alice.client.get("/v1/me").status_code == 200
    assert not [rec for rec in caplog.records if rec.levelname in ("ERROR", "CRITICAL")], caplog.text
