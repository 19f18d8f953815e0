"""Fixtures of the browser tests: one `studio up` and one Chromium for the whole package
(each test makes its own accounts, so they do not see each other's data), a fresh
browser context per test, all stopped by the fixtures that start them, also on failure."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.e2e.support import NO_POSTGRES, Lab
from tests.providers.fakes import FakeOllama, FakeOpenAI

from .harness import MISSING, MUST_RUN, TIMEOUT_MS, Studio, launch_browser, new_context, start_studio

FIRST = "test_setup_link.py"  # creates the first admin through the link: before anything else could


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The setup-link test runs first among the browser tests; the others keep their order."""
    mine = [i for i, item in enumerate(items) if item.path.parent.name == "browser"
            and item.path.parent.parent.name == "e2e"]
    ordered = sorted((items[i] for i in mine), key=lambda item: item.path.name != FIRST)
    for index, item in zip(mine, ordered):
        items[index] = item


@pytest.fixture(scope="package")
def fake_openai() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def openai(fake_openai: FakeOpenAI) -> FakeOpenAI:
    """The fake server, reset: answers "Hello, world" in pieces."""
    fake_openai.reset()
    return fake_openai


@pytest.fixture(scope="package")
def fake_ollama() -> Iterator[FakeOllama]:
    """An Ollama answering where Studio looks for one on its machine, so the admin pages
    suggest adding it whatever runs on the test machine's own port 11434."""
    fake = FakeOllama()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture(scope="package")
def studio(fake_openai: FakeOpenAI, fake_ollama: FakeOllama) -> Iterator[Studio]:
    if NO_POSTGRES is not None or MISSING is not None:
        missing = NO_POSTGRES or MISSING or ""
        if MUST_RUN:
            pytest.fail(missing)
        pytest.skip(missing)
    lab = Lab()
    try:
        # No chat model yet: registering it takes an admin, and the first test makes the
        # first admin in the browser (see `chat_model`).
        yield start_studio(lab, fake_openai, chat_model=False, STUDIO_OLLAMA_PROBE_URL=fake_ollama.url)
    finally:
        lab.cleanup()


@pytest.fixture(autouse=True)
def chat_model(request: pytest.FixtureRequest) -> None:
    """Before every browser test but the setup-link one (which must find no admin), the
    chat model the tests pick is registered, once, by the first admin."""
    if request.node.path.name == FIRST:
        return
    studio: Studio = request.getfixturevalue("studio")
    studio.ensure_chat_model()


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if MISSING is not None:
        if MUST_RUN:
            pytest.fail(MISSING)
        pytest.skip(MISSING)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = launch_browser(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def contexts(browser: Any, studio: Studio) -> Iterator[Callable[..., Any]]:
    """Makes browser contexts (cookie jars) on Studio; all closed after the test."""
    made: list[Any] = []

    def make(**options: Any) -> Any:
        context = new_context(browser, studio, **options)
        made.append(context)
        return context

    try:
        yield make
    finally:
        for context in made:
            context.close()


@pytest.fixture
def page(contexts: Callable[..., Any]) -> Any:
    """A page in a fresh context (nobody signed in), 1280x800."""
    return contexts().new_page()
