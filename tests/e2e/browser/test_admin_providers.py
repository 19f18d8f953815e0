"""Models & providers in the browser: an admin connects a second OpenAI-compatible
server with a key (shown only by its last 4 characters), tests it, imports a model from
its list and edits it; a user chats with that model and the answer comes from that
server, under the registered upstream name; disabled, the connection's model shows as
unavailable in the user's picker; removed, it is gone. The Ollama the admin pages find
running is added in one click. Nobody else can open these pages."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.support import needs_postgres
from tests.providers.fakes import FakeOllama, FakeOpenAI

from .harness import (
    PHONE,
    Studio,
    api_call,
    check_page,
    log_in,
    no_sideways_scroll,
    script_answer,
    settled,
    sign_up,
    watch_of,
)

pytestmark = [pytest.mark.slow, needs_postgres]

SECOND_KEY = "sk-second-server-test-k3Y9"  # its last 4: "k3Y9"
UPSTREAM = "mistral-small-fake"
SHOWN_NAME = "Second server chat"
# A 1x1 PNG put in a dataset from the page, as its signed-in user.
UPLOAD_PIXEL = """async (path) => {
    const me = await (await fetch('/v1/me')).json();
    const canvas = document.createElement('canvas');
    canvas.width = canvas.height = 1;
    const png = await new Promise((done) => canvas.toBlob(done, 'image/png'));
    const response = await fetch(path, {method: 'POST', body: png,
        headers: {'Content-Type': 'image/png', 'X-CSRF-Token': me.csrf_token}});
    return response.status;
}"""


@pytest.fixture
def second_openai() -> Iterator[FakeOpenAI]:
    """Another OpenAI-compatible server, which only this test's connection points at."""
    fake = FakeOpenAI()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


def _card(page: Any, name: str) -> Any:
    return page.get_by_role("article", name=name, exact=True)


def _picker_option(page: Any, label: str) -> Any:
    return page.get_by_label("Model", exact=True).locator("option", has_text=label)


def test_nobody_but_an_admin_opens_the_pages(contexts: Callable[..., Any]) -> None:
    page = contexts().new_page()
    sign_up(page, "Norma")
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Models & providers")).to_have_count(0)
    for path in ("/admin/connections", "/admin/models"):
        page.goto(path)
        expect(page.get_by_text("This page is for administrators.")).to_be_visible()
    page.goto("/admin")
    page.wait_for_url("**/admin/connections")
    expect(page.get_by_text("This page is for administrators.")).to_be_visible()
    assert not [url for url in watch_of(page).requests if "/v1/admin/" in url], "the pages asked the admin API"
    check_page(page, "admin-not-admin")


