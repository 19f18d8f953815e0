"""A session that ends under the user: the next request's 401 takes the app to the login
page, which says why, and signing in again returns to the page the user was going to.
Logging out lands on the plain login page."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.support import needs_postgres

from .harness import api_call, settled, sign_up, unique_email, watch_of

pytestmark = [pytest.mark.slow, needs_postgres]


def test_an_expired_session_returns_to_where_the_user_was(page: Any) -> None:
    account = sign_up(page, "Sleepy Sam")
    page.goto("/gallery?type=audio")
    settled(page)
    # The session ends on the server (as when it expires); the page does not know yet.
    status, _ = api_call(page, "POST", "/v1/auth/logout")
    assert status == 204

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Account").click()
    page.wait_for_url("**/login?next=%2Faccount")
    expect(page.get_by_text("Your session has ended. Log in again to continue.")).to_be_visible()
    page.get_by_label("Email").fill(account.email)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/account")
    settled(page)
    watch_of(page).assert_clean(expected=((401, r"/v1/.*"),))

    # Logging out on purpose: the login page, with nothing to return to.
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login")
    assert page.url.endswith("/login"), page.url
    expect(page.get_by_text("Your session has ended")).to_have_count(0)


def test_a_guessable_password_is_refused_at_sign_up_in_words(page: Any) -> None:
    page.goto("/signup")
    expect(page.get_by_text("hard to guess")).to_be_visible()  # said before anyone tries
    page.get_by_label("Email").fill(unique_email("quinn"))
    page.get_by_label("Name").fill("Quinn")
    page.get_by_label("Password").fill("qwertyuiop12")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("alert")).to_contain_text("This password is too easy to guess")
    assert "/signup" in page.url
    page.get_by_label("Password").fill("violet tractor under moonlight")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/chat**")
    watch_of(page).assert_clean(expected=((422, r"/v1/auth/signup"),))


def test_signing_up_with_a_taken_email_says_to_log_in_instead(page: Any) -> None:
    """The API answers the same for a taken email (its owner is told); the page learns it
    only from the login that follows, and says to log in with that account's password."""
    owner = sign_up(page, "Olive Owner")
    status, _ = api_call(page, "POST", "/v1/auth/logout")
    assert status == 204
    page.goto("/signup")
    page.get_by_label("Email").fill(owner.email)
    page.get_by_label("Name").fill("Someone Else")
    page.get_by_label("Password").fill("a different long passphrase")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("alert")).to_contain_text("If you already have an account with this email, log in")
    assert "/signup" in page.url
    watch_of(page).assert_clean(expected=((401, r"/v1/auth/login"),))
