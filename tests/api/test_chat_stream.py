"""Chat answers stream token by token (SSE) from an OpenAI-compatible server (a fake
speaking its protocol on 127.0.0.1, added as a connection by an admin through the API,
with a model whose upstream name is the registry's) and are stored only once complete."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator

import pytest

from studio.config import API_ROLE
from tests.api.conftest import (
    Account,
    Server,
    add_connection,
    add_model,
    early_in_a_window,
    make_admin,
    make_settings,
    serve,
    sign_up_and_log_in,
)
from tests.providers.fakes import PNG, FakeOpenAI, delta, sse


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


UPSTREAM_MODEL = "llama-3.1-8b-instruct"


def connect_fake(server: Server, fake: FakeOpenAI, admin_conn) -> None:
    """An admin connects the fake server and registers one chat model on it (slug openai-chat)."""
    admin = make_admin(sign_up_and_log_in(server, f"admin-{uuid.uuid4().hex[:8]}@example.org"), admin_conn)
    connection = add_connection(admin, "openai", f"{fake.url}/v1", "sk-test-key-0001")
    add_model(admin, connection["id"], UPSTREAM_MODEL, "chat", slug="openai-chat",
              input_cents_per_mtok=250, output_cents_per_mtok=1000)
    admin.client.close()


@pytest.fixture
def chat_server(pg, db, tmp_path, fake_openai, admin_conn) -> Iterator[Server]:
    settings = make_settings(home=tmp_path, provider_timeout=5, provider_max_retries=0)
    for server in serve(settings, pg.conninfo(API_ROLE, db)):
        connect_fake(server, fake_openai, admin_conn)
        yield server


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
    assert sent["stream"] is True and sent["model"] == UPSTREAM_MODEL  # the registry's upstream name
    assert fake_openai.received("POST", "/v1/chat/completions")[0].headers["authorization"] == "Bearer sk-test-key-0001"
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


# --------------------------------------------------------------------------- regenerate


def ask(account: Account, conversation_id: str, content: str, **extra) -> list[tuple[str, dict]]:
    with account.client.stream("POST", f"/v1/conversations/{conversation_id}/messages",
                               json={"role": "user", "content": content, "generate": True, **extra}) as r:
        assert r.status_code == 200, r.read()
        return read_events(r)


def answer_again(account: Account, conversation_id: str, message_id: str, **kwargs) -> list[tuple[str, dict]]:
    url = f"/v1/conversations/{conversation_id}/messages/{message_id}/answers"
    with account.client.stream("POST", url, **kwargs) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream"), r.read()
        return read_events(r)


def test_regenerate_streams_a_sibling_answer_to_the_same_question(carol: Account, fake_openai: FakeOpenAI):
    conversation = carol.client.post("/v1/conversations", json={"model_id": chat_model(carol),
                                                                 "system_prompt": "Be kind."}).json()
    first = ask(carol, conversation["id"], "Say hello")
    question, answer = first[0][1], first[-1][1]
    follow_up = ask(carol, conversation["id"], "And again")  # continues the branch below the first answer
    assert follow_up[0][1]["parent_id"] == answer["id"]

    fake_openai.state["chat_events"] = sse(delta(role="assistant"), delta("Hel"), delta("lo, "), delta("there"),
                                           delta(finish="stop"), "[DONE]")
    events = answer_again(carol, conversation["id"], question["id"])  # no body: the conversation's model
    assert [name for name, _ in events] == ["message", "delta", "delta", "delta", "done"]
    assert events[0][1] == question  # the message answered, as stored
    again = events[-1][1]
    assert again["role"] == "assistant" and again["content"] == "Hello, there" and again["model"] == "openai-chat"
    assert again["parent_id"] == question["id"] and again["id"] != answer["id"]
    # The model saw the branch up to the question only: not the answers below it.
    sent = fake_openai.received("POST", "/v1/chat/completions")[-1].json()
    assert [(m["role"], m["content"]) for m in sent["messages"]] == [("system", "Be kind."), ("user", "Say hello")]

    # Siblings: the earlier answer (and what follows it) stays.
    tree = carol.client.get(f"/v1/conversations/{conversation['id']}/messages").json()["items"]
    children = [m["id"] for m in tree if m["parent_id"] == question["id"]]
    assert children == [answer["id"], again["id"]] and len(tree) == 5

    # A body is optional; model_id null means the conversation's model, an id picks one.
    for body in ({"model_id": None}, {"model_id": chat_model(carol)}, {}):
        assert answer_again(carol, conversation["id"], question["id"], json=body)[-1][0] == "done"
    tree = carol.client.get(f"/v1/conversations/{conversation['id']}/messages").json()["items"]
    assert len([m for m in tree if m["parent_id"] == question["id"]]) == 5


def test_regenerate_refusals_store_nothing_and_call_no_model(chat_server: Server, carol: Account,
                                                           fake_openai: FakeOpenAI, admin_conn):
    conversation = carol.client.post("/v1/conversations", json={"model_id": chat_model(carol)}).json()
    events = ask(carol, conversation["id"], "Say hello")
    question, answer = events[0][1], events[-1][1]
    other = carol.client.post("/v1/conversations", json={"model_id": chat_model(carol)}).json()
    no_model = carol.client.post("/v1/conversations", json={}).json()
    plain = carol.client.post(f"/v1/conversations/{no_model['id']}/messages",
                              json={"role": "user", "content": "hi"}).json()
    espeak = next(m["id"] for m in carol.client.get("/v1/models").json()["items"] if m["slug"] == "espeak-en")
    dave = sign_up_and_log_in(chat_server, "dave@example.org")
    calls = len(fake_openai.received("POST", "/v1/chat/completions"))
    messages = admin_conn.execute("SELECT count(*) FROM messages").fetchone()[0]

    def answers(account: Account, conversation_id: str, message_id: str, **kwargs):
        return account.client.post(f"/v1/conversations/{conversation_id}/messages/{message_id}/answers", **kwargs)

    cases = [
        (answers(carol, conversation["id"], answer["id"]), 422, "validation_error"),   # not a user message
        (answers(carol, conversation["id"], str(uuid.uuid4())), 404, "not_found"),      # no such message
        (answers(carol, other["id"], question["id"]), 404, "not_found"),                # another conversation's
        (answers(carol, str(uuid.uuid4()), question["id"]), 404, "not_found"),
        (answers(dave, conversation["id"], question["id"]), 404, "not_found"),          # another user's
        (answers(dave, conversation["id"], question["id"], json={"model_id": chat_model(dave)}), 404, "not_found"),
        (answers(carol, no_model["id"], plain["id"]), 422, "validation_error"),         # no chat model chosen
        (answers(carol, conversation["id"], question["id"], json={"model_id": espeak}), 422, "validation_error"),
        # A model that does not exist for carol: 404, like anything that is not there for her.
        (answers(carol, conversation["id"], question["id"], json={"model_id": str(uuid.uuid4())}), 404,
         "not_found"),
        (answers(carol, conversation["id"], question["id"], json={"model": "x"}), 422, "validation_error"),
        (answers(carol, conversation["id"], question["id"], json={"model_id": "nope"}), 422, "validation_error"),
        (answers(carol, conversation["id"], "not-a-uuid"), 422, "validation_error"),
        (answers(carol, conversation["id"], question["id"], content=b"{", headers={"content-type": "application/json"}),
         400, "malformed_json"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, (response.request.url, response.text)
        assert response.json()["error"]["code"] == code, response.text
    assert "role is assistant" in cases[0][0].json()["error"]["message"]
    assert cases[3][0].json() == cases[4][0].json()  # another user's: indistinguishable from none
    assert len(fake_openai.received("POST", "/v1/chat/completions")) == calls
    assert admin_conn.execute("SELECT count(*) FROM messages").fetchone()[0] == messages
    dave.client.close()


def test_a_failed_regenerate_stores_no_half_answer(carol: Account, fake_openai: FakeOpenAI):
    conversation = carol.client.post("/v1/conversations", json={"model_id": chat_model(carol)}).json()
    question = ask(carol, conversation["id"], "Say hello")[0][1]
    fake_openai.state["chat_cut_after"] = 3
    events = answer_again(carol, conversation["id"], question["id"])
    assert [name for name, _ in events] == ["message", "delta", "delta", "error"]
    assert events[0][1] == question and events[-1][1]["code"] == "provider_error"
    tree = carol.client.get(f"/v1/conversations/{conversation['id']}/messages").json()["items"]
    assert [m["role"] for m in tree] == ["user", "assistant"]


@pytest.fixture
def limited_chat(pg, db, tmp_path, fake_openai, admin_conn) -> Iterator[Server]:
    settings = make_settings(home=tmp_path, provider_timeout=5, provider_max_retries=0, rate_limit_chat_per_minute=2)
    for server in serve(settings, pg.conninfo(API_ROLE, db)):
        connect_fake(server, fake_openai, admin_conn)
        yield server


def test_regenerate_counts_against_the_chat_rate_limit(limited_chat: Server, fake_openai: FakeOpenAI):
    erin = sign_up_and_log_in(limited_chat, "erin@example.org")
    conversation = erin.client.post("/v1/conversations", json={"model_id": chat_model(erin)}).json()
    early_in_a_window()
    question = ask(erin, conversation["id"], "Say hello")[0][1]
    answer_again(erin, conversation["id"], question["id"])
    r = erin.client.post(f"/v1/conversations/{conversation['id']}/messages/{question['id']}/answers")
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited" and "Retry-After" in r.headers
    assert len(fake_openai.received("POST", "/v1/chat/completions")) == 2
    erin.client.close()


def test_each_answer_records_its_tokens_and_cost_for_its_owner_only(carol: Account, fake_openai: FakeOpenAI,
                                                                     chat_server: Server, admin_conn):
    fake_openai.state["chat_events"] = sse(
        delta("Hi"), delta(finish="stop"),
        {"id": "c", "object": "chat.completion.chunk", "choices": [],
         "usage": {"prompt_tokens": 40_000, "completion_tokens": 10_000, "total_tokens": 50_000}},
        "[DONE]")
    conversation = carol.client.post("/v1/conversations", json={"model_id": chat_model(carol)}).json()
    answer = ask(carol, conversation["id"], "Count")[-1][1]

    usage = carol.client.get("/v1/me/usage").json()
    [row] = usage["items"]
    assert row["kind"] == "chat" and row["model"] == UPSTREAM_MODEL and row["requests"] == 1
    assert (row["input_tokens"], row["output_tokens"]) == (40_000, 10_000)
    assert row["cost_cents"] == 20  # 250 cents per million in, 1000 per million out
    assert usage["totals"] == {"requests": 1, "input_tokens": 40_000, "output_tokens": 10_000, "cost_cents": 20}
    stored = admin_conn.execute("SELECT message_id, user_id FROM api_usage").fetchall()
    assert [(str(m), str(u)) for m, u in stored] == [(answer["id"], carol.id)]
    # A vendor that reports nothing: the answer is counted, its tokens as unknown (0).
    fake_openai.state["chat_events"] = sse(delta("Hi"), delta(finish="stop"), "[DONE]")
    ask(carol, conversation["id"], "Again")
    assert carol.client.get("/v1/me/usage").json()["totals"]["requests"] == 2
    # Nobody else sees it.
    dave = sign_up_and_log_in(chat_server, "dave@example.org")
    assert dave.client.get("/v1/me/usage").json()["items"] == []
    r = dave.client.get("/v1/me/usage", params={"since": "2026-02-01", "until": "2026-01-01"})
    assert r.status_code == 422
    dave.client.close()


def test_full_text_search_finds_words_in_ones_own_messages_and_titles_only(carol: Account, chat_server: Server,
                                                                          fake_openai: FakeOpenAI):
    trip = carol.client.post("/v1/conversations", json={"title": "Trip to Lisbon", "model_id": chat_model(carol)}).json()
    ask(carol, trip["id"], "Which trams climb to the castle in Lisbon?")
    recipes = carol.client.post("/v1/conversations", json={"title": "Recipes"}).json()
    carol.client.post(f"/v1/conversations/{recipes['id']}/messages",
                      json={"role": "user", "content": "A custard tart from Belem, Lisbon style"})
    erin = sign_up_and_log_in(chat_server, "erin-search@example.org")
    other = erin.client.post("/v1/conversations", json={"title": "Lisbon"}).json()
    erin.client.post(f"/v1/conversations/{other['id']}/messages", json={"role": "user", "content": "Lisbon trams"})

    hits = carol.client.get("/v1/conversations/search", params={"q": "lisbon"}).json()
    found = [(h["conversation_title"], h["role"]) for h in hits["items"]]
    # Newest first: the tart message, the question about trams, then the title match.
    assert found == [("Recipes", "user"), ("Trip to Lisbon", "user"), ("Trip to Lisbon", None)], found
    assert "«Lisbon»" in hits["items"][0]["snippet"]
    # Every word must match; a phrase and exclusion work; pages follow.
    assert [h["conversation_id"] for h in carol.client.get(
        "/v1/conversations/search", params={"q": "trams castle"}).json()["items"]] == [trip["id"]]
    assert carol.client.get("/v1/conversations/search", params={"q": "lisbon -tart -trams"}).json()["items"][0][
        "message_id"] is None
    first = carol.client.get("/v1/conversations/search", params={"q": "lisbon", "limit": 2}).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = carol.client.get("/v1/conversations/search",
                            params={"q": "lisbon", "limit": 2, "cursor": first["next_cursor"]}).json()
    assert [h["id"] for h in first["items"] + rest["items"]] == [h["id"] for h in hits["items"]]
    assert rest["next_cursor"] is None
    # Odd input is a 4xx or no hit, never a 500.
    for q in ("", "   ", "&|!(", "'", "a" * 201):
        r = carol.client.get("/v1/conversations/search", params={"q": q})
        assert r.status_code in (200, 422), (q, r.status_code, r.text)
    erin.client.close()


def test_images_attached_to_a_message_go_to_a_vision_model_only(carol: Account, chat_server: Server,
                                                                fake_openai: FakeOpenAI, admin_conn):
    photo = carol.client.post("/v1/uploads", content=PNG, headers={"Content-Type": "image/png"}).json()
    conversation = carol.client.post("/v1/conversations", json={"model_id": chat_model(carol)}).json()
    url = f"/v1/conversations/{conversation['id']}/messages"
    message = {"role": "user", "content": "What is in this picture?", "generate": True, "attachments": [photo["id"]]}

    refused = carol.client.post(url, json=message)
    assert refused.status_code == 422 and "vision" in refused.json()["error"]["message"], refused.text
    assert carol.client.get(url).json()["items"] == [] and fake_openai.requests == []

    admin_conn.execute("UPDATE model_registry SET capabilities = '{chat,vision}' WHERE slug = 'openai-chat'")
    events = ask(carol, conversation["id"], message["content"], attachments=[photo["id"]])
    assert events[0][1]["attachments"] == [{"id": photo["id"], "content_type": "image/png",
                                            "url": f"/v1/media/{photo['id']}"}]
    sent = fake_openai.received("POST", "/v1/chat/completions")[0].json()
    [text, image] = sent["messages"][-1]["content"]
    assert text == {"type": "text", "text": "What is in this picture?"}
    assert base64.b64decode(image["image_url"]["url"].removeprefix("data:image/png;base64,")) == PNG
    # Listed with the message, and the next question in the branch sends it again.
    tree = carol.client.get(url).json()["items"]
    assert [len(m["attachments"]) for m in tree] == [1, 0]
    ask(carol, conversation["id"], "And its colour?")
    again = fake_openai.received("POST", "/v1/chat/completions")[1].json()
    assert isinstance(again["messages"][0]["content"], list) and again["messages"][-1]["content"] == "And its colour?"

    # Someone else's picture does not exist for carol.
    frank = sign_up_and_log_in(chat_server, "frank@example.org")
    franks = frank.client.post("/v1/uploads", content=PNG, headers={"Content-Type": "image/png"}).json()
    r = carol.client.post(url, json={**message, "attachments": [franks["id"]]})
    assert r.status_code == 404, r.text
    assert len(carol.client.get(url).json()["items"]) == 4
    frank.client.close()


def test_compare_streams_several_models_as_sibling_answers(carol: Account, chat_server: Server,
                                                           fake_openai: FakeOpenAI, admin_conn):
    admin = make_admin(sign_up_and_log_in(chat_server, "admin-compare@example.org"), admin_conn)
    [connection] = admin.client.get("/v1/admin/connections").json()["items"]
    other = add_model(admin, connection["id"], "other-upstream", "chat", slug="other-chat")
    admin.client.close()
    first = chat_model(carol)
    conversation = carol.client.post("/v1/conversations", json={"model_id": first}).json()

    events = ask(carol, conversation["id"], "Compare yourselves", compare_model_ids=[first, other["id"]])
    question = events[0][1]
    by_answer: dict[int, str] = {}
    for name, data in events[1:]:
        if name == "delta":
            by_answer[data["answer"]] = by_answer.get(data["answer"], "") + data["content"]
    assert by_answer == {0: "Hello, world", 1: "Hello, world"}
    done = {data["answer"]: data for name, data in events if name == "done"}
    assert done[0]["model"] == "openai-chat" and done[1]["model"] == "other-chat"
    assert done[0]["parent_id"] == done[1]["parent_id"] == question["id"] and done[0]["id"] != done[1]["id"]
    sent = sorted(r.json()["model"] for r in fake_openai.received("POST", "/v1/chat/completions"))
    assert sent == [UPSTREAM_MODEL, "other-upstream"]
    tree = carol.client.get(f"/v1/conversations/{conversation['id']}/messages").json()["items"]
    assert sorted(m["model"] or "" for m in tree if m["role"] == "assistant") == ["openai-chat", "other-chat"]

    # Refusals store nothing: the same model twice, and model_id with compare_model_ids.
    url = f"/v1/conversations/{conversation['id']}/messages"
    for body in ({"compare_model_ids": [first, first]}, {"compare_model_ids": [first, other["id"]], "model_id": first},
                 {"compare_model_ids": [first, str(uuid.uuid4())]}):
        r = carol.client.post(url, json={"role": "user", "content": "x", "generate": True, **body})
        assert r.status_code in (404, 422), (body, r.text)
    assert len(carol.client.get(url).json()["items"]) == 3
