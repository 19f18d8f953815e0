"""The live checks of `studio audit`: one function per audit finding (K1-K5, F1-F23,
../AUDIT_FINDINGS in docs/audit.md), each looking at the running installation itself:
the database catalog, the settings, the backup records, and the API over HTTP.

A check never trusts what the code is supposed to do; it asks the system. Each returns
a `Check` whose status is `pass`, `warn` (works, but not as production wants it),
`fail`, or `error` (could not be checked, which scores like a failure: an audit that
cannot see something must not call it fine).
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from uuid import uuid4

import httpx
import psycopg
from pydantic import BaseModel

from studio.audit import lints
from studio.config import Settings
from studio.db.connections import scalar

Status = Literal["pass", "warn", "fail", "error"]
Severity = Literal["critical", "high", "medium", "low"]

BACKUP_MAX_AGE = timedelta(hours=26)   # a nightly backup, plus slack for a long one
DRILL_MAX_AGE = timedelta(days=8)      # a weekly drill, plus a day
MAX_SHOWN = 6                          # problems listed per check; the rest are counted


@dataclass(frozen=True)
class Check:
    id: str            # the finding: K1-K5, F1-F24
    area: str          # a row of the security scorecard
    title: str
    severity: Severity
    status: Status
    detail: str
    action: str = ""   # what to do when it does not pass
    risk: str = ""     # what happens if it is left so

    def as_json(self) -> dict[str, str]:
        return {"id": self.id, "area": self.area, "title": self.title, "severity": self.severity,
                "status": self.status, "detail": self.detail, "action": self.action, "risk": self.risk}


@dataclass
class AuditTarget:
    """What the audit looks at. `conninfo` is a direct login that can read the catalog
    and call public.backup_status() (the owner's, from the CLI); `api_url` is the
    running API; `secrets` every configured secret value, to look for where it must
    never be."""

    settings: Settings
    conninfo: str
    api_url: str | None
    secrets: dict[str, str] = field(default_factory=dict)
    static_dir: Path = Path(__file__).resolve().parent.parent / "web" / "static"
    http_timeout: float = 10.0


def _listing(problems: list[str]) -> str:
    shown = "; ".join(problems[:MAX_SHOWN])
    return shown + (f"; and {len(problems) - MAX_SHOWN} more" if len(problems) > MAX_SHOWN else "")


class _Context:
    """One database connection and one HTTP client for all checks."""

    def __init__(self, target: AuditTarget, conn: psycopg.Connection[Any], http: httpx.Client | None) -> None:
        self.target = target
        self.settings = target.settings
        self.conn = conn
        self.http = http
        self._pages: dict[str, httpx.Response] = {}
        self.spec: Spec | None = None  # the check running now

    def operator_headers(self) -> dict[str, str]:
        """What the monitoring system sends: the metrics token, for /metrics and /readyz's
        details (production shows anonymous callers only ready or not)."""
        token = self.settings.metrics_token
        return {"authorization": f"Bearer {token.get_secret_value()}"} if token else {}

    def readiness(self) -> httpx.Response:
        return self.get("/readyz", headers=self.operator_headers()) if self.settings.metrics_token \
            else self.get("/readyz")

    def verdict(self, problems: list[str], ok: str, *, action: str, risk: str, warn_only: bool = False) -> Check:
        """pass with `ok` as the detail when nothing is wrong, else fail (or warn) listing the problems."""
        spec = self.spec
        assert spec is not None
        if not problems:
            return Check(spec.id, spec.area, spec.title, spec.severity, "pass", ok)
        return Check(spec.id, spec.area, spec.title, spec.severity, "warn" if warn_only else "fail",
                     _listing(problems), action, risk)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """A GET (or other method) against the running API; raises _Unreachable."""
        if self.http is None:
            raise _Unreachable("no API URL given (--url)")
        method = kwargs.pop("method", "GET")
        key = f"{method} {path}"
        if key in self._pages and not kwargs:
            return self._pages[key]
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise _Unreachable(f"the API at {self.target.api_url} did not answer {path}: "
                               f"{type(exc).__name__}") from exc
        if not kwargs:
            self._pages[key] = response
        return response


class _Unreachable(Exception):
    pass


@dataclass(frozen=True)
class Spec:
    """What a check is about: the finding, its scorecard area, and how much it weighs."""

    id: str
    area: str
    title: str
    severity: Severity


CheckFunction = Callable[["_Context"], Check]
_CHECKS: list[tuple[Spec, CheckFunction]] = []


def _check(id_: str, area: str, title: str, severity: Severity) -> Callable[[CheckFunction], CheckFunction]:
    def register(func: CheckFunction) -> CheckFunction:
        _CHECKS.append((Spec(id_, area, title, severity), func))
        return func
    return register


# --------------------------------------------------------------------------- K1, F5: row-level security


@_check("K1", "RLS Policies", "Row-level security enabled and forced on every table", "critical")
def rls_on_every_table(ctx: _Context) -> Check:
    tables = lints.tables(ctx.conn)
    problems = lints.rls_not_forced(ctx.conn) + lints.policies_without_rls(ctx.conn)
    if not tables:
        problems = ["no application tables found: is this Studio's database?"]
    return ctx.verdict(problems, f"all {len(tables)} tables: RLS enabled and forced",
                    action="ALTER TABLE ... ENABLE and FORCE ROW LEVEL SECURITY (in a migration)",
                    risk="any role with a grant reads and writes every row of the table")


@_check("F5", "RLS Policies", "Every command has a policy or no grant", "critical")
def policy_or_no_grant(ctx: _Context) -> Check:
    problems = lints.privileges_without_policy(ctx.conn, lints.CLIENT_ROLES + lints.SERVICE_ROLES)
    return ctx.verdict(problems,
                    f"{len(lints.tables(ctx.conn))} tables x 4 commands x 5 roles: a policy for every grant",
                    action="add the missing policy, or revoke the grant (explicit absence)",
                    risk="a command nobody decided about: denied today, open after the next careless policy")


@_check("K5", "RLS Policies", "No client policy or grant opens other users' rows", "critical")
def isolation_policies(ctx: _Context) -> Check:
    problems = (lints.always_true_write_policies(ctx.conn) + lints.always_true_read_policies(ctx.conn)
                + lints.client_grants_beyond_need(ctx.conn))
    count = lints.write_policy_count(ctx.conn)
    if count == 0:
        problems = ["no write policies for anon or authenticated at all"]
    return ctx.verdict(problems,
                    f"{count} write policies for anon/authenticated, none always true; no read policy shows every "
                    f"user's rows; no client grant beyond the {len(lints.needed_client_grants())} the API needs",
                    action="restrict the policy to the owner: USING/WITH CHECK (user_id = (SELECT auth.uid())); "
                           "REVOKE the grant the API does not need (src/studio/audit/client_grants.txt lists those "
                           "it does)",
                    risk="one user can read, change or delete another user's data")


@_check("F18", "Performance", "Policies evaluate auth.uid() once per statement", "medium")
def policy_performance(ctx: _Context) -> Check:
    bare, calls = lints.unwrapped_auth_calls(ctx.conn)
    problems = bare + lints.multiple_permissive_policies(ctx.conn)
    return ctx.verdict(problems,
                    f"{calls} auth.* calls in policies, all wrapped in a subselect; one permissive policy per "
                    f"role and command",
                    action="wrap as (SELECT auth.uid()); merge permissive policies", warn_only=True,
                    risk="policies evaluated per row: list queries slow down with table size")


# --------------------------------------------------------------------------- K2: SQL injection


_FSTRING_SQL = re.compile(r"""\.execute\(\s*f["']""")


@_check("K2", "SQL Injection", "Every query parameterized", "high")
def parameterized_queries(ctx: _Context) -> Check:
    problems = lints.dynamic_sql_built_from_strings(ctx.conn)
    package = Path(__file__).resolve().parent.parent
    for path in sorted(package.rglob("*.py")):
        text = path.read_text(errors="replace")
        for match in _FSTRING_SQL.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            problems.append(f"{path.relative_to(package.parent)}:{line}: SQL built with an f-string")
    return ctx.verdict(problems,
                    "no f-string SQL in the installed code; database functions quote what they splice",
                    action="pass values as parameters; compose identifiers with psycopg.sql",
                    risk="SQL injection")


# --------------------------------------------------------------------------- K3: schema


@_check("K3", "Schema", "Keys, timestamps and explicit ON DELETE everywhere", "medium")
def schema_shape(ctx: _Context) -> Check:
    problems = lints.tables_without_primary_key(ctx.conn) + lints.tables_without_created_at(ctx.conn)
    implicit = scalar(
        ctx.conn, """
        SELECT count(*) FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_namespace n ON n.oid = k.connamespace
         WHERE k.contype = 'f' AND n.nspname = ANY(%s) AND k.confdeltype = 'a'
        """, (list(lints.APP_SCHEMAS),))
    if implicit:
        problems.append(f"{implicit} foreign keys without an explicit ON DELETE")
    return ctx.verdict(problems,
                    "every table has a primary key and created_at; every foreign key says what a delete does",
                    action="add the key, the timestamp or ON DELETE CASCADE/RESTRICT/SET NULL in a migration",
                    risk="orphaned or ambiguous rows")


# --------------------------------------------------------------------------- F6: indexes


@_check("F6", "Performance", "Foreign keys indexed, no duplicate indexes", "medium")
def indexes(ctx: _Context) -> Check:
    unindexed, fks = lints.unindexed_foreign_keys(ctx.conn)
    problems = unindexed + lints.duplicate_indexes(ctx.conn)
    return ctx.verdict(problems,
                    f"all {fks} foreign keys indexed; no duplicate indexes",
                    action="CREATE INDEX CONCURRENTLY on the foreign key's columns; drop the duplicate",
                    risk="sequential scans on every parent delete and join; slower writes")


# --------------------------------------------------------------------------- F3, F4: roles and secrets


@_check("F4", "Privileges", "No runtime code path bypasses RLS", "critical")
def runtime_roles(ctx: _Context) -> Check:
    problems = lints.runtime_roles_bypassing_rls(ctx.conn) + lints.api_role_problems(ctx.conn)
    privileged = lints.privileged_logins(ctx.conn)
    where = {"postgres": "embedded cluster's superuser: CLI only (migrations' bootstrap, backups, drills, "
                         "PgBouncer's auth file)"}
    listing = "; ".join(f"{role} ({where.get(role, 'not used by Studio')})" for role in privileged)
    ok = ("no runtime role is SUPERUSER or BYPASSRLS; studio_api is NOINHERIT and may only become anon or "
          f"authenticated. Logins that bypass RLS: {listing or 'none'}; studio_owner (NOBYPASSRLS) runs "
          "migrations and `studio audit` (which stores its runs) from the CLI")
    return ctx.verdict(problems, ok,
                    action="ALTER ROLE ... NOSUPERUSER NOBYPASSRLS NOINHERIT; `studio db bootstrap` re-asserts it",
                    risk="the API or a worker reads and writes everything, whatever the policies say")


def _served_paths(ctx: _Context) -> Iterator[str]:
    yield from ("/", "/healthz", "/readyz", "/docs", "/redoc", "/openapi.json", "/metrics", "/v1/models",
                f"/s/{'x' * 32}", "/v1/me")
    static = ctx.target.static_dir
    if static.is_dir():
        for path in sorted(static.rglob("*")):
            if path.is_file():
                yield "/static/" + path.relative_to(static).as_posix()


@_check("F3", "Secrets", "No secret in any page, asset or response served", "critical")
def no_secret_served(ctx: _Context) -> Check:
    secrets = {name: value for name, value in ctx.target.secrets.items() if value and len(value) >= 8}
    problems: list[str] = []
    pages = 0
    for path in _served_paths(ctx):
        response = ctx.get(path)
        pages += 1
        body = response.content
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items()).encode()
        for name, value in secrets.items():
            if value.encode() in body or value.encode() in headers:
                problems.append(f"{path} ({response.status_code}) contains {name}")
    if not secrets:
        problems.append("no secrets known to look for")
    return ctx.verdict(problems,
                    f"{len(secrets)} configured secrets looked for in {pages} served pages, assets and "
                    f"responses: none found",
                    action="remove the secret from what is served, then rotate it",
                    risk="anyone who loads the page gets database or provider credentials")


@_check("F14", "Secrets", "Production mode and private secrets", "high")
def secret_hygiene(ctx: _Context) -> Check:
    settings = ctx.settings
    problems: list[str] = []
    warn = False
    if settings.env != "production":
        problems.append(f"STUDIO_ENV={settings.env}: production mode (which refuses generated, short and "
                        f"placeholder secrets) is off")
        warn = True
    secrets_file = settings.home_dir / "secrets.env"
    if settings.embedded and secrets_file.exists() and secrets_file.stat().st_mode & 0o077:
        problems.append(f"{secrets_file.name} is readable by others (mode {secrets_file.stat().st_mode & 0o777:o})")
        warn = False
    return ctx.verdict(problems,
                    "production mode: every secret set explicitly, long enough and not a placeholder",
                    action="set STUDIO_ENV=production with real secrets; chmod 600 secrets.env",
                    risk="default or leaked secrets", warn_only=warn)


# --------------------------------------------------------------------------- F1: backups


def _age(value: Any) -> timedelta | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(str(value)) if not isinstance(value, datetime) else value
    return datetime.now(UTC) - moment


@_check("F1", "Backup/Recovery", "Recent backups, archived WAL, a passing restore drill", "critical")
def backups(ctx: _Context) -> Check:
    settings = ctx.settings
    action = "run `studio backup create` and `studio backup drill`; see docs/operations/backup-and-restore.md"
    risk = "complete data loss if the server fails"
    if not settings.backup_enabled:
        return ctx.verdict(["STUDIO_BACKUP_ENABLED=false: Studio takes no backups"], "", action=action, risk=risk)
    # What the running API reports (public.backup_status(), through /readyz): the same
    # records the scheduler writes and the alerts read.
    status = _json(ctx.readiness()).get("checks", {}).get("backups") or {}
    problems: list[str] = []
    last_ok = _age(status.get("last_successful_backup_at"))
    if last_ok is None:
        problems.append("no successful backup recorded")
    elif last_ok > BACKUP_MAX_AGE:
        problems.append(f"the last successful backup is {last_ok.total_seconds() / 3600:.0f} h old "
                        f"(at most {BACKUP_MAX_AGE.total_seconds() / 3600:.0f} h)")
    last_backup = status.get("last_backup") or {}
    if last_backup.get("status") == "failed":
        problems.append("the last backup failed")
    drill = status.get("last_drill") or {}
    drill_age = _age(drill.get("finished_at"))
    if not drill:
        problems.append("no restore drill recorded")
    elif drill.get("status") != "succeeded":
        problems.append("the last restore drill failed")
    elif drill_age is not None and drill_age > DRILL_MAX_AGE:
        problems.append(f"the last restore drill is {drill_age.days} days old")
    archiver = ctx.conn.execute(
        "SELECT current_setting('archive_mode'), failed_count, last_failed_time, last_archived_time"
        "  FROM pg_catalog.pg_stat_archiver").fetchone()
    assert archiver is not None  # the view has one row
    mode, failed, last_failed, last_archived = archiver
    if mode == "off":
        problems.append("WAL archiving is off: no point-in-time recovery")
    elif last_failed is not None and (last_archived is None or last_failed > last_archived):
        problems.append(f"WAL archiving is failing ({failed} failures)")
    offsite = bool(settings.backup_s3_bucket)
    if not problems and not offsite:
        return ctx.verdict(["backups and drills are recent and WAL is archived, but only to this machine's disk"],
                           "", action="set STUDIO_BACKUP_S3_BUCKET (docs/operations/disaster-recovery.md)",
                           risk="a disk or machine loss takes the backups with it", warn_only=True)
    return ctx.verdict(problems,
                    f"last backup {last_ok.total_seconds() / 3600:.1f} h ago, drill passed "
                    f"{drill_age.days if drill_age else 0} days ago, WAL archived continuously, offsite copy in S3"
                    if last_ok is not None else "", action=action, risk=risk)


# --------------------------------------------------------------------------- F2: pooling


@_check("F2", "Connection Pooling", "Bounded pools, headroom on the server", "critical")
def pooling(ctx: _Context) -> Check:
    settings = ctx.settings
    max_connections = int(scalar(ctx.conn, "SHOW max_connections"))
    in_use = scalar(ctx.conn, "SELECT count(*) FROM pg_catalog.pg_stat_activity"
                              " WHERE backend_type = 'client backend'")
    problems = []
    api_total = settings.api_workers * settings.pool_max_size
    if api_total > max_connections // 4:
        problems.append(f"the API may open {api_total} connections (STUDIO_API_WORKERS={settings.api_workers} x "
                        f"STUDIO_POOL_MAX_SIZE={settings.pool_max_size}), more than a quarter of the "
                        f"server's {max_connections}: few instances exhaust it")
    if settings.pool_timeout > 30:
        problems.append(f"STUDIO_POOL_TIMEOUT={settings.pool_timeout:g} s: requests hang instead of getting 503")
    if in_use > 0.8 * max_connections:
        problems.append(f"{in_use} of {max_connections} server connections in use")
    how = ("through PgBouncer (transaction mode, no prepared statements, LISTEN direct)" if settings.pgbouncer
           else "direct (add PgBouncer with `studio up --pgbouncer` for many processes)")
    return ctx.verdict(problems,
                    f"pools of at most {settings.pool_max_size} per API process ({settings.api_workers} "
                    f"process{'es' if settings.api_workers > 1 else ''}), {settings.pool_timeout:g} s wait "
                    f"then 503; {in_use}/{max_connections} server connections in use; {how}",
                    action="lower STUDIO_POOL_MAX_SIZE, or run PgBouncer (docs/operations/connection-pooling.md)",
                    risk="the database refuses connections under load and the API fails")


# --------------------------------------------------------------------------- HTTP behaviour


@_check("K4", "Input Validation", "Bad input gets a clear 4xx and changes nothing", "high")
def input_validation(ctx: _Context) -> Check:
    problems = []
    bad_email = ctx.get("/v1/auth/signup", method="POST", json={"email": "not-an-email", "password": "x" * 12})
    if bad_email.status_code != 422 or "error" not in _json(bad_email):
        problems.append(f"an invalid sign-up answered {bad_email.status_code}, expected 422 with a JSON error")
    unknown = ctx.get("/v1/auth/login", method="POST", json={"email": "a@example.org", "password": "x" * 12,
                                                              "is_admin": True})
    if unknown.status_code != 422:
        problems.append(f"an unknown field was accepted ({unknown.status_code}): config keys are not whitelisted")
    limit = ctx.settings.max_body_bytes
    huge = ctx.get("/v1/auth/login", method="POST", content=b"{" + b" " * (limit + 1) + b"}",
                   headers={"content-type": "application/json"})
    if huge.status_code != 413:
        problems.append(f"a body over {limit} bytes answered {huge.status_code}, expected 413")
    return ctx.verdict(problems,
                    "invalid fields 422, unknown fields 422, oversized bodies 413, all as JSON errors",
                    action="validate with strict Pydantic models (extra='forbid') and a body size limit",
                    risk="malformed data in the database; memory exhaustion")


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


@_check("F16", "Input Validation", "Text length limits match between API and database", "medium")
def text_lengths(ctx: _Context) -> Check:
    from studio.auth.schemas import ApiKeyCreate, SignupRequest
    from studio.chat.schemas import ConversationCreate, MessageCreate
    from studio.generation.schemas import GenerationCreate

    pairs: list[tuple[type[BaseModel], str, str]] = [
             (SignupRequest, "email", "public.users"), (SignupRequest, "display_name", "public.users"),
             (ApiKeyCreate, "name", "public.api_keys"), (ConversationCreate, "title", "public.conversations"),
             (ConversationCreate, "system_prompt", "public.conversations"),
             (MessageCreate, "content", "public.messages"), (MessageCreate, "model", "public.messages"),
             (GenerationCreate, "prompt", "public.generations")]
    limits = lints.text_length_limits(ctx.conn)
    problems = []
    for model, field_name, table in pairs:
        api_max = next((m.max_length for m in model.model_fields[field_name].metadata
                        if getattr(m, "max_length", None) is not None), None)
        db_max = limits.get((table, field_name))
        if db_max is None:
            problems.append(f"{table}.{field_name}: no length CHECK in the database")
        elif api_max is None or api_max != db_max:
            problems.append(f"{table}.{field_name}: the API allows {api_max}, the database {db_max}")
    return ctx.verdict(problems, f"{len(pairs)} text fields: the API's max_length equals the database's CHECK",
                    action="align the Pydantic max_length and the CHECK constraint",
                    risk="requests that pass validation and then fail in the database with a 500")


@_check("F12", "XSS Protection", "CSRF token required on cookie-authenticated writes", "high")
def csrf(ctx: _Context) -> Check:
    forged = ctx.get("/v1/conversations", method="POST", json={"title": "forged"},
                     cookies={"studio_session": "audit-" + uuid4().hex})
    problems = []
    if forged.status_code != 403 or _json(forged).get("error", {}).get("code") != "csrf_failed":
        problems.append(f"a cookie-authenticated POST without X-CSRF-Token answered {forged.status_code}, "
                        f"expected 403 csrf_failed")
    if ctx.settings.env == "production" and not ctx.settings.secure_cookies:
        problems.append("session cookies are not Secure in production")
    return ctx.verdict(problems, "a cookie-authenticated write without the CSRF token is refused (403)",
                    action="require X-CSRF-Token on every unsafe method with a session cookie",
                    risk="another site makes a signed-in user's browser act for it")


@_check("F11", "XSS Protection", "Sanitized HTML and a strict Content Security Policy", "medium")
def content_security(ctx: _Context) -> Check:
    problems = []
    for path in ("/",):
        response = ctx.get(path)
        csp = response.headers.get("content-security-policy", "")
        if "default-src 'none'" not in csp and "default-src 'self'" not in csp:
            problems.append(f"{path} has no restrictive Content-Security-Policy")
    from studio.sharing import rendering
    if "script-src" in rendering.CONTENT_SECURITY_POLICY and "'unsafe-inline'" in rendering.CONTENT_SECURITY_POLICY:
        problems.append("share pages allow inline scripts")
    # What share pages render of a user's text, given the usual attacks.
    rendered = str(rendering.rich_text('<script>alert(1)</script><img src=x onerror="alert(1)">'
                                       '<a href="javascript:alert(1)">x</a>')).lower()
    if any(marker in rendered for marker in ("<script", "onerror", "javascript:")):
        problems.append("the share pages' sanitizer lets script through")
    return ctx.verdict(problems, "HTML pages send a default-src 'none' CSP; shared content is autoescaped and "
                              "sanitized with nh3",
                    action="set a restrictive CSP; sanitize user HTML with nh3", risk="stored XSS")


@_check("F13", "Abuse Protection", "Rate limits shared in Postgres, failing closed", "medium")
def rate_limits(ctx: _Context) -> Check:
    settings = ctx.settings
    problems = []
    if not settings.rate_limits_enabled:
        problems.append("STUDIO_RATE_LIMITS_ENABLED=false")
    fail_closed = settings.rate_limit_fail_closed if settings.rate_limit_fail_closed is not None \
        else settings.env == "production"
    if settings.env == "production" and not fail_closed:
        problems.append("rate limits fail open in production")
    exists = scalar(ctx.conn, "SELECT to_regprocedure('auth.rate_limit_hit(text, integer, integer)') IS NOT NULL"
                              )
    if not exists:
        problems.append("auth.rate_limit_hit is missing: limits cannot be shared between processes")
    return ctx.verdict(problems,
                    f"counted in Postgres for every process; {settings.rate_limit_generations_per_minute} "
                    f"generations and {settings.rate_limit_chat_per_minute} chats per user and minute",
                    action="STUDIO_RATE_LIMITS_ENABLED=true", risk="one client exhausts providers and quotas")


@_check("F15", "Webhooks", "Webhooks signed, timestamped and size-limited", "high")
def webhooks(ctx: _Context) -> Check:
    settings = ctx.settings
    problems = []
    configured = {name: value for name, value in (("replicate", settings.webhook_secret_replicate),
                                                  ("comfyui", settings.webhook_secret_comfyui)) if value}
    for name, value in configured.items():
        secret = value.get_secret_value()
        if not secret.startswith("whsec_") or len(secret) < 30:
            problems.append(f"STUDIO_WEBHOOK_SECRET_{name.upper()} is not a whsec_ secret of 24+ bytes")
    for name in ("replicate", "comfyui"):
        unsigned = ctx.get(f"/v1/webhooks/{name}", method="POST", json={"id": "audit"})
        if unsigned.status_code < 400:
            problems.append(f"an unsigned {name} webhook was accepted ({unsigned.status_code})")
    return ctx.verdict(problems,
                    f"unsigned webhooks refused; {len(configured)} providers with a signing secret "
                    "(the others answer 404)",
                    action="set STUDIO_WEBHOOK_SECRET_<PROVIDER> to the provider's whsec_ secret",
                    risk="forged provider results")


# --------------------------------------------------------------------------- F7, F23: monitoring and health


@_check("F7", "Monitoring", "Metrics, slow statements and error reporting", "high")
def monitoring(ctx: _Context) -> Check:
    settings = ctx.settings
    problems = []
    installed = scalar(ctx.conn, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension"
                                 " WHERE extname = 'pg_stat_statements')")
    if not installed:
        problems.append("pg_stat_statements is not installed")
    slow = scalar(ctx.conn, "SELECT current_setting('log_min_duration_statement')")
    if slow in ("-1", ""):
        problems.append("slow statements are not logged (log_min_duration_statement = -1)")
    headers = ctx.operator_headers()
    metrics = ctx.get("/metrics", headers=headers) if headers else ctx.get("/metrics")
    if metrics.status_code != 200 or b"studio_http_request_duration_seconds" not in metrics.content:
        problems.append(f"/metrics answered {metrics.status_code} without request metrics")
    elif settings.env == "production" and not settings.metrics_token:
        problems.append("/metrics answers anyone: set STUDIO_METRICS_TOKEN or firewall it")
    errors = "errors reported to Sentry" if settings.sentry_dsn else "no error reporting (STUDIO_SENTRY_DSN)"
    return ctx.verdict(problems,
                    f"/metrics serves request, pool, queue, backup and database figures; pg_stat_statements on; "
                    f"statements over {slow} logged; {errors}",
                    action="see docs/operations/monitoring.md", risk="slowness and failures found by users first")


@_check("F23", "Monitoring", "Health and readiness check their dependencies", "medium")
def health(ctx: _Context) -> Check:
    problems = []
    live = ctx.get("/healthz")
    if live.status_code != 200:
        problems.append(f"/healthz answered {live.status_code}")
    ready = ctx.readiness()
    checks = _json(ready).get("checks", {})
    if ready.status_code != 200:
        problems.append(f"/readyz answered {ready.status_code}: {checks}")
    elif checks.get("database") != "ok" or "migrations" not in checks:
        problems.append(f"/readyz does not check the database and migrations: {checks}")
    return ctx.verdict(problems,
                    "/healthz answers; /readyz checks the database, the migration revision and backups",
                    action="see docs/operations/monitoring.md", risk="traffic sent to an instance that cannot serve")


# --------------------------------------------------------------------------- F9: migrations


@_check("F9", "Migrations", "At head, every revision reversible", "high")
def migrations(ctx: _Context) -> Check:
    from alembic.script import ScriptDirectory

    from studio.db import migrate

    problems = []
    current = ctx.conn.execute("SELECT version_num FROM public.alembic_version").fetchone()
    head = migrate.head_revision()
    if current is None or current[0] != head:
        problems.append(f"the database is at {current[0] if current else 'base'}, the code at {head}: "
                        f"run `studio db upgrade`")
    scripts = ScriptDirectory.from_config(migrate._config())
    revisions = list(scripts.walk_revisions())
    for revision in revisions:
        downgrade = getattr(revision.module, "downgrade", None)
        body = inspect.getsource(downgrade) if downgrade else ""
        if "op." not in body:
            problems.append(f"revision {revision.revision} has no real downgrade")
    return ctx.verdict(problems,
                    f"at head ({head}); all {len(revisions)} revisions have a downgrade",
                    action="write the downgrade; `studio db upgrade`", risk="no way back from a bad deploy")


# --------------------------------------------------------------------------- F17, F20: storage and privacy


@_check("F17", "Storage", "Private storage with size and type limits", "medium")
def storage(ctx: _Context) -> Check:
    settings = ctx.settings
    problems = []
    if settings.max_upload_bytes > 1024 ** 3:
        problems.append(f"uploads up to {settings.max_upload_bytes / 1e9:.1f} GB")
    if settings.storage_backend == "local":
        root = settings.storage_dir or settings.home_dir / "storage"
        if root.exists() and root.stat().st_mode & 0o007:
            problems.append(f"the storage directory is accessible to everyone (mode {root.stat().st_mode & 0o777:o})")
    where = "S3" if settings.storage_backend == "s3" else "local files"
    return ctx.verdict(problems,
                    f"{where}, objects under the owner's id, served only through the API or short presigned "
                    f"URLs; uploads limited to {settings.max_upload_bytes / 1e6:.0f} MB",
                    action="lower STUDIO_MAX_UPLOAD_BYTES; chmod 700 the storage directory",
                    risk="other users' files readable; disk filled by one upload")


@_check("F20", "Privacy", "Export, erasure, retention and an audit log", "medium")
def privacy(ctx: _Context) -> Check:
    problems = []
    spec = _json(ctx.get("/openapi.json")).get("paths", {})
    if "get" not in spec.get("/v1/me/export", {}):
        problems.append("no data export (GET /v1/me/export)")
    if "delete" not in spec.get("/v1/me", {}):
        problems.append("no account deletion (DELETE /v1/me)")
    triggers = scalar(ctx.conn, "SELECT count(*) FROM pg_catalog.pg_trigger t"
                                " WHERE NOT t.tgisinternal AND t.tgname LIKE '%%audit%%'")
    if not triggers:
        problems.append("no audit triggers")
    if scalar(ctx.conn, "SELECT to_regproc('public.apply_retention') IS NULL"):
        problems.append("no retention function")
    return ctx.verdict(problems,
                    "users export and erase their data; retention runs hourly; security events are audited",
                    action="upgrade to the current migrations", risk="GDPR requests cannot be honoured")


def specs() -> list[Spec]:
    return [spec for spec, _ in _CHECKS]


def run_checks(target: AuditTarget) -> list[Check]:
    """Every check, each isolated: one that cannot run is reported as `error`, and the
    others still run."""
    results = []
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise here
    with psycopg.connect(target.conninfo, autocommit=True, connect_timeout=10) as conn, \
            httpx.Client(base_url=target.api_url or "http://invalid", timeout=target.http_timeout,
                         headers={"user-agent": "studio-audit"}, follow_redirects=False) as http:
        ctx = _Context(target, conn, http if target.api_url else None)
        for spec, func in _CHECKS:
            ctx.spec = spec
            try:
                results.append(func(ctx))
            except _Unreachable as exc:
                results.append(_error(spec, str(exc)))
            except psycopg.Error as exc:
                results.append(_error(spec, f"database error: {' '.join(str(exc).split())}"))
    return results


def _error(spec: Spec, reason: str) -> Check:
    return Check(spec.id, spec.area, spec.title, spec.severity, "error", f"could not check: {reason}",
                 "make it checkable (see the detail) and run the audit again", "unknown")
