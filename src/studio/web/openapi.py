"""Prints Studio's OpenAPI document: the web app's typed client is generated from it
(`web/scripts/api.mjs`), without a database or a running server."""

from __future__ import annotations

import json
import sys

from pydantic import SecretStr

from studio.app import create_app
from studio.config import Settings


def document() -> dict:
    settings = Settings(env="test", api_docs=True, secret_key=SecretStr("x" * 32))
    return create_app(settings, conninfo="").openapi()


if __name__ == "__main__":
    json.dump(document(), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
