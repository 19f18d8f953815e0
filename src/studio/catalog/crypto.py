"""Provider API keys at rest: Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`)
under a key that lives only in the processes' environment (STUDIO_CREDENTIALS_KEY),
never in the database, so a dump or a backup of it holds no usable key.

The setting is any random string of 32+ characters; the Fernet key is derived from it
with HKDF, so operators need not produce Fernet's own key format. A comma-separated
list rotates: the first encrypts, every one decrypts (MultiFernet), and re-saving a
connection re-encrypts it under the first.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_INFO = b"studio provider connection keys v1"


class CredentialsUnavailable(Exception):
    """No STUDIO_CREDENTIALS_KEY in this process: keys can be neither stored nor used."""


class UndecryptableKey(Exception):
    """The stored key was encrypted under a key this process does not have (rotated away)."""


def _fernet(secret: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


class CredentialCipher:
    def __init__(self, setting: str | None) -> None:
        secrets = [part.strip() for part in (setting or "").split(",") if part.strip()]
        self._fernet = MultiFernet([_fernet(s) for s in secrets]) if secrets else None

    @property
    def available(self) -> bool:
        return self._fernet is not None

    def encrypt(self, api_key: str) -> bytes:
        if self._fernet is None:
            raise CredentialsUnavailable(
                "STUDIO_CREDENTIALS_KEY is not set, so API keys cannot be stored encrypted; set it (any random "
                "string of 32+ characters) in the API's and the workers' environment and restart them")
        return self._fernet.encrypt(api_key.encode())

    def decrypt(self, token: bytes) -> str:
        if self._fernet is None:
            raise CredentialsUnavailable("STUDIO_CREDENTIALS_KEY is not set in this process")
        try:
            return self._fernet.decrypt(bytes(token)).decode()
        except InvalidToken:
            raise UndecryptableKey(
                "its API key was stored under another STUDIO_CREDENTIALS_KEY; enter the key again") from None


def last4(api_key: str) -> str:
    """What people see of a stored key: its last 4 characters (fewer of a very short key)."""
    return api_key[-4:] if len(api_key) >= 8 else api_key[-1:]
