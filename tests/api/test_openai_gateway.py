"""Studio as an OpenAI-compatible endpoint, used by the official `openai` package: the
models, chat completions (streamed and not, with images for a vision model), an image
and speech through a real worker, all on a vendor server (a fake speaking OpenAI's
protocol on 127.0.0.1) that an admin connected; usage is recorded; a revoked key is
refused."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import openai
import pytest

from tests.api.conftest import Account, Server, sign_up_and_log_in, studio_with_vendor
from tests.providers.conftest import serve_fake
from tests.providers.fakes import KEY, PNG, WAV, FakeOpenAI, delta, sse


@pytest.fixture(scope="module")
def vendor() -> Iterator[FakeOpenAI]:
    yield from serve_fake(FakeOpenAI())


@pytest.fixture
def gateway(pg, db, tmp_path, vendor: FakeOpenAI, admin_conn) -> Iterator[Server]:
    with studio_with_vendor(pg, db, tmp_path, vendor, admin_conn) as studio:
        studio.model("upstream-chat", "chat", slug="gw-chat", capabilities=["chat", "vision"],
                     input_cents_per_mtok=100_000, output_cents_per_mtok=200_000)
        studio.model("upstream-text-only", "chat", slug="gw-text")
        studio.model("upstream-image", "image", slug="gw-image")
        studio.model("upstream-tts", "audio", slug="gw-speech")
        yield studio


@pytest.fixture
def user(gateway: Server) -> Iterator[Account]:
    account = sign_up_and_log_in(gateway, "dev@example.org")
    yield account
    account.client.close()


def client_for(server: Server, account: Account) -> tuple[openai.OpenAI, str]:
    created = account.client.post("/v1/api-keys", json={"name": "editor"}).json()
    return openai.OpenAI(base_url=f"{server.url}/openai/v1", api_key=created["key"], max_retries=0,
                         timeout=30), created["api_key"]["id"]


def test_the_official_client_lists_models_and_chats(gateway: Server, user: Account, vendor: FakeOpenAI):
    client, _ = client_for(gateway, user)

    ids = {model.id for model in client.models.list()}
    assert {"gw-chat", "gw-image", "gw-speech", "espeak-en"} <= ids

    reply = client.chat.completions.create(model="gw-chat", messages=[
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello"}], temperature=0.2)
    assert reply.choices[0].message.content == "Hello, world" and reply.choices[0].finish_reason == "stop"
    assert reply.model == "gw-chat"
    [call] = vendor.received("POST", "/v1/chat/completions")
    sent = call.json()
    assert sent["model"] == "upstream-chat" and sent["temperature"] == 0.2  # the registry's upstream name
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]
    assert call.headers["authorization"] == f"Bearer {KEY}"  # the connection's key, never the caller's


def test_streamed_chat_with_usage_and_an_image(gateway: Server, user: Account, vendor: FakeOpenAI):
    client, _ = client_for(gateway, user)
    vendor.state["chat_events"] = sse(
        delta(role="assistant"), delta("A red"), delta(" square"), delta(finish="stop"),
        {"id": "c", "object": "chat.completion.chunk", "choices": [],
         "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150}}, "[DONE]")
    image = "data:image/png;base64," + base64.b64encode(PNG).decode()

    stream = client.chat.completions.create(
        model="gw-chat", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                               {"type": "image_url", "image_url": {"url": image}}]}])
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "A red square"
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 120
    assert chunks[-1].usage.completion_tokens == 30
    [call] = vendor.received("POST", "/v1/chat/completions")
    [part_text, part_image] = call.json()["messages"][0]["content"]
    assert part_text == {"type": "text", "text": "What is this?"}
    assert base64.b64decode(part_image["image_url"]["url"].split(",", 1)[1]) == PNG

    # Recorded like the chat's: tokens and cost (100,000 cents per million in, 200,000 out).
    [row] = user.client.get("/v1/me/usage").json()["items"]
    assert (row["kind"], row["model"], row["input_tokens"], row["output_tokens"]) == ("chat", "upstream-chat", 120, 30)
    assert row["cost_cents"] == 18


def test_images_for_a_model_without_vision_and_unknown_models_are_refused(gateway: Server, user: Account,
                                                                          vendor: FakeOpenAI):
    client, _ = client_for(gateway, user)
    image = "data:image/png;base64," + base64.b64encode(PNG).decode()
    with pytest.raises(openai.BadRequestError, match="does not accept images"):
        client.chat.completions.create(model="gw-text", messages=[
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": image}}]}])
    with pytest.raises(openai.BadRequestError, match="data URLs"):
        client.chat.completions.create(model="gw-chat", messages=[
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://example.org/x.png"}}]}])
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError, match="image model"):
        client.chat.completions.create(model="gw-image", messages=[{"role": "user", "content": "hi"}])
    assert vendor.received("POST", "/v1/chat/completions") == []


def test_an_image_and_speech_through_the_worker(gateway: Server, user: Account, vendor: FakeOpenAI):
    client, _ = client_for(gateway, user)

    images = client.images.generate(model="gw-image", prompt="a red fox", size="1024x1024")
    [image] = images.data
    assert image.b64_json is not None and base64.b64decode(image.b64_json) == PNG
    [call] = vendor.received("POST", "/v1/images/generations")
    assert call.json()["model"] == "upstream-image" and call.json()["size"] == "1024x1024"

    speech = client.audio.speech.create(model="gw-speech", voice="alloy", input="Hello there",
                                        response_format="wav")
    assert speech.content == WAV
    [call] = vendor.received("POST", "/v1/audio/speech")
    assert call.json()["model"] == "upstream-tts" and call.json()["voice"] == "alloy"

    # Both are in the user's gallery, like any generation.
    listed = user.client.get("/v1/generations").json()["items"]
    assert sorted(g["type"] for g in listed) == ["audio", "image"]
    assert {g["status"] for g in listed} == {"succeeded"}


def test_a_revoked_key_is_refused(gateway: Server, user: Account):
    client, key_id = client_for(gateway, user)
    assert client.models.list().data
    assert user.client.delete(f"/v1/api-keys/{key_id}").status_code == 204
    with pytest.raises(openai.AuthenticationError):
        client.models.list()
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="gw-chat", messages=[{"role": "user", "content": "hi"}])
