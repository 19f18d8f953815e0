"""What the browser tests (and bench/chat_first_token.py) share: one real `studio up`
wired to the fake OpenAI-compatible server (its chat model registered by the first
admin, as on a real installation), Debian's Chromium driven by Playwright, and a watch
on every browser context that records console errors, uncaught page errors and the
origin of every request.

Chromium is the system's (the `chromium` package): Playwright is told its path and
never downloads a browser.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from playwright.sync_api import expect

from tests.e2e.support import Lab, StudioProcess, child_env, free_port
from tests.providers.fakes import KEY, FakeOpenAI, delta, sse

ROOT = Path(__file__).resolve().parents[3]
# Every run writes its screenshots here (not in git); the ones the README and docs/web.md
# show are copied to docs/screenshots/ by hand when the pages change.
SCREENSHOTS = Path(os.environ.get("STUDIO_SCREENSHOTS", ROOT / "build" / "screenshots"))
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = shutil.which("chromium")
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 20_000  # one step of a test (a click, a page, an element); the machine may be busy
PASSWORD = "correct horse battery staple"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SETUP_LINK = re.compile(r"(http://127\.0\.0\.1:\d+)/setup#token=([A-Za-z0-9_-]{43})")
# The chat model the tests pick: Studio ships no cloud model, so the first admin registers
# this one on the connection `studio up` seeds from STUDIO_OPENAI_BASE_URL.
CHAT_MODEL = "openai-chat"
CHAT_MODEL_NAME = "OpenAI-compatible chat"
CHAT_UPSTREAM = "llama3"
SEEDED_CONNECTION = "openai"


# Skipped on a developer's machine without Chromium; in CI (CI=true) a missing browser
# fails the run instead of passing it unseen.
MISSING = None if CHROMIUM else "Chromium is not installed (apt-get install chromium)"
MUST_RUN = os.environ.get("CI", "").lower() in ("1", "true", "yes")


# --------------------------------------------------------------------------- Studio


@dataclass
class Account:
    email: str
    password: str = PASSWORD
    name: str = ""


@dataclass
class Studio:
    """A running `studio up` on a fresh home, and what the tests learnt about it."""
    proc: StudioProcess
    home: Path
    port: int
    setup_link: str
    lab: Lab
    env: dict[str, str]
    admin: Account | None = None
    chat_model_id: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def ensure_admin(self) -> Account:
        """The first admin: created through the setup link's API if no test made it yet."""
        if self.admin is None:
            token = self.setup_link.rpartition("#token=")[2]
            account = Account(f"admin-{uuid.uuid4().hex[:6]}@example.org", name="Ada Admin")
            with self.http() as client:
                made = client.post("/v1/setup", json={"token": token, "email": account.email,
                                                      "password": account.password, "display_name": account.name})
                assert made.status_code == 200, made.text
            self.admin = account
        return self.admin

    @contextmanager
    def admin_http(self) -> Iterator[httpx.Client]:
        """An HTTP client signed in as the first admin (its session cookie and CSRF token)."""
        admin = self.ensure_admin()
        with self.http() as client:
            login = client.post("/v1/auth/login", json={"email": admin.email, "password": admin.password})
            assert login.status_code == 200, login.text
            client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
            yield client

    def ensure_chat_model(self) -> str:
        """The id of the chat model "OpenAI-compatible chat" (slug openai-chat, upstream
        llama3) on the seeded "openai" connection, which the fake OpenAI server answers;
        registered once, by the first admin through POST /v1/admin/models."""
        if self.chat_model_id is None:
            with self.admin_http() as client:
                listed = client.get("/v1/admin/models")
                assert listed.status_code == 200, listed.text
                found = next((m for m in listed.json()["items"] if m["slug"] == CHAT_MODEL), None)
                if found is None:
                    connections = client.get("/v1/admin/connections")
                    assert connections.status_code == 200, connections.text
                    seeded = next((c for c in connections.json()["items"] if c["name"] == SEEDED_CONNECTION), None)
                    assert seeded is not None, f"no {SEEDED_CONNECTION!r} connection seeded: {connections.text}"
                    made = client.post("/v1/admin/models", json={
                        "connection_id": seeded["id"], "provider_model": CHAT_UPSTREAM, "type": "chat",
                        "slug": CHAT_MODEL, "display_name": CHAT_MODEL_NAME})
                    assert made.status_code == 201, made.text
                    found = made.json()
                assert found["available"], found
            self.chat_model_id = str(found["id"])
        return self.chat_model_id


