"""Privacy API shapes."""

from __future__ import annotations

from pydantic import Field

from studio.auth.schemas import PASSWORD_MAX
from studio.http.schemas import RequestBody


class AccountDeletion(RequestBody):
    password: str = Field(min_length=1, max_length=PASSWORD_MAX,
                          description="your password, also when you call with an API key")
