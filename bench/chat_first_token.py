#!/usr/bin/env python3
"""Chat first-token benchmark: from clicking "Send" to the first visible token, in Chromium.

    .venv/bin/python bench/chat_first_token.py [--runs 20]

On a throwaway `studio up` (a fresh home, its embedded PostgreSQL, the API and a worker)
whose chat model is the test suite's fake OpenAI-compatible server answering at once
(no artificial delay between the streamed pieces):

1. In the browser (Debian's Chromium, headless, driven by Playwright): a user signs up,
   and sends --runs messages in one conversation, one after the other. For each, the page
   itself measures with performance.now() from the click on "Send" (a capturing click
   listener) to the first DOM mutation after which the assistant's message shows the
   answer's first token (a MutationObserver on the document).
2. The reference, over plain HTTP from Python: the same number of messages posted with
   httpx (`POST /v1/conversations/{id}/messages` with `generate: true`, streamed), timed
   from sending the request to the first `event: delta` of the answer.

One message before each series is a warm-up and is not counted. Writes
bench/results/chat_first_token.md. Everything started here is stopped and removed,
also on failure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

import httpx
from playwright.sync_api import expect, sync_playwright
from tests.e2e.browser.harness import (
    CHROMIUM,
    PASSWORD,
    TIMEOUT_MS,
    launch_browser,
    new_context,
    script_answer,
    sign_up,
    start_studio,
    unique_email,
)
from tests.e2e.support import NO_POSTGRES, Lab
from tests.providers.fakes import FakeOpenAI

from benchlib import percentile

RESULTS = ROOT / "bench" / "results"
MODEL = "OpenAI-compatible chat"
FIRST_TOKEN = "Firsttoken"
PIECES = (FIRST_TOKEN, " and", " the", " rest", " of", " the", " answer.")

# In the page: the click on Send starts the clock, the first mutation that shows the
# first token in a new assistant message stops it.
INSTALL = """(token) => {
    const answers = () => document.querySelectorAll('article.message[data-role="assistant"]');
    window.__bench = {start: null, first: null, before: answers().length};
    document.addEventListener('click', (event) => {
        const button = event.target.closest('button');
        if (button && button.textContent.trim() === 'Send' && window.__bench.start === null)
            window.__bench.start = performance.now();
    }, {capture: true, once: true});
    window.__benchObserver?.disconnect();
    window.__benchObserver = new MutationObserver(() => {
        const b = window.__bench;
        if (b.start === null || b.first !== null) return;
        const all = answers();
        if (all.length > b.before && all[all.length - 1].textContent.includes(token)) b.first = performance.now();
    });
    window.__benchObserver.observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def browser_series(studio: Any, runs: int) -> tuple[list[float], str]:
    with sync_playwright() as playwright:
        browser = launch_browser(playwright)
        try:
            context = new_context(browser, studio)
            page = context.new_page()
            sign_up(page, "Bench User")
            page.get_by_label("Model", exact=True).select_option(label=MODEL)
            timings = []
            for run in range(runs + 1):
                page.evaluate(INSTALL, FIRST_TOKEN)
                page.get_by_label("Message", exact=True).fill(f"Message {run}")
                page.get_by_role("button", name="Send").click()
                # (wait_for_function would evaluate a string in the page: the app's CSP forbids it)
                deadline = time.monotonic() + TIMEOUT_MS / 1000
                while (elapsed := page.evaluate("window.__bench.first - window.__bench.start")) <= 0:
                    assert time.monotonic() < deadline, "the first token never showed"
                    time.sleep(0.02)
                # The answer is complete (stored) before the next message goes.
                expect(page.get_by_role("button", name="Stop")).to_have_count(0)
                expect(page.locator('article.message[data-role="assistant"]')).to_have_count(run + 1)
                if run > 0:  # the first one is the warm-up (and creates the conversation)
                    timings.append(float(elapsed))
            return timings, browser.version
        finally:
            browser.close()


def http_series(studio: Any, runs: int) -> list[float]:
    with httpx.Client(base_url=studio.url, timeout=30) as client:
        email = unique_email("bench-http")
        assert client.post("/v1/auth/signup", json={"email": email, "password": PASSWORD}).status_code == 201
        login = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        model = next(m for m in client.get("/v1/models").json()["items"] if m["slug"] == "openai-chat")
        conversation = client.post("/v1/conversations", json={"title": "Bench", "model_id": model["id"]}).json()
        parent = None
        timings = []
        for run in range(runs + 1):
            body = {"role": "user", "content": f"Message {run}", "generate": True, "parent_id": parent,
                    "model_id": model["id"]}
            started = time.perf_counter()
            first = None
            event = ""
            with client.stream("POST", f"/v1/conversations/{conversation['id']}/messages", json=body) as response:
                assert response.status_code == 200, response.read()
                for line in response.iter_lines():
                    if line.startswith("event: "):
                        event = line[len("event: "):]
                        if event == "delta" and first is None:
                            first = time.perf_counter()
                    elif line.startswith("data: ") and event == "done":
                        parent = httpx.Response(200, content=line[len("data: "):]).json()["id"]
            assert first is not None and parent is not None
            if run > 0:
                timings.append((first - started) * 1000)
        return timings


def figures(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "p95": percentile(values, 95) or 0.0,
            "min": min(values), "max": max(values)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    if NO_POSTGRES is not None or CHROMIUM is None:
        print(NO_POSTGRES or "Chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 2

    began = time.monotonic()
    when = dt.datetime.now(dt.UTC)
    load = os.getloadavg()
    fake = FakeOpenAI()
    fake.start()
    lab = Lab()
    try:
        studio = start_studio(lab, fake)
        script_answer(fake, *PIECES, delay=0.0)
        in_browser, chromium = browser_series(studio, args.runs)
        over_http = http_series(studio, args.runs)
    finally:
        lab.cleanup()
        fake.stop()
    elapsed = time.monotonic() - began

    rows = [("browser: click on Send → first token visible (Chromium)", in_browser),
            ("HTTP from Python: request sent → first `delta` event (httpx)", over_http)]
    lines = ["# Chat: time to the first token", "",
             (f"Run {when:%Y-%m-%d %H:%M} UTC with `.venv/bin/python bench/chat_first_token.py --runs {args.runs}` "
              f"({elapsed:.0f} s in all), {os.cpu_count()} cores, load average at start "
              f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}."), "",
             ("A fresh `studio up` (embedded PostgreSQL, one API process, one worker); the chat model is the "
              "test suite's fake OpenAI-compatible server on 127.0.0.1, streaming its answer with no delay "
              "between pieces, so the figures are Studio's and the page's own cost: the request, the "
              "database work before the model is asked, the provider call, the event stream and, in the "
              "browser, parsing and rendering the Markdown."), "",
             "| path | N | median | p95 | min | max |", "|---|---:|---:|---:|---:|---:|"]
    for label, values in rows:
        f = figures(values)
        lines.append(f"| {label} | {len(values)} | {f['median']:.1f} ms | {f['p95']:.1f} ms | "
                     f"{f['min']:.1f} ms | {f['max']:.1f} ms |")
    browser_median, http_median = statistics.median(in_browser), statistics.median(over_http)
    lines += ["", (f"The browser adds {browser_median - http_median:.1f} ms at the median to what the API itself "
                   "takes; the difference covers the click handler, the `fetch` and the app's event-stream reader, "
                   "Svelte's update, the Markdown renderer and the sanitizer."), "",
              ("How: the page measures with `performance.now()`, from a capturing click listener on the "
               "\"Send\" button to the first `MutationObserver` callback after which the new assistant message "
               "contains the first token; the reference times `POST /v1/conversations/{id}/messages` "
               "(`generate: true`) with `time.perf_counter()` from sending to the first `event: delta` line. "
               "Both send their messages one after another into one conversation (each answer complete "
               "before the next message), after one uncounted warm-up."), "",
              (f"Machine: Chromium {chromium} (headless), Python {platform.python_version()}, "
               f"kernel {platform.release()}; the machine is shared, see the load average above."), ""]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "chat_first_token.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
