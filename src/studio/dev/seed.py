"""`studio dev seed`: fill a database with realistic data at scale, fast and reproducibly.

What it writes, for N users and about M rows in all:

- every user: an account (``@seed.studio.test``, a password hash no password matches),
  their sign-up in the audit log; sessions and API keys (with their audit records) for
  most; a quota row for a few;
- conversations and their messages (a linear thread each; a few very long ones),
  generations with their queue jobs, events, result media, usage records and, for the
  providers that call back, webhook deliveries; shares; datasets with their images
  (media uploads), training jobs and trained models; notifications.

The data is skewed like a real installation's: user r (r = 1..N) is about r^-0.7 as
active as user 1, the heaviest in every table, so a few users own most rows and most
users own a few; timestamps spread over 18 months, denser towards the present; a few
generations are queued or running right now. Rows other than messages take fixed
shares of M (and of N); messages take the rest, so the total is M exactly whenever M is
large enough to hold the rest.

Reproducible: every id, value and timestamp derives from (seed, row number) through
portable hash functions (PostgreSQL's integer hash, md5), and from the anchor time
(default: now). The same seed on the same schema writes the same rows; another seed
writes other users, so seeds can be layered in one database.

Fast: one set-based ``INSERT ... SELECT ... FROM generate_series(...)`` per table, in
one transaction, by a superuser (RLS does not apply to it) with triggers switched off
(`session_replication_role = replica`): the rows their triggers would have written
(audit records, generation events, the price of a generation) are written here in bulk
instead, and the foreign keys hold by construction (tests/scale checks every one).
VACUUM (ANALYZE) at the end, so plans and index-only scans look like a settled database.

The cloud models the generations and conversations name come from a small catalog of
its own (`_SEED_CATALOG`): connections named ``dev-seed-*``, disabled, with no key, so
nothing ever calls them, and their models. A fresh installation has no cloud model
(admins add them), and the data needs the providers that call back and a chat model.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

from studio.db import migrate

SEED_EMAIL_DOMAIN = "seed.studio.test"
# Not an argon2 hash: verification fails as for a wrong password (InvalidHashError is
# handled like a mismatch), so nobody can log in as a seeded user.
UNUSABLE_PASSWORD_HASH = "!seed-account:no-password-login"
MAX_SEED = 2**31 - 1

log = logging.getLogger(__name__)

# Shares of --rows per kind of item, allocated to users by activity. Messages take what
# is left, as do the rows that follow from these (jobs, events, media, usage, ...).
ROW_SHARES = {"conversations": 0.05, "generations": 0.045, "notifications": 0.03, "shares": 0.005,
              "datasets": 0.002}
# Per user, on average (also allocated by activity; some users have none).
PER_USER = {"sessions": 1.5, "api_keys": 1.0}
# Activity is raised to this power for the kinds heavy users do not have many more of.
FLATTEN = {"sessions": 0.5, "api_keys": 0.5}
# Fraction of users who never use a feature (user 1 uses everything).
IDLE = {"sessions": 0.2, "api_keys": 0.6, "conversations": 0.1, "generations": 0.35, "notifications": 0.3,
        "shares": 0.7, "datasets": 0.85}
# Salts: one per allocation, so each table draws its own activity per user.
_SALTS = {"sessions": 200, "api_keys": 202, "conversations": 204, "generations": 206, "notifications": 208,
          "shares": 210, "datasets": 212}

# Text the generated content is made of.
_PHRASES = [
    "Could you help me plan a three day trip to Lisbon on a small budget?",
    "Here is a draft outline with the main points and a short summary for each.",
    "The function returns early when the list is empty, which hides the real bug.",
    "Let us compare both approaches by cost, latency and how easy they are to operate.",
    "Rewrite this paragraph so that it sounds friendlier but stays precise.",
    "A good first step is to measure before changing anything at all.",
    "The recipe needs two eggs, flour, a pinch of salt and some patience.",
    "Summarise the meeting notes below in five bullet points for the team.",
    "In short: the index matches the query, so the database reads only a few pages.",
    "What are the trade-offs between a message queue and a table used as a queue?",
    "Translate the following sentence into French and explain the grammar.",
    "The chart shows a steady rise over the summer and a dip in November.",
    "Sure! Below is an example, followed by an explanation of each line.",
    "Please suggest names for a small bakery that sells sourdough bread.",
    "Thanks, that worked. One more question about the configuration file.",
    "There are three common causes for this error; let us check them in order.",
]
_STYLES = ["A watercolor painting", "A photograph", "An isometric illustration", "A charcoal sketch",
           "A cinematic still", "A pixel-art scene", "A narrated story", "A short jingle"]
_SUBJECTS = ["of a lighthouse at dawn", "of a cat reading a newspaper", "of a busy night market",
             "of mountains above the clouds", "of a robot tending a garden", "of a rainy street in Tokyo",
             "about a fox who learns to sail", "of a bowl of ramen, top view", "of an old library",
             "of a sailing boat in a storm"]
_TOPICS = ["travel plans", "a Python bug", "dinner recipes", "the quarterly report", "learning French",
           "a job interview", "database indexes", "a birthday speech", "garden planning", "a short story"]


class SeedError(Exception):
    """The seed cannot run here (production, not a superuser, schema not at head, seed
    already present)."""


@dataclass(frozen=True)
class SeedReport:
    seed: int
    users: int
    rows: dict[str, int]            # table -> rows inserted
    seconds: dict[str, float]       # "insert", "vacuum"
    heavy_user_id: UUID             # user 1, the heaviest in every table
    heavy_user_email: str
    anchor: datetime
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def refuse_production(env: str) -> None:
    """Seeded accounts and rows do not belong in a production database."""
    if env == "production":
        raise SeedError("`studio dev seed` refuses to run in production mode (STUDIO_ENV=production): "
                        "it writes thousands of made-up accounts and rows")


def _email_parts(seed: int) -> tuple[str, str]:
    """Seeded user r's email is prefix + r + suffix (the seed in it: seeds can be layered)."""
    return f"seed{seed}-user", f"@{SEED_EMAIL_DOMAIN}"


def seed_email(seed: int, rank: int) -> str:
    prefix, suffix = _email_parts(seed)
    return f"{prefix}{rank}{suffix}"


# --------------------------------------------------------------------------- SQL

