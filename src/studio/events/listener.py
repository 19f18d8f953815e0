"""One LISTEN connection per API process, shared by every open event stream.

The triggers on generations (their events), training runs and user notifications run
`pg_notify('studio_events', <user id>)`. A single dedicated connection (autocommit,
outside the pool, so it never holds a pool slot and is never handed to a request)
listens, and wakes the in-process subscribers of that user. Notifications carry no
data: a woken stream re-reads the events table under the caller's own credential.

The connection is opened lazily by the first subscriber (`listener_for(app)`), is
health-checked while idle, and is re-opened with exponential backoff when it drops.
While it is down, and for notifications lost in between, streams still re-poll on their
own every few seconds: a missed notification costs latency, never an event.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any

import psycopg

from studio.db import connections

log = logging.getLogger("studio.events")

CHANNEL = "studio_events"
APPLICATION_NAME = "studio-events"
# Open streams per API process. Measured (bench/results/events.md): 5,000 idle streams
# cost one process about 31 KiB each (mostly the HTTP stack's per-request objects) and,
# with the idle-read budget (endpoints.IDLE_READS_PER_SECOND), about 15% of a core; the
# process's open-files limit must be above this (each stream is a socket).
MAX_SUBSCRIBERS = 10_000


class SubscribeRefused(Exception):
    """No new subscriber now: the process is at its limit or shutting down (answer 503)."""


class Subscription:
    """One open stream's wake-up flag. `wait` returns early when a notification for its
    user arrived since the previous wait (wake-ups coalesce: one read catches up).

    Kept small, since a process holds thousands (bench/events_bench.py): a flag and, only
    while a stream waits, one future and one timer handle, instead of an asyncio.Event
    (a deque of waiters) and an asyncio.timeout context per wait."""

    __slots__ = ("_listener", "_open", "_waiter", "_woken", "user_id")

    def __init__(self, listener: EventListener, user_id: str) -> None:
        self.user_id = user_id
        self._listener = listener
        self._open = True
        self._woken = False
        self._waiter: asyncio.Future[None] | None = None

    @property
    def closed(self) -> bool:
        """The listener shut down: the stream should end."""
        return self._listener.closed

    @property
    def shared_reads(self) -> dict[Any, Any]:
        """The process's reads being gathered, by credential (endpoints._SharedRead)."""
        return self._listener.shared_reads

    def poll_seconds(self, base: float, reads_per_second: float) -> float:
        """How long a stream of this process may go without a read of its own (see
        EventListener.poll_seconds)."""
        return self._listener.poll_seconds(base, reads_per_second)

    def wake(self) -> None:
        self._woken = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self, timeout: float) -> bool:
        """True if woken within `timeout` seconds (the flag is cleared), else False.
        A cancellation propagates (a bare future, not wait_for: on Python 3.11, wait_for
        swallows a cancellation that arrives as the wait completes, and the stream's task
        would then outlive its client)."""
        if not self._woken:
            loop = asyncio.get_running_loop()
            waiter = self._waiter = loop.create_future()
            timer = loop.call_later(timeout, _expire, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self._waiter = None
        woken, self._woken = self._woken, False
        return woken

    def close(self) -> None:
        """Idempotent; frees the slot."""
        if self._open:
            self._open = False
            self._listener._remove(self)


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class EventListener:
    def __init__(self, conninfo: str, *, channel: str = CHANNEL, max_subscribers: int = MAX_SUBSCRIBERS,
                 health_interval: float = 30.0, health_timeout: float = 10.0, backoff_initial: float = 0.5,
                 backoff_max: float = 30.0) -> None:
        self._conninfo = conninfo
        self._channel = channel
        self.max_subscribers = max_subscribers
        self._health_interval, self._health_timeout = health_interval, health_timeout
        self._backoff_initial, self._backoff_max = backoff_initial, backoff_max
        self._stable_seconds = 10.0
        self._subscribers: dict[str, set[Subscription]] = {}
        self._count = 0
        self.shared_reads: dict[Any, Any] = {}
        self._task: asyncio.Task[None] | None = None
        self.closed = False
        self.connected = False

    def subscribe(self, user_id: str) -> Subscription:
        """A slot for one stream of `user_id`; close() it when the stream ends. Starts
        the listening task on first use (in the running event loop)."""
        if self.closed:
            raise SubscribeRefused("the server is shutting down")
        if self._count >= self.max_subscribers:
            raise SubscribeRefused("too many open event streams")
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="studio-events-listener")
        subscription = Subscription(self, user_id)
        self._subscribers.setdefault(user_id, set()).add(subscription)
        self._count += 1
        return subscription

    def poll_seconds(self, base: float, reads_per_second: float) -> float:
        """How long a stream may go without a read of its own: `base` while this
        listener is down (notifications may be missed: the poll is the safety net) or
        while few streams are open; with many, stretched so that all of them together
        read at most `reads_per_second` when nothing happens (each read is a
        transaction on the shared pool; 5,000 streams polling every 5 s took most of a
        core and the pool's every connection)."""
        if not self.connected:
            return base
        return max(base, self._count / reads_per_second)

    def _remove(self, subscription: Subscription) -> None:
        subscribers = self._subscribers.get(subscription.user_id)
        if subscribers is None or subscription not in subscribers:
            return
        subscribers.discard(subscription)
        if not subscribers:
            del self._subscribers[subscription.user_id]
        self._count -= 1

    def _dispatch(self, user_id: str) -> None:
        for subscription in self._subscribers.get(user_id, ()):
            subscription.wake()

    def _wake_all(self) -> None:
        for subscribers in self._subscribers.values():
            for subscription in subscribers:
                subscription.wake()

    async def stop(self) -> None:
        """Close the connection; open streams see `closed` and end; no new ones."""
        self.closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._wake_all()

    async def _run(self) -> None:
        delay = self._backoff_initial
        while True:
            started = time.monotonic()
            try:
                await self._listen()
            except (psycopg.Error, OSError, TimeoutError) as exc:
                log.warning("event listener connection failed or lost: %s: %s", type(exc).__name__, exc)
            except Exception:
                log.exception("event listener failed")
            finally:
                held = self.connected and time.monotonic() - started >= self._stable_seconds
                self.connected = False
            if held:  # it worked for a while: this is a new outage, retry soon
                delay = self._backoff_initial
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, self._backoff_max)

    async def _listen(self) -> None:
        connect_args: dict[str, Any] = {
            "autocommit": True, "application_name": APPLICATION_NAME, "connect_timeout": 10,
            # A silently dead peer is noticed by TCP too, not only by the health check.
            "keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3,
        }
        async with await psycopg.AsyncConnection.connect(self._conninfo, **connect_args) as conn:
            await connections.listen(conn, self._channel)
            self.connected = True
            log.info("listening for generation events on %r", self._channel)
            # Notifications sent while no connection listened are lost: everyone re-reads.
            self._wake_all()
            while True:
                async for notify in conn.notifies(timeout=self._health_interval):
                    self._dispatch(notify.payload)
                async with asyncio.timeout(self._health_timeout):
                    await connections.ping(conn)


def listener_for(app: Any) -> EventListener:
    """The process's listener, created on first use with the API's login (studio_api:
    LISTEN needs no privilege), straight to the server even when the pool goes through
    PgBouncer. `app.state.event_listener` may be set beforehand to configure it."""
    listener: EventListener | None = getattr(app.state, "event_listener", None)
    if listener is None:
        listener = EventListener(app.state.settings.direct_conninfo(app.state.db.pool.conninfo))
        app.state.event_listener = listener
    return listener


async def shutdown(app: Any) -> None:
    """For the lifespan's shutdown: close the listener if one was started."""
    listener: EventListener | None = getattr(app.state, "event_listener", None)
    if listener is not None:
        await listener.stop()
