"""`studio audit`: the production readiness report of a running installation (F24).

`checks` asks the live system (catalog, settings, backup records, the API over HTTP)
about every audit finding; `lints` holds the catalog queries, shared with the test
suite; `report` computes the score and renders the executive summary.
"""

from __future__ import annotations

from pydantic import SecretStr

from studio.config import Settings


def configured_secrets(settings: Settings, extra: dict[str, str | None] | None = None) -> dict[str, str]:
    """Every secret this installation knows, by setting name: what must never be served."""
    found = {f"STUDIO_{name.upper()}": value.get_secret_value()
             for name, value in settings if isinstance(value, SecretStr) and value.get_secret_value()}
    found.update({name: value for name, value in (extra or {}).items() if value})
    return found
