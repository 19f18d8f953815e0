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
    owner_password: SecretStr | None = None
    api_password: SecretStr | None = None
    worker_password: SecretStr | None = None
    pg_port: int = Field(5432, ge=1, le=65535)
    pg_listen_tcp: bool = False

    # Signs CSRF tokens; sessions and API keys are random and stored hashed.
    secret_key: SecretStr | None = None

    # Pools (F2): bounded per process; a request waits at most pool_timeout for a connection.
    pool_min_size: int = Field(1, ge=0)
    pool_max_size: int = Field(10, ge=1)
    pool_timeout: float = Field(5.0, gt=0)

    # HTTP
    max_body_bytes: int = Field(1_048_576, ge=1024)
    session_ttl_hours: int = Field(24 * 14, ge=1)
    cookie_secure: bool | None = None  # default: True in production
    login_max_failures: int = Field(10, ge=1)  # per email, and x5 per client address
    login_window_seconds: int = Field(900, ge=1)

    @model_validator(mode="after")
    def _production_is_explicit(self) -> Settings:
        if self.env != "production":
            return self
        problems = []
        for name in ("secret_key", "api_password", "owner_password", "worker_password"):
            value: SecretStr | None = getattr(self, name)
            minimum = 32 if name == "secret_key" else 16
            if value is None or not value.get_secret_value():
                problems.append(f"STUDIO_{name.upper()} is missing")
            elif len(value.get_secret_value()) < minimum:
                problems.append(f"STUDIO_{name.upper()} is shorter than {minimum} characters")
            elif any(m in value.get_secret_value().lower() for m in PLACEHOLDER_MARKERS):
                problems.append(f"STUDIO_{name.upper()} is a placeholder value")
        if problems:
            raise SettingsError(
                "production mode refuses to start: " + "; ".join(problems)
                + " (generate secrets with: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        return self

    @property
    def embedded(self) -> bool:
        return not self.database_url

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
        return make_conninfo(**params)


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
