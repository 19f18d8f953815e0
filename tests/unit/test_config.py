"""Settings: production refuses missing, short or placeholder secrets (F14)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

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
