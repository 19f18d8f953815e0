"""Keeping a process's providers in step with the connections admins manage.

Each API and worker process reads the connections at start, decrypts their keys, and
hands them to its `Providers`. A trigger NOTIFYs `studio_connections` on every change;
a dedicated LISTEN connection (autocommit, straight to the server) hears it and the
process reads them again, so a new key, URL or a disabled connection counts within a
second or two, with no restart. Notifications carry nothing: the process re-reads.
While the LISTEN connection is down, the connections are re-read every
`poll_seconds` instead: a missed notification costs latency, never correctness.

The API also reads what the live workers offer (`load_fleet`; fleet/repository.py) at
the same moments: a worker's node NOTIFYs the same channel when what it offers changes
or it comes back, and a node that goes quiet drops out at the next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg

from studio.catalog.crypto import CredentialCipher, CredentialsUnavailable, UndecryptableKey
from studio.db import connections
from studio.providers.base import Connection
from studio.providers.registry import ConnectionState, Providers

log = logging.getLogger("studio.catalog")

CHANNEL = "studio_connections"

Loader = Callable[[], Awaitable[list[dict[str, Any]]]]
FleetLoader = Callable[[], Awaitable[frozenset[str]]]


def states(rows: list[dict[str, Any]], cipher: CredentialCipher) -> list[ConnectionState]:
    """The stored connections as a process runs them: keys decrypted, or why they cannot be."""
    result = []
    for row in rows:
        key, problem = None, None
        if row["api_key_encrypted"] is not None:
            try:
                key = cipher.decrypt(row["api_key_encrypted"])
            except (CredentialsUnavailable, UndecryptableKey) as exc:
                problem = str(exc)
        connection = Connection(row["id"], row["name"], row["kind"], row["base_url"], key)
        result.append(ConnectionState(connection, row["enabled"], problem))
    return result


class ConnectionRuntime:
    def __init__(self, providers: Providers, cipher: CredentialCipher, load: Loader, listen_conninfo: str, *,
                 poll_seconds: float = 30.0, load_fleet: FleetLoader | None = None) -> None:
        self.providers = providers
        self.cipher = cipher
        self._load = load
        self._load_fleet = load_fleet
        self._conninfo = listen_conninfo
        self._poll_seconds = poll_seconds
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.reloads = 0  # how many times the connections were read (tests, diagnostics)

    async def start(self) -> None:
        """Reads the connections once (a failure is logged: the listener retries) and
        starts following changes."""
        try:
            await self.refresh()
        except (psycopg.Error, OSError) as exc:
            log.warning("could not read the provider connections yet (%s); retrying", exc)
        self._task = asyncio.get_running_loop().create_task(self._follow(), name="studio-connections")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def refresh(self) -> None:
        """Read the connections now (also before an admin's test or discovery, so it
        sees the connection as just saved)."""
        async with self._lock:
            rows = await self._load()
            self.providers.use(states(rows, self.cipher))
            if self._load_fleet is not None:
                self.providers.fleet = await self._load_fleet()
            self.reloads += 1

    async def _follow(self) -> None:
        delay = 0.5
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                        self._conninfo, autocommit=True, application_name="studio-connections",
                        connect_timeout=10) as conn:
                    await connections.listen(conn, CHANNEL)
                    await self.refresh()  # changes made while nobody listened
                    delay = 0.5
                    while True:
                        async for _ in conn.notifies(timeout=self._poll_seconds):
                            break
                        # A notification, or a quiet period: read again either way (cheap,
                        # and it also proves the connection alive).
                        await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure: keep polling, try again later
                log.warning("following provider connection changes failed (%s: %s); retrying",
                            type(exc).__name__, exc)
                with contextlib.suppress(Exception):  # logged above; the next round tries again
                    await self.refresh()
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, self._poll_seconds)
