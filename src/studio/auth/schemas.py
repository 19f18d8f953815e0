"""Accounts API shapes. Limits match the database's CHECK constraints (F16)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, EmailStr, Field, field_validator

from studio.http.schemas import RequestBody

EMAIL_MAX = 254
PASSWORD_MIN, PASSWORD_MAX = 10, 128  # argon2 hashes any length; the cap bounds the work
DISPLAY_NAME_MAX = 100
KEY_NAME_MAX = 100

# A password being set (sign-up, password change): one rule wherever a password is chosen.
NewPassword = Annotated[str, Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)]


class Credentials(RequestBody):
    email: EmailStr = Field(max_length=EMAIL_MAX)
    password: str = Field(min_length=1, max_length=PASSWORD_MAX)

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class SignupRequest(Credentials):
    password: NewPassword
    display_name: str | None = Field(default=None, min_length=1, max_length=DISPLAY_NAME_MAX)


TOTP_CODE_MAX = 16        # six digits, maybe spaced; anything longer is not a code
RECOVERY_CODE_MAX = 32    # 12 characters and their dashes


class LoginRequest(Credentials):
    totp_code: str | None = Field(None, min_length=1, max_length=TOTP_CODE_MAX,
                                  description="when two-factor authentication is on: the app's current code")
    recovery_code: str | None = Field(None, min_length=1, max_length=RECOVERY_CODE_MAX,
                                      description="instead of totp_code: one of the recovery codes, once each")


class TotpBegin(RequestBody):
    password: str = Field(min_length=1, max_length=PASSWORD_MAX, description="your password, again")


class TotpConfirm(RequestBody):
    code: str = Field(min_length=1, max_length=TOTP_CODE_MAX, description="the app's current six-digit code")


class TotpCheck(RequestBody):
    """Turning two-factor authentication off, or replacing the recovery codes."""
    password: str = Field(min_length=1, max_length=PASSWORD_MAX)
    code: str = Field(min_length=1, max_length=RECOVERY_CODE_MAX,
                      description="the app's current code, or one of the recovery codes")


class TotpSecret(BaseModel):
    secret: str = Field(description="base32, for typing into the authenticator app")
    uri: str = Field(description="otpauth://totp/... for a QR code or a phone's link handler")


class RecoveryCodes(BaseModel):
    recovery_codes: list[str] = Field(description="shown this once; each signs in once instead of a code")


class TotpStatus(BaseModel):
    enabled: bool
    recovery_codes_left: int
    required: bool = Field(description="you are an admin and this installation requires it")


SETUP_TOKEN_MAX = 128  # the token is 43 characters; anything much longer is not one


class SetupRequest(SignupRequest):
    """The first admin, by the one-time setup link: sign-up's rules plus the link's token."""

    token: str = Field(min_length=1, max_length=SETUP_TOKEN_MAX, description="the token of the setup link "
                       "(what follows #token= in /setup#token=...)")


class SetupLinkState(BaseModel):
    valid: bool


class ProfileUpdate(RequestBody):
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


class PasswordChange(RequestBody):
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


SIGNUP_NEXT = ("Log in with this email and password. If the email had an account already, nothing was "
               "changed and its owner was told.")


class SignupAccepted(BaseModel):
    """The answer to every valid sign-up, whether or not the email had an account."""
    email: str = Field(description="the email as stored (lower case)")
    next: str = Field(description="what to do now: log in with the same email and password")


class LoginResponse(BaseModel):
    user: User
    csrf_token: str
    expires_at: datetime


class MeResponse(BaseModel):
    user: User
    csrf_token: str | None = Field(None, description="present when authenticated by session cookie")


class ApiKeyCreate(RequestBody):
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
