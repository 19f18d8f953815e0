"""Settings: the one home of every `STUDIO_*` variable.

Two ways to reach a database:

* embedded (default): no `STUDIO_DATABASE_URL`; Studio runs its own cluster in
  `$STUDIO_HOME/pg` and generates a password per role into `$STUDIO_HOME/secrets.env`;
* external: `STUDIO_DATABASE_URL` names host, port and database, and each process gets
  only the password of the role it connects as (`STUDIO_API_PASSWORD` for the API, ...).

Production mode (`STUDIO_ENV=production`) refuses generated, default or placeholder
secrets (F14): an operator sets each one deliberately.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Literal

from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Role names are part of the schema (grants and policies name them), so they are fixed.
OWNER_ROLE = "studio_owner"
API_ROLE = "studio_api"
WORKER_ROLE = "studio_worker"

# Values that only ever appear in examples; a production secret must not look like one.
PLACEHOLDER_MARKERS = ("change-me", "changeme", "placeholder", "example", "secret", "password")


SECRET_MINIMUM_LENGTHS = {"secret_key": 32, "credentials_key": 32, "superuser_password": 16, "owner_password": 16,
                          "api_password": 16, "worker_password": 16, "backup_cipher_pass": 32,
                          "metrics_token": 16}
_HOW_TO_GENERATE = " (generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')"


class SettingsError(Exception):
    """A setting is missing or unsafe; the message says which and why. Not a ValueError,
    so pydantic lets it through unwrapped and the operator sees just this message."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="STUDIO_", env_file=".env", extra="ignore", frozen=True
    )

    env: Literal["development", "test", "production"] = "development"
    home: Path = Path(".studio")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)

    # Database. Empty database_url means the embedded cluster.
    database_url: str | None = None
    db_name: str = "studio"
    # Embedded cluster only: the bootstrap superuser (generated in development).
    superuser_password: SecretStr | None = None
    owner_password: SecretStr | None = None
    api_password: SecretStr | None = None
    worker_password: SecretStr | None = None
    pg_port: int = Field(5432, ge=1, le=65535)
    pg_listen_tcp: bool = False

    # /docs (Swagger UI, served offline) and /openapi.json: on unless production, where
    # STUDIO_API_DOCS=true turns them on.
    api_docs: bool | None = None

    # Signs CSRF tokens; sessions and API keys are random and stored hashed.
    secret_key: SecretStr | None = None
    # Encrypts provider connections' API keys in the database (catalog/crypto.py): any
    # random string of 32+ characters, the same in every API and worker process;
    # comma-separated to rotate (the first encrypts, all decrypt). Embedded development
    # generates one into secrets.env.
    credentials_key: SecretStr | None = None

    # API processes (`studio api`, `studio up`): one per core the API may use is a good
    # start. Each has its own pool, so the API opens up to api_workers x pool_max_size.
    api_workers: int = Field(1, ge=1, le=64)
    # The HTTP server those processes run: uvicorn, or granian (pip install 'studio[granian]'),
    # which needed less CPU per request for the same app (bench/results/load.md, decision 0007).
    api_server: Literal["uvicorn", "granian"] = "uvicorn"

    # Pools (F2): bounded per process; a request waits at most pool_timeout for a connection.
    # Sizing: docs/operations/connection-pooling.md.
    pool_min_size: int = Field(1, ge=0)
    pool_max_size: int = Field(10, ge=1)
    pool_timeout: float = Field(5.0, gt=0)

    # PgBouncer in transaction pooling mode (F2). Embedded: Studio runs one in front of
    # its cluster (`studio up --pgbouncer` sets this). External: set it when
    # STUDIO_DATABASE_URL leads to a PgBouncer, and give STUDIO_DIRECT_DATABASE_URL (the
    # PostgreSQL server itself) for what a transaction pooler cannot carry: LISTEN.
    pgbouncer: bool = False
    direct_database_url: str | None = None
    pgbouncer_port: int = Field(6432, ge=1, le=65535)       # embedded: its socket (and TCP port)
    pgbouncer_pool_size: int = Field(20, ge=1)              # embedded: server connections, at most
    pgbouncer_max_client_conn: int = Field(2000, ge=10)     # embedded: client connections, at most

    # HTTP
    max_body_bytes: int = Field(1_048_576, ge=1024)
    session_ttl_hours: int = Field(24 * 14, ge=1)
    cookie_secure: bool | None = None  # default: True in production
    # Login throttle (docs/decisions/0011-login-throttling.md), in fixed windows. A
    # lockout until the window ends applies per client only: one email from one address
    # (login_max_failures), or one address whatever the email (login_client_max_failures).
    # An account only slows down: from login_delay_after failures of its email from
    # anywhere, each attempt waits 1, 2, 4 ... at most login_delay_max_seconds after the
    # last failure, except from an address where the account has a live session.
    login_max_failures: int = Field(10, ge=1)
    login_client_max_failures: int = Field(50, ge=1)
    login_delay_after: int = Field(5, ge=1)
    login_delay_max_seconds: int = Field(60, ge=1, le=3600)
    login_window_seconds: int = Field(900, ge=1)
    # Behind a reverse proxy: its addresses or networks, comma-separated (e.g.
    # "127.0.0.1,10.0.0.0/8"). The client's address is then taken from X-Forwarded-For of
    # requests from these only; without it every client looks like the proxy, and the
    # per-client login lockout locks everyone behind it out together.
    trusted_proxies: str | None = None
    # Two-factor authentication (TOTP) is for every account to turn on; with this, an admin
    # must have it on before any admin endpoint answers them (403 until then).
    admin_totp_required: bool = False
    # GET /metrics answers aggregates only, to anyone who can reach it; with a token set
    # it requires `Authorization: Bearer <token>`. In production set it, or firewall the port.
    metrics_token: SecretStr | None = None

    # Request rate limits (F13): fixed windows counted in Postgres (auth.rate_limit_hit), so
    # every API process and instance shares them. Per user; sign-ups per client address.
    rate_limits_enabled: bool = True
    rate_limit_fail_closed: bool | None = None  # default: True in production (503 if the check fails)
    rate_limit_generations_per_minute: int = Field(30, ge=1)
    rate_limit_chat_per_minute: int = Field(20, ge=1)
    rate_limit_uploads_per_minute: int = Field(30, ge=1)
    rate_limit_signups_per_window: int = Field(5, ge=1)
    rate_limit_signup_window_seconds: int = Field(600, ge=1)

    # Storage (F17): local files under $STUDIO_HOME/storage, or any S3-compatible store.
    storage_backend: Literal["local", "s3"] = "local"
    storage_dir: Path | None = None
    s3_endpoint_url: str | None = None      # e.g. a MinIO/Ceph/R2 URL; None = AWS
    s3_region: str = "us-east-1"
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_bucket_prefix: str = "studio-"       # buckets <prefix>media and <prefix>attachments
    s3_presign_seconds: int = Field(300, ge=10, le=3600)
    max_upload_bytes: int = Field(50 * 1024 * 1024, ge=1)
    max_result_bytes: int = Field(1024 * 1024 * 1024, ge=1)
    # Datasets (docs/training.md): how many a user keeps, and images per dataset. Bytes
    # count against the user's storage quota (quotas.storage_bytes, 5 GiB by default).
    max_datasets: int = Field(100, ge=1)
    max_dataset_images: int = Field(2000, ge=1, le=100000)
    max_active_trainings: int = Field(1, ge=1, le=100)  # training runs queued or running at once, per user

    # Providers: every external call has a timeout and a bounded retry budget.
    provider_timeout: float = Field(60.0, gt=0)
    provider_max_retries: int = Field(3, ge=0, le=10)
    # Connections are managed at runtime by admins (/v1/admin/connections). These
    # variables only seed one connection each on the first start that sees them
    # (docs/providers.md); afterwards the admin's settings count.
    openai_base_url: str | None = None      # OpenAI, vLLM, Ollama, llama.cpp: anything OpenAI-compatible
    openai_api_key: SecretStr | None = None
    replicate_base_url: str = "https://api.replicate.com/v1"
    replicate_api_token: SecretStr | None = None
    replicate_poll_seconds: float = Field(2.0, gt=0)
    # With a webhook URL the webhook ends the wait; polls are only the fallback.
    replicate_poll_seconds_with_webhook: float = Field(15.0, gt=0)
    replicate_max_wait_seconds: float = Field(900.0, gt=0)
    # Hosted LoRA training: how often a run is polled (a webhook wakes it sooner), and
    # how long it may take before the run fails and its training is cancelled.
    replicate_training_poll_seconds: float = Field(10.0, gt=0)
    replicate_training_max_seconds: float = Field(24 * 3600.0, gt=0)
    elevenlabs_base_url: str = "https://api.elevenlabs.io"
    elevenlabs_api_key: SecretStr | None = None
    comfyui_base_url: str | None = None
    comfyui_max_wait_seconds: float = Field(900.0, gt=0)
    # Local generation with diffusers on the worker's device (the `local` extra; docs/providers.md).
    # A model's upstream name is a directory under models_dir (default <home>/models), or a
    # model hub name such as org/name when hub downloads are allowed and the host is online.
    models_dir: Path | None = None
    local_device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    local_idle_seconds: float = Field(600.0, ge=0)   # the resident pipeline is unloaded after this
    local_models_from_hub: bool = True
    # Where the admins' Connections page looks for a running Ollama to offer.
    ollama_probe_url: str = "http://127.0.0.1:11434"
    # Where providers send webhooks, e.g. https://studio.example.org/v1/webhooks/replicate.
    replicate_webhook_url: str | None = None
    # Webhook signing secrets as the provider shows them (`whsec_<base64>`). Unset: that
    # provider's webhooks answer 404; there is no unsigned mode (F15).
    webhook_secret_replicate: SecretStr | None = None
    webhook_secret_comfyui: SecretStr | None = None

    # Logs: one JSON object per line, or text for a person; default: JSON unless stderr
    # is a terminal. Errors go to Sentry (or any Sentry-compatible service, e.g.
    # GlitchTip) when a DSN is set (needs the `sentry` extra: pip install 'studio[sentry]').
    log_format: Literal["json", "text"] | None = None
    # `studio up` appends its log lines, and those of the processes it starts, to
    # $STUDIO_HOME/logs/studio.log and keeps the terminal for a few plain sentences; true
    # (or `studio up --log-json`) writes the log lines to standard output instead.
    log_stdout: bool = False
    # `studio -v ...` sets debug for that command and every process it starts.
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    sentry_dsn: SecretStr | None = None

    # Workers: a job is leased for this long after each heartbeat (heartbeats every third).
    worker_lease_seconds: float = Field(30.0, ge=3, le=3600)
    # The node a worker registers as (public.node_resources; default: the host's name).
    # Worker processes of one node share its row: give each install its own name when
    # one host runs workers with different extras.
    worker_node: str | None = Field(None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

    # Retention (F20): shares are deleted this long after they expired or were revoked;
    # uploads that no dataset or model uses are deleted after upload_orphan_days.
    share_retention_days: int = Field(30, ge=0)
    upload_orphan_days: int = Field(7, ge=1)

    # Backups (F1) of the embedded cluster with pgBackRest: continuous WAL archiving
    # (a WAL segment is archived at least every archive_timeout seconds: the RPO) and
    # base backups, into a local repository and, when a bucket is set, an S3 one.
    backup_enabled: bool = True
    backup_repo_path: Path | None = None            # default: next to the cluster, <pg>/backups
    backup_archive_timeout: int = Field(60, ge=1, le=3600)
    backup_retention_full: int = Field(4, ge=1)     # full backups kept: 4 weekly ones
    backup_retention_diff: int = Field(7, ge=1)     # differential backups kept: 7 daily ones
    backup_s3_bucket: str | None = None
    backup_s3_endpoint: str = "s3.amazonaws.com"    # host[:port] of any S3-compatible store
    backup_s3_region: str = "us-east-1"
    backup_s3_path: str = "/studio"
    backup_s3_uri_style: Literal["host", "path"] = "host"
    backup_s3_access_key_id: SecretStr | None = None
    backup_s3_secret_access_key: SecretStr | None = None
    backup_s3_ca_file: Path | None = None           # a private CA for the store's TLS certificate
    backup_s3_verify_tls: bool = True
    # The S3 repository is always encrypted (aes-256-cbc) with this passphrase. Lose it
    # and the offsite backups are unreadable: keep a copy outside this machine.
    backup_cipher_pass: SecretStr | None = None
    # The scheduler: a backup every night at this hour (UTC), a full one on
    # backup_full_weekday (0 = Monday) and differential ones otherwise; a restore drill
    # after the backup on backup_drill_weekday.
    backup_hour_utc: int = Field(3, ge=0, le=23)
    backup_full_weekday: int = Field(6, ge=0, le=6)
    backup_drill_weekday: int = Field(6, ge=0, le=6)

    @model_validator(mode="after")
    def _listen_has_a_direct_route(self) -> Settings:
        if self.pgbouncer and self.database_url and not self.direct_database_url:
            raise SettingsError(
                "STUDIO_PGBOUNCER needs STUDIO_DIRECT_DATABASE_URL (host, port and database of the "
                "PostgreSQL server itself): LISTEN, behind event streams and worker wake-ups, "
                "cannot go through transaction pooling")
        return self

    @model_validator(mode="after")
    def _production_secrets_are_real(self) -> Settings:
        """Every secret given in production must be a real one. Which secrets must be
        present depends on the process (the API is never given the owner's password),
        so presence is checked by require_secrets() where each is used."""
        problems = self._secret_problems(SECRET_MINIMUM_LENGTHS, required=False)
        if problems:
            raise SettingsError("production mode refuses to start: " + "; ".join(problems) + _HOW_TO_GENERATE)
        return self

    def require_secrets(self, *names: str) -> None:
        """In production, refuse to go on unless each named secret was set explicitly."""
        problems = self._secret_problems(names, required=True)
        if problems:
            raise SettingsError("production mode refuses to start: " + "; ".join(problems) + _HOW_TO_GENERATE)

    def _secret_problems(self, names: Iterable[str], *, required: bool) -> list[str]:
        if self.env != "production":
            return []
        problems = []
        for name in names:
            value: SecretStr | None = getattr(self, name)
            secret = value.get_secret_value() if value is not None else ""
            if not secret:
                if required:
                    problems.append(f"STUDIO_{name.upper()} is missing")
            elif len(secret) < SECRET_MINIMUM_LENGTHS[name]:
                problems.append(f"STUDIO_{name.upper()} is shorter than {SECRET_MINIMUM_LENGTHS[name]} characters")
            elif any(marker in secret.lower() for marker in PLACEHOLDER_MARKERS):
                problems.append(f"STUDIO_{name.upper()} is a placeholder value")
        return problems

    @property
    def media_recovery_seconds(self) -> float:
        """How long a deleted file stays recoverable (retired, not deleted): as far back
        as the oldest kept backup reaches (weekly full backups), plus a day. 0 without
        backups: deleted files go at once."""
        return float((self.backup_retention_full * 7 + 1) * 86400) if self.backup_enabled else 0.0

    @property
    def embedded(self) -> bool:
        return not self.database_url

    @property
    def docs_enabled(self) -> bool:
        return self.env != "production" if self.api_docs is None else self.api_docs

    @property
    def secure_cookies(self) -> bool:
        return self.env == "production" if self.cookie_secure is None else self.cookie_secure

    @cached_property
    def home_dir(self) -> Path:
        return self.home.expanduser().resolve()

    def role_conninfo(self, role: str, password: SecretStr | str | None, *, dbname: str | None = None,
                      base: str | None = None) -> str:
        """Connection string for one role: the external URL's host/port/db plus that role's
        credentials. `base` lets the embedded launcher supply its socket instead."""
        params = conninfo_to_dict(base or self.database_url or "")
        params["user"] = role
        if password is not None:
            params["password"] = password.get_secret_value() if isinstance(password, SecretStr) else password
        params["dbname"] = dbname or params.get("dbname") or self.db_name
        params.setdefault("application_name", f"studio:{role}")
        return make_conninfo("", **params)


    @property
    def prepared_statements(self) -> bool:
        """Server-side prepared statements (psycopg prepares a query after its 5th run):
        not through PgBouncer 1.18 in transaction mode, which does not track them."""
        return not self.pgbouncer

    def direct_conninfo(self, conninfo: str) -> str:
        """The same login as `conninfo`, but straight to the PostgreSQL server: for LISTEN
        and session-level locks. Without a pooler in between that is `conninfo` itself."""
        if not self.direct_database_url:
            return conninfo
        params = conninfo_to_dict(conninfo)
        params.update({k: v for k, v in conninfo_to_dict(self.direct_database_url).items()
                       if k not in ("user", "password")})
        return make_conninfo("", **params)
