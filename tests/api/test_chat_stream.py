"""Chat answers stream token by token (SSE) from an OpenAI-compatible server (a fake
speaking its protocol on 127.0.0.1) and are stored only once complete."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from studio.config import API_ROLE
from tests.api.conftest import Account, Server, make_settings, serve, sign_up_and_log_in
from tests.providers.fakes import FakeOpenAI


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def chat_server(pg, db, tmp_path, fake_openai) -> Iterator[Server]:
    settings = make_settings(home=tmp_path, openai_base_url=f"{fake_openai.url}/v1", provider_timeout=5,
                             provider_max_retries=0)
    yield from serve(settings, pg.conninfo(API_ROLE, db))


@pytest.fixture
def carol(chat_server: Server) -> Iterator[Account]:
    account = sign_up_and_log_in(chat_server, "carol@example.org")
    yield account
    account.client.close()


def chat_model(account: Account) -> str:
    return next(m["id"] for m in account.client.get("/v1/models").json()["items"] if m["slug"] == "openai-chat")


def read_events(response) -> list[tuple[str, dict]]:
    events, name = [], None
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            events.append((name, json.loads(line.removeprefix("data: "))))
    return events


def test_answer_streams_and_is_stored_under_the_question(carol: Account, fake_openai: FakeOpenAI, admin_conn):
    conversation = carol.client.post("/v1/conversations", json={"title": "chat", "model_id": chat_model(carol),
                                                                 "system_prompt": "Be kind."}).json()
    url = f"/v1/conversations/{conversation['id']}/messages"
    with carol.client.stream("POST", url, json={"role": "user", "content": "Say hello", "generate": True}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = read_events(r)
    kinds = [name for name, _ in events]
    assert kinds == ["message", "delta", "delta", "delta", "done"]
    question, answer = events[0][1], events[-1][1]
    assert "".join(e["content"] for name, e in events if name == "delta") == "Hello, world"
    assert answer["role"] == "assistant" and answer["content"] == "Hello, world"
    assert answer["parent_id"] == question["id"] and answer["model"] == "openai-chat"
    # The provider got the system prompt and the branch so far, in order.
    sent = fake_openai.received("POST", "/v1/chat/completions")[0].json()
    assert sent["stream"] is True
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]
    tree = carol.client.get(url).json()["items"]
    assert [m["content"] for m in tree] == ["Say hello", "Hello, world"]


def test_a_failed_stream_stores_no_half_answer(carol: Account, fake_openai: FakeOpenAI, admin_conn):
    fake_openai.state["chat_cut_after"] = 3  # the provider dies after two deltas
    conversation = carol.client.post("/v1/conversations", json={"model_id": chat_model(carol)}).json()
    url = f"/v1/conversations/{conversation['id']}/messages"
    with carol.client.stream("POST", url, json={"role": "user", "content": "Say hello", "generate": True}) as r:
        events = read_events(r)
    assert events[-1][0] == "error"
    assert [m["role"] for m in carol.client.get(url).json()["items"]] == ["user"]


def test_unavailable_model_and_wrong_role(chat_server: Server, carol: Account, admin_conn):
    conversation = carol.client.post("/v1/conversations", json={}).json()
    url = f"/v1/conversations/{conversation['id']}/messages"
    no_model = carol.client.post(url, json={"role": "user", "content": "hi", "generate": True})
    assert no_model.status_code == 422
    wrong_role = carol.client.post(url, json={"role": "assistant", "content": "hi", "generate": True,
                                              "model_id": chat_model(carol)})
    assert wrong_role.status_code == 422
    assert admin_conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 0


def test_another_users_conversation_is_404(chat_server: Server, carol: Account, fake_openai: FakeOpenAI):
    dave = sign_up_and_log_in(chat_server, "dave@example.org")
    conversation = carol.client.post("/v1/conversations", json={"model_id": chat_model(carol)}).json()
    r = dave.client.post(f"/v1/conversations/{conversation['id']}/messages",
                         json={"role": "user", "content": "hi", "generate": True})
    assert r.status_code == 404
    assert fake_openai.received("POST", "/v1/chat/completions") == []
