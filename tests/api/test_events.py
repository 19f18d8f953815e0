"""Server-Sent Events over HTTP: a real server, a real worker, a real database. The
streams are read with httpx as any client would; waits are bounded by deadlines."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from psycopg import sql

from studio.app import create_app
from studio.config import API_ROLE, WORKER_ROLE
from studio.events import endpoints as events_endpoints
from studio.events.listener import APPLICATION_NAME, EventListener
from tests.api.conftest import Account, Server, free_port, make_admin, make_settings
from tests.api.test_generations import WorkerThread, model_id, wait_for

TERMINAL = events_endpoints.TERMINAL
STREAM_TIMEOUT = httpx.Timeout(10, read=20)
# The fallback poll is ~5 s (+10% jitter): a logout is noticed within that, plus slack.
POLL_BOUND = events_endpoints.POLL_SECONDS * 1.1 + 5


@pytest.fixture
def server(request, pg, db, tmp_path) -> Iterator[Server]:
    """conftest's server, with the events router included if app.py does not include it
    yet; `indirect` parameters configure the process's listener."""
    settings = make_settings(home=tmp_path)
    conninfo = pg.conninfo(API_ROLE, db)
    app = create_app(settings, conninfo=conninfo)
    if not any(getattr(route, "path", None) == "/v1/events" for route in app.router.routes):
        app.include_router(events_endpoints.router)
    options = getattr(request, "param", None) or {}
    if "max_subscribers" in options:
        app.state.event_listener = EventListener(conninfo, max_subscribers=options["max_subscribers"])
    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not uv.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.02)
        yield Server(f"http://127.0.0.1:{port}", settings)
    finally:
        uv.should_exit = True
        thread.join(15)
        assert not thread.is_alive(), "the API server did not stop (an event stream left open?)"


@pytest.fixture
def worker(server: Server, pg, db) -> Iterator[WorkerThread]:
    running = WorkerThread(server.settings, pg.conninfo(WORKER_ROLE, db))
    try:
        yield running
    finally:
        running.stop()


KEEPALIVE = {"event": "keep-alive", "id": None}


def sse(response: httpx.Response, deadline: float, *, keepalives: bool = False) -> Iterator[dict[str, Any]]:
    """The events of a text/event-stream response, until it closes; fails past `deadline`
    (checked on every line, keep-alives included). With `keepalives`, each keep-alive
    comment is yielded too, as KEEPALIVE: the stream had finished a read and was waiting."""
    assert response.status_code == 200, response.read()
    assert response.headers["content-type"].startswith("text/event-stream")
    block: dict[str, str] = {}
    for line in response.iter_lines():
        assert time.monotonic() < deadline, "the event stream did not deliver in time"
        if line == "":
            if "data" in block:
                yield {**orjson.loads(block["data"]), "id": int(block["id"]) if "id" in block else None,
                       "event": block.get("event")}
            block = {}
        elif line.startswith(":"):
            if keepalives and line.startswith(": keep-alive"):
                yield KEEPALIVE
        else:
            field, _, value = line.partition(":")
            block[field] = value.removeprefix(" ")


def create_speech(account: Account, prompt: str = "Events from Studio.") -> str:
    r = account.client.post("/v1/generations", json={"type": "audio", "model_id": model_id(account, "espeak-en"),
                                                     "prompt": prompt})
    assert r.status_code == 202, r.text
    return r.json()["id"]


def read_all(client: httpx.Client, url: str, *, headers: dict[str, str] | None = None,
             timeout: float = 30) -> list[dict[str, Any]]:
    with client.stream("GET", url, headers=headers, timeout=STREAM_TIMEOUT) as response:
        return list(sse(response, time.monotonic() + timeout))


def test_generation_stream_in_order_until_terminal(alice: Account, worker):
    generation = create_speech(alice)
    events = read_all(alice.client, f"/v1/generations/{generation}/events")  # returns because the stream closed

    assert events and all(e["event"] == "generation" and e["generation_id"] == generation for e in events)
    ids = [e["id"] for e in events]
    assert ids == sorted(set(ids)), ids
    statuses = [e["status"] for e in events]
    assert [s for i, s in enumerate(statuses) if i == 0 or statuses[i - 1] != s] == ["queued", "running", "succeeded"]
    assert events[-1]["progress"] == 100 and events[-1]["error"] is None
    assert [e["progress"] for e in events] == sorted(e["progress"] for e in events)
    assert all(e["created_at"] for e in events)