# Deterministic randomness, in the session's temporary schema (dropped with the
# connection), from portable hash functions: the same (seed, key) gives the same value on
# any platform. Each is an inlinable SQL function: a million calls cost a fraction of a
# second.
_HELPERS = [
    # hashint8extended folds its 64-bit argument to 32 bits (so that int4 and int8 hash
    # alike): hash the high half into the salt of the low half to keep all 64.
    """
    CREATE FUNCTION pg_temp.seed_hash(p_key bigint, p_salt bigint) RETURNS bigint
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $$ SELECT pg_catalog.hashint8extended(p_key & 4294967295,
                                                 pg_catalog.hashint8extended(p_key >> 32, p_salt)) $$
    """,
    # A uniform double in [0, 1).
    """
    CREATE FUNCTION pg_temp.seed_rnd(p_seed bigint, p_salt integer, p_key bigint) RETURNS double precision
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $$ SELECT (pg_temp.seed_hash(p_key, p_seed * 1024 + 512 + p_salt) & 4503599627370495)
                     ::double precision / 4503599627370496 $$
    """,
    # The id of item number p_key: version-4-shaped (version nibble 4, variant 10), as
    # gen_random_uuid() makes them.
    """
    CREATE FUNCTION pg_temp.seed_uuid(p_seed bigint, p_tag integer, p_key bigint) RETURNS uuid
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $$ SELECT pg_catalog.encode(
                  pg_catalog.int8send(pg_temp.seed_hash(p_key, p_seed * 1024 + p_tag * 2) & -61441 | 16384)
                  || pg_catalog.int8send(pg_temp.seed_hash(p_key, p_seed * 1024 + p_tag * 2 + 1)
                                         & 4611686018427387903 | -9223372036854775808),
                  'hex')::uuid $$
    """,
    # The id of a row that follows from another row (its job, its media, its audit record).
    """
    CREATE FUNCTION pg_temp.seed_uuid_of(p_seed bigint, p_tag integer, p_source uuid) RETURNS uuid
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $$ SELECT pg_catalog.overlay(pg_catalog.overlay(
                  pg_catalog.md5(p_seed || ':' || p_tag || ':' || p_source), '4', 13, 1), '8', 17, 1)::uuid $$
    """,
    # 32 bytes: token and key hashes (no known preimage: nobody can present them),
    # checksums, share slugs.
    """
    CREATE FUNCTION pg_temp.seed_bytes32(p_seed bigint, p_tag integer, p_source uuid) RETURNS bytea
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $$ SELECT pg_catalog.decode(pg_catalog.md5(p_seed || ':' || p_tag || ':' || p_source)
                                       || pg_catalog.md5(p_seed || ':' || p_tag || ':' || p_source || ':2'), 'hex') $$
    """,
]

_USERS = """
CREATE TEMP TABLE seed_users ON COMMIT DROP AS
SELECT r AS rank,
       pg_temp.seed_uuid(%(seed)s, 1, r) AS id,
       -- Zipf-like activity: user r is r^-0.7 as active as user 1.
       GREATEST(1, round(1000000 * power(r, -0.7)))::bigint AS weight,
       -- Accounts opened over the last 18 months, the ten heaviest among the oldest.
       %(anchor)s - pg_catalog.make_interval(secs => pg_catalog.floor(86400 * (2 + 538 * GREATEST(
           pg_temp.seed_rnd(%(seed)s, 1, r), CASE WHEN r <= 10 THEN 0.9 ELSE 0 END)))) AS created_at
  FROM pg_catalog.generate_series(1, %(users)s) AS r
"""

_MODELS = """
CREATE TEMP TABLE seed_models ON COMMIT DROP AS
WITH m AS (
    SELECT m.id, m.type, m.slug, m.provider, m.provider_model,
           -- The price the generations_price trigger would copy (migration 0011).
           COALESCE(CASE WHEN pg_catalog.jsonb_typeof(m.config -> 'cost_cents') = 'number'
                         THEN GREATEST(0, (m.config ->> 'cost_cents')::numeric)::integer END, 0) AS price,
           -- Images 60%% of generations, audio 30%%, video 10%%, split evenly between models.
           CASE m.type WHEN 'image' THEN 6 WHEN 'audio' THEN 3 ELSE 1 END::double precision
               / pg_catalog.count(*) OVER (PARTITION BY m.type) AS share
      FROM public.model_registry m
     WHERE m.enabled AND m.type IN ('image', 'audio', 'video')
)
SELECT id, type, provider, provider_model, price,
       (pg_catalog.sum(share) OVER (ORDER BY type, slug) - share) / pg_catalog.sum(share) OVER () AS lo
  FROM m
"""

# Fixed ids (not derived from the seed): every seed shares this catalog, so seeds layer
# in one database and the same seed writes the same rows in another one.
_SEED_CATALOG = """
INSERT INTO public.provider_connections (id, name, kind, base_url, enabled)
VALUES ('5eed0000-0000-4000-8000-000000000001', 'dev-seed-openai', 'openai', 'http://127.0.0.1:9/v1', false),
       ('5eed0000-0000-4000-8000-000000000002', 'dev-seed-replicate', 'replicate', 'http://127.0.0.1:9', false),
       ('5eed0000-0000-4000-8000-000000000003', 'dev-seed-comfyui', 'comfyui', 'http://127.0.0.1:9', false)
ON CONFLICT (name) DO NOTHING;
INSERT INTO public.model_registry (id, slug, display_name, type, provider, provider_model, connection_id,
                                   capabilities, config, description)
VALUES ('5eed0000-0000-4000-8000-000000000011', 'dev-seed-openai-chat', 'Seeded chat model', 'chat', 'openai',
        'gpt-4o-mini', '5eed0000-0000-4000-8000-000000000001', '{chat}', '{"input_cents_per_mtok": 15, "output_cents_per_mtok": 60}',
        'Written by studio dev seed; its connection is disabled.'),
       ('5eed0000-0000-4000-8000-000000000012', 'dev-seed-openai-image', 'Seeded image model', 'image', 'openai',
        'gpt-image-1', '5eed0000-0000-4000-8000-000000000001', '{image}', '{"cost_cents": 4}',
        'Written by studio dev seed; its connection is disabled.'),
       ('5eed0000-0000-4000-8000-000000000013', 'dev-seed-replicate-image', 'Seeded Replicate model', 'image',
        'replicate', 'black-forest-labs/flux-schnell', '5eed0000-0000-4000-8000-000000000002', '{image}',
        '{"cost_cents": 1}', 'Written by studio dev seed; its connection is disabled.'),
       ('5eed0000-0000-4000-8000-000000000014', 'dev-seed-comfyui-image', 'Seeded ComfyUI workflow', 'image',
        'comfyui', 'default', '5eed0000-0000-4000-8000-000000000003', '{image}', '{}',
        'Written by studio dev seed; its connection is disabled.')
ON CONFLICT (slug) DO NOTHING
"""

_ALLOC_TABLE = """
CREATE TEMP TABLE seed_alloc (kind text, rank integer, first bigint, n bigint, PRIMARY KEY (kind, rank))
    ON COMMIT DROP
"""

# `total` items of one kind over the users, in proportion to their activity, or to a
# power of it (`flatten` < 1: nobody has hundreds of sessions), times a random factor
# between 0.5 and 1.5; an idle share of users gets none. User 1 always gets the top
# factor, so it is the heaviest user of every kind. Integer arithmetic on running sums:
# the counts add up to `total` exactly, and user r's items are numbered first..first+n-1
# across all users, which makes their ids.
_ALLOCATE = """
INSERT INTO seed_alloc (kind, rank, first, n)
SELECT %(kind)s, rank,
       pg_catalog.div(%(total)s * (cum - w), total_w) + 1,
       pg_catalog.div(%(total)s * cum, total_w) - pg_catalog.div(%(total)s * (cum - w), total_w)
  FROM (SELECT rank, w, pg_catalog.sum(w) OVER (ORDER BY rank) AS cum, pg_catalog.sum(w) OVER () AS total_w
          FROM (SELECT rank,
                       CASE WHEN rank = 1 THEN round(1.5 * power(weight, %(flatten)s))::bigint
                            WHEN pg_temp.seed_rnd(%(seed)s, %(salt)s, rank) < %(idle)s THEN 0
                            ELSE round(power(weight, %(flatten)s)
                                       * (0.5 + pg_temp.seed_rnd(%(seed)s, %(salt)s + 1, rank)))::bigint
                       END AS w
                  FROM seed_users) AS weighted) AS running
"""

