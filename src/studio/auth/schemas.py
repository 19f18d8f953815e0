"""Accounts API shapes. Limits match the database's CHECK constraints (F16)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

EMAIL_MAX = 254
PASSWORD_MIN, PASSWORD_MAX = 10, 128  # argon2 hashes any length; the cap bounds the work
DISPLAY_NAME_MAX = 100
KEY_NAME_MAX = 100

# A password being set (sign-up, password change): one rule wherever a password is chosen.
NewPassword = Annotated[str, Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class Credentials(Strict):
    email: EmailStr = Field(max_length=EMAIL_MAX)
    password: str = Field(min_length=1, max_length=PASSWORD_MAX)

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class SignupRequest(Credentials):
    password: NewPassword
    display_name: str | None = Field(default=None, min_length=1, max_length=DISPLAY_NAME_MAX)


class LoginRequest(Credentials):
    pass


SETUP_TOKEN_MAX = 128  # the token is 43 characters; anything much longer is not one


class SetupRequest(SignupRequest):
    """The first admin, by the one-time setup link: sign-up's rules plus the link's token."""

    token: str = Field(min_length=1, max_length=SETUP_TOKEN_MAX, description="the token of the setup link "
                       "(what follows #token= in /setup#token=...)")


class SetupLinkState(BaseModel):
    valid: bool


class ProfileUpdate(Strict):
    display_name: str | None = Field(description=f"1 to {DISPLAY_NAME_MAX} characters once trimmed; null "
                                                 "removes it")

    @field_validator("display_name")
    @classmethod
    def _trimmed(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value:
            raise ValueError("display_name must not be blank; send null to remove it")
        if len(value) > DISPLAY_NAME_MAX:
            raise ValueError(f"display_name must be at most {DISPLAY_NAME_MAX} characters")
        return value


class PasswordChange(Strict):
    current_password: str = Field(min_length=1, max_length=PASSWORD_MAX,
                                  description="your password now, also when you call with an API key")
    new_password: NewPassword
    end_api_keys: bool = Field(False, description="also revoke every API key of yours (the one making this "
                                                  "request included), e.g. when the old password leaked with them")


class User(BaseModel):
    id: UUID
    email: str
    display_name: str | None
    role: str
    created_at: datetime | None = None


class UserEnvelope(BaseModel):
    user: User


class LoginResponse(BaseModel):
    user: User
    csrf_token: str
    expires_at: datetime


class MeResponse(BaseModel):
    user: User
    csrf_token: str | None = Field(None, description="present when authenticated by session cookie")


class ApiKeyCreate(Strict):
    name: str = Field(min_length=1, max_length=KEY_NAME_MAX)
    expires_at: datetime | None = None

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("expires_at needs a timezone, e.g. 2030-01-01T00:00:00Z")
        if value is not None and value <= datetime.now(UTC):
            raise ValueError("expires_at is in the past: a key would be born expired")
        return value


class ApiKey(BaseModel):
    id: UUID
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None


class ApiKeyCreated(BaseModel):
    api_key: ApiKey
    key: str = Field(description="the secret, shown this once only")


class ApiKeyPage(BaseModel):
    items: list[ApiKey]
    next_cursor: str | None


class AuditEvent(BaseModel):
    id: UUID
    event: str
    created_at: datetime
    ip: str | None = Field(description="the client address the request came from")
    user_agent: str | None
    details: dict[str, Any]


class AuditEventPage(BaseModel):
    items: list[AuditEvent]
    next_cursor: str | None