def test_an_admin_connects_a_server_and_a_user_chats_with_its_model(
        studio: Studio, contexts: Callable[..., Any], openai: FakeOpenAI, second_openai: FakeOpenAI,
        fake_ollama: FakeOllama) -> None:
    second_openai.state["models"] = [UPSTREAM, "other-model"]
    name = f"second-{uuid.uuid4().hex[:6]}"

    admin = contexts().new_page()
    log_in(admin, studio.ensure_admin())
    admin.get_by_role("navigation", name="Main").get_by_role("link", name="Models & providers").click()
    admin.wait_for_url("**/admin/connections")
    settled(admin)
    expect(admin.get_by_role("heading", level=1)).to_have_text("Models & providers")
    # The connection `studio up` seeded from the environment, with the tests' chat model on it.
    seeded = _card(admin, "openai")
    expect(seeded).to_contain_text("1 model")
    expect(seeded).to_contain_text("•••• " + studio.env["STUDIO_OPENAI_API_KEY"][-4:])

    # The Ollama running "on this machine" is suggested, and added in one click.
    banner = admin.get_by_role("status").filter(has_text="Ollama is running at")
    expect(banner).to_contain_text(f"Ollama is running at {fake_ollama.url} with 4 models")
    banner.get_by_role("button", name="Add").click()
    expect(_card(admin, "ollama")).to_contain_text(fake_ollama.url)
    expect(banner).to_have_count(0)

    # A second OpenAI-compatible server, with a key: the page never shows it again.
    add = admin.get_by_role("region", name="Add connection")
    add.get_by_label("Kind").select_option("openai")
    expect(add.get_by_label("Base URL (optional)")).to_have_attribute("placeholder", "https://api.openai.com/v1")
    add.get_by_label("Name (optional)").fill(name)
    add.get_by_label("Base URL (optional)").fill(f"{second_openai.url}/v1")
    add.get_by_label("API key (optional)").fill(SECOND_KEY)
    with admin.expect_response(lambda r: r.url.endswith("/v1/admin/connections")
                               and r.request.method == "POST") as answer:
        add.get_by_role("button", name="Add connection").click()
    assert answer.value.status == 201 and SECOND_KEY not in answer.value.text()
    card = _card(admin, name)
    expect(card).to_contain_text(f"•••• {SECOND_KEY[-4:]}")
    expect(card).to_contain_text("0 models")
    expect(add.get_by_label("API key (optional)")).to_have_value("")
    assert SECOND_KEY not in admin.content()

    # Test: the server is asked for its models, with the key.
    card.get_by_role("button", name="Test").click()
    expect(card.get_by_role("status")).to_have_text(re.compile(r"Test passed\.\s+Connected: the server offers 2 models"))
    listed = second_openai.received("GET", "/v1/models")
    assert listed and listed[-1].headers.get("authorization") == f"Bearer {SECOND_KEY}"

    # Import: the upstream list, a type per row (chat, or what an OpenAI-compatible server generates).
    card.get_by_role("button", name="Import models").click()
    importer = card.get_by_role("form", name=f"Import models from {name}")
    kind = importer.get_by_label(f"Type of {UPSTREAM}")
    expect(kind).to_have_value("chat")
    assert kind.locator("option").all_inner_texts() == ["chat", "image", "audio"]
    importer.get_by_label(UPSTREAM, exact=True).check()
    importer.get_by_role("button", name="Import 1 model").click()
    imported = importer.get_by_role("status")
    expect(imported).to_contain_text("Imported 1 model")
    expect(imported).to_contain_text(f"{name}/{UPSTREAM}")
    expect(importer.get_by_label(UPSTREAM, exact=True)).to_be_disabled()  # registered as chat now
    expect(importer.get_by_text("registered: chat")).to_be_visible()
    expect(card).to_contain_text("1 model")
    check_page(admin, "admin-connections")

    # Its model, on the Models page filtered by the connection: edited there.
    card.get_by_role("link", name="1 model").click()
    admin.wait_for_url(re.compile(r"/admin/models\?connection="))
    settled(admin)
    expect(admin.get_by_label("Show the models of")).to_have_value(re.compile(r"^[0-9a-f-]{36}$"))
    expect(admin.get_by_role("heading", name=f"Models on {name} (1)")).to_be_visible()
    model = _card(admin, UPSTREAM)
    expect(model.get_by_text("available", exact=True)).to_be_visible()
    expect(model).to_contain_text(f"{name}/{UPSTREAM}")
    model.get_by_role("button", name="Edit").click()
    model.get_by_label("Display name").fill(SHOWN_NAME)
    params = model.get_by_label("Default parameters (JSON)")
    params.fill("[0.25]")
    expect(model.get_by_text("Write a JSON object")).to_be_visible()
    params.fill('{"temperature": 0.25}')
    model.get_by_label("Prompt price (cents per million tokens, optional)").fill("-1")
    model.get_by_label("Answer price (cents per million tokens, optional)").fill("60")
    model.get_by_role("checkbox", name="vision", exact=True).check()
    model.get_by_role("button", name="Save").click()
    expect(model.get_by_text("A number from 0 to 1000000, or empty for none.")).to_be_visible()
    model.get_by_label("Prompt price (cents per million tokens, optional)").fill("15")
    model.get_by_role("button", name="Save").click()
    model = _card(admin, SHOWN_NAME)
    expect(model).to_contain_text("15 ¢ in, 60 ¢ out per million tokens")
    expect(model).to_contain_text("chat, vision")
    # It writes the titles of new conversations; one model at most does.
    titles = model.get_by_role("checkbox", name=f"Use for titles {SHOWN_NAME}")
    expect(titles).not_to_be_checked()
    titles.check()
    expect(admin.get_by_text(f"“{SHOWN_NAME}” now writes the titles of new conversations.")).to_be_visible()
    others = admin.get_by_role("checkbox", name=re.compile("^Use for titles "))
    expect(others.and_(admin.locator(":checked"))).to_have_count(1)
    titles.uncheck()  # (no title request may reach the second server below)
    expect(admin.get_by_text("New conversations keep their first words as title.")).to_be_visible()
    expect(titles).not_to_be_checked()
    check_page(admin, "admin-models")

    # A user picks it and the answer streams from the second server, asked for the upstream name.
    user = contexts().new_page()
    sign_up(user, "Mia Modelpicker")
    expect(_picker_option(user, SHOWN_NAME)).to_be_enabled()
    user.get_by_label("Model", exact=True).select_option(label=SHOWN_NAME)
    answer_text = script_answer(second_openai, "Answered ", "by the ", "second server.")
    user.get_by_label("Message", exact=True).fill("Who answers?")
    user.get_by_role("button", name="Send").click()
    expect(user.locator('article.message[data-role="assistant"]')).to_contain_text(answer_text)
    expect(user.get_by_role("button", name="Stop")).to_have_count(0)
    [asked] = second_openai.received("POST", "/v1/chat/completions")
    body = asked.json()
    assert body["model"] == UPSTREAM and body["temperature"] == 0.25
    assert asked.headers.get("authorization") == f"Bearer {SECOND_KEY}"
    assert not openai.received("POST", "/v1/chat/completions"), "the seeded connection's server answered"
    watch_of(user).assert_clean()

    # Disabled: the user's picker shows the model, unavailable, and why.
    admin.goto("/admin/connections")
    settled(admin)
    card = _card(admin, name)
    card.get_by_role("button", name="Disable").click()
    expect(card.get_by_text("disabled", exact=True)).to_be_visible()
    user.reload()
    option = _picker_option(user, SHOWN_NAME)
    expect(option).to_be_disabled()
    expect(option).to_contain_text(f"unavailable: its connection '{name}' is disabled")
    expect(_picker_option(user, "OpenAI-compatible chat")).to_be_enabled()
    expect(user.get_by_text("No chat model can run")).to_have_count(0)

    # A new key replaces the old one; the page shows only its end.
    card.get_by_role("button", name="Edit").click()
    card.get_by_label("New API key").fill("sk-replaced-key-Zq42")
    card.get_by_role("button", name="Save").click()
    expect(card).to_contain_text("•••• Zq42")
    assert "sk-replaced-key-Zq42" not in admin.content()

    # The phone layout: nothing scrolls sideways.
    admin.set_viewport_size(PHONE)
    no_sideways_scroll(admin)
    check_page(admin, "admin-connections-phone")
    admin.goto(f"/admin/models?connection={_connection_id(admin, name)}")
    settled(admin)
    no_sideways_scroll(admin)

    # Removed, after a confirmation that says what goes with it.
    admin.goto("/admin/connections")
    settled(admin)
    card = _card(admin, name)
    card.get_by_role("button", name="Remove").click()
    confirm = card.get_by_role("group", name=f"Confirm removing {name}")
    expect(confirm).to_contain_text("Its 1 model goes with it")
    expect(confirm.get_by_role("button", name="Yes, remove")).to_be_focused()
    confirm.get_by_role("button", name="Yes, remove").click()
    expect(card).to_have_count(0)
    _card(admin, "ollama").get_by_role("button", name="Remove").click()
    _card(admin, "ollama").get_by_role("button", name="Yes, remove").click()
    expect(_card(admin, "ollama")).to_have_count(0)
    user.reload()
    expect(_picker_option(user, "OpenAI-compatible chat")).to_be_enabled()
    expect(_picker_option(user, SHOWN_NAME)).to_have_count(0)
    watch_of(admin).assert_clean()
    watch_of(user).assert_clean()


