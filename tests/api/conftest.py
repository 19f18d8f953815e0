"""The API tier: the real ASGI app served by uvicorn on 127.0.0.1, spoken to over HTTP,
against a fresh database per test, logged in as studio_api like in production; a Studio
whose admin connected a fake vendor, with a real worker when the test needs one."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr

from studio.app import create_app
from studio.config import API_ROLE, WORKER_ROLE, Settings
from tests.conftest import free_port
from tests.providers.fakes import KEY, FakeServer

PASSWORD = "correct horse battery"



@dataclass
class Server:
    url: str
    settings: Settings

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10)


def serve(settings: Settings, conninfo: str, customize: Callable[[FastAPI], None] | None = None) -> Iterator[Server]:
    """Serves the real app until the generator is closed (also on failure).
    `customize` may add test-only routes to the app before it starts."""
    app = create_app(settings, conninfo=conninfo)
    if customize is not None:
        customize(app)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.02)
        yield Server(f"http://127.0.0.1:{port}", settings)
    finally:
        server.should_exit = True
        thread.join(15)


def early_in_a_window(window_seconds: int = 60, need: float = 20) -> None:
    """Wait until the current fixed rate-limit window (epoch-aligned, as
    auth.rate_limit_hit counts) has `need` seconds left, so a test's requests fall in one
    window and a boundary cannot reset the count between them."""
    left = window_seconds - time.time() % window_seconds
    if left < need:
        time.sleep(left + 0.05)


def make_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {"env": "test", "secret_key": SecretStr("k" * 40), "pool_max_size": 4,
                                 "credentials_key": SecretStr("c" * 40),
                                 "login_max_failures": 3, "max_upload_bytes": 2 * 1024 * 1024}
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def server(pg, db, tmp_path) -> Iterator[Server]:
    yield from serve(make_settings(home=tmp_path), pg.conninfo(API_ROLE, db))


@dataclass
class Account:
    id: str
    email: str
    client: httpx.Client  # carries the session cookie and sends the CSRF header
    csrf: str


def sign_up_and_log_in(server: Server, email: str | None = None) -> Account:
    email = email or f"user-{uuid.uuid4().hex[:10]}@example.org"
    client = server.client()
    r = client.post("/v1/auth/signup", json={"email": email, "password": PASSWORD})
    assert r.status_code == 201, r.text  # the same answer for a taken email: the login tells
    r = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    body = r.json()
    client.headers["X-CSRF-Token"] = body["csrf_token"]
    return Account(body["user"]["id"], email, client, body["csrf_token"])


@pytest.fixture
def alice(server: Server) -> Iterator[Account]:
    account = sign_up_and_log_in(server, "alice@example.org")
    yield account
    account.client.close()


@pytest.fixture
def bob(server: Server) -> Iterator[Account]:
    account = sign_up_and_log_in(server, "bob@example.org")
    yield account
    account.client.close()


@pytest.fixture
def anon(server: Server) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def make_admin(account: Account, admin_conn) -> Account:
    admin_conn.execute("UPDATE public.users SET role = 'admin' WHERE id = %s", (account.id,))
    return account


def add_connection(admin: Account, kind: str, base_url: str | None = None, api_key: str | None = None,
                   **extra: object) -> dict:
    """An admin adds a provider connection, through the API as a person would."""
    body = {"kind": kind, **({"base_url": base_url} if base_url else {}),
            **({"api_key": api_key} if api_key else {}), **extra}
    r = admin.client.post("/v1/admin/connections", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def add_model(admin: Account, connection_id: str, provider_model: str, type_: str, **extra: object) -> dict:
    r = admin.client.post("/v1/admin/models", json={"connection_id": connection_id, "provider_model": provider_model,
                                                    "type": type_, **extra})
    assert r.status_code == 201, r.text
    return r.json()


@dataclass
class VendorStudio(Server):
    """A running Studio whose admin (still logged in) connected the fake vendor."""

    admin: Account
    connection: dict[str, Any]

    def model(self, provider_model: str, type_: str, **extra: object) -> dict:
        """The admin registers a model on the vendor's connection."""
        return add_model(self.admin, self.connection["id"], provider_model, type_, **extra)


@contextmanager
def studio_with_vendor(pg, db, tmp_path: Path, vendor: FakeServer, admin_conn, *, worker: bool = True,
                       kind: str = "openai", **settings: object) -> Iterator[VendorStudio]:
    """Serves Studio for one test against a fake vendor speaking `kind`'s protocol (reset
    first): small provider timeouts and no retries unless `settings` say otherwise, an admin
    (admin@example.org) who connected the vendor, and with `worker` a real worker running
    the jobs. The worker, the admin's client and the server stop on leaving, also on failure."""
    from tests.api.test_generations import WorkerThread  # at call time: that module imports this one

    vendor.reset()
    config = make_settings(home=tmp_path, **{"provider_timeout": 5, "provider_max_retries": 0, **settings})
    with ExitStack() as cleanup:
        server = next(cleanup.enter_context(closing(serve(config, pg.conninfo(API_ROLE, db)))))
        admin = make_admin(sign_up_and_log_in(server, "admin@example.org"), admin_conn)
        cleanup.callback(admin.client.close)
        connection = add_connection(admin, kind, f"{vendor.url}/v1", KEY)
        if worker:  # started after the connection exists, so it reads it at once
            cleanup.callback(WorkerThread(config, pg.conninfo(WORKER_ROLE, db)).stop)
        yield VendorStudio(server.url, server.settings, admin, connection)
