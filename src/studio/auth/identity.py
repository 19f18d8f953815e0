"""Who is asking: the credential a client presented, the user the database resolved it
to, and the request's context. Plain values, shared by the data layer and the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from uuid import UUID

CredentialKind = Literal["session", "api_key"]


@dataclass(frozen=True, slots=True)
class Credential:
    """What a client presented: the SHA-256 of a session token or an API key."""

    kind: CredentialKind
    token_hash: bytes
    via_cookie: bool


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Recorded with security events (audit_log) and visible to the database."""

    request_id: str
    client_ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class CurrentUser:
    id: UUID
    role: str
    email: str
    display_name: str | None
    session_id: UUID | None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class Unauthenticated(Exception):
    """The credential is unknown, expired, revoked or logged out."""
