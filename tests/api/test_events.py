"""Server-Sent Events over HTTP: a real server, a real worker, a real database. The
streams are read with httpx as any client would; waits are bounded by deadlines."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
import uvicorn

from studio.app import create_app
from studio.config import API_ROLE, WORKER_ROLE
from studio.events import endpoints as events_endpoints
from studio.events.listener import APPLICATION_NAME, EventListener
from tests.api.conftest import Account, Server, free_port, make_settings
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


def sse(response: httpx.Response, deadline: float) -> Iterator[dict[str, Any]]:
    """The events of a text/event-stream response, until it closes; fails past `deadline`
    (checked on every line, keep-alives included)."""
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
        elif not line.startswith(":"):
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