def start_studio(lab: Lab, openai: FakeOpenAI, chat_model: bool = True, **extra: str) -> Studio:
    """`studio up` on a fresh home, its chat model answered by the fake OpenAI server;
    local espeak and ffmpeg serve audio and video through its built-in worker.

    With `chat_model` the first admin is made (through the setup link's API) and
    registers the chat model at once; the browser tests leave it for later
    (conftest.py), since their first test makes the first admin in the browser."""
    home = lab.home()
    port = free_port()
    env = child_env(home, port,
                    STUDIO_BACKUP_ENABLED="false",  # nothing to do with the browser; costs archiving
                    STUDIO_OPENAI_BASE_URL=f"{openai.url}/v1",
                    STUDIO_OPENAI_API_KEY=KEY,
                    # Many accounts and messages from one address within minutes.
                    STUDIO_RATE_LIMIT_SIGNUPS_PER_WINDOW="1000",
                    STUDIO_RATE_LIMIT_CHAT_PER_MINUTE="1000",
                    STUDIO_RATE_LIMIT_GENERATIONS_PER_MINUTE="1000",
                    **extra)
    proc = lab.start(["up"], env)
    proc.wait_ready(port)
    said = proc.wait_output("Stop with Ctrl+C.")
    found = SETUP_LINK.search(said)
    assert found is not None, f"no setup link printed:\n{proc.describe()}"
    studio = Studio(proc=proc, home=home, port=port, setup_link=found.group(0), lab=lab, env=env)
    if chat_model:
        studio.ensure_chat_model()
    return studio


# --------------------------------------------------------------------------- the browser


def launch_browser(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)


@dataclass
class Watch:
    """Everything a context's pages did that a test may hold against them."""
    origin: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    failed: list[tuple[int, str, str]] = field(default_factory=list)  # (status, method, path) of answers >= 400

    def attach(self, context: Any) -> None:
        context.on("request", self._request)
        context.on("response", self._response)
        context.on("console", self._console)
        context.on("weberror", lambda error: self.page_errors.append(str(error.error)))

    def _request(self, request: Any) -> None:
        url = request.url
        self.requests.append(url)
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about"):
            return
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            self.foreign.append(url)

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self.failed.append((response.status, response.request.method, urlsplit(response.url).path))

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        # Chromium logs every answer >= 400 as a console error; those are judged as
        # answers (`failed`), against what the step expects, not as the app's errors.
        if message.text.startswith("Failed to load resource: the server responded with a status of"):
            return
        where = message.location.get("url", "") if isinstance(message.location, dict) else ""
        self.console_errors.append(f"{message.text} ({where})")

    def forget_failures(self) -> None:
        """After a step meant to fail (a 404 on purpose): only what comes next is judged."""
        self.failed.clear()

    def assert_clean(self, expected: tuple[tuple[int, str], ...] = ()) -> None:
        """No uncaught error, no console error, no request to another origin, and no
        answer >= 400 but the expected ones ((status, path regex)) and the 401 that
        GET /v1/me gives a visitor who is not signed in (how the app learns it)."""
        assert not self.page_errors, f"uncaught errors in the page: {self.page_errors}"
        assert not self.console_errors, f"console errors: {self.console_errors}"
        assert not self.foreign, f"requests to other origins than Studio's: {self.foreign}"
        allowed = ((401, r"/v1/me"), *expected)
        unexpected = [(status, method, path) for status, method, path in self.failed
                      if not any(status == s and re.fullmatch(p, path) for s, p in allowed)]
        assert not unexpected, f"unexpected error answers: {unexpected}"


_WATCHES: weakref.WeakKeyDictionary[Any, Watch] = weakref.WeakKeyDictionary()


def new_context(browser: Any, studio: Studio, viewport: dict[str, int] | None = None, **options: Any) -> Any:
    context = browser.new_context(base_url=studio.url, viewport=viewport or DESKTOP, **options)
    context.set_default_timeout(TIMEOUT_MS)
    watch = Watch(studio.url)
    watch.attach(context)
    _WATCHES[context] = watch
    return context


def watch_of(page: Any) -> Watch:
    return _WATCHES[page.context]


