"""Sample rows in every table of the schema, for the RLS matrix and the migration tests.

`fill_every_table(conn)` runs through a SUPERUSER connection (RLS does not apply to
it) and inserts valid rows, respecting every CHECK and foreign key, for three users:

- A, an ordinary user who owns at least one row in every table (the matrix protects them);
- B, another ordinary user with rows of their own (the attacker in the matrix);
- C, an admin (role = 'admin') who reviews A's approval request and publishes a model.

Tables without a user owner still get rows. For them "A's rows" are the rows the
matrix protects from B, anon and (outside the admin-managed tables) C: the disabled
model A drafted and its tutorial (enabled models are a catalog every signed-in user
may read, see `Sample.public_rows`), a compute node, and A's login throttling counters.

A table this module does not know makes `fill_every_table` raise `UnknownTableError`
naming it: a new table must come with sample rows (and thereby with matrix coverage).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import psycopg.rows
from psycopg import sql
from psycopg.types.json import Jsonb

from studio.audit.lints import APP_SCHEMAS
from studio.audit.lints import rls_not_forced as rls_problems  # noqa: F401 - the RLS matrix uses it

# The catalog query shared by the RLS matrix and the catalog tests: every ordinary or
# partitioned table of the application schemas. Alembic's own bookkeeping table is not
# application data and is left out.
EXCLUDED_TABLES = frozenset({"public.alembic_version"})

CATALOG_TABLES_SQL = """
    SELECT n.nspname || '.' || c.relname
      FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p')
       AND n.nspname = ANY(%(schemas)s)
       AND n.nspname || '.' || c.relname <> ALL(%(excluded)s)
     ORDER BY 1
