"""Automatic titles: after a conversation's first answer, the title model the admin chose
writes its title in a job run by a real worker; a title the user gave stays, and no
title model means no job."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from studio.chat.tasks import clean_title
from studio.config import API_ROLE, WORKER_ROLE
from tests.api.conftest import (
    Account,
    Server,
    add_connection,
    add_model,
    make_admin,
    make_settings,
    serve,
    sign_up_and_log_in,
)
from tests.api.test_chat_stream import ask
from tests.api.test_generations import WorkerThread
from tests.providers.fakes import KEY, FakeOpenAI, delta, sse


@pytest.fixture(scope="module")
def vendor() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def studio(pg, db, tmp_path, vendor: FakeOpenAI) -> Iterator[Server]:
    vendor.reset()
    settings = make_settings(home=tmp_path, provider_timeout=5, provider_max_retries=0)
    for server in serve(settings, pg.conninfo(API_ROLE, db)):
        worker = WorkerThread(settings, pg.conninfo(WORKER_ROLE, db))
        try:
            yield server
        finally:
            worker.stop()


def setup_models(server: Server, vendor: FakeOpenAI, admin_conn, *, titles: bool) -> str:
    admin = make_admin(sign_up_and_log_in(server, f"admin-{uuid.uuid4().hex[:6]}@example.org"), admin_conn)
    connection = add_connection(admin, "openai", f"{vendor.url}/v1", KEY)
    chat = add_model(admin, connection["id"], "big-model", "chat", slug="big")
    titler = add_model(admin, connection["id"], "small-model", "chat", slug="small")
    if titles:
        r = admin.client.patch(f"/v1/admin/models/{titler['id']}", json={"use_for_titles": True})
        assert r.status_code == 200 and r.json()["use_for_titles"] is True, r.text
        # One title model at most: choosing another one unsets the first.
        assert admin.client.patch(f"/v1/admin/models/{chat['id']}", json={"use_for_titles": True}).status_code == 200
        assert admin.client.patch(f"/v1/admin/models/{titler['id']}", json={"use_for_titles": True}).status_code == 200
        flags = {m["slug"]: m["use_for_titles"] for m in admin.client.get("/v1/admin/models").json()["items"]}
        assert flags["big"] is False and flags["small"] is True
        espeak = next(m for m in admin.client.get("/v1/admin/models").json()["items"] if m["slug"] == "espeak-en")
        r = admin.client.patch(f"/v1/admin/models/{espeak['id']}", json={"use_for_titles": True})
        assert r.status_code == 422
    admin.client.close()
    return chat["id"]


def wait_for_title(account: Account, conversation_id: str, not_this: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while True:
        title = account.client.get(f"/v1/conversations/{conversation_id}").json()["title"]
        if title != not_this:
            return title
        assert time.monotonic() < deadline, "the title job did not rename the conversation"
        time.sleep(0.2)


def test_the_title_model_names_a_conversation_after_its_first_answer(studio: Server, vendor: FakeOpenAI,
                                                                     admin_conn):
    chat = setup_models(studio, vendor, admin_conn, titles=True)
    user = sign_up_and_log_in(studio, "user@example.org")
    vendor.state["chat_events"] = sse(delta('"Trams of Lisbon."'), delta(finish="stop"), "[DONE]")
    conversation = user.client.post("/v1/conversations", json={"model_id": chat}).json()
    assert conversation["title"] == "New conversation"

    ask(user, conversation["id"], "Which trams climb to the castle in Lisbon?")
    assert wait_for_title(user, conversation["id"], "New conversation") == "Trams of Lisbon"

    [answered, titled] = vendor.received("POST", "/v1/chat/completions")
    assert answered.json()["model"] == "big-model"
    sent = titled.json()
    assert sent["model"] == "small-model" and sent["max_tokens"] == 32
    assert "Which trams climb" in sent["messages"][1]["content"] and "Trams of Lisbon" in sent["messages"][1]["content"]
    # A second answer asks for no other title.
    ask(user, conversation["id"], "And the fare?")
    time.sleep(1)
    assert admin_conn.execute("SELECT count(*) FROM jobs WHERE kind = 'conversation_title'").fetchone() == (1,)
    user.client.close()


def test_a_given_title_stays_and_without_a_title_model_there_is_no_job(studio: Server, vendor: FakeOpenAI,
                                                                       admin_conn):
    chat = setup_models(studio, vendor, admin_conn, titles=False)
    user = sign_up_and_log_in(studio, "user@example.org")
    untitled = user.client.post("/v1/conversations", json={"model_id": chat}).json()
    ask(user, untitled["id"], "Hello?")
    named = user.client.post("/v1/conversations", json={"model_id": chat, "title": "My trip"}).json()
    ask(user, named["id"], "Hello?")
    assert admin_conn.execute("SELECT count(*) FROM jobs WHERE kind = 'conversation_title'").fetchone() == (0,)
    # The untitled one is renamed by its user: the title model would not touch it any more.
    user.client.patch(f"/v1/conversations/{untitled['id']}", json={"title": "Chosen"})
    assert admin_conn.execute("SELECT bool_or(title_auto) FROM conversations").fetchone() == (False,)
    assert admin_conn.execute("SELECT title FROM conversations WHERE id = %s", (untitled["id"],)).fetchone() == (
        "Chosen",)
    user.client.close()


@pytest.mark.parametrize(("answer", "title"), [
    ('"Trams of Lisbon."', "Trams of Lisbon"),
    ("Title: Baking bread\nBecause you asked about bread.", "Baking bread"),
    ("**Pasta night**", "Pasta night"),
    ("   \n\n", None),
    ("x" * 200, "x" * 80),
])
def test_clean_title(answer: str, title: str | None):
    assert clean_title(answer) == title