def test_resume_after_last_event_id(alice: Account, worker):
    generation = create_speech(alice)
    url = f"/v1/generations/{generation}/events"
    events = read_all(alice.client, url)
    running = next(e["id"] for e in events if e["status"] == "running")
    later = [e for e in events if e["id"] > running]
    assert later and later[-1]["status"] == "succeeded"

    assert read_all(alice.client, url, headers={"Last-Event-ID": str(running)}) == later
    assert read_all(alice.client, f"{url}?last_event_id={running}") == later
    # The header (what EventSource sends on reconnect) wins over the query.
    assert read_all(alice.client, f"{url}?last_event_id=0", headers={"Last-Event-ID": str(running)}) == later
    # After the terminal event there is nothing left: the stream closes at once.
    assert read_all(alice.client, url, headers={"Last-Event-ID": str(events[-1]["id"])}) == []
    bad = alice.client.get(url, headers={"Last-Event-ID": "not-an-id"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_last_event_id"


def test_user_stream_sees_only_own_generations(alice: Account, bob: Account, anon: httpx.Client, worker,
                                               admin_conn):
    # Events from before the connection are not replayed: this one is over before it.
    past = create_speech(alice, "before")
    alice.client.post(f"/v1/generations/{past}/cancel")  # 409 if the worker was quicker
    wait_for(alice, past, set(TERMINAL))

    with alice.client.stream("GET", "/v1/events", timeout=STREAM_TIMEOUT) as response:
        bobs = create_speech(bob, "bob's")
        mine = {create_speech(alice, "first"), create_speech(alice, "second")}
        seen: list[dict[str, Any]] = []
        notified: list[dict[str, Any]] = []
        done: set[str] = set()
        for event in sse(response, time.monotonic() + 60):
            if event["event"] == "notification":
                # Written with the terminal event, so it arrives with it; it has no id.
                assert event["id"] is None and event["kind"] == "generation", event
                notified.append(event)
            else:
                seen.append(event)
            if event["event"] == "generation" and event["status"] in TERMINAL:
                assert event["status"] == "succeeded", event
                done.add(event["generation_id"])
            if done >= mine and len(notified) >= len(mine):
                break
    assert {e["generation_id"] for e in seen} == mine
    assert {n["data"]["generation_id"] for n in notified} == mine and len(notified) == 2
    assert {n["title"] for n in notified} == {"Audio ready"}
    wait_for(bob, bobs, {"succeeded", "failed"})
    assert admin_conn.execute("SELECT count(*) FROM generation_events WHERE generation_id = %s",
                              (bobs,)).fetchone()[0] >= 3

    # Resuming replays the caller's later events, exactly those, in order.
    expected = [row[0] for row in admin_conn.execute(
        "SELECT id FROM generation_events WHERE user_id = %s AND id > %s ORDER BY id", (alice.id, seen[0]["id"]))]
    with alice.client.stream("GET", "/v1/events", headers={"Last-Event-ID": str(seen[0]["id"])},
                             timeout=STREAM_TIMEOUT) as response:
        replayed = []
        for event in sse(response, time.monotonic() + 20):
            replayed.append(event)
            if len(replayed) == len(expected):
                break
    assert [e["id"] for e in replayed] == expected
    assert {e["generation_id"] for e in replayed} <= mine

    # Only the owner may subscribe, and only when signed in; refused before any streaming.
    for url in (f"/v1/generations/{next(iter(mine))}/events", f"/v1/generations/{past}/events"):
        r = bob.client.get(url)
        assert r.status_code == 404 and r.headers["content-type"] == "application/json"
        assert r.json()["error"]["code"] == "not_found"
    for url in ("/v1/events", f"/v1/generations/{past}/events"):
        r = anon.get(url)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
    r = anon.get("/v1/events", headers={"Authorization": "Bearer sk-not-a-key"})
    assert r.status_code == 401


def test_logout_or_revoked_key_ends_the_stream(alice: Account, server: Server):
    created = alice.client.post("/v1/api-keys", json={"name": "events"})
    assert created.status_code == 201, created.text
    key_id, key = created.json()["api_key"]["id"], created.json()["key"]
    with server.client() as by_key, \
            by_key.stream("GET", "/v1/events", headers={"Authorization": f"Bearer {key}"},
                          timeout=STREAM_TIMEOUT) as keyed, \
            alice.client.stream("GET", "/v1/events", timeout=STREAM_TIMEOUT) as session:
        assert alice.client.delete(f"/v1/api-keys/{key_id}").status_code == 204
        assert alice.client.post("/v1/auth/logout").status_code == 204
        deadline = time.monotonic() + POLL_BOUND
        assert list(sse(keyed, deadline)) == []
        assert list(sse(session, deadline)) == []


@pytest.mark.parametrize("server", [{"max_subscribers": 1}], indirect=True)
def test_subscriber_limit_and_slots_freed_on_disconnect(alice: Account):
    with alice.client.stream("GET", "/v1/events", timeout=STREAM_TIMEOUT) as first:
        assert first.status_code == 200
        refused = alice.client.get("/v1/events")
        assert refused.status_code == 503 and refused.headers["retry-after"]
        assert refused.json()["error"]["code"] == "unavailable"
    # The client went away: the server notices and frees the slot.
    deadline = time.monotonic() + 10
    while True:
        with alice.client.stream("GET", "/v1/events", timeout=STREAM_TIMEOUT) as again:
            if again.status_code == 200:
                break
        assert time.monotonic() < deadline, "the closed stream's slot was not freed"
        time.sleep(0.05)


def test_listener_reconnects_after_losing_its_connection(alice: Account, admin_conn):
    def listener_pids() -> list[int]:
        return [row[0] for row in admin_conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND datname = current_database()",
            (APPLICATION_NAME,))]

    def wait_for_pids(unwanted: set[int]) -> list[int]:
        deadline = time.monotonic() + 15
        while not (pids := [p for p in listener_pids() if p not in unwanted]):
            assert time.monotonic() < deadline, "no listener connection"
            time.sleep(0.05)
        return pids

    with alice.client.stream("GET", "/v1/events", timeout=STREAM_TIMEOUT) as response:
        [first] = wait_for_pids(set())  # one connection for the process, not per stream
        with alice.client.stream("GET", "/v1/events", timeout=STREAM_TIMEOUT) as second:
            assert second.status_code == 200 and listener_pids() == [first]
        admin_conn.execute("SELECT pg_terminate_backend(%s)", (first,))
        wait_for_pids({first})

        generation = create_speech(alice, "after the reconnect")
        assert alice.client.post(f"/v1/generations/{generation}/cancel").status_code == 200
        statuses = []
        for event in sse(response, time.monotonic() + POLL_BOUND):
            assert event["generation_id"] == generation
            statuses.append(event["status"])
            if event["status"] == "canceled":
                break
    assert statuses == ["queued", "canceled"]


# --- wake-ups and shared reads ----------------------------------------------------------


def idle(events: Iterator[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a stream sends before its first keep-alive (sse with `keepalives`): once that
    comes, its reads so far are done and it waits for a wake-up or its poll."""
    received: list[dict[str, Any]] = []
    for event in events:
        if event is KEEPALIVE:
            return received
        received.append(event)
    raise AssertionError("the stream closed")


def until(events: Iterator[dict[str, Any]], last: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    """The events a stream sends (keep-alives left out) up to and including the first for
    which `last` is true."""
    received: list[dict[str, Any]] = []
    for event in events:
        if event is not KEEPALIVE:
            received.append(event)
            if last(event):
                return received
    raise AssertionError(f"the stream closed after {received}")


def titled(title: str) -> Callable[[dict[str, Any]], bool]:
    return lambda event: event["event"] == "notification" and event["title"] == title


def notify_alone(admin_conn, title: str, *user_ids: str) -> None:
    """A notification for each of `user_ids`, written by itself in one statement as a
    worker writes them (studio_worker, under RLS): no generation or run changes with it."""
    with admin_conn.transaction():
        admin_conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(WORKER_ROLE)))
        admin_conn.execute("INSERT INTO public.user_notifications (user_id, kind, title) "
                           "SELECT u, 'system', %s FROM unnest(%s::uuid[]) AS u", (title, list(user_ids)))


def wait_for_listener(admin_conn) -> None:
    """Until the process's LISTEN connection listens (its first statement is LISTEN)."""
    deadline = time.monotonic() + 15
    while not admin_conn.execute(
            "SELECT 1 FROM pg_stat_activity WHERE application_name = %s AND datname = current_database()"
            " AND state = 'idle' AND (query ILIKE 'LISTEN%%' OR query = 'SELECT 1')", (APPLICATION_NAME,)).fetchone():
        assert time.monotonic() < deadline, "the event listener did not connect"
        time.sleep(0.05)


def generation_event_ids(admin_conn, user_id: str, after: int) -> list[int]:
    return [row[0] for row in admin_conn.execute(
        "SELECT id FROM public.generation_events WHERE user_id = %s AND id > %s ORDER BY id", (user_id, after))]


def test_a_notification_written_alone_wakes_the_stream_at_once(alice: Account, bob: Account, anon: httpx.Client,
                                                               admin_conn, monkeypatch):
    # Only a NOTIFY can wake these streams within the test: their poll is an hour away.
    # Keep-alives every 0.2 s show when a stream has finished a read and waits.
    monkeypatch.setattr(events_endpoints, "POLL_SECONDS", 3600.0)
    monkeypatch.setattr(events_endpoints, "KEEPALIVE_SECONDS", 0.2)
    # The process's listener first: when it connects it wakes every open stream (it may
    # have missed something), which would hide a missing NOTIFY from the streams below.
    with alice.client.stream("GET", "/v1/events", timeout=STREAM_TIMEOUT) as first:
        assert first.status_code == 200
        wait_for_listener(admin_conn)

    with alice.client.stream("GET", "/v1/events", timeout=STREAM_TIMEOUT) as mine, \
            bob.client.stream("GET", "/v1/events", timeout=STREAM_TIMEOUT) as his:
        deadline = time.monotonic() + 10
        alices, bobs = sse(mine, deadline, keepalives=True), sse(his, deadline, keepalives=True)
        assert idle(alices) == [] and idle(bobs) == []

        # Someone tries to sign up with alice's email: auth.request_signup (studio_auth)
        # tells her, and nothing else happens in that transaction.
        r = anon.post("/v1/auth/signup", json={"email": alice.email, "password": "somebody else's"})
        assert r.status_code == 201, r.text
        [notice] = until(alices, lambda event: event["event"] == "notification")
        assert notice["kind"] == "system" and notice["data"] == {"reason": "signup_with_existing_email"}
        assert notice["id"] is None and notice["read_at"] is None

        # A notice to every admin (public.notify_admins as studio_system, called by a
        # worker): one statement, a row per admin; each admin's stream wakes.
        make_admin(alice, admin_conn)
        make_admin(bob, admin_conn)
        with admin_conn.transaction():
            admin_conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(WORKER_ROLE)))
            sent = admin_conn.execute("SELECT public.notify_admins('Backup failed', 'See studio backup status.', "
                                      "'{}'::jsonb)").fetchone()[0]
        assert sent == 2
        for events in (alices, bobs):  # bob's first: alice's notice did not reach him
            [backup] = until(events, lambda event: event["event"] == "notification")
            assert (backup["kind"], backup["title"]) == ("backup", "Backup failed")

        # A worker's notification (a share about to expire, ...), written alone.
        notify_alone(admin_conn, "Written alone", alice.id)
        assert [e["title"] for e in until(alices, titled("Written alone"))] == ["Written alone"]


def test_streams_of_one_session_at_different_positions(alice: Account, bob: Account, worker, admin_conn,
                                                       monkeypatch):
    monkeypatch.setattr(events_endpoints, "KEEPALIVE_SECONDS", 0.2)
    joined: list[tuple[int, int]] = []  # (the shared read's position, the joining stream's)
    join = events_endpoints._SharedRead.join

    def spy(shared, pump):
        joined.append((shared.events_after, pump.cursor.floor))
        join(shared, pump)

    monkeypatch.setattr(events_endpoints._SharedRead, "join", spy)

    earlier = create_speech(alice, "earlier")
    wait_for(alice, earlier, {"succeeded"})
    [_, resume, *_] = generation_event_ids(admin_conn, alice.id, 0)
    backlog = generation_event_ids(admin_conn, alice.id, resume)
    assert backlog

    with alice.client.stream("GET", "/v1/events", headers={"Last-Event-ID": str(resume)},
                             timeout=STREAM_TIMEOUT) as resumed_response, \
            alice.client.stream("GET", "/v1/events", timeout=STREAM_TIMEOUT) as live_response, \
            bob.client.stream("GET", "/v1/events", timeout=STREAM_TIMEOUT) as bobs_response:
        deadline = time.monotonic() + 12
        resumed, live, bobs = (sse(r, deadline, keepalives=True)
                               for r in (resumed_response, live_response, bobs_response))
        # Both of alice's streams have read once and wait, at different positions.
        received = {"resumed": idle(resumed), "live": idle(live), "bob": idle(bobs)}
        assert [e["id"] for e in received["resumed"]] == backlog
        assert received["live"] == [] and received["bob"] == []

        fresh = create_speech(alice, "fresh")
        wait_for(alice, fresh, {"succeeded"})
        # Written alone after the rest: everything before it on a stream is all it got.
        notify_alone(admin_conn, "Sentinel", alice.id, bob.id)
        for name, events in (("resumed", resumed), ("live", live), ("bob", bobs)):
            received[name] += until(events, titled("Sentinel"))

    new = generation_event_ids(admin_conn, alice.id, backlog[-1])
    assert len(new) >= 3  # queued, running, ..., succeeded
    for name, expected in (("resumed", backlog + new), ("live", new)):
        got = received[name]
        assert [e["id"] for e in got if e["event"] == "generation"] == expected, name
        assert {e["generation_id"] for e in got if e["event"] == "generation"} <= {earlier, fresh}
        notifications = [e for e in got if e["event"] == "notification"]
        assert [(n["title"], n["data"].get("generation_id")) for n in notifications] == [
            ("Audio ready", fresh), ("Sentinel", None)], name
    assert [(e["event"], e["title"]) for e in received["bob"]] == [("notification", "Sentinel")]
    # The wake-ups of alice's two streams were read once for both, from the lower position.
    assert joined, "alice's streams never shared a read"


def test_a_long_backlog_arrives_whole_once_in_order(alice: Account, worker, admin_conn, monkeypatch):
    monkeypatch.setattr(events_endpoints, "BATCH", 2)
    monkeypatch.setattr(events_endpoints, "KEEPALIVE_SECONDS", 0.2)
    for prompt in ("one", "two", "three"):  # at least 3 events each
        wait_for(alice, create_speech(alice, prompt), {"succeeded"})
    everything = generation_event_ids(admin_conn, alice.id, 0)
    positions = (everything[0], everything[1])
    assert len(generation_event_ids(admin_conn, alice.id, positions[1])) > 2 * events_endpoints.BATCH

    # Two streams of one session, each with more than BATCH events to catch up on,
    # resumed at different positions.
    with alice.client.stream("GET", "/v1/events", headers={"Last-Event-ID": str(positions[0])},
                             timeout=STREAM_TIMEOUT) as first, \
            alice.client.stream("GET", f"/v1/events?last_event_id={positions[1]}", timeout=STREAM_TIMEOUT) as second:
        deadline = time.monotonic() + 10
        streams = [sse(first, deadline, keepalives=True), sse(second, deadline, keepalives=True)]
        caught_up = [idle(events) for events in streams]
        notify_alone(admin_conn, "Sentinel", alice.id)
        received = [before + until(events, titled("Sentinel")) for before, events in zip(caught_up, streams)]

    for after, events in zip(positions, received):
        assert [e["id"] for e in events[:-1]] == generation_event_ids(admin_conn, alice.id, after)
        assert all(e["event"] == "generation" for e in events[:-1]) and events[-1]["title"] == "Sentinel"
