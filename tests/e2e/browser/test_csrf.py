"""The session cookie alone does not let a page change anything: unsafe requests need the
X-CSRF-Token header, which the app always sends."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.support import needs_postgres
from tests.providers.fakes import FakeOpenAI

from .harness import script_answer, sign_up, watch_of

pytestmark = [pytest.mark.slow, needs_postgres]

PLAIN_POST = """async (headers) => {
    const response = await fetch('/v1/conversations', {
        method: 'POST', credentials: 'same-origin',
        headers: {'Content-Type': 'application/json', ...headers},
        body: JSON.stringify({title: 'Forged'})});
    return {status: response.status, type: response.headers.get('content-type'), body: await response.text()};
}"""


def test_an_unsafe_request_without_the_csrf_token_is_refused(page: Any, openai: FakeOpenAI) -> None:
    sign_up(page, "Csrf Tester")
    unsafe: list[tuple[str, str, str | None]] = []

    def note(request: Any) -> None:
        if request.method not in ("GET", "HEAD", "OPTIONS") and "/v1/" in request.url:
            unsafe.append((request.method, request.url, request.headers.get("x-csrf-token")))

    page.on("request", note)

    # Signed in (the cookie goes with every same-origin fetch), but no token: refused.
    for headers in ({}, {"X-CSRF-Token": "not-the-token"}):
        refused = page.evaluate(PLAIN_POST, headers)
        assert refused["status"] == 403, refused
        assert refused["type"].startswith("application/json"), refused
        assert "csrf" in refused["body"].lower(), refused
    with_cookie_only = page.evaluate("""async () => {
        const r = await fetch('/v1/conversations', {credentials: 'same-origin'});
        return (await r.json()).items.map(c => c.title);
    }""")
    assert "Forged" not in with_cookie_only

    # The same kind of request made by the app goes through: it sends the token.
    script_answer(openai, "Fine.")
    page.get_by_label("Model", exact=True).select_option(label="OpenAI-compatible chat")
    page.get_by_label("Message", exact=True).fill("Made by the app")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("article", name="Assistant")).to_contain_text("Fine.")
    page.wait_for_url("**/chat/*")
    made_by_app = [u for u in unsafe if u[0] == "POST" and u[1].endswith("/v1/conversations")]
    assert len(made_by_app) == 3 and made_by_app[2][2], unsafe  # two forged (no or a wrong token), one the app's
    assert all(token for method, url, token in unsafe[2:]), f"the app sent an unsafe request without the token: {unsafe}"
    watch_of(page).assert_clean(expected=((403, "/v1/conversations"),))
