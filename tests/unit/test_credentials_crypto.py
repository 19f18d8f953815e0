"""Provider API keys at rest (catalog/crypto.py): Fernet under a key derived from
STUDIO_CREDENTIALS_KEY, rotated by listing the new key first."""

from __future__ import annotations

import base64

import pytest

from studio.catalog.crypto import CredentialCipher, CredentialsUnavailable, UndecryptableKey, last4

KEY_A = "a" * 32 + "-first-credentials-key"
KEY_B = "b" * 32 + "-second-credentials-key"
API_KEY = "sk-live-PLAINTEXT-7d3e9a1c5b"


def test_round_trip():
    cipher = CredentialCipher(KEY_A)
    assert cipher.available
    assert cipher.decrypt(cipher.encrypt(API_KEY)) == API_KEY
    # Another process with the same setting reads what this one stored.
    assert CredentialCipher(KEY_A).decrypt(cipher.encrypt(API_KEY)) == API_KEY


def test_each_ciphertext_is_fresh_and_hides_the_key():
    cipher = CredentialCipher(KEY_A)
    tokens = [cipher.encrypt(API_KEY) for _ in range(5)]
    assert len(set(tokens)) == len(tokens)  # a random IV each time: equal keys are not seen as equal
    for token in tokens:
        assert API_KEY.encode() not in token
        assert API_KEY.encode() not in base64.urlsafe_b64decode(token)  # not even inside the Fernet envelope
        assert b"PLAINTEXT" not in base64.urlsafe_b64decode(token)


def test_rotation_decrypts_the_old_and_encrypts_under_the_new():
    old_token = CredentialCipher(KEY_A).encrypt(API_KEY)
    rotated = CredentialCipher(f"{KEY_B}, {KEY_A}")  # spaces around the comma are forgiven
    assert rotated.decrypt(old_token) == API_KEY
    new_token = rotated.encrypt(API_KEY)
    assert CredentialCipher(KEY_B).decrypt(new_token) == API_KEY  # the first key encrypts
    with pytest.raises(UndecryptableKey):
        CredentialCipher(KEY_A).decrypt(new_token)


def test_a_key_this_process_lacks_is_undecryptable():
    token = CredentialCipher(KEY_A).encrypt(API_KEY)
    with pytest.raises(UndecryptableKey) as raised:
        CredentialCipher(KEY_B).decrypt(token)
    assert API_KEY not in str(raised.value)
    with pytest.raises(UndecryptableKey):
        CredentialCipher(KEY_A).decrypt(b"not a fernet token")
    # A neighbouring secret derives an unrelated Fernet key.
    with pytest.raises(UndecryptableKey):
        CredentialCipher(KEY_A + "x").decrypt(token)


@pytest.mark.parametrize("setting", [None, "", " , ,"])
def test_no_key_means_nothing_can_be_stored_or_read(setting):
    cipher = CredentialCipher(setting)
    assert not cipher.available
    with pytest.raises(CredentialsUnavailable) as raised:
        cipher.encrypt(API_KEY)
    assert "STUDIO_CREDENTIALS_KEY" in str(raised.value)
    with pytest.raises(CredentialsUnavailable):
        cipher.decrypt(CredentialCipher(KEY_A).encrypt(API_KEY))


@pytest.mark.parametrize(("api_key", "shown"), [
    ("sk-0123456789abcd", "abcd"),
    ("12345678", "5678"),      # 8 characters: the last 4
    ("1234567", "7"),          # shorter: showing 4 would give most of it away
    ("abc", "c"),
    ("x", "x"),
])
def test_last4(api_key, shown):
    assert last4(api_key) == shown