_INSERT_USERS = """
INSERT INTO public.users (id, email, display_name, role, created_at, updated_at)
SELECT id, %(email_prefix)s || rank || %(email_suffix)s, 'Seed user ' || rank, 'user',
       created_at, created_at
  FROM seed_users ORDER BY created_at, rank
"""

_INSERT_CREDENTIALS = """
INSERT INTO auth.credentials (user_id, password_hash, created_at, updated_at)
SELECT id, %(password_hash)s, created_at, created_at FROM seed_users ORDER BY created_at, rank
"""

_INSERT_SIGNUPS = """
INSERT INTO public.audit_log (id, user_id, event, ip, user_agent, details, created_at)
SELECT pg_temp.seed_uuid_of(%(seed)s, 40, id), id, 'signup', NULL, %(user_agent)s, '{}', created_at
  FROM seed_users ORDER BY created_at, rank
"""

_INSERT_QUOTAS = """
INSERT INTO public.quotas (id, user_id, jobs_per_day, cost_cap_cents, created_at, updated_at)
SELECT pg_temp.seed_uuid_of(%(seed)s, 2, id), id, 1000, 50000, created_at, created_at
  FROM seed_users
 WHERE rank <= 3 OR pg_temp.seed_rnd(%(seed)s, 2, rank) < 0.05
 ORDER BY created_at, rank
"""

# Sessions last 30 days: the older ones have expired.
_INSERT_SESSIONS = """
INSERT INTO public.sessions (id, user_id, token_hash, expires_at, ip, user_agent, created_at, updated_at)
SELECT s.id, u.id, pg_temp.seed_bytes32(%(seed)s, 100, s.id), s.at + interval '30 days',
       ('10.' || (i.n >> 16 & 255) || '.' || (i.n >> 8 & 255) || '.' || (i.n & 255))::inet,
       %(user_agent)s, s.at, s.at
  FROM seed_alloc a
  JOIN seed_users u USING (rank)
 CROSS JOIN LATERAL pg_catalog.generate_series(a.first, a.first + a.n - 1) AS i(n)
 CROSS JOIN LATERAL (SELECT pg_temp.seed_uuid(%(seed)s, 4, i.n) AS id,
                            u.created_at + (%(anchor)s - u.created_at) * sqrt(pg_temp.seed_rnd(%(seed)s, 4, i.n)) AS at
                    ) AS s
 WHERE a.kind = 'sessions'
 ORDER BY s.at, i.n
"""

_INSERT_SESSION_AUDIT = """
INSERT INTO public.audit_log (id, user_id, event, ip, user_agent, details, created_at)
SELECT pg_temp.seed_uuid_of(%(seed)s, 41, s.id), s.user_id, 'login.succeeded', s.ip, s.user_agent,
       pg_catalog.jsonb_build_object('session_id', s.id), s.created_at
  FROM public.sessions s JOIN seed_users u ON u.id = s.user_id
"""

# A fifth of the keys revoked, most used at some point.
_INSERT_API_KEYS = """
INSERT INTO public.api_keys (id, user_id, name, prefix, key_hash, last_used_at, expires_at, revoked_at,
                             created_at, updated_at)
SELECT k.id, u.id, 'Key ' || (i.n - a.first + 1),
       'sk_studio_' || pg_catalog.left(pg_catalog.replace(k.id::text, '-', ''), 6),
       pg_temp.seed_bytes32(%(seed)s, 102, k.id),
       CASE WHEN pg_temp.seed_rnd(%(seed)s, 6, i.n) < 0.7
            THEN k.at + (COALESCE(k.revoked_at, %(anchor)s) - k.at) * pg_temp.seed_rnd(%(seed)s, 7, i.n) END,
       NULL, k.revoked_at, k.at, COALESCE(k.revoked_at, k.at)
  FROM seed_alloc a
  JOIN seed_users u USING (rank)
 CROSS JOIN LATERAL pg_catalog.generate_series(a.first, a.first + a.n - 1) AS i(n)
 CROSS JOIN LATERAL (SELECT pg_temp.seed_uuid(%(seed)s, 6, i.n) AS id, t.at,
                            CASE WHEN pg_temp.seed_rnd(%(seed)s, 8, i.n) < 0.2
                                 THEN t.at + (%(anchor)s - t.at) * pg_temp.seed_rnd(%(seed)s, 9, i.n) END AS revoked_at
                       FROM (SELECT u.created_at + (%(anchor)s - u.created_at)
                                    * pg_temp.seed_rnd(%(seed)s, 10, i.n) AS at) AS t) AS k
 WHERE a.kind = 'api_keys'
 ORDER BY k.at, i.n
"""

# What the api_keys_audit trigger (migration 0002) records.
_INSERT_API_KEY_AUDIT = """
INSERT INTO public.audit_log (id, user_id, event, ip, user_agent, details, created_at)
SELECT pg_temp.seed_uuid_of(%(seed)s, CASE e.event WHEN 'api_key.created' THEN 42 ELSE 43 END, k.id),
       k.user_id, e.event, NULL, %(user_agent)s,
       pg_catalog.jsonb_build_object('api_key_id', k.id, 'name', k.name, 'prefix', k.prefix), e.at
  FROM public.api_keys k
  JOIN seed_users u ON u.id = k.user_id
 CROSS JOIN LATERAL (VALUES ('api_key.created', k.created_at), ('api_key.revoked', k.revoked_at)) AS e(event, at)
 WHERE e.at IS NOT NULL
"""