def _connection_id(page: Any, name: str) -> str:
    link = _card(page, name).get_by_role("link", name=re.compile(r"^\d+ models?$"))
    href = link.get_attribute("href") or ""
    return href.rpartition("=")[2]


def test_an_admin_gives_a_replicate_image_model_a_hosted_trainer(studio: Studio,
                                                                  contexts: Callable[..., Any]) -> None:
    """Set up in the page, no file edited: the trainer is checked as typed, saved, and the
    model appears among the models users can train."""
    name = f"replicate-{uuid.uuid4().hex[:6]}"
    with studio.admin_http() as client:
        connection = client.post("/v1/admin/connections", json={"kind": "replicate", "name": name,
                                                                  "api_key": "r8_browser-test-key-0000"})
        assert connection.status_code == 201, connection.text
        model = client.post("/v1/admin/models", json={"connection_id": connection.json()["id"], "type": "image",
                                                      "provider_model": "black-forest-labs/flux-dev-lora",
                                                      "display_name": "Flux with LoRAs"})
        assert model.status_code == 201, model.text
    try:
        admin = contexts().new_page()
        log_in(admin, studio.ensure_admin())
        admin.goto(f"/admin/models?connection={connection.json()['id']}")
        settled(admin)
        card = _card(admin, "Flux with LoRAs")
        card.get_by_role("button", name="Edit").click()
        form = card.get_by_role("form", name="Edit Flux with LoRAs")
        expect(form.get_by_label("LoRA input of this model")).to_have_value("lora_weights")
        form.get_by_label("Trainer (owner/name:version)").fill("ostris/flux-dev-lora-trainer")  # no version
        form.get_by_label("Destination model (owner/name)").fill("studio-tester/loras")
        form.get_by_role("button", name="Save").click()
        expect(form.get_by_text("with the version’s 64-character id")).to_be_visible()
        expect(form.get_by_label("Trainer (owner/name:version)")).to_be_focused()
        check_page(admin, "admin-model-hosted-trainer")

        form.get_by_label("Trainer (owner/name:version)").fill("ostris/flux-dev-lora-trainer:" + "b" * 64)
        form.get_by_label("Fixed trainer inputs (JSON, optional)").fill('{"optimizer": "adamw8bit"}')
        with admin.expect_response(lambda r: "/v1/admin/models/" in r.url and r.request.method == "PATCH") as saved:
            form.get_by_role("button", name="Save").click()
        assert saved.value.status == 200, saved.value.text()
        assert saved.value.json()["training"] == {"trainer": "ostris/flux-dev-lora-trainer:" + "b" * 64,
                                                  "destination": "studio-tester/loras",
                                                  "lora_field": "lora_weights", "inputs": {"optimizer": "adamw8bit"}}
        expect(card).to_contain_text("LoRA training")
        expect(card).to_contain_text("studio-tester/loras")

        # Users see it among the models LoRAs can be trained for (once they have a dataset).
        user = contexts().new_page()
        sign_up(user, "Tamsin")
        status, dataset = api_call(user, "POST", "/v1/datasets", {"name": "Faces"})
        assert status == 201, dataset
        added = user.evaluate(UPLOAD_PIXEL, f"/v1/datasets/{dataset['id']}/images")
        assert added == 201
        user.goto("/training")
        settled(user)
        expect(user.get_by_label("Base model").locator("option", has_text="Flux with LoRAs")).to_have_count(1)
        watch_of(admin).assert_clean()
        watch_of(user).assert_clean()
    finally:
        with studio.admin_http() as client:
            gone = client.delete(f"/v1/admin/connections/{connection.json()['id']}")
            assert gone.status_code == 200, gone.text
