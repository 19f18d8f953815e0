"""Server-Sent Events: `GET /v1/generations/{id}/events` and `GET /v1/events`.

Each event is

    id: <generation_events.id>
    event: generation
    data: {"generation_id", "status", "progress", "error", "created_at"}

/v1/events also carries the caller's notifications as they arrive (`event:
notification`, the notification's JSON, no `id`): they are not replayed on reconnect,
GET /v1/notifications is where a client catches up. And the caller's training runs as
they change (`event: training`, no `id`): the run's state and `losses`, the loss of
each step since this stream last sent that run (`{"from_step", "values"}`: step
from_step + 1 onwards); GET /v1/training-jobs/{id} is where a client catches up.

A stream resumes after `Last-Event-ID` (the header an EventSource sends when it
reconnects, or `?last_event_id=` for clients without one; the header wins). Without it,
a generation's stream replays all of that generation's events, and /v1/events starts
from now. A generation's stream closes once its terminal event (succeeded, failed,
canceled) has been sent.

Every read is one short transaction as the caller (RLS), never one held open while
streaming: a stream holds no database connection between reads, and the credential is
checked again at each read, so logging out or revoking the API key ends the stream
(nothing more is sent) at its next read, within one poll interval. Reads are woken by
the process's shared LISTEN connection (listener.py): the triggers on generations
(their events), training_jobs and user_notifications send NOTIFY studio_events with the
owner's id, so a new event, run change or notification reaches the owner's open streams
at once. Reads also happen every ~POLL_SECONDS regardless; on a process with more
than POLL_SECONDS x IDLE_READS_PER_SECOND open streams, the idle polls are spread out
so that together they stay within IDLE_READS_PER_SECOND while the listener is
connected. The /v1/events streams of one credential woken together share one read
(_SharedRead).
A comment line is sent after KEEPALIVE_SECONDS of silence so proxies keep the
connection open.

Event ids are allocated when a row is inserted, not when it commits. One generation's
events are written under its row lock, so they commit in id order and its stream is
strictly increasing. Across generations (/v1/events) a lower id can commit a moment
after a higher one: that stream also re-reads a short window behind its position
(USER_LOOKBACK_SECONDS) and sends such a late event when it appears, so a live stream
loses nothing; its ids are then not always increasing, and resuming after such an id
can repeat events, never skip them, except for a late commit racing the reconnect.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

import orjson
import psycopg
from fastapi import APIRouter, Query, Request
from psycopg_pool import PoolTimeout
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from studio.auth.identity import Credential, RequestContext, Unauthenticated
from studio.db.scopes import ApiDatabase
from studio.events import repository as repo
from studio.events.listener import SubscribeRefused, Subscription, listener_for
from studio.http.deps import Cred, Ctx, Db
from studio.http.errors import ApiError, not_found
from studio.notifications import repository as notifications
from studio.training import repository as training

log = logging.getLogger("studio.events")

router = APIRouter(prefix="/v1", tags=["events"])

BATCH = 500
POLL_SECONDS = 5.0
# The reads per second that all the idle streams of a process may make together while
# its listener is connected: with more than POLL_SECONDS x this many streams open, each
# polls less often (listener.EventListener.poll_seconds). A NOTIFY still wakes a stream
# at once, and everything a stream sends is announced by one: a generation's event, a
# training run's change and a new notification (migration 0033; written alone too, e.g.
# a share about to expire). What waits longer is only the end of a stream whose
# credential was revoked (nothing is sent for it meanwhile: every send follows a read
# under that credential), and what a listener outage made it miss (the listener wakes
# every stream when it reconnects; the poll is back to POLL_SECONDS while it is down).
IDLE_READS_PER_SECOND = 100.0
KEEPALIVE_SECONDS = 15.0
RETRY_MILLISECONDS = 3000
USER_LOOKBACK_SECONDS = 10.0
TERMINAL = frozenset({"succeeded", "failed", "canceled"})
_MAX_EVENT_ID = 2**63 - 1
_EVENT_ID = re.compile(r"^[0-9]{1,19}$")

Write = Callable[[bytes], Awaitable[None]]

_STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}},
          "description": 'Server-Sent Events: `id`, `event: generation`, `data: {"generation_id", "status", '
                         '"progress", "error", "created_at"}`; on /v1/events also `event: notification`, '
                         '`data: {"id", "kind", "title", "body", "data", "read_at", "created_at"}` (no id), and '
                         '`event: training`, `data: {"id", "status", "progress", "current_step", "total_steps", '
                         '"checkpoint_step", "samples", "error", "trained_model_id", "losses": {"from_step", "values"}, '
                         '...}` (no id)'},
    400: {"description": "Last-Event-ID is not an event id"},
    401: {"description": "not signed in"},
    503: {"description": "too many open event streams; retry after Retry-After seconds"},
}


class EventStreamResponse(Response):
    """`text/event-stream` driven by a pump coroutine, run in the request's own task. The
    client's disconnect is watched alongside it by one small task, which cancels the
    pump at once (no task outlives the request); `on_close` always runs (frees the
    subscriber slot).

    One task per stream besides the request's (not a pump task and a watcher task
    joined by asyncio.wait): a process holds thousands of idle streams
    (bench/events_bench.py)."""

    media_type = "text/event-stream"

    def __init__(self, pump: Callable[[Write], Awaitable[None]], *, on_close: Callable[[], None]) -> None:
        self.status_code = 200
        self.background = None
        self._pump, self._on_close = pump, on_close
        self._gone = self._done = False
        self.init_headers({"Cache-Control": "no-cache, no-store", "X-Accel-Buffering": "no",
                           "X-Content-Type-Options": "nosniff"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        task = asyncio.current_task()
        assert task is not None

        def left(watcher: asyncio.Future[None]) -> None:
            # The client went away (or the watcher failed): stop the pump where it waits.
            if watcher.cancelled():
                return
            if watcher.exception() is not None:
                log.warning("event stream: reading the request failed: %r", watcher.exception())
            if not self._done:
                self._gone = True
                task.cancel()

        async def write(data: bytes) -> None:
            # uvicorn drops writes to a closed connection silently: refuse them, so
            # a pump ends at its next write even if it missed its cancellation.
            if self._gone:
                raise ConnectionResetError("the client disconnected")
            await send({"type": "http.response.body", "body": data, "more_body": True})

        watcher = asyncio.ensure_future(_disconnected(receive))
        watcher.add_done_callback(left)
        try:
            await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
            await send({"type": "http.response.body", "body": b"retry: %d\n\n" % RETRY_MILLISECONDS,
                        "more_body": True})
            try:
                await self._pump(write)
            except OSError:
                raise
            except Exception:
                if self._gone:
                    raise ConnectionResetError("the client disconnected") from None
                log.exception("event stream failed")
            if not self._gone:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if not self._gone:
                raise  # the server is stopping: not ours to swallow
        except OSError:
            pass  # the client disconnected while we wrote
        finally:
            # From here on the watcher must not cancel this task (nothing below awaits).
            self._done = True
            if self._gone and task.cancelling():
                task.uncancel()  # our own cancellation (the client left), consumed here
            watcher.remove_done_callback(left)
            watcher.cancel()
            self._on_close()


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


# Line separators that JSON leaves unescaped but some line readers split on.
_UNSAFE = ((b"\xc2\x85", b"\\u0085"), (b"\xe2\x80\xa8", b"\\u2028"), (b"\xe2\x80\xa9", b"\\u2029"))


def _data(value: dict[str, Any]) -> bytes:
    data = orjson.dumps(value)
    for raw, escaped in _UNSAFE:
        data = data.replace(raw, escaped)
    return data


def format_event(row: dict[str, Any]) -> bytes:
    data = _data({"generation_id": row["generation_id"], "status": row["status"],
                  "progress": row["progress"], "error": row["error"], "created_at": row["created_at"]})
    return b"id: %d\nevent: generation\ndata: %s\n\n" % (row["id"], data)


def format_training(row: dict[str, Any], from_step: int) -> bytes:
    """No `id:` line, like notifications: GET /v1/training-jobs/{id} catches up."""
    state = {k: v for k, v in row.items() if k not in ("loss_history", "updated_at")}
    losses = {"from_step": from_step, "values": row["loss_history"][from_step:]}
    return b"event: training\ndata: %s\n\n" % _data(state | {"losses": losses})


def format_notification(row: dict[str, Any]) -> bytes:
    """No `id:` line: a notification does not move the stream's Last-Event-ID (that
    counts generation events). A client that reconnects reads GET /v1/notifications."""
    return b"event: notification\ndata: %s\n\n" % _data(row)


class _Pump:
    """Read, send, wait for a wake-up / the poll interval, repeat; sends keep-alives."""

    def __init__(self, db: ApiDatabase, cred: Credential, ctx: RequestContext, subscription: Subscription) -> None:
        self.db, self.cred, self.ctx, self.subscription = db, cred, ctx, subscription

    async def read(self) -> tuple[list[bytes], bool, bool]:
        """(events to send, encoded, the stream is complete, more are waiting)."""
        raise NotImplementedError

    async def run(self, write: Write) -> None:
        next_keepalive = time.monotonic() + KEEPALIVE_SECONDS
        while True:
            try:
                events, complete, more = await self.read()
            except Unauthenticated:
                return  # logged out, key revoked or expired: end without another word
            except (PoolTimeout, psycopg.OperationalError) as exc:
                log.warning("event stream read failed, retrying at the next poll: %s", exc)
                events, complete, more = [], False, False
            if events:
                await write(b"".join(events))
                next_keepalive = time.monotonic() + KEEPALIVE_SECONDS
            if complete:
                return
            if more:
                continue
            poll_seconds = self.subscription.poll_seconds(POLL_SECONDS, IDLE_READS_PER_SECOND)
            poll_at = time.monotonic() + poll_seconds * random.uniform(0.9, 1.1)
            while True:
                if self.subscription.closed:
                    return
                now = time.monotonic()
                timeout = min(poll_at, next_keepalive) - now
                if timeout > 0 and await self.subscription.wait(timeout):
                    break  # a notification for this user
                now = time.monotonic()
                if now >= next_keepalive:
                    await write(b": keep-alive\n\n")
                    next_keepalive = now + KEEPALIVE_SECONDS
                if now >= poll_at:
                    break


class _GenerationPump(_Pump):
    def __init__(self, *args: Any, generation_id: UUID, after: int) -> None:
        super().__init__(*args)
        self.generation_id, self.after = generation_id, after

    async def read(self) -> tuple[list[bytes], bool, bool]:
        async with self.db.as_user(self.cred, self.ctx) as tx:
            status, events = await repo.generation_events(tx, generation_id=self.generation_id,
                                                          after=self.after, limit=BATCH)
        if status is None:
            return [], True, False  # deleted meanwhile: nothing more will come
        for i, event in enumerate(events):
            if event["status"] in TERMINAL:
                return [format_event(e) for e in events[:i + 1]], True, False
        if events:
            self.after = events[-1]["id"]
        # No new events and already terminal: the client has seen the end (Last-Event-ID).
        return [format_event(e) for e in events], not events and status in TERMINAL, len(events) >= BATCH


class _UserCursor:
    """Where a /v1/events stream is: every id <= floor is settled (sent, or never to
    come); ids above it that were sent recently are remembered and skipped. An id
    settles USER_LOOKBACK_SECONDS after it was sent: a lower id committing later than
    that is assumed never to come (rolled back, or another user's)."""

    def __init__(self, after: int) -> None:
        self.floor = after
        self.sent: dict[int, float] = {}

    def settle(self, now: float) -> None:
        cutoff = now - USER_LOOKBACK_SECONDS
        settled = [event_id for event_id, at in self.sent.items() if at <= cutoff]
        if settled:
            self.floor = max(self.floor, *settled)
            self.sent = {event_id: at for event_id, at in self.sent.items() if event_id > self.floor}

    def record(self, events: list[dict[str, Any]], now: float) -> None:
        for event in events:
            self.sent[event["id"]] = now


class _NotificationCursor:
    """Where a stream is in the caller's notifications: those created after `floor`
    are read, less the ones sent. The floor trails the server's clock by
    USER_LOOKBACK_SECONDS, so one whose transaction began earlier but committed later
    still arrives."""

    def __init__(self, since: datetime) -> None:
        self.floor = since
        self.sent: dict[UUID, datetime] = {}

    def record(self, rows: list[dict[str, Any]], server_now: datetime) -> None:
        for row in rows:
            self.sent[row["id"]] = row["created_at"]
        self.floor = max(self.floor, server_now - timedelta(seconds=USER_LOOKBACK_SECONDS))
        self.sent = {key: at for key, at in self.sent.items() if at > self.floor}


class _RunCursor:
    """Where a stream is in the caller's training runs: versions (id, updated_at) after
    `floor` are read, less the ones sent; and per run, the steps whose losses were sent."""

    def __init__(self, since: datetime) -> None:
        self.floor = since
        self.sent: set[tuple[UUID, datetime]] = set()
        self.steps: dict[UUID, int] = {}

    def record(self, rows: list[dict[str, Any]], server_now: datetime) -> list[bytes]:
        encoded = []
        for row in rows:
            self.sent.add((row["id"], row["updated_at"]))
            history = len(row["loss_history"])
            # A run new to this stream: its last 100 losses. One resumed from its checkpoint
            # (a shorter history): from there.
            sent_steps = min(self.steps.get(row["id"], max(0, history - 100)), history)
            encoded.append(format_training(row, sent_steps))
            self.steps[row["id"]] = history
        self.floor = max(self.floor, server_now - timedelta(seconds=USER_LOOKBACK_SECONDS))
        self.sent = {version for version in self.sent if version[1] > self.floor}
        return encoded


_SHARED_READ_TASKS: set[asyncio.Task[None]] = set()


class _SharedRead:
    """One read of a credential's events, notifications and training runs, shared by
    every /v1/events stream of that credential woken meanwhile (a person's open tabs
    share a session): the NOTIFY for a user wakes all their streams at once, and N
    identical transactions on the shared pool became one. It runs as that credential
    (RLS as ever), from the lowest position of the streams that joined before it began
    (a stream woken after it began waits for the next one: it may not see the commit
    that woke it); each stream then keeps what is new to it. Skipped are only the rows
    every joined stream has sent, so the statements' LIMITs count the same rows."""

    __slots__ = ("ctx", "events_after", "events_skip", "notifications_since", "notifications_skip",
                 "result", "runs_since", "runs_skip")

    def __init__(self, ctx: RequestContext, pump: _UserPump) -> None:
        self.ctx = ctx
        self.events_after, self.events_skip = pump.cursor.floor, set(pump.cursor.sent)
        self.notifications_since = pump.notifications.floor
        self.notifications_skip = set(pump.notifications.sent)
        self.runs_since, self.runs_skip = pump.runs.floor, set(pump.runs.sent)
        self.result: asyncio.Future[tuple[list[dict[str, Any]], datetime, list[dict[str, Any]],
                                          list[dict[str, Any]]]] = asyncio.get_running_loop().create_future()
        # Read by a stream, unless every stream that joined was cancelled (client gone).
        self.result.add_done_callback(lambda f: f.cancelled() or f.exception())

    def join(self, pump: _UserPump) -> None:
        self.events_after = min(self.events_after, pump.cursor.floor)
        self.events_skip &= pump.cursor.sent.keys()
        self.notifications_since = min(self.notifications_since, pump.notifications.floor)
        self.notifications_skip &= pump.notifications.sent.keys()
        self.runs_since = min(self.runs_since, pump.runs.floor)
        self.runs_skip &= pump.runs.sent


class _UserPump(_Pump):
    def __init__(self, *args: Any, after: int, notifications_since: datetime) -> None:
        super().__init__(*args)
        self.cursor = _UserCursor(after)
        self.notifications = _NotificationCursor(notifications_since)
        self.runs = _RunCursor(notifications_since)

    async def read(self) -> tuple[list[bytes], bool, bool]:
        self.cursor.settle(time.monotonic())
        pending: dict[Any, _SharedRead] = self.subscription.shared_reads
        key = (self.cred.kind, self.cred.token_hash)
        shared = pending.get(key)
        if shared is None:
            shared = pending[key] = _SharedRead(self.ctx, self)
            # Started after the streams woken with this one (already scheduled) joined.
            task = asyncio.get_running_loop().create_task(self._read_shared(key, shared, pending))
            _SHARED_READ_TASKS.add(task)  # the loop keeps only a weak reference
            task.add_done_callback(_SHARED_READ_TASKS.discard)
        else:
            shared.join(self)
        # Shielded: a stream whose client left must not cancel the others' read.
        events, server_now, arrived, runs = await asyncio.shield(shared.result)
        if len(events) >= BATCH:
            return await self._read_alone()  # a long backlog: this stream pages on its own
        events = [e for e in events if e["id"] > self.cursor.floor and e["id"] not in self.cursor.sent]
        arrived = [n for n in arrived if n["created_at"] > self.notifications.floor
                   and n["id"] not in self.notifications.sent]
        runs = [r for r in runs if r["updated_at"] > self.runs.floor
                and (r["id"], r["updated_at"]) not in self.runs.sent]
        return self._record(events, server_now, arrived, runs), False, False

    async def _read_shared(self, key: Any, shared: _SharedRead, pending: dict[Any, _SharedRead]) -> None:
        if pending.get(key) is shared:
            del pending[key]  # begun: later wake-ups start the next one
        try:
            async with self.db.as_user(self.cred, shared.ctx) as tx:
                events = await repo.user_events(tx, after=shared.events_after, skip=shared.events_skip,
                                                limit=BATCH)
                server_now, arrived = await notifications.arrived(tx, since=shared.notifications_since,
                                                                  skip=list(shared.notifications_skip))
                runs = await training.changed_runs(tx, since=shared.runs_since, skip=list(shared.runs_skip))
        except BaseException as exc:  # every joined stream handles it as its own read's
            shared.result.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
        else:
            shared.result.set_result((events, server_now, arrived, runs))

    async def _read_alone(self) -> tuple[list[bytes], bool, bool]:
        async with self.db.as_user(self.cred, self.ctx) as tx:
            events = await repo.user_events(tx, after=self.cursor.floor, skip=self.cursor.sent.keys(), limit=BATCH)
            server_now, arrived = await notifications.arrived(tx, since=self.notifications.floor,
                                                              skip=list(self.notifications.sent))
            runs = await training.changed_runs(tx, since=self.runs.floor, skip=list(self.runs.sent))
        return self._record(events, server_now, arrived, runs), False, len(events) >= BATCH

    def _record(self, events: list[dict[str, Any]], server_now: datetime, arrived: list[dict[str, Any]],
                runs: list[dict[str, Any]]) -> list[bytes]:
        self.cursor.record(events, time.monotonic())
        self.notifications.record(arrived, server_now)
        return ([format_event(e) for e in events] + [format_notification(n) for n in arrived]
                + self.runs.record(runs, server_now))


def _resume_after(request: Request, query_value: str | None) -> int | None:
    raw = request.headers.get("last-event-id")
    if raw is None or not raw.strip():
        raw = query_value
    if raw is None or not raw.strip():
        return None
    raw = raw.strip()
    if not _EVENT_ID.match(raw) or int(raw) > _MAX_EVENT_ID:
        raise ApiError(400, "invalid_last_event_id", "Last-Event-ID must be the id of an event this API sent")
    return int(raw)


def _subscribe(request: Request, user_id: UUID) -> Subscription:
    try:
        return listener_for(request.app).subscribe(str(user_id))
    except SubscribeRefused as exc:
        raise ApiError(503, "unavailable", f"{exc}, retry shortly", headers={"Retry-After": "5"}) from exc


LastEventIdQuery = Annotated[str | None, Query(max_length=32, description="Resume after this event id "
                                                "(the Last-Event-ID header takes precedence)")]


@router.get("/generations/{generation_id}/events", response_class=EventStreamResponse, status_code=200,
            responses={**_STREAM_RESPONSES, 404: {"description": "no such generation of yours"}})
async def generation_events(generation_id: UUID, request: Request, db: Db, ctx: Ctx, cred: Cred,
                            last_event_id: LastEventIdQuery = None) -> Response:
    """Progress of one generation; the stream closes after its terminal event."""
    after = _resume_after(request, last_event_id)
    async with db.as_user(cred, ctx) as tx:
        if not await repo.generation_visible(tx, generation_id=generation_id):
            raise not_found("generation")
        user_id = tx.user.id
    subscription = _subscribe(request, user_id)
    pump = _GenerationPump(db, cred, ctx, subscription, generation_id=generation_id, after=after or 0)
    return EventStreamResponse(pump.run, on_close=subscription.close)


@router.get("/events", response_class=EventStreamResponse, status_code=200, responses=_STREAM_RESPONSES)
async def user_events(request: Request, db: Db, ctx: Ctx, cred: Cred,
                      last_event_id: LastEventIdQuery = None) -> Response:
    """Progress of all the caller's generations, from now (or after Last-Event-ID), and
    the caller's notifications as they arrive (`event: notification`, without an id)."""
    after = _resume_after(request, last_event_id)
    async with db.as_user(cred, ctx) as tx:
        if after is None:
            after = await repo.latest_event_id(tx)
        since = await notifications.server_now(tx)
        user_id = tx.user.id
    subscription = _subscribe(request, user_id)
    pump = _UserPump(db, cred, ctx, subscription, after=after, notifications_since=since)
    return EventStreamResponse(pump.run, on_close=subscription.close)