# Generations: mostly finished long ago; a few queued or running right now (the last
# ten minutes). Model and provider from the registry's enabled models; the cost is the
# model's price, as the generations_price trigger would set it. The result names the
# media row written below, as the worker's does (generation/tasks.py).
_INSERT_GENERATIONS = """
INSERT INTO public.generations (id, user_id, model_id, batch_id, type, status, provider, provider_job_id, prompt,
                                params, result, error, progress, attempts, cost_cents, started_at, finished_at,
                                created_at, updated_at)
SELECT g.id, g.user_id, m.id, NULL, m.type, g.status, m.provider,
       CASE WHEN m.provider IN ('replicate', 'comfyui') AND g.status <> 'queued' AND g.started_at IS NOT NULL
            THEN 'seed-' || pg_catalog.replace(pg_temp.seed_uuid_of(%(seed)s, 7, g.id)::text, '-', '') END,
       (%(styles)s::text[])[1 + pg_catalog.floor(8 * g.r4)::integer] || ' '
           || (%(subjects)s::text[])[1 + pg_catalog.floor(10 * g.r5)::integer],
       '{}',
       CASE WHEN g.status = 'succeeded' THEN pg_catalog.jsonb_build_object('media', pg_catalog.jsonb_build_array(
           pg_catalog.jsonb_build_object(
               'id', pg_temp.seed_uuid_of(%(seed)s, 8, g.id),
               'url', '/v1/media/' || pg_temp.seed_uuid_of(%(seed)s, 8, g.id),
               'size', CASE m.type WHEN 'image' THEN 200000 + pg_catalog.floor(g.r3 * 3000000)
                                   WHEN 'audio' THEN 50000 + pg_catalog.floor(g.r3 * 2000000)
                                   ELSE 1000000 + pg_catalog.floor(g.r3 * 30000000) END::bigint,
               'content_type', CASE m.type WHEN 'image' THEN 'image/png' WHEN 'audio' THEN 'audio/mpeg'
                                           ELSE 'video/mp4' END))) END,
       CASE WHEN g.status = 'failed' THEN 'the provider rejected the request (seeded failure)' END,
       CASE g.status WHEN 'succeeded' THEN 100 WHEN 'running' THEN 10 + pg_catalog.floor(80 * g.r3)::integer
                     ELSE 0 END,
       CASE WHEN g.status = 'queued' THEN 0 ELSE 1 END,
       m.price, g.started_at,
       CASE WHEN g.status IN ('succeeded', 'failed')
            THEN g.started_at + pg_catalog.make_interval(secs => CASE m.type WHEN 'video' THEN 30 + 270 * g.r2
                                                                              ELSE 2 + 58 * g.r2 END) END,
       g.created_at,
       CASE WHEN g.status IN ('succeeded', 'failed')
            THEN g.started_at + pg_catalog.make_interval(secs => CASE m.type WHEN 'video' THEN 30 + 270 * g.r2
                                                                              ELSE 2 + 58 * g.r2 END)
            WHEN g.status = 'running' THEN %(anchor)s
            WHEN g.status = 'canceled' THEN g.created_at + pg_catalog.make_interval(secs => 1 + 600 * g.r3)
            ELSE g.created_at END
  FROM (SELECT x.*,
               CASE WHEN x.status IN ('running', 'succeeded', 'failed')
                    THEN x.created_at + pg_catalog.make_interval(secs => 1 + 20 * x.r3) END AS started_at
          FROM (SELECT s.*,
                       CASE WHEN s.status IN ('queued', 'running')
                            THEN %(anchor)s - pg_catalog.make_interval(secs => 600 * s.r2)
                            ELSE s.user_created_at + (%(anchor)s - interval '1 hour' - s.user_created_at)
                                 * sqrt(s.r1) END AS created_at
                  FROM (SELECT i.n, u.id AS user_id, u.created_at AS user_created_at,
                               pg_temp.seed_uuid(%(seed)s, 9, i.n) AS id,
                               CASE WHEN st < 0.004 THEN 'queued' WHEN st < 0.006 THEN 'running'
                                    WHEN st < 0.08 THEN 'failed' WHEN st < 0.11 THEN 'canceled'
                                    ELSE 'succeeded' END AS status,
                               pg_temp.seed_rnd(%(seed)s, 12, i.n) AS r1, pg_temp.seed_rnd(%(seed)s, 13, i.n) AS r2,
                               pg_temp.seed_rnd(%(seed)s, 14, i.n) AS r3, pg_temp.seed_rnd(%(seed)s, 15, i.n) AS rm,
                               pg_temp.seed_rnd(%(seed)s, 16, i.n) AS r4, pg_temp.seed_rnd(%(seed)s, 17, i.n) AS r5
                          FROM seed_alloc a
                          JOIN seed_users u USING (rank)
                         CROSS JOIN LATERAL pg_catalog.generate_series(a.first, a.first + a.n - 1) AS i(n)
                         CROSS JOIN LATERAL (SELECT pg_temp.seed_rnd(%(seed)s, 11, i.n) AS st) AS t
                         WHERE a.kind = 'generations') AS s) AS x) AS g
 CROSS JOIN LATERAL (SELECT * FROM seed_models sm WHERE sm.lo <= g.rm ORDER BY sm.lo DESC LIMIT 1) AS m
 ORDER BY g.created_at, g.id
"""

# One queue job per generation, in the generation's state (generation/repository.py
# creates them together). fair_rank as create_generation computes it: the user's queued
# jobs ahead of this one.
_INSERT_GENERATION_JOBS = """
INSERT INTO public.jobs (id, kind, user_id, generation_id, status, priority, attempts, max_attempts, run_after,
                         lease_expires_at, worker_id, heartbeat_at, last_error, payload, fair_rank, created_at,
                         updated_at)
SELECT pg_temp.seed_uuid_of(%(seed)s, 10, g.id), 'generation', g.user_id, g.id, g.status, 0, g.attempts, 5,
       g.created_at,
       CASE WHEN g.status = 'running' THEN %(anchor)s + interval '5 minutes' END,
       CASE WHEN g.status = 'running' THEN 'seed-worker' END,
       CASE WHEN g.status = 'running' THEN %(anchor)s END,
       g.error, '{}',
       CASE WHEN g.status = 'queued'
            THEN pg_catalog.row_number() OVER (PARTITION BY g.user_id, g.status = 'queued'
                                               ORDER BY g.created_at, g.id) - 1
            ELSE 0 END,
       g.created_at, g.updated_at
  FROM public.generations g JOIN seed_users u ON u.id = g.user_id
 ORDER BY g.created_at, g.id
"""

# What the generations_events trigger (migration 0009) records: queued, running, and
# the state reached since. Inserted in time order, so the identity ids follow it.
_INSERT_GENERATION_EVENTS = """
INSERT INTO public.generation_events (generation_id, user_id, status, progress, error, created_at, updated_at)
SELECT g.id, g.user_id, e.status, e.progress, e.error, e.at, e.at
  FROM public.generations g
  JOIN seed_users u ON u.id = g.user_id
 CROSS JOIN LATERAL (VALUES (1, 'queued', 0, NULL::text, g.created_at),
                            (2, 'running', 0, NULL, g.started_at),
                            (3, g.status, g.progress::integer, g.error, g.updated_at))
       AS e(step, status, progress, error, at)
 WHERE e.step = 1 OR (e.step = 2 AND g.started_at IS NOT NULL) OR (e.step = 3 AND g.status <> 'queued')
 ORDER BY e.at, g.id, e.step
"""

_INSERT_GENERATION_MEDIA = """
INSERT INTO public.media_objects (id, owner_id, generation_id, bucket, key, size_bytes, content_type,
                                  checksum_sha256, created_at, updated_at)
SELECT (f ->> 'id')::uuid, g.user_id, g.id, 'media',
       g.user_id || '/generations/' || g.id || '/' || (f ->> 'id')
           || CASE f ->> 'content_type' WHEN 'image/png' THEN '.png' WHEN 'audio/mpeg' THEN '.mp3' ELSE '.mp4' END,
       (f ->> 'size')::bigint, f ->> 'content_type',
       pg_catalog.encode(pg_temp.seed_bytes32(%(seed)s, 104, g.id), 'hex'), g.finished_at, g.finished_at
  FROM public.generations g
  JOIN seed_users u ON u.id = g.user_id
 CROSS JOIN LATERAL pg_catalog.jsonb_array_elements(g.result -> 'media') AS f
 WHERE g.status = 'succeeded'
 ORDER BY g.created_at, g.id
"""

