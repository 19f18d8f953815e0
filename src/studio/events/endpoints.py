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
(nothing more is sent) within one poll interval. Reads are woken by the process's
shared LISTEN connection (listener.py) and also happen every ~POLL_SECONDS regardless.
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
    """`text/event-stream` driven by a pump coroutine. The client's disconnect is
    watched alongside it, so a closed tab cancels the pump at once (no task outlives
    the request), and `on_close` always runs (frees the subscriber slot)."""

    media_type = "text/event-stream"

    def __init__(self, pump: Callable[[Write], Awaitable[None]], *, on_close: Callable[[], None]) -> None:
        self.status_code = 200
        self.background = None
        self._pump, self._on_close = pump, on_close
        self.init_headers({"Cache-Control": "no-cache, no-store", "X-Accel-Buffering": "no",
                           "X-Content-Type-Options": "nosniff"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
            await send({"type": "http.response.body", "body": b"retry: %d\n\n" % RETRY_MILLISECONDS,
                        "more_body": True})

            async def write(data: bytes) -> None:
                # uvicorn drops writes to a closed connection silently: refuse them, so
                # a pump ends at its next write even if it missed its cancellation.
                if gone.done():
                    raise ConnectionResetError("the client disconnected")
                await send({"type": "http.response.body", "body": data, "more_body": True})

            gone = asyncio.ensure_future(_disconnected(receive))
            pump = asyncio.ensure_future(self._pump(write))
            try:
                await asyncio.wait({pump, gone}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (pump, gone):
                    task.cancel()
                await asyncio.gather(pump, gone, return_exceptions=True)
            if gone.cancelled() and not pump.cancelled():
                error = pump.exception()
                if error is not None and not isinstance(error, OSError):  # OSError: the client went away
                    log.error("event stream failed", exc_info=error)
                if not isinstance(error, OSError):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            pass  # the client disconnected while we wrote
        finally:
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
            poll_at = time.monotonic() + POLL_SECONDS * random.uniform(0.9, 1.1)
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


class _UserPump(_Pump):
    def __init__(self, *args: Any, after: int, notifications_since: datetime) -> None:
        super().__init__(*args)
        self.cursor = _UserCursor(after)
        self.notifications = _NotificationCursor(notifications_since)
        self.runs = _RunCursor(notifications_since)

    async def read(self) -> tuple[list[bytes], bool, bool]:
        self.cursor.settle(time.monotonic())
        async with self.db.as_user(self.cred, self.ctx) as tx:
            events = await repo.user_events(tx, after=self.cursor.floor, skip=self.cursor.sent.keys(), limit=BATCH)
            server_now, arrived = await notifications.arrived(tx, since=self.notifications.floor,
                                                              skip=list(self.notifications.sent))
            runs = await training.changed_runs(tx, since=self.runs.floor, skip=list(self.runs.sent))
        self.cursor.record(events, time.monotonic())
        self.notifications.record(arrived, server_now)
        encoded = ([format_event(e) for e in events] + [format_notification(n) for n in arrived]
                   + self.runs.record(runs, server_now))
        return encoded, False, len(events) >= BATCH


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