"""


def catalog_tables(conn: psycopg.Connection, *, include_excluded: bool = False) -> list[str]:
    """Schema-qualified names of every application table, from pg_class (with
    include_excluded, Alembic's version table too)."""
    excluded = [] if include_excluded else sorted(EXCLUDED_TABLES)
    rows = conn.execute(CATALOG_TABLES_SQL, {"schemas": list(APP_SCHEMAS), "excluded": excluded}).fetchall()
    return [r[0] for r in rows]


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # format_type(), e.g. 'uuid', 'timestamp with time zone'
    not_null: bool
    has_default: bool


def table_columns(conn: psycopg.Connection, table: str) -> list[Column]:
    """Columns in attnum order; generated columns are left out (they can't be written)."""
    rows = conn.execute(
        """
        SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull, a.atthasdef
          FROM pg_catalog.pg_attribute a
         WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped
           AND a.attgenerated = '' AND a.attidentity <> 'a'
         ORDER BY a.attnum
        """, (table,)).fetchall()
    return [Column(*r) for r in rows]


def unique_indexes(conn: psycopg.Connection, table: str) -> list[tuple[str, list[str]]]:
    """(index name, columns) of every unique index that is not the primary key."""
    rows = conn.execute(
        """
        SELECT n.nspname || '.' || ic.relname,
               pg_catalog.array_agg(a.attname ORDER BY k.ord)
          FROM pg_catalog.pg_index i
          JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
          JOIN pg_catalog.pg_namespace n ON n.oid = ic.relnamespace
          CROSS JOIN LATERAL pg_catalog.unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
          JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
         WHERE i.indrelid = %s::regclass AND i.indisunique AND NOT i.indisprimary
         GROUP BY n.nspname, ic.relname
         ORDER BY 1
        """, (table,)).fetchall()
    return [(r[0], list(r[1])) for r in rows]


def pk_where(pk: dict[str, Any]) -> tuple[sql.Composable, list[Any]]:
    """'col1 = %s AND col2 = %s' for a primary-key dict, and its parameters."""
    clause = sql.SQL(" AND ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in pk)
    return clause, list(pk.values())


def fetch_row(conn: psycopg.Connection, table: str, pk: dict[str, Any]) -> dict[str, Any]:
    """One full row by primary key, read through a superuser connection."""
    where, params = pk_where(pk)
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        row = cur.execute(sql.SQL("SELECT * FROM {} WHERE {}").format(ident(table), where), params).fetchone()
    if row is None:
        raise LookupError(f"{table}: no row with primary key {pk}")
    return row


def primary_key_columns(conn: psycopg.Connection, table: str) -> list[str]:
    rows = conn.execute(
        """
        SELECT a.attname
          FROM pg_catalog.pg_constraint k
          CROSS JOIN LATERAL pg_catalog.unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)
          JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum
         WHERE k.conrelid = %s::regclass AND k.contype = 'p'
         ORDER BY u.ord
        """, (table,)).fetchall()
    return [r[0] for r in rows]


def ident(table: str) -> sql.Composable:
    """'schema.table' -> a quoted, schema-qualified identifier."""
    schema, _, name = table.partition(".")
    return sql.Identifier(schema, name)


class UnknownTableError(LookupError):
    """The catalog holds a table that has no sample rows here."""


@dataclass
class Sample:
    user_a: uuid.UUID
    user_b: uuid.UUID
    admin_c: uuid.UUID
    # table ('schema.name') -> primary keys of A's rows, each a dict of PK column -> value.
    rows_of_a: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # The same for B's rows (where B has any), for positive controls.
    rows_of_b: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # Rows every signed-in user may read by design (the enabled model catalog).
    public_rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # Raw bearer secrets whose SHA-256 is stored, for auth.authenticate tests.
    session_tokens: dict[uuid.UUID, bytes] = field(default_factory=dict)
    api_key_tokens: dict[uuid.UUID, bytes] = field(default_factory=dict)
    emails: dict[uuid.UUID, str] = field(default_factory=dict)

    @property
    def users(self) -> dict[str, uuid.UUID]:
        return {"A": self.user_a, "B": self.user_b, "C": self.admin_c}


# Values for columns with UNIQUE constraints (other than primary keys and foreign
# keys), so that a copy of a row does not collide with the original: the RLS matrix
# inserts copies of A's rows and must see them refused by privileges or policies,
# never by a unique violation. (table, column) -> f(original row) -> new value.
def _fresh_tag() -> str:
    return uuid.uuid4().hex[:12]


UNIQUE_REWRITES: dict[tuple[str, str], Callable[[dict[str, Any]], Any]] = {
    ("public.users", "email"): lambda row: f"copy-{_fresh_tag()}@example.test",
    ("public.sessions", "token_hash"): lambda row: hashlib.sha256(uuid.uuid4().bytes).digest(),
    ("auth.recovery_codes", "code_hash"): lambda row: hashlib.sha256(uuid.uuid4().bytes).hexdigest(),
    ("public.api_keys", "key_hash"): lambda row: hashlib.sha256(uuid.uuid4().bytes).digest(),
    ("public.model_registry", "slug"): lambda row: f"copy-{_fresh_tag()}",
    ("public.model_registry", "provider_model"): lambda row: f"copy-{_fresh_tag()}",
    ("public.provider_connections", "name"): lambda row: f"copy-{_fresh_tag()}",
    ("public.generation_inputs", "position"): lambda row: 15,
    ("public.message_attachments", "position"): lambda row: 15,
    ("public.generations", "provider_job_id"): lambda row: f"copy-{_fresh_tag()}",
    ("public.media_objects", "key"): lambda row: f"{row['owner_id']}/copy-{_fresh_tag()}.bin",
    ("public.shared_content", "slug"): lambda row: f"copy_{uuid.uuid4().hex}",
    ("public.node_resources", "name"): lambda row: f"copy-{_fresh_tag()}",
    ("public.rate_limit_counters", "bucket"): lambda row: f"copy:{_fresh_tag()}",
    ("public.webhook_deliveries", "delivery_id"): lambda row: f"copy-{_fresh_tag()}",
    ("auth.setup_tokens", "token_hash"): lambda row: hashlib.sha256(uuid.uuid4().bytes).digest(),
    ("public.dataset_images", "checksum_sha256"): lambda row: hashlib.sha256(uuid.uuid4().bytes).hexdigest(),
}


# Unique indexes made only of ownership links: changing them would make the copy
# belong to something else. PostgreSQL checks privileges and RLS WITH CHECK before it
# looks at unique indexes, so a copy by another user is still refused with 42501; a
# 23505 instead would itself reveal a missing policy (and fail the matrix).
UNIQUE_KEPT = frozenset({
    "public.quotas_user_id_key",                      # one quota row per user
    "public.dataset_images_dataset_media_key",        # (dataset_id, media_object_id)
    "public.trained_models_training_job_id_key",      # one model per training job
    "public.notification_preferences_user_id_key",   # one preferences row per user
})


def copy_row(conn: psycopg.Connection, table: str, row: dict[str, Any]) -> dict[str, Any]:
    """A copy of `row` that could be inserted next to it: a new primary key where the
    key is a generated uuid, fresh values for other unique columns (UNIQUE_REWRITES),
    every other column (owner columns included) unchanged. JSON values are wrapped for
    psycopg. Raises naming the table and index when a unique index has no rewrite."""
    columns = table_columns(conn, table)
    pk = primary_key_columns(conn, table)
    copy = dict(row)
    fresh: set[str] = set()
    for column in columns:
        if column.name in pk:
            if column.type == "uuid" and column.has_default:
                copy[column.name] = uuid.uuid4()
                fresh.add(column.name)
            elif (table, column.name) in UNIQUE_REWRITES:
                copy[column.name] = UNIQUE_REWRITES[table, column.name](row)
                fresh.add(column.name)
    for index, index_columns in unique_indexes(conn, table):
        if fresh.intersection(index_columns) or index in UNIQUE_KEPT:
            continue
        rewritable = [c for c in index_columns if (table, c) in UNIQUE_REWRITES]
        if not rewritable:
            raise LookupError(
                f"{table}: unique index {index} ({', '.join(index_columns)}) has no entry in "
                "UNIQUE_REWRITES or UNIQUE_KEPT (tests/db/sample_data.py)")
        for c in rewritable:
            copy[c] = UNIQUE_REWRITES[table, c](row)
            fresh.add(c)
    json_columns = {c.name for c in columns if c.type in ("json", "jsonb")}
    return {k: (Jsonb(v) if k in json_columns and v is not None else v) for k, v in copy.items()
            if any(c.name == k for c in columns)}


def _insert(conn: psycopg.Connection, table: str, row: dict[str, Any]) -> dict[str, Any]:
    columns = list(row)
    values = [Jsonb(v) if isinstance(v, (dict, list)) else v for v in row.values()]
    conn.execute(
        sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
            ident(table), sql.SQL(", ").join(map(sql.Identifier, columns)),
            sql.SQL(", ").join(sql.Placeholder() * len(columns))),
        values)
    return row


class _Filler:
    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.now = datetime.now(UTC)
        self.rows: dict[str, dict[str, list[dict[str, Any]]]] = {}  # table -> owner label -> rows
        self.sample = Sample(uuid.uuid4(), uuid.uuid4(), uuid.uuid4())
        self.tag = uuid.uuid4().hex[:8]
        self._columns: dict[str, set[str]] = {}

    def add(self, table: str, owner: str, row: dict[str, Any]) -> dict[str, Any]:
        if table not in self._columns:
            self._columns[table] = {c.name for c in table_columns(self.conn, table)}
        # Below head (the migration tests fill every revision) a column may not exist yet.
        _insert(self.conn, table, {k: v for k, v in row.items() if k in self._columns[table]})
        self.rows.setdefault(table, {}).setdefault(owner, []).append(row)
        return row

    # One method per table; each runs after the tables it references.

    def users(self) -> None:
        s = self.sample
        for label, uid, role in (("a", s.user_a, "user"), ("b", s.user_b, "user"), ("c", s.admin_c, "admin")):
            email = f"user-{label}-{self.tag}@example.test"
            s.emails[uid] = email
            self.add("public.users", label.upper(), {
                "id": uid, "email": email, "display_name": f"User {label.upper()}", "role": role})

    def credentials(self) -> None:
        for label, uid in self.sample.users.items():
            self.add("auth.credentials", label, {
                "user_id": uid,
                "password_hash": "$argon2id$v=19$m=65536,t=3,p=4$" + hashlib.sha256(uid.bytes).hexdigest()})

    def totp_factors(self) -> None:
        for label, uid in self.sample.users.items():
            self.add("auth.totp_factors", label, {
                "user_id": uid, "secret": base64.b32encode(uid.bytes).decode().rstrip("="),
                "confirmed_at": self.now, "last_step": 1})

    def recovery_codes(self) -> None:
        for label, uid in self.sample.users.items():
            self.add("auth.recovery_codes", label, {
                "id": uuid.uuid4(), "user_id": uid, "code_hash": hashlib.sha256(f"recovery-{label}".encode()).hexdigest()})

    def sessions(self) -> None:
        for label, uid in self.sample.users.items():
            token = f"session-{label}-{uuid.uuid4()}".encode()
            self.sample.session_tokens[uid] = token
            self.add("public.sessions", label, {
                "id": uuid.uuid4(), "user_id": uid, "token_hash": hashlib.sha256(token).digest(),
                "expires_at": self.now + timedelta(days=7), "ip": ipaddress.ip_address("203.0.113.7"),
                "user_agent": f"pytest {label}"})

    def api_keys(self) -> None:
        for label, uid in self.sample.users.items():
            token = f"sk_{label}_{uuid.uuid4().hex}".encode()
            self.sample.api_key_tokens[uid] = token
            self.add("public.api_keys", label, {
                "id": uuid.uuid4(), "user_id": uid, "name": f"key of {label}", "prefix": token[:10].decode(),
                "key_hash": hashlib.sha256(token).digest(), "last_used_at": None,
                "expires_at": self.now + timedelta(days=30)})

    def audit_log(self) -> None:
        for label, uid in self.sample.users.items():
            self.add("public.audit_log", label, {
                "id": uuid.uuid4(), "user_id": uid, "event": "signup",
                "ip": ipaddress.ip_address("198.51.100.1"), "user_agent": "pytest",
                "details": {"source": "sample"}})

    def rate_limit_counters(self) -> None:
        window = self.now.replace(second=0, microsecond=0)
        for label in ("A", "B"):
            uid = self.sample.users[label]
            self.add("public.rate_limit_counters", label, {
                "bucket": f"login:email:{self.sample.emails[uid]}", "window_start": window, "hits": 2})

    def model_registry(self) -> None:
        s = self.sample
        self.model_public = self.add("public.model_registry", "public", {
            "id": uuid.uuid4(), "slug": f"sdxl-{self.tag}", "display_name": "SDXL", "type": "image",
            "provider": "replicate", "provider_model": "stability/sdxl", "description": "Public model",
            "config": {"steps": 30}, "enabled": True, "created_by": s.admin_c})
        # A's draft: not enabled, so only its author's admins see it.
        self.model_draft = self.add("public.model_registry", "A", {
            "id": uuid.uuid4(), "slug": f"a-draft-{self.tag}", "display_name": "A's draft", "type": "chat",
            "provider": "local", "provider_model": "a/llama-ft", "description": None,
            "config": {}, "enabled": False, "created_by": s.user_a})

    def model_tutorials(self) -> None:
        self.add("public.model_tutorials", "public", {
            "id": uuid.uuid4(), "model_id": self.model_public["id"], "title": "Getting started",
            "body": "Write a prompt.", "position": 0})
        self.add("public.model_tutorials", "A", {
            "id": uuid.uuid4(), "model_id": self.model_draft["id"], "title": "Draft notes",
            "body": "Private draft tutorial.", "position": 1})

    def conversations(self) -> None:
        for label in ("A", "B", "C"):
            self.add("public.conversations", label, {
                "id": uuid.uuid4(), "user_id": self.sample.users[label], "title": f"Chat of {label}",
                "system_prompt": "Be brief.", "model_id": self.model_public["id"]})

    def messages(self) -> None:
        for label in ("A", "B", "C"):
            conv = self.rows["public.conversations"][label][0]
            root = self.add("public.messages", label, {
                "id": uuid.uuid4(), "conversation_id": conv["id"], "user_id": conv["user_id"], "parent_id": None,
                "role": "user", "content": f"secret question of {label}", "model": None})
            self.add("public.messages", label, {
                "id": uuid.uuid4(), "conversation_id": conv["id"], "user_id": conv["user_id"], "parent_id": root["id"],
                "role": "assistant", "content": f"answer for {label}", "model": "llama-3"})

    def batch_queue(self) -> None:
        for label in ("A", "B"):
            self.add("public.batch_queue", label, {
                "id": uuid.uuid4(), "user_id": self.sample.users[label], "name": f"batch {label}",
                "status": "running", "total_items": 2, "completed_items": 1, "failed_items": 0,
                "params": {"n": 2}})

    def generations(self) -> None:
        for label in ("A", "B"):
            self.add("public.generations", label, {
                "id": uuid.uuid4(), "user_id": self.sample.users[label], "model_id": self.model_public["id"],
                "batch_id": self.rows["public.batch_queue"][label][0]["id"], "type": "image",
                "status": "succeeded", "provider": "replicate", "provider_job_id": f"prov-{label}-{self.tag}",
                "prompt": f"a cat painted by {label}", "params": {"seed": 1}, "result": {"ok": True},
                "error": None, "progress": 100, "attempts": 1, "cost_cents": 3,
                "started_at": self.now - timedelta(minutes=2), "finished_at": self.now - timedelta(minutes=1)})
            # A queued one too, so the worker has live work and users can cancel.
            self.add("public.generations", label, {
                "id": uuid.uuid4(), "user_id": self.sample.users[label], "model_id": None, "batch_id": None,
                "type": "audio", "status": "queued", "provider": "local", "provider_job_id": None,
                "prompt": f"a song for {label}", "params": {}})

    def jobs(self) -> None:
        for label in ("A", "B"):
            gens = self.rows["public.generations"][label]
            self.add("public.jobs", label, {
                "id": uuid.uuid4(), "kind": "generation", "user_id": self.sample.users[label],
                "generation_id": gens[1]["id"], "status": "queued", "priority": 5,
                "payload": {"generation": str(gens[1]["id"])}})
        self.add("public.jobs", "system", {
            "id": uuid.uuid4(), "kind": "maintenance", "user_id": None, "generation_id": None,
            "status": "queued", "payload": {"task": "vacuum"}})

    def media_objects(self) -> None:
        for label in ("A", "B"):
            uid = self.sample.users[label]
            gen = self.rows["public.generations"][label][0]
            self.add("public.media_objects", label, {
                "id": uuid.uuid4(), "owner_id": uid, "generation_id": gen["id"], "bucket": "media",
                "key": f"{uid}/generations/{gen['id']}.png", "size_bytes": 2048, "content_type": "image/png",
                "checksum_sha256": hashlib.sha256(b"png" + uid.bytes).hexdigest()})
            self.add("public.media_objects", label, {
                "id": uuid.uuid4(), "owner_id": uid, "generation_id": None, "bucket": "attachments",
                "key": f"{uid}/uploads/photo-{self.tag}.jpg", "size_bytes": 4096, "content_type": "image/jpeg",
                "checksum_sha256": hashlib.sha256(b"jpg" + uid.bytes).hexdigest()})

    def shared_content(self) -> None:
        for label in ("A", "B"):
            uid = self.sample.users[label]
            self.add("public.shared_content", label, {
                "id": uuid.uuid4(), "user_id": uid, "slug": f"{label}gen_{uuid.uuid4().hex}",
                "generation_id": self.rows["public.generations"][label][0]["id"], "conversation_id": None,
                "expires_at": self.now + timedelta(days=1), "revoked_at": None, "view_count": 3})
            self.add("public.shared_content", label, {
                "id": uuid.uuid4(), "user_id": uid, "slug": f"{label}conv_{uuid.uuid4().hex}",
                "generation_id": None, "conversation_id": self.rows["public.conversations"][label][0]["id"],
                "expires_at": None, "revoked_at": None, "view_count": 0})

    def api_usage(self) -> None:
        for label in ("A", "B"):
            self.add("public.api_usage", label, {
                "id": uuid.uuid4(), "user_id": self.sample.users[label],
                "generation_id": self.rows["public.generations"][label][0]["id"], "kind": "image",
                "provider": "replicate", "model": "stability/sdxl", "units": 1.5, "cost_cents": 3})

    def quotas(self) -> None:
        for label in ("A", "B"):
            self.add("public.quotas", label, {
                "id": uuid.uuid4(), "user_id": self.sample.users[label], "jobs_per_day": 100,
                "cost_cap_cents": 500, "storage_bytes": 10**9})

    def datasets(self) -> None:
        for label in ("A", "B"):
            self.add("public.datasets", label, {
                "id": uuid.uuid4(), "user_id": self.sample.users[label], "name": f"faces of {label}",
                "description": "private photos", "status": "ready", "image_count": 1})

    def dataset_images(self) -> None:
        for label in ("A", "B"):
            self.add("public.dataset_images", label, {
                "id": uuid.uuid4(), "dataset_id": self.rows["public.datasets"][label][0]["id"],
                "media_object_id": self.rows["public.media_objects"][label][1]["id"],
                "caption": f"photo of {label}", "position": 0, "width": 512, "height": 512,
                "checksum_sha256": hashlib.sha256(label.encode()).hexdigest()})

    def training_jobs(self) -> None:
        # Only A trains: B's account is deleted by a test of auth.delete_account.
        self.add("public.training_jobs", "A", {
            "id": uuid.uuid4(), "user_id": self.sample.user_a,
            "dataset_id": self.rows["public.datasets"]["A"][0]["id"],
            "base_model_id": self.model_public["id"], "status": "succeeded", "progress": 100,
            "current_step": 100, "total_steps": 100, "loss_history": [0.9, 0.5, 0.2],
            "hyperparams": {"lr": 0.0001}, "error": None,
            "started_at": self.now - timedelta(hours=2), "finished_at": self.now - timedelta(hours=1)})

    def trained_models(self) -> None:
        self.add("public.trained_models", "A", {
            "id": uuid.uuid4(), "user_id": self.sample.user_a,
            "training_job_id": self.rows["public.training_jobs"]["A"][0]["id"],
            "model_id": self.model_draft["id"],
            "weights_media_id": self.rows["public.media_objects"]["A"][0]["id"],
            "name": "A's fine-tune", "metrics": {"loss": 0.2}})

    def user_notifications(self) -> None:
        for label in ("A", "B"):
            self.add("public.user_notifications", label, {
                "id": uuid.uuid4(), "user_id": self.sample.users[label], "kind": "generation",
                "title": f"Done, {label}", "body": "Your image is ready.", "data": {"n": 1}, "read_at": None})

    def notification_preferences(self) -> None:
        for label, muted in (("A", "{backup}"), ("B", "{generation}")):  # text[] literals (lists become jsonb here)
            self.add("public.notification_preferences", label,
                     {"id": uuid.uuid4(), "user_id": self.sample.users[label], "muted": muted})

    def node_resources(self) -> None:
        self.add("public.node_resources", "A", {
            "id": uuid.uuid4(), "name": f"gpu-{self.tag}", "kind": "gpu", "status": "online",
            "capabilities": {"cuda": "12.1"}, "gpu_memory_mb": 24576, "last_heartbeat_at": self.now})

    def admin_approval_requests(self) -> None:
        s = self.sample
        self.add("public.admin_approval_requests", "A", {
            "id": uuid.uuid4(), "requester_id": s.user_a, "kind": "model_publish",
            "model_id": self.model_draft["id"], "payload": {"why": "share it"}, "reason": "please",
            "status": "approved", "reviewed_by": s.admin_c, "reviewed_at": self.now,
            "review_note": "looks good"})
        self.add("public.admin_approval_requests", "A", {
            "id": uuid.uuid4(), "requester_id": s.user_a, "kind": "quota_increase", "model_id": None,
            "payload": {"jobs_per_day": 500}, "reason": "more", "status": "pending",
            "reviewed_by": None, "reviewed_at": None, "review_note": None})
        self.add("public.admin_approval_requests", "B", {
            "id": uuid.uuid4(), "requester_id": s.user_b, "kind": "quota_increase", "model_id": None,
            "payload": {}, "reason": None, "status": "pending",
            "reviewed_by": None, "reviewed_at": None, "review_note": None})
        # Reviewed by A back when A was an admin: deleting A must keep it (reviewed_by SET NULL).
        self.add("public.admin_approval_requests", "B", {
            "id": uuid.uuid4(), "requester_id": s.user_b, "kind": "node_join", "model_id": None,
            "payload": {"node": "b-laptop"}, "reason": None, "status": "rejected",
            "reviewed_by": s.user_a, "reviewed_at": self.now, "review_note": "not now"})


def _generation_events(self: _Filler) -> None:
    """Written by the generations trigger, not inserted here: fill_every_table collects
    them per user afterwards (like the audit records triggers write)."""


def _storage_deletions(self: _Filler) -> None:
    # The outbox has no owner column; "A's rows" are the files under A's prefix.
    for label in ("A", "B"):
        uid = self.sample.users[label]
        self.add("public.storage_deletions", label, {
            "id": uuid.uuid4(), "bucket": "media", "key": f"{uid}/deleted-{uuid.uuid4().hex}.wav",
            "attempts": 0})


def _webhook_deliveries(self: _Filler) -> None:
    # No owner column; "A's rows" are deliveries about A's generation.
    for label in ("A", "B"):
        uid = self.sample.users[label]
        generation = self.conn.execute(
            "SELECT id, provider, provider_job_id FROM public.generations WHERE user_id = %s"
            " AND provider_job_id IS NOT NULL LIMIT 1", (uid,)).fetchone()
        self.add("public.webhook_deliveries", label, {
            "id": uuid.uuid4(), "provider": generation[1] if generation else "replicate",
            "delivery_id": f"delivery-{uuid.uuid4().hex}", "provider_job_id": generation[2] if generation else None,
            "generation_id": generation[0] if generation else None, "payload": {"status": "succeeded"}})


def _backup_runs(self: _Filler) -> None:
    # Installation-wide records, owned by nobody (like node_resources, filed under A).
    self.add("public.backup_runs", "A", {
        "id": uuid.uuid4(), "kind": "backup", "backup_type": "full", "repo": 1, "status": "succeeded",
        "backup_label": "20260101-030000F", "trigger": "scheduled", "details": {"repo_bytes": 1024},
        "error": None, "started_at": self.now, "finished_at": self.now})
    self.add("public.backup_runs", "A", {
        "id": uuid.uuid4(), "kind": "drill", "backup_type": None, "repo": 1, "status": "running",
        "backup_label": None, "trigger": "manual", "details": {}, "error": None, "started_at": self.now,
        "finished_at": None})


def _setup_tokens(self: _Filler) -> None:
    # Installation-wide (the first admin's one-time links), filed under A: the link A
    # used (back when A became an admin) and a fresh one nobody used yet.
    self.add("auth.setup_tokens", "A", {
        "id": uuid.uuid4(), "token_hash": hashlib.sha256(uuid.uuid4().bytes).digest(), "used_at": self.now,
        "used_by": self.sample.user_a})
    self.add("auth.setup_tokens", "A", {
        "id": uuid.uuid4(), "token_hash": hashlib.sha256(uuid.uuid4().bytes).digest(), "used_at": None,
        "used_by": None})


def _audit_runs(self: _Filler) -> None:
    # Installation-wide (`studio audit`'s reports), owned by nobody, filed under A.
    report = {"score": 9.4, "status": "NEARLY PRODUCTION READY", "generated_at": self.now.isoformat(),
              "blocking": [], "scorecard": [], "checks": [
                  {"id": "F14", "area": "Configuration", "title": "Production settings", "severity": "medium",
                   "status": "warn", "detail": "development mode", "action": "set STUDIO_ENV=production",
                   "risk": "debug behaviour in production"}]}
    self.add("public.audit_runs", "A", {
        "id": uuid.uuid4(), "score": 9.4, "status": "NEARLY PRODUCTION READY", "exit_code": 0,
        "report": report, "created_at": self.now})


def _provider_connections(self: _Filler) -> None:
    # Installation-wide (admins' provider connections), owned by nobody, filed under A;
    # the key is ciphertext (Fernet) with its last 4 characters.
    self.add("public.provider_connections", "A", {
        "id": uuid.uuid4(), "name": f"openai-{self.tag}", "kind": "openai", "base_url": "https://api.openai.com/v1",
        "api_key_encrypted": b"gAAAAAB-sample-ciphertext", "api_key_last4": "1234", "enabled": True,
        "created_by": self.sample.user_a})  # A was an admin when it was added


def _generation_inputs(self: _Filler) -> None:
    # Each user's upload as the input image of their queued generation.
    for label in ("A", "B"):
        self.add("public.generation_inputs", label, {
            "id": uuid.uuid4(), "generation_id": self.rows["public.generations"][label][1]["id"],
            "user_id": self.sample.users[label], "media_object_id": self.rows["public.media_objects"][label][1]["id"],
            "role": "image", "position": 0})


def _message_attachments(self: _Filler) -> None:
    # A photo attached to each user's first question.
    for label in ("A", "B"):
        self.add("public.message_attachments", label, {
            "id": uuid.uuid4(), "message_id": self.rows["public.messages"][label][0]["id"],
            "user_id": self.sample.users[label], "media_object_id": self.rows["public.media_objects"][label][1]["id"],
            "position": 0})


_Filler.backup_runs = _backup_runs  # type: ignore[attr-defined]
_Filler.audit_runs = _audit_runs  # type: ignore[attr-defined]
_Filler.setup_tokens = _setup_tokens  # type: ignore[attr-defined]
_Filler.webhook_deliveries = _webhook_deliveries  # type: ignore[attr-defined]
_Filler.generation_events = _generation_events  # type: ignore[attr-defined]
_Filler.storage_deletions = _storage_deletions  # type: ignore[attr-defined]


# Dependency order: a table comes after every table it references.
FILL_ORDER: tuple[tuple[str, Callable[[_Filler], None]], ...] = (
    ("public.users", _Filler.users),
    ("auth.credentials", _Filler.credentials),
    ("auth.totp_factors", _Filler.totp_factors),
    ("auth.recovery_codes", _Filler.recovery_codes),
    ("public.sessions", _Filler.sessions),
    ("public.api_keys", _Filler.api_keys),
    ("public.audit_log", _Filler.audit_log),
    ("public.rate_limit_counters", _Filler.rate_limit_counters),
    ("public.provider_connections", _provider_connections),
    ("public.model_registry", _Filler.model_registry),
    ("public.model_tutorials", _Filler.model_tutorials),
    ("public.conversations", _Filler.conversations),
    ("public.messages", _Filler.messages),
    ("public.batch_queue", _Filler.batch_queue),
    ("public.generations", _Filler.generations),
    ("public.jobs", _Filler.jobs),
    ("public.media_objects", _Filler.media_objects),
    ("public.shared_content", _Filler.shared_content),
    ("public.generation_inputs", _generation_inputs),
    ("public.message_attachments", _message_attachments),
    ("public.api_usage", _Filler.api_usage),
    ("public.quotas", _Filler.quotas),
    ("public.datasets", _Filler.datasets),
    ("public.dataset_images", _Filler.dataset_images),
    ("public.training_jobs", _Filler.training_jobs),
    ("public.trained_models", _Filler.trained_models),
    ("public.user_notifications", _Filler.user_notifications),
    ("public.notification_preferences", _Filler.notification_preferences),
    ("public.node_resources", _Filler.node_resources),
    ("public.admin_approval_requests", _Filler.admin_approval_requests),
    ("public.generation_events", _generation_events),
    ("public.storage_deletions", _storage_deletions),
    ("public.webhook_deliveries", _webhook_deliveries),
    ("public.backup_runs", _backup_runs),
    ("auth.setup_tokens", _setup_tokens),
    ("public.audit_runs", _audit_runs),
)
KNOWN_TABLES = frozenset(name for name, _ in FILL_ORDER)


def check_known_tables(conn: psycopg.Connection) -> list[str]:
    """The catalog's tables; raises UnknownTableError for any table without sample rows."""
    tables = catalog_tables(conn)
    unknown = sorted(set(tables) - KNOWN_TABLES)
    if unknown:
        raise UnknownTableError(
            f"tests/db/sample_data.py has no sample rows for table(s) {', '.join(unknown)}: "
            "add a filler method for each (so the RLS matrix covers it)")
    return tables


def fill_every_table(conn: psycopg.Connection) -> Sample:
    """Insert sample rows into every table (through a superuser connection) and return
    the ids. Works on an autocommit connection or inside the caller's transaction."""
    role = conn.execute("SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user").fetchone()
    if not (role and role[0]):
        raise RuntimeError("fill_every_table needs a superuser connection (it bypasses RLS)")
    tables = set(check_known_tables(conn))
    filler = _Filler(conn)
    with conn.transaction():
        for table, method in FILL_ORDER:
            if table not in tables:
                # Only possible below head (the migration tests fill every revision).
                continue
            method(filler)

    sample = filler.sample
    for table in tables:
        pk = primary_key_columns(conn, table)
        by_owner = filler.rows.get(table, {})
        sample.rows_of_a[table] = [{c: r[c] for c in pk} for r in by_owner.get("A", [])]
        sample.rows_of_b[table] = [{c: r[c] for c in pk} for r in by_owner.get("B", [])]
        if "public" in by_owner:
            sample.public_rows[table] = [{c: r[c] for c in pk} for r in by_owner["public"]]
    # Triggers write rows too (audit records, generation events); they are the user's rows as well.
    for table in ("public.audit_log", "public.generation_events"):
        if table not in tables:
            continue
        for label, target in (("A", sample.rows_of_a), ("B", sample.rows_of_b)):
            ids = conn.execute(sql.SQL("SELECT id FROM {} WHERE user_id = %s ORDER BY id").format(
                sql.Identifier(*table.split("."))), (sample.users[label],)).fetchall()
            target[table] = [{"id": r[0]} for r in ids]
    missing = sorted(t for t in tables if not sample.rows_of_a.get(t))
    if missing:
        raise AssertionError(f"sample_data left user A without rows in {', '.join(missing)}")
    return sample