_INSERT_GENERATION_USAGE = """
INSERT INTO public.api_usage (id, user_id, generation_id, kind, provider, model, units, cost_cents, created_at)
SELECT pg_temp.seed_uuid_of(%(seed)s, 13, g.id), g.user_id, g.id, g.type, g.provider, m.provider_model, 1,
       g.cost_cents, g.finished_at
  FROM public.generations g
  JOIN seed_users u ON u.id = g.user_id
  LEFT JOIN public.model_registry m ON m.id = g.model_id
 WHERE g.status = 'succeeded'
 ORDER BY g.created_at, g.id
"""

# The providers that call back (webhooks/endpoints.py): Replicate when a prediction
# starts and when it ends, ComfyUI when it ends.
_INSERT_WEBHOOKS = """
INSERT INTO public.webhook_deliveries (id, provider, delivery_id, provider_job_id, generation_id, payload,
                                       created_at, updated_at)
SELECT pg_temp.seed_uuid_of(%(seed)s, 14 + e.step, g.id), g.provider,
       'seed-' || pg_catalog.replace(pg_temp.seed_uuid_of(%(seed)s, 16 + e.step, g.id)::text, '-', ''),
       g.provider_job_id, g.id,
       pg_catalog.jsonb_build_object(CASE g.provider WHEN 'replicate' THEN 'id' ELSE 'prompt_id' END,
                                     g.provider_job_id, 'status', e.status),
       e.at, e.at
  FROM public.generations g
  JOIN seed_users u ON u.id = g.user_id
 CROSS JOIN LATERAL (VALUES (1, 'processing', g.started_at), (2, g.status, g.finished_at)) AS e(step, status, at)
 WHERE g.provider_job_id IS NOT NULL AND e.at IS NOT NULL AND (e.step = 2 OR g.provider = 'replicate')
 ORDER BY e.at, g.id, e.step
"""

# Conversations (their message counts are decided last, see _INSERT_THREADS).
_CONVERSATIONS = """
CREATE TEMP TABLE seed_conversations ON COMMIT DROP AS
SELECT i.n, pg_temp.seed_uuid(%(seed)s, 20, i.n) AS id, u.id AS user_id,
       u.created_at + (%(anchor)s - u.created_at) * sqrt(pg_temp.seed_rnd(%(seed)s, 20, i.n)) AS created_at,
       -- Pareto-distributed length: most conversations are short, a few very long; user 1's
       -- first one as long as 900 average ones together (a long thread to page through).
       CASE WHEN i.n = 1 THEN 3000000
            ELSE LEAST(50000000, pg_catalog.floor(1000 * power(1 - pg_temp.seed_rnd(%(seed)s, 21, i.n), -0.7)))
       END::bigint AS w
  FROM seed_alloc a
  JOIN seed_users u USING (rank)
 CROSS JOIN LATERAL pg_catalog.generate_series(a.first, a.first + a.n - 1) AS i(n)
 WHERE a.kind = 'conversations'
"""

# Share links: to one of the user's generations (most) or conversations, some expiring,
# some revoked. The slug is 43 URL-safe characters.
_INSERT_SHARES = """
INSERT INTO public.shared_content (id, user_id, slug, generation_id, conversation_id, expires_at, revoked_at,
                                   view_count, created_at, updated_at)
SELECT s.id, s.user_id,
       pg_catalog.rtrim(pg_catalog.translate(pg_catalog.encode(pg_temp.seed_bytes32(%(seed)s, 106, s.id), 'base64'),
                                             '+/', '-_'), '='),
       s.generation_id, s.conversation_id,
       CASE WHEN s.r2 < 0.3 THEN s.at + interval '7 days' END,
       CASE WHEN s.r2 > 0.9 THEN s.at + (%(anchor)s - s.at) * s.r3 END,
       pg_catalog.floor(500 * power(s.r3, 3))::integer,
       s.at, CASE WHEN s.r2 > 0.9 THEN s.at + (%(anchor)s - s.at) * s.r3 ELSE s.at END
  FROM (SELECT t.*, t.target_at + (%(anchor)s - t.target_at) * t.r1 AS at
          FROM (SELECT pg_temp.seed_uuid(%(seed)s, 31, i.n) AS id, u.id AS user_id, g.id AS generation_id,
                       c.id AS conversation_id, COALESCE(g.created_at, c.created_at) AS target_at,
                       pg_temp.seed_rnd(%(seed)s, 31, i.n) AS r1, pg_temp.seed_rnd(%(seed)s, 32, i.n) AS r2,
                       pg_temp.seed_rnd(%(seed)s, 33, i.n) AS r3
                  FROM seed_alloc a
                  JOIN seed_users u USING (rank)
                  JOIN seed_alloc ag ON ag.kind = 'generations' AND ag.rank = a.rank
                  JOIN seed_alloc ac ON ac.kind = 'conversations' AND ac.rank = a.rank
                 CROSS JOIN LATERAL pg_catalog.generate_series(a.first, a.first + a.n - 1) AS i(n)
                 CROSS JOIN LATERAL (SELECT CASE WHEN ag.n > 0
                                                  AND (ac.n = 0 OR pg_temp.seed_rnd(%(seed)s, 34, i.n) < 0.7)
                                                 THEN 'generation' WHEN ac.n > 0 THEN 'conversation' END AS target,
                                            pg_catalog.floor(pg_temp.seed_rnd(%(seed)s, 35, i.n)
                                                             * GREATEST(ag.n, ac.n))::bigint AS pick) AS p
                  LEFT JOIN public.generations g
                         ON p.target = 'generation'
                        AND g.id = pg_temp.seed_uuid(%(seed)s, 9, ag.first + p.pick %% NULLIF(ag.n, 0))
                  LEFT JOIN seed_conversations c
                         ON p.target = 'conversation' AND c.n = ac.first + p.pick %% NULLIF(ac.n, 0)
                 WHERE a.kind = 'shares' AND p.target IS NOT NULL) AS t) AS s
 ORDER BY s.at, s.id
"""

# What the shared_content_audit trigger (migration 0016) records.
_INSERT_SHARE_AUDIT = """
INSERT INTO public.audit_log (id, user_id, event, ip, user_agent, details, created_at)
SELECT pg_temp.seed_uuid_of(%(seed)s, CASE e.event WHEN 'share.created' THEN 44 ELSE 45 END, s.id),
       s.user_id, e.event, NULL, %(user_agent)s,
       pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
           'share_id', s.id, 'generation_id', s.generation_id, 'conversation_id', s.conversation_id,
           'expires_at', CASE WHEN e.event = 'share.created' THEN s.expires_at END)),
       e.at
  FROM public.shared_content s
  JOIN seed_users u ON u.id = s.user_id
 CROSS JOIN LATERAL (VALUES ('share.created', s.created_at), ('share.revoked', s.revoked_at)) AS e(event, at)
 WHERE e.at IS NOT NULL
"""

_DATASETS = """
CREATE TEMP TABLE seed_datasets ON COMMIT DROP AS
SELECT i.n, pg_temp.seed_uuid(%(seed)s, 50, i.n) AS id, u.id AS user_id,
       u.created_at + (%(anchor)s - interval '1 day' - u.created_at) * sqrt(pg_temp.seed_rnd(%(seed)s, 50, i.n))
           AS created_at,
       CASE WHEN st < 0.15 THEN 'draft' WHEN st < 0.25 THEN 'in_use' WHEN st < 0.4 THEN 'archived'
            ELSE 'ready' END AS status,
       3 + pg_catalog.floor(37 * power(pg_temp.seed_rnd(%(seed)s, 52, i.n), 2))::integer AS images
  FROM seed_alloc a
  JOIN seed_users u USING (rank)
 CROSS JOIN LATERAL pg_catalog.generate_series(a.first, a.first + a.n - 1) AS i(n)
 CROSS JOIN LATERAL (SELECT pg_temp.seed_rnd(%(seed)s, 51, i.n) AS st) AS t
 WHERE a.kind = 'datasets'
"""

