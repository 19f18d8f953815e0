"""Provider connections in real processes: `studio up` with two API processes and its
worker, fake OpenAI-compatible servers on 127.0.0.1.

1. The environment seeds a connection on the first start (and only then: a later start
   with another key leaves the admin's settings alone).
2. An admin's change (a new base URL and key, then switching the connection off) is
   followed by every API process and the worker within seconds, without a restart.
3. The key is in no log line and in no stored byte in plaintext.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.providers.fakes import FakeOpenAI

from .support import (
    Lab,
    child_env,
    free_port,
    needs_postgres,
    sign_up_and_log_in,
    superuser_sql,
    wait_generation,
)
from .support import client as studio_client

pytestmark = [pytest.mark.slow, needs_postgres]

SEEDED_KEY = "sk-seeded-from-environment-7a1f"
NEW_KEY = "sk-changed-by-the-admin-93c2"
TERMINAL = {"succeeded", "failed", "canceled"}


@pytest.fixture
def fakes() -> Iterator[tuple[FakeOpenAI, FakeOpenAI]]:
    first, second = FakeOpenAI(), FakeOpenAI()
    first.start()
    try:
        second.start()
        try:
            yield first, second
        finally:
            second.stop()
    finally:
        first.stop()


def _admin(home: Any, client: httpx.Client) -> dict[str, Any]:
    user = sign_up_and_log_in(client)
    superuser_sql(home, "UPDATE public.users SET role = 'admin' WHERE id = %s", (user["id"],))
    return user


def _until(what: str, check: Any, timeout: float = 15.0) -> Any:
    """Polls `check` until it returns something truthy: the change has arrived."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout:.0f}s: {what}")
        time.sleep(0.2)


def _chat(client: httpx.Client, conversation_id: str, model_id: str) -> tuple[int, str]:
    with client.stream("POST", f"/v1/conversations/{conversation_id}/messages",
                       json={"role": "user", "content": "hi", "generate": True, "model_id": model_id}) as r:
        return r.status_code, r.read().decode()


def test_connections_are_seeded_once_and_followed_by_every_process(lab: Lab, fakes: tuple[FakeOpenAI, FakeOpenAI]):
    first, second = fakes
    home = lab.home()
    port = free_port()
    env = child_env(home, port, STUDIO_API_WORKERS="2", STUDIO_BACKUP_ENABLED="false",
                    STUDIO_OPENAI_BASE_URL=f"{first.url}/v1", STUDIO_OPENAI_API_KEY=SEEDED_KEY)
    up = lab.start(["up"], env)
    up.wait_ready(port)
    assert "Added the provider connection 'openai' from the environment" in up.wait_output("Stop with Ctrl+C.")

    with studio_client(port) as admin, studio_client(port) as user:
        _admin(home, admin)
        [seeded] = admin.get("/v1/admin/connections").json()["items"]
        assert seeded["name"] == "openai" and seeded["api_key_last4"] == SEEDED_KEY[-4:]
        assert seeded["base_url"] == f"{first.url}/v1"
        image = admin.post("/v1/admin/models", json={"connection_id": seeded["id"], "provider_model": "painter-1",
                                                     "type": "image", "slug": "painter"})
        chat = admin.post("/v1/admin/models", json={"connection_id": seeded["id"], "provider_model": "talker-1",
                                                    "type": "chat", "slug": "talker"})
        assert image.status_code == 201 and chat.status_code == 201, image.text + chat.text

        sign_up_and_log_in(user)
        conversation = user.post("/v1/conversations", json={"title": "e2e"}).json()
        generation = user.post("/v1/generations", json={"type": "image", "model_id": image.json()["id"],
                                                        "prompt": "a fox"}).json()
        assert wait_generation(user, generation["id"], TERMINAL, 60, [up])["status"] == "succeeded"
        [call] = first.received("POST", "/v1/images/generations")
        assert call.headers["authorization"] == f"Bearer {SEEDED_KEY}" and call.json()["model"] == "painter-1"

        # The admin points the connection at another server with another key: the worker
        # and both API processes follow, without a restart.
        changed = admin.patch(f"/v1/admin/connections/{seeded['id']}",
                              json={"base_url": f"{second.url}/v1", "api_key": NEW_KEY})
        assert changed.status_code == 200 and changed.json()["api_key_last4"] == NEW_KEY[-4:], changed.text
        generation = user.post("/v1/generations", json={"type": "image", "model_id": image.json()["id"],
                                                        "prompt": "a hare"}).json()
        assert wait_generation(user, generation["id"], TERMINAL, 60, [up])["status"] == "succeeded"
        [call] = second.received("POST", "/v1/images/generations")
        assert call.headers["authorization"] == f"Bearer {NEW_KEY}"
        assert len(first.received("POST", "/v1/images/generations")) == 1
        # Each request may reach either API process: every one of them answers from the new server.
        for _ in range(6):
            status, body = _chat(user, conversation["id"], chat.json()["id"])
            assert status == 200 and "event: done" in body and "provider_error" not in body, body
        assert len(second.received("POST", "/v1/chat/completions")) == 6
        assert first.received("POST", "/v1/chat/completions") == []

        # Switched off: every process refuses its models at once.
        assert admin.patch(f"/v1/admin/connections/{seeded['id']}", json={"enabled": False}).status_code == 200
        refusals = [user.post(f"/v1/conversations/{conversation['id']}/messages",
                              json={"role": "user", "content": "hi", "generate": True,
                                    "model_id": chat.json()["id"]}) for _ in range(6)]
        assert {r.status_code for r in refusals} == {409}, [r.text for r in refusals]
        assert "disabled" in refusals[0].json()["error"]["message"]
        models = {m["slug"]: m for m in user.get("/v1/models").json()["items"]}
        assert models["painter"]["available"] is False

    # Neither key in plaintext in any log line or stored byte.
    log = (home / "logs" / "studio.log").read_text()
    [(stored,)] = superuser_sql(home, "SELECT to_jsonb(c)::text || encode(api_key_encrypted, 'escape')"
                                      " FROM public.provider_connections c")
    for key in (SEEDED_KEY, NEW_KEY):
        assert key not in log and key not in stored
    assert up.terminate() == 0

    # A later start with another key in the environment: the admin's settings stand.
    again = lab.start(["up"], {**env, "STUDIO_OPENAI_API_KEY": "sk-ignored-on-a-later-start-0000"})
    again.wait_ready(port)
    assert "Added the provider connection" not in again.wait_output("Stop with Ctrl+C.")
    [(last4, base_url)] = superuser_sql(home, "SELECT api_key_last4, base_url FROM public.provider_connections")
    assert (last4, base_url) == (NEW_KEY[-4:], f"{second.url}/v1")
    assert again.terminate() == 0
