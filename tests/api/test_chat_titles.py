"""Automatic titles: after a conversation's first answer, the title model the admin chose
writes its title in a job run by a real worker; a title the user gave stays, and no
title model means no job."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from studio.chat.tasks import clean_title
from tests.api.conftest import Account, VendorStudio, sign_up_and_log_in, studio_with_vendor
from tests.api.test_chat_stream import ask
from tests.providers.conftest import serve_fake
from tests.providers.fakes import FakeOpenAI, delta, sse


@pytest.fixture(scope="module")
def vendor() -> Iterator[FakeOpenAI]:
    yield from serve_fake(FakeOpenAI())


@pytest.fixture
def studio(pg, db, tmp_path, vendor: FakeOpenAI, admin_conn) -> Iterator[VendorStudio]:
    with studio_with_vendor(pg, db, tmp_path, vendor, admin_conn) as studio:
        yield studio


def setup_models(studio: VendorStudio, *, titles: bool) -> str:
    admin = studio.admin
    chat = studio.model("big-model", "chat", slug="big")
    titler = studio.model("small-model", "chat", slug="small")
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
    return chat["id"]


def wait_for_title(account: Account, conversation_id: str, not_this: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while True:
        title = account.client.get(f"/v1/conversations/{conversation_id}").json()["title"]
        if title != not_this:
            return title
        assert time.monotonic() < deadline, "the title job did not rename the conversation"
        time.sleep(0.2)


def test_the_title_model_names_a_conversation_after_its_first_answer(studio: VendorStudio, vendor: FakeOpenAI,
                                                                     admin_conn):
    chat = setup_models(studio, titles=True)
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


def test_a_placeholder_title_is_replaced_and_says_so(studio: VendorStudio, vendor: FakeOpenAI):
    chat = setup_models(studio, titles=True)
    user = sign_up_and_log_in(studio, "user@example.org")
    vendor.state["chat_events"] = sse(delta("Tram routes"), delta(finish="stop"), "[DONE]")
    # What the web app does: the first words as the title until the title model's comes.
    placeholder = "Which trams climb to the castle"
    conversation = user.client.post("/v1/conversations", json={"model_id": chat, "title": placeholder,
                                                                "title_auto": True}).json()
    assert (conversation["title"], conversation["title_auto"]) == (placeholder, True)
    ask(user, conversation["id"], "Which trams climb to the castle in Lisbon?")
    assert wait_for_title(user, conversation["id"], placeholder) == "Tram routes"
    # Renamed by its user, it is theirs: no longer automatic.
    renamed = user.client.patch(f"/v1/conversations/{conversation['id']}", json={"title": "Lisbon"}).json()
    assert (renamed["title"], renamed["title_auto"]) == ("Lisbon", False)
    # A given title without the flag is the user's; the flag may also say so outright.
    for body in ({"title": "Mine"}, {"title_auto": False}):
        made = user.client.post("/v1/conversations", json={"model_id": chat, **body}).json()
        assert made["title_auto"] is False, body
    user.client.close()


def test_a_given_title_stays_and_without_a_title_model_there_is_no_job(studio: VendorStudio, vendor: FakeOpenAI,
                                                                       admin_conn):
    chat = setup_models(studio, titles=False)
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