_INSERT_DATASETS = """
INSERT INTO public.datasets (id, user_id, name, description, status, image_count, created_at, updated_at)
SELECT id, user_id, 'Dataset ' || n, CASE WHEN n %% 3 = 0 THEN 'Reference images for fine-tuning' END, status,
       images, created_at, created_at + interval '1 hour'
  FROM seed_datasets ORDER BY created_at, n
"""

# A dataset image is an uploaded file (attachments bucket, no generation).
_INSERT_DATASET_MEDIA = """
INSERT INTO public.media_objects (id, owner_id, generation_id, bucket, key, size_bytes, content_type,
                                  checksum_sha256, created_at, updated_at)
SELECT m.id, d.user_id, NULL, 'attachments', d.user_id || '/uploads/' || m.id || '.png',
       100000 + pg_catalog.floor(2000000 * pg_temp.seed_rnd(%(seed)s, 53, d.n << 16 | k))::bigint, 'image/png',
       pg_catalog.encode(pg_temp.seed_bytes32(%(seed)s, 108, m.id), 'hex'), m.at, m.at
  FROM seed_datasets d
 CROSS JOIN LATERAL pg_catalog.generate_series(1, d.images) AS k
 CROSS JOIN LATERAL (SELECT pg_temp.seed_uuid(%(seed)s, 51, d.n << 16 | k) AS id,
                            d.created_at + pg_catalog.make_interval(secs => k) AS at) AS m
 ORDER BY d.created_at, d.n, k
"""

_INSERT_DATASET_IMAGES = """
INSERT INTO public.dataset_images (id, dataset_id, media_object_id, caption, position, width, height,
                                   created_at, updated_at)
SELECT pg_temp.seed_uuid(%(seed)s, 52, d.n << 16 | k), d.id, pg_temp.seed_uuid(%(seed)s, 51, d.n << 16 | k),
       (%(subjects)s::text[])[1 + pg_catalog.floor(10 * pg_temp.seed_rnd(%(seed)s, 54, d.n << 16 | k))::integer],
       k - 1, 1024, 1024,
       d.created_at + pg_catalog.make_interval(secs => k), d.created_at + pg_catalog.make_interval(secs => k)
  FROM seed_datasets d
 CROSS JOIN LATERAL pg_catalog.generate_series(1, d.images) AS k
 ORDER BY d.created_at, d.n, k
"""

# Up to two training runs per usable dataset; a dataset in use is training right now.
_INSERT_TRAINING_JOBS = """
INSERT INTO public.training_jobs (id, user_id, dataset_id, base_model_id, status, progress, current_step,
                                  total_steps, loss_history, hyperparams, error, started_at, finished_at,
                                  created_at, updated_at)
SELECT t.id, t.user_id, t.dataset_id, %(base_model)s::uuid, t.status,
       round(100.0 * t.step / 1000, 2), t.step, 1000,
       CASE WHEN t.step > 0 THEN '[2.31, 1.62, 1.08, 0.84, 0.71]'::jsonb ELSE '[]'::jsonb END,
       '{"learning_rate": 0.0001, "rank": 16}'::jsonb,
       CASE WHEN t.status = 'failed' THEN 'out of GPU memory (seeded failure)' END,
       t.created_at + interval '30 seconds',
       CASE WHEN t.status IN ('succeeded', 'failed', 'canceled') THEN t.created_at + interval '40 minutes' END,
       t.created_at,
       CASE WHEN t.status IN ('succeeded', 'failed', 'canceled') THEN t.created_at + interval '40 minutes'
            ELSE %(anchor)s END
  FROM (SELECT pg_temp.seed_uuid(%(seed)s, 60, d.n << 4 | j) AS id, d.user_id, d.id AS dataset_id,
               CASE WHEN d.status = 'in_use' THEN 'training'
                    WHEN r < 0.75 THEN 'succeeded' WHEN r < 0.95 THEN 'failed' ELSE 'canceled' END AS status,
               CASE WHEN d.status = 'in_use' THEN %(anchor)s - interval '20 minutes'
                    ELSE d.created_at + (%(anchor)s - interval '1 hour' - d.created_at) * (j + r) / 3 END AS created_at,
               CASE WHEN d.status = 'in_use' THEN 100 + pg_catalog.floor(800 * r)::integer
                    WHEN r < 0.75 THEN 1000 ELSE pg_catalog.floor(1000 * r * r)::integer END AS step
          FROM seed_datasets d
         CROSS JOIN LATERAL pg_catalog.generate_series(1, CASE WHEN d.status = 'in_use' THEN 1
                                                               WHEN d.status = 'draft' THEN 0
                                                               ELSE pg_catalog.floor(
                                                                   3 * pg_temp.seed_rnd(%(seed)s, 60, d.n))::integer
                                                          END) AS j
         CROSS JOIN LATERAL (SELECT pg_temp.seed_rnd(%(seed)s, 61, d.n << 4 | j) AS r) AS x) AS t
 ORDER BY t.created_at, t.id
"""

_INSERT_TRAINED_MODELS = """
INSERT INTO public.trained_models (id, user_id, training_job_id, model_id, weights_media_id, name, metrics,
                                   created_at, updated_at)
SELECT pg_temp.seed_uuid_of(%(seed)s, 62, t.id), t.user_id, t.id, NULL, NULL, 'Fine-tune of dataset ' || d.name,
       '{"final_loss": 0.71}'::jsonb, t.finished_at, t.finished_at
  FROM public.training_jobs t
  JOIN seed_users u ON u.id = t.user_id
  JOIN public.datasets d ON d.id = t.dataset_id
 WHERE t.status = 'succeeded'
 ORDER BY t.finished_at, t.id
"""

# Notifications: the older ones read.
_INSERT_NOTIFICATIONS = """
INSERT INTO public.user_notifications (id, user_id, kind, title, body, data, read_at, created_at, updated_at)
SELECT x.id, x.user_id, x.kind,
       CASE x.kind WHEN 'generation' THEN 'Your generation is ready' WHEN 'training' THEN 'Training finished'
                   WHEN 'share' THEN 'Your shared link was viewed' WHEN 'quota' THEN 'You used 80%% of your quota'
                   ELSE 'Scheduled maintenance' END,
       CASE WHEN x.kind = 'system' THEN 'Studio will be unavailable for a few minutes tonight.' END,
       '{}', x.read_at, x.at, COALESCE(x.read_at, x.at)
  FROM (SELECT pg_temp.seed_uuid(%(seed)s, 70, i.n) AS id, u.id AS user_id, t.at,
               CASE WHEN k < 0.5 THEN 'generation' WHEN k < 0.55 THEN 'training' WHEN k < 0.65 THEN 'share'
                    WHEN k < 0.75 THEN 'quota' ELSE 'system' END AS kind,
               CASE WHEN t.at < %(anchor)s - interval '3 days' OR pg_temp.seed_rnd(%(seed)s, 72, i.n) < 0.5
                    THEN t.at + (%(anchor)s - t.at) * pg_temp.seed_rnd(%(seed)s, 73, i.n) END AS read_at
          FROM seed_alloc a
          JOIN seed_users u USING (rank)
         CROSS JOIN LATERAL pg_catalog.generate_series(a.first, a.first + a.n - 1) AS i(n)
         CROSS JOIN LATERAL (SELECT u.created_at + (%(anchor)s - u.created_at)
                                    * sqrt(pg_temp.seed_rnd(%(seed)s, 70, i.n)) AS at,
                                    pg_temp.seed_rnd(%(seed)s, 71, i.n) AS k) AS t
         WHERE a.kind = 'notifications') AS x
 ORDER BY x.at, x.id
"""

