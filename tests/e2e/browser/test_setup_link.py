"""The one-time setup link `studio up` prints creates the first admin, once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.support import needs_postgres

from .harness import Account, Studio, check_page, unique_email, watch_of

pytestmark = [pytest.mark.slow, needs_postgres]


def test_the_setup_link_creates_the_first_admin_once(studio: Studio, contexts: Callable[..., Any]) -> None:
    assert studio.admin is None, "an admin exists already: this test must run first on a fresh Studio"
    page = contexts().new_page()
    page.goto(studio.setup_link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up Studio")
    expect(page.get_by_label("Email")).to_be_visible()
    check_page(page, "setup")

    admin = Account(unique_email("admin"), name="Ada Admin")
    page.get_by_label("Email").fill(admin.email)
    page.get_by_label("Name").fill(admin.name)
    page.get_by_label("Password").fill(admin.password)
    page.get_by_role("button", name="Create admin account").click()
    page.wait_for_url("**/chat")
    studio.admin = admin
    # Signed in: the header names the admin, and the token left the address bar.
    expect(page.get_by_text(admin.name, exact=True)).to_be_visible()
    assert "token" not in page.url
    main_nav = page.get_by_role("navigation", name="Main")
    expect(main_nav.get_by_role("link", name="Ops")).to_be_visible()

    main_nav.get_by_role("link", name="Ops").click()
    page.wait_for_url("**/ops")
    expect(page.get_by_role("heading", level=1)).to_have_text("Ops")
    watch_of(page).assert_clean()

    # The same link again, in another browser: refused, and it says why.
    again = contexts().new_page()
    again.goto(studio.setup_link)
    expect(again.get_by_role("alert")).to_contain_text("already been used")
    expect(again.get_by_label("Password")).to_have_count(0)
    expect(again.get_by_role("link", name="Go to log in")).to_be_visible()

    # And the account it made is an admin that can log in.
    with studio.http() as client:
        login = client.post("/v1/auth/login", json={"email": admin.email, "password": admin.password})
        assert login.status_code == 200 and login.json()["user"]["role"] == "admin", login.text