def run_axe(page: Any) -> list[dict[str, Any]]:
    """axe-core (from the app's npm dependencies) injected by evaluation, which the app's
    Content-Security-Policy does not apply to; the violations of impact serious or critical."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate("() => {\n" + AXE.read_text() + "\n}")
    result = page.evaluate("""async () => {
        const r = await window.axe.run(document, {resultTypes: ['violations']});
        return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' :: ' + n.failureSummary)}));
    }""")
    return list(result)


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), animations="disabled", caret="hide")
    return path


def check_page(page: Any, name: str, expected: tuple[tuple[int, str], ...] = ()) -> None:
    """The page as it is now: no serious or critical accessibility violation, no console
    error, no uncaught error, no request but to Studio, no unexpected error answer; and
    its screenshot in docs/screenshots/<name>.png."""
    violations = run_axe(page)
    screenshot(page, name)
    assert not violations, f"{name}: accessibility violations:\n" + json.dumps(violations, indent=1)
    watch_of(page).assert_clean(expected)


# --------------------------------------------------------------------------- people


def unique_email(what: str) -> str:
    return f"{what}-{uuid.uuid4().hex[:8]}@example.org"


def sign_up(page: Any, name: str = "Grace", email: str | None = None) -> Account:
    """A new account through /signup; lands signed in on /chat."""
    account = Account(email or unique_email(name.lower().split()[0]), name=name)
    page.goto("/signup")
    page.get_by_label("Email").fill(account.email)
    page.get_by_label("Name").fill(account.name)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/chat**")
    return account


def log_in(page: Any, account: Account) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(account.email)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/login" not in url)


# --------------------------------------------------------------------------- the fake chat model


def answer_events(*pieces: str) -> list[str]:
    """What the fake OpenAI server streams for one answer: `pieces` as separate chunks."""
    return sse(delta(role="assistant"), *(delta(piece) for piece in pieces), delta(finish="stop"), "[DONE]")


def script_answer(openai: FakeOpenAI, *pieces: str, delay: float = 0.0) -> str:
    """The next answers of the fake chat model, `delay` seconds between pieces; the full text."""
    openai.state["chat_events"] = answer_events(*pieces)
    openai.state["chat_delay"] = delay
    return "".join(pieces)


# --------------------------------------------------------------------------- the API, as the page


API_CALL = """async ([method, path, body]) => {
    const me = await (await fetch('/v1/me')).json();
    const response = await fetch(path, {
        method, credentials: 'same-origin',
        headers: {'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token},
        body: body === null ? undefined : JSON.stringify(body)});
    const text = await response.text();
    return {status: response.status, body: text ? JSON.parse(text) : null};
}"""


def api_call(page: Any, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """One /v1 request from the page, as its signed-in user (cookie and CSRF token)."""
    answer = page.evaluate(API_CALL, [method, path, body])
    return answer["status"], answer["body"]


def make_generation(page: Any, slug: str, prompt: str, params: dict[str, Any] | None = None,
                    timeout: float = 120) -> dict[str, Any]:
    """A generation made through the API as the page's user, once it succeeded."""
    status, models = api_call(page, "GET", "/v1/models")
    assert status == 200, models
    model = next(m for m in models["items"] if m["slug"] == slug)
    status, made = api_call(page, "POST", "/v1/generations", {"type": model["type"], "model_id": model["id"],
                                                              "prompt": prompt, "params": params or {}})
    assert status == 202, made
    deadline = time.monotonic() + timeout
    while True:
        status, found = api_call(page, "GET", f"/v1/generations/{made['id']}")
        assert status == 200, found
        if found["status"] not in ("queued", "running"):
            assert found["status"] == "succeeded", found
            return dict(found)
        assert time.monotonic() < deadline, f"generation not done within {timeout}s: {found}"
        time.sleep(0.25)


def no_sideways_scroll(page: Any) -> None:
    """Nothing on the page is wider than the window (the phone layouts)."""
    wide = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert wide <= 0, f"the page scrolls sideways by {wide}px"


def settled(page: Any) -> None:
    """The page has drawn its heading and finished loading what it shows."""
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.locator('[aria-busy="true"]')).to_have_count(0)
    expect(page.get_by_text(re.compile(r"^Loading"))).to_have_count(0)