# Messages per conversation: `extra` messages on top of `base` each, spread in
# proportion to the conversations' lengths (the allocation of _ALLOCATE, per
# conversation). A conversation lasts two minutes per message, or until now.
_THREADS = """
CREATE TEMP TABLE seed_threads ON COMMIT DROP AS
SELECT c.n, c.id, c.user_id, c.created_at, c.messages,
       LEAST(%(anchor)s - c.created_at, c.messages * interval '2 minutes') AS span
  FROM (SELECT n, id, user_id, created_at,
               (%(base)s + pg_catalog.div(%(extra)s * cum, total_w)
                - pg_catalog.div(%(extra)s * (cum - w), total_w))::integer AS messages
          FROM (SELECT n, id, user_id, created_at, w, pg_catalog.sum(w) OVER (ORDER BY n) AS cum,
                       pg_catalog.sum(w) OVER () AS total_w
                  FROM seed_conversations) AS running) AS c
"""

_INSERT_CONVERSATIONS = """
INSERT INTO public.conversations (id, user_id, title, system_prompt, model_id, created_at, updated_at)
SELECT t.id, t.user_id,
       'About ' || (%(topics)s::text[])[1 + pg_catalog.floor(10 * pg_temp.seed_rnd(%(seed)s, 22, t.n))::integer],
       CASE WHEN pg_temp.seed_rnd(%(seed)s, 23, t.n) < 0.1 THEN 'You are a concise, friendly assistant.' END,
       CASE WHEN pg_temp.seed_rnd(%(seed)s, 24, t.n) < 0.7 THEN %(chat_model)s::uuid END,
       t.created_at, t.created_at + t.span
  FROM seed_threads t
 ORDER BY t.created_at, t.n
"""

# A thread: user and assistant take turns, each message answering the previous one.
# Users write a line or a paragraph, the assistant up to a page. Written in time order,
# as a live installation writes them: a conversation's messages end up spread over the
# table's pages among everybody else's (the inner ORDER BY sorts only the narrow keys).
_INSERT_MESSAGES = """
INSERT INTO public.messages (id, conversation_id, user_id, parent_id, role, content, model, created_at, updated_at)
SELECT pg_temp.seed_uuid(%(seed)s, 25, m.key), m.conversation_id, m.user_id,
       CASE WHEN m.k > 1 THEN pg_temp.seed_uuid(%(seed)s, 25, m.key - 1) END,
       x.role,
       pg_catalog.left(pg_catalog.repeat(
           (%(phrases)s::text[])[1 + pg_catalog.floor(16 * pg_temp.seed_rnd(%(seed)s, 26, m.key))::integer] || ' '
           || (%(phrases)s::text[])[1 + pg_catalog.floor(16 * pg_temp.seed_rnd(%(seed)s, 27, m.key))::integer] || ' ',
           1 + x.length / 60), x.length),
       CASE WHEN x.role = 'assistant' THEN %(chat_model_name)s END,
       m.at, m.at
  FROM (SELECT t.id AS conversation_id, t.user_id, k, t.n << 24 | k AS key,
               t.created_at + t.span * (k - 1) / GREATEST(t.messages, 1) AS at
          FROM seed_threads t
         CROSS JOIN LATERAL pg_catalog.generate_series(1, t.messages) AS k
         ORDER BY at, key) AS m
 CROSS JOIN LATERAL (SELECT CASE WHEN pg_catalog.mod(m.k, 2) = 1 THEN 'user' ELSE 'assistant' END AS role,
                            CASE WHEN pg_catalog.mod(m.k, 2) = 1
                                 THEN 20 + pg_catalog.floor(300 * power(pg_temp.seed_rnd(%(seed)s, 28, m.key), 2))
                                 ELSE 60 + pg_catalog.floor(1200 * power(pg_temp.seed_rnd(%(seed)s, 28, m.key), 2))
                            END::integer AS length) AS x
"""

# Token usage of each conversation's answers, as one record per conversation.
_INSERT_CHAT_USAGE = """
INSERT INTO public.api_usage (id, user_id, generation_id, kind, provider, model, units, cost_cents, created_at)
SELECT pg_temp.seed_uuid(%(seed)s, 29, t.n), t.user_id, NULL, 'chat', %(chat_provider)s, %(chat_model_name)s,
       t.messages * 180, 0, t.created_at + t.span
  FROM seed_threads t
 ORDER BY t.created_at + t.span, t.n
"""

# Every table written above, for VACUUM (ANALYZE) and the report.
TABLES = ("public.users", "auth.credentials", "public.quotas", "public.sessions", "public.api_keys",
          "public.audit_log", "public.generations", "public.jobs", "public.generation_events",
          "public.media_objects", "public.api_usage", "public.webhook_deliveries", "public.shared_content",
          "public.datasets", "public.dataset_images", "public.training_jobs", "public.trained_models",
          "public.user_notifications", "public.conversations", "public.messages")


# --------------------------------------------------------------------------- running it


