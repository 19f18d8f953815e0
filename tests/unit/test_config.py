"""Settings: production refuses missing, short or placeholder secrets (F14)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from studio.config import Settings, SettingsError

STRONG = {"secret_key": "S" * 8 + "q9Lr2vXw7TzK4mNp8bYc3dFh6jGs5aQe",
          "owner_password": "Xr7pQ2mLw9sK4vNt", "api_password": "Bq8nV3cZk6wR1tYu",
          "worker_password": "Hj5gF2dS9aP7oIu3"}


def test_production_accepts_explicit_strong_secrets():
    settings = Settings(env="production", **STRONG)
    assert settings.secure_cookies is True


@pytest.mark.parametrize("missing", sorted(STRONG))
def test_production_refuses_a_missing_secret_where_it_is_needed(missing):
    values = {k: v for k, v in STRONG.items() if k != missing}
    settings = Settings(env="production", **values)  # e.g. the API is never given the owner's password
    with pytest.raises(SettingsError, match=f"STUDIO_{missing.upper()} is missing"):
        settings.require_secrets(*STRONG)
    settings.require_secrets(*(k for k in STRONG if k != missing))


def test_development_requires_nothing():
    Settings(env="development").require_secrets("secret_key", "api_password")


def test_production_refuses_short_and_placeholder_secrets():
    with pytest.raises(SettingsError, match="STUDIO_SECRET_KEY is shorter"):
        Settings(env="production", **(STRONG | {"secret_key": "tooshort"}))
    with pytest.raises(SettingsError, match="STUDIO_API_PASSWORD is a placeholder"):
        Settings(env="production", **(STRONG | {"api_password": "change-me-api-password"}))


def test_development_needs_no_secrets():
    settings = Settings(env="development")
    assert settings.embedded and settings.secure_cookies is False


def test_env_example_holds_placeholders_only():
    """Every secret in .env.example is refused by production mode."""
    text = (Path(__file__).parents[2] / ".env.example").read_text()
    values = dict(re.findall(r"^(STUDIO_[A-Z_]+)=(.*)$", text, flags=re.M))
    secrets = {k: v for k, v in values.items() if k.endswith(("PASSWORD", "SECRET_KEY"))}
    assert set(secrets) >= {"STUDIO_SECRET_KEY", "STUDIO_API_PASSWORD", "STUDIO_OWNER_PASSWORD",
                            "STUDIO_WORKER_PASSWORD"}
    for name, value in secrets.items():
        field = name.removeprefix("STUDIO_").lower()
        with pytest.raises(SettingsError):
            Settings(env="production", **(STRONG | {field: value}))


def test_behind_your_own_pgbouncer_listen_needs_a_direct_route():
    with pytest.raises(SettingsError, match="STUDIO_DIRECT_DATABASE_URL"):
        Settings(pgbouncer=True, database_url="postgresql://bouncer.internal:6432/studio")


def test_the_direct_route_keeps_the_login_and_replaces_the_address():
    settings = Settings(pgbouncer=True, database_url="postgresql://bouncer.internal:6432/studio",
                        direct_database_url="postgresql://db.internal:5433/studio")
    assert settings.prepared_statements is False
    pooled = settings.role_conninfo("studio_api", "pw-of-api")
    direct = conninfo_to_dict(settings.direct_conninfo(pooled))
    assert (direct["host"], direct["port"], direct["dbname"]) == ("db.internal", "5433", "studio")
    assert (direct["user"], direct["password"]) == ("studio_api", "pw-of-api")
    # Without a pooler there is one route, and statements may be prepared.
    plain = Settings(database_url="postgresql://db.internal:5433/studio")
    assert plain.prepared_statements is True
    assert plain.direct_conninfo(pooled) == pooled


def test_children_behind_the_embedded_pgbouncer_get_both_routes_and_one_password():
    from studio.launcher.deployment import Deployment

    deployment = Deployment(Settings(), "host=/run/studio port=5432 dbname=studio",
                            {"studio_api": "api-pw", "studio_worker": "worker-pw", "studio_owner": "owner-pw"},
                            "key", pooler_conninfo="host=/run/studio port=6432 dbname=studio")
    env = deployment.api_environment()
    assert env["STUDIO_DATABASE_URL"].endswith("port=6432 dbname=studio")
    assert env["STUDIO_DIRECT_DATABASE_URL"].endswith("port=5432 dbname=studio")
    assert env["STUDIO_PGBOUNCER"] == "true"
    assert env["STUDIO_API_PASSWORD"] == "api-pw" and "STUDIO_OWNER_PASSWORD" not in env
    worker = deployment.worker_environment()
    assert worker["STUDIO_WORKER_PASSWORD"] == "worker-pw" and "STUDIO_API_PASSWORD" not in worker
    assert worker["STUDIO_DIRECT_DATABASE_URL"] == env["STUDIO_DIRECT_DATABASE_URL"]
