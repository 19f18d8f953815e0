"""Connections from the environment (the launcher, as studio_owner under FORCE RLS), the
audit's view of the stored keys, and what each process reads: the runtime function."""

from __future__ import annotations

import psycopg
from pydantic import SecretStr

from studio.catalog import service
from studio.catalog.crypto import CredentialCipher
from studio.catalog.runtime import states
from studio.config import API_ROLE, OWNER_ROLE, WORKER_ROLE, Settings

KEY = "sk-from-the-environment-5d2e"
CREDENTIALS = "credentials-key-" + "x" * 32


def _settings(**overrides: object) -> Settings:
    values: dict[str, object] = {"env": "test", "openai_base_url": "http://127.0.0.1:9/v1/",
                                 "openai_api_key": SecretStr(KEY)}
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_the_environment_seeds_a_connection_once_with_its_key_encrypted(pg, db, admin_conn):
    # A model of the connection's kind without a connection (as an upgrade leaves one).
    admin_conn.execute("INSERT INTO public.model_registry (slug, display_name, type, provider, provider_model)"
                       " VALUES ('old-chat', 'Old chat', 'chat', 'openai', 'llama3')")
    with psycopg.connect(pg.conninfo(OWNER_ROLE, db)) as owner:
        assert service.seed_from_environment(owner, _settings(), CREDENTIALS) == ["openai"]
        # Later starts leave it alone, whatever the environment says now.
        assert service.seed_from_environment(owner, _settings(openai_api_key=SecretStr("sk-other-1111")),
                                             CREDENTIALS) == []
        assert service.stored_keys(owner, CREDENTIALS) == {"the API key of connection 'openai'": KEY}
        assert service.stored_keys(owner, "another-installation-key-" + "y" * 32) == {}

    (row,) = admin_conn.execute(
        "SELECT name, kind, base_url, api_key_last4, api_key_encrypted, to_jsonb(c)::text"
        " FROM public.provider_connections c").fetchall()
    name, kind, base_url, last4, ciphertext, as_text = row
    assert (name, kind, base_url, last4) == ("openai", "openai", "http://127.0.0.1:9/v1", KEY[-4:])
    assert KEY.encode() not in bytes(ciphertext) and KEY not in as_text
    assert CredentialCipher(CREDENTIALS).decrypt(ciphertext) == KEY
    linked = admin_conn.execute("SELECT m.connection_id = c.id FROM public.model_registry m, public.provider_connections c"
                                " WHERE m.slug = 'old-chat'").fetchone()
    assert linked == (True,)


def test_without_a_credentials_key_a_keyed_connection_is_not_seeded(pg, db, admin_conn):
    with psycopg.connect(pg.conninfo(OWNER_ROLE, db)) as owner:
        assert service.seed_from_environment(owner, _settings(), None) == []
        # A local server needs no key: it is seeded all the same.
        assert service.seed_from_environment(owner, _settings(openai_api_key=None), None) == ["openai"]
    assert admin_conn.execute("SELECT api_key_encrypted IS NULL FROM public.provider_connections").fetchone() == (True,)


def test_processes_read_connections_through_the_runtime_function_only(pg, db, admin_conn):
    with psycopg.connect(pg.conninfo(OWNER_ROLE, db)) as owner:
        service.seed_from_environment(owner, _settings(), CREDENTIALS)
    runtime_sql = "SELECT name, api_key_encrypted FROM public.provider_connections_runtime()"
    # A worker and the API (as anon) read it; the keys stay encrypted until a process decrypts them.
    with psycopg.connect(pg.conninfo(WORKER_ROLE, db)) as worker:
        [(name, ciphertext)] = worker.execute(runtime_sql).fetchall()
        assert name == "openai" and KEY.encode() not in bytes(ciphertext)
        # ... but not the table itself.
        try:
            worker.execute("SELECT * FROM public.provider_connections")
            raise AssertionError("the worker read provider_connections directly")
        except psycopg.errors.InsufficientPrivilege:
            worker.rollback()
    with psycopg.connect(pg.conninfo(API_ROLE, db)) as api:
        api.execute("SET ROLE anon")
        rows = [{"id": r[0], "name": r[1], "kind": r[2], "base_url": r[3], "api_key_encrypted": r[4],
                 "enabled": r[5]} for r in api.execute(
            "SELECT id, name, kind, base_url, api_key_encrypted, enabled FROM public.provider_connections_runtime()")]
        [state] = states(rows, CredentialCipher(CREDENTIALS))
        assert state.connection.api_key == KEY and state.problem is None
        [state] = states(rows, CredentialCipher("a-rotated-away-key-" + "z" * 32))
        assert state.connection.api_key is None and "enter the key again" in (state.problem or "")
        api.execute("SET ROLE authenticated")
        try:
            api.execute("SELECT * FROM public.provider_connections_runtime()")
            raise AssertionError("a signed-in user's role could call the runtime function")
        except psycopg.errors.InsufficientPrivilege:
            api.rollback()