def seed(conninfo: str, *, users: int, rows: int, seed: int = 1, anchor: datetime | None = None,
         progress: Callable[[str], None] | None = None) -> SeedReport:
    """Write `users` users and about `rows` rows in all through `conninfo`, a superuser
    login to Studio's database at migration head. One transaction: on any error nothing
    is left behind. `anchor` is "now" for the data (default: the database's now())."""
    if users < 1:
        raise SeedError("--users must be at least 1")
    if rows < 0:
        raise SeedError("--rows must not be negative")
    if not 0 <= seed <= MAX_SEED:
        raise SeedError(f"--seed must be between 0 and {MAX_SEED}")
    step = progress or (lambda _description: None)
    started = time.monotonic()
    counts: dict[str, int] = {table: 0 for table in TABLES}
    notes: list[str] = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        _preflight(conn, seed)
        with conn.transaction():
            # Triggers (foreign-key checks included) off for this transaction: the rows
            # they would write are written below in bulk, and the keys hold by construction.
            conn.execute("SET LOCAL session_replication_role = replica")
            conn.execute("SET LOCAL synchronous_commit = off")
            conn.execute("SET LOCAL statement_timeout = 0")
            conn.execute("SET LOCAL work_mem = '64MB'")
            # Compiling these long expressions takes longer than running them.
            conn.execute("SET LOCAL jit = off")
            if anchor is None:
                row = conn.execute("SELECT pg_catalog.now()").fetchone()
                assert row is not None
                anchor = row[0]
            params: dict[str, Any] = {
                "seed": seed, "anchor": anchor, "users": users,
                "email_prefix": _email_parts(seed)[0], "email_suffix": _email_parts(seed)[1],
                "password_hash": UNUSABLE_PASSWORD_HASH, "user_agent": "Mozilla/5.0 (studio dev seed)",
                "phrases": _PHRASES, "styles": _STYLES, "subjects": _SUBJECTS, "topics": _TOPICS,
            }
            conn.execute(_SEED_CATALOG)
            params.update(_catalog_models(conn))
            for helper in _HELPERS:
                conn.execute(helper)

            def insert(table: str, statement: str, extra: dict[str, Any] | None = None) -> int:
                began = time.monotonic()
                cur = conn.execute(statement, {**params, **(extra or {})})
                counts[table] += max(cur.rowcount, 0)
                log.debug("%s: %d rows in %.2f s", table, cur.rowcount, time.monotonic() - began)
                return cur.rowcount

            step(f"allocating {users:,} users' activity")
            conn.execute(_USERS, params)
            _analyze(conn, "seed_users")
            conn.execute(_MODELS, params)
            has_models = _count(conn, "seed_models") > 0
            if not has_models:
                notes.append("no enabled image, audio or video model in model_registry: no generations")
            conn.execute(_ALLOC_TABLE)
            totals = {kind: round(share * rows) for kind, share in ROW_SHARES.items()}
            totals.update({kind: round(per_user * users) for kind, per_user in PER_USER.items()})
            if not has_models:
                totals["generations"] = 0
            for kind, total in totals.items():
                conn.execute(_ALLOCATE, {**params, "kind": kind, "total": total, "salt": _SALTS[kind],
                                         "idle": IDLE[kind], "flatten": FLATTEN.get(kind, 1.0)})
            _analyze(conn, "seed_alloc")

            step("users, credentials, quotas, sessions, API keys")
            insert("public.users", _INSERT_USERS)
            insert("auth.credentials", _INSERT_CREDENTIALS)
            insert("public.audit_log", _INSERT_SIGNUPS)
            insert("public.quotas", _INSERT_QUOTAS)
            insert("public.sessions", _INSERT_SESSIONS)
            insert("public.audit_log", _INSERT_SESSION_AUDIT)
            insert("public.api_keys", _INSERT_API_KEYS)
            insert("public.audit_log", _INSERT_API_KEY_AUDIT)

            step(f"{totals['generations']:,} generations with their jobs, events, media, usage, webhooks")
            insert("public.generations", _INSERT_GENERATIONS)
            insert("public.jobs", _INSERT_GENERATION_JOBS)
            insert("public.generation_events", _INSERT_GENERATION_EVENTS)
            insert("public.media_objects", _INSERT_GENERATION_MEDIA)
            insert("public.api_usage", _INSERT_GENERATION_USAGE)
            insert("public.webhook_deliveries", _INSERT_WEBHOOKS)

            step(f"{totals['datasets']:,} datasets with images and training runs; notifications; shares")
            conn.execute(_DATASETS, params)
            _analyze(conn, "seed_datasets")
            insert("public.datasets", _INSERT_DATASETS)
            insert("public.media_objects", _INSERT_DATASET_MEDIA)
            insert("public.dataset_images", _INSERT_DATASET_IMAGES)
            insert("public.training_jobs", _INSERT_TRAINING_JOBS)
            insert("public.trained_models", _INSERT_TRAINED_MODELS)
            insert("public.user_notifications", _INSERT_NOTIFICATIONS)
            conn.execute(_CONVERSATIONS, params)
            _analyze(conn, "seed_conversations")
            insert("public.shared_content", _INSERT_SHARES)
            insert("public.audit_log", _INSERT_SHARE_AUDIT)

            # Messages take the rest: each conversation also brings itself and one
            # usage record.
            conversations = _count(conn, "seed_conversations")
            rest = rows - sum(counts.values()) - 2 * conversations
            base = 1 if rest >= conversations else 0
            extra = max(rest - base * conversations, 0)
            if rest < conversations:
                notes.append(f"--rows {rows:,} leaves too little for messages: some conversations are empty")
            step(f"{conversations:,} conversations with {base * conversations + extra:,} messages")
            conn.execute(_THREADS, {**params, "base": base, "extra": extra})
            _analyze(conn, "seed_threads")
            insert("public.conversations", _INSERT_CONVERSATIONS)
            insert("public.messages", _INSERT_MESSAGES)
            insert("public.api_usage", _INSERT_CHAT_USAGE)
            heavy = conn.execute("SELECT id FROM seed_users WHERE rank = 1").fetchone()
            assert heavy is not None
        inserted = time.monotonic()

        # Outside the transaction (VACUUM cannot run in one): statistics for the
        # planner, and the visibility map a settled database has.
        step("VACUUM (ANALYZE)")
        conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(
            sql.SQL(", ").join(sql.Identifier(*table.split(".")) for table in TABLES)))
    finished = time.monotonic()
    return SeedReport(seed=seed, users=users, rows=counts,
                      seconds={"insert": inserted - started, "vacuum": finished - inserted},
                      heavy_user_id=heavy[0], heavy_user_email=seed_email(seed, 1), anchor=anchor, notes=notes)


def _preflight(conn: psycopg.Connection[Any], seed: int) -> None:
    row = conn.execute("SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user").fetchone()
    if not row or not row[0]:
        raise SeedError("the seed needs a superuser login (row-level security is forced on every table): "
                        "the embedded cluster's, or --admin-url for an external cluster")
    found = conn.execute("SELECT pg_catalog.to_regclass('public.alembic_version') IS NOT NULL").fetchone()
    revision = conn.execute("SELECT version_num FROM public.alembic_version").fetchone() if found and found[0] else None
    head = migrate.head_revision()
    if revision is None or revision[0] != head:
        raise SeedError(f"the database is at revision {revision[0] if revision else 'base'}, not at head ({head}): "
                        "run `studio db upgrade` first")
    taken = conn.execute("SELECT count(*) FROM public.users WHERE email = %s", (seed_email(seed, 1),)).fetchone()
    if taken and taken[0]:
        raise SeedError(f"seed {seed} is already in this database ({seed_email(seed, 1)} exists): "
                        "choose another --seed")


def _catalog_models(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """The chat model conversations use (the seed catalog's) and the base model of
    training runs."""
    chat = conn.execute("SELECT id, provider, provider_model FROM public.model_registry"
                        " WHERE enabled AND type = 'chat' ORDER BY slug = 'dev-seed-openai-chat' DESC, slug"
                        " LIMIT 1").fetchone()
    image = conn.execute("SELECT id FROM public.model_registry WHERE enabled AND type = 'image'"
                         " ORDER BY slug LIMIT 1").fetchone()
    return {"chat_model": chat[0] if chat else None, "chat_provider": chat[1] if chat else "openai",
            "chat_model_name": chat[2] if chat else "gpt-4o-mini", "base_model": image[0] if image else None}


def _count(conn: psycopg.Connection[Any], temp_table: str) -> int:
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(temp_table))).fetchone()
    return int(row[0]) if row else 0


def _analyze(conn: psycopg.Connection[Any], temp_table: str) -> None:
    """Statistics for a working table, so the statements joining it get sensible plans."""
    conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(temp_table)))
