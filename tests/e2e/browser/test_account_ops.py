"""The account page (profile, API keys, password, security log, export, erasure) and the
admins' ops page, in a real browser on a real `studio up`."""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
from collections.abc import Callable
from typing import Any

import pyotp
import pytest
from playwright.sync_api import expect

from studio.fleet.repository import node_name
from tests.e2e.support import needs_postgres

from .harness import PASSWORD, PHONE, Studio, check_page, log_in, no_sideways_scroll, sign_up, watch_of

pytestmark = [pytest.mark.slow, needs_postgres]

NEW_PASSWORD = "a different horse battery"


def test_the_account_page(studio: Studio, contexts: Callable[..., Any]) -> None:
    page = contexts().new_page()
    account = sign_up(page, "Grace Hopper")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Account").click()
    page.wait_for_url("**/account")
    expect(page.get_by_role("heading", level=1)).to_have_text("Account")
    expect(page.get_by_label("Email", exact=True)).to_have_value(account.email)
    expect(page.get_by_role("heading", name="Security log")).to_be_visible()
    expect(page.get_by_text("You have no API keys.")).to_be_visible()

    # Profile: the new display name shows in the header at once.
    page.get_by_label("Display name").fill("Amazing Grace")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("banner").get_by_text("Amazing Grace", exact=True)).to_be_visible()

    # An API key: shown once, it works, then revoked it does not.
    page.get_by_label("Key name").fill("Backup script")
    page.get_by_role("button", name="Create key").click()
    secret_box = page.get_by_label("New API key")
    expect(secret_box).to_have_attribute("readonly", "")
    expect(page.get_by_text("it will not be shown again")).to_be_visible()
    secret = secret_box.input_value()
    assert len(secret) > 20
    page.get_by_role("button", name="Copy key").click()
    expect(page.get_by_text(re.compile("Copied to the clipboard|the key is selected"))).to_be_visible()
    expect(page.get_by_text(f"{secret[:16]}…")).to_be_visible()
    with studio.http() as client:
        assert client.get("/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    page.get_by_role("button", name="Done, I have saved it").click()
    expect(page.get_by_label("New API key")).to_have_count(0)
    page.get_by_role("button", name="Revoke Backup script").click()
    page.get_by_role("button", name="Yes, revoke").click()
    expect(page.get_by_text("You have no API keys.")).to_be_visible()
    with studio.http() as client:
        assert client.get("/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    # One that expires: until the end of the day picked.
    page.get_by_label("Key name").fill("Until 2030")
    page.get_by_label("Expires on (optional)").fill("2030-01-31")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_label("New API key")).to_be_visible()
    until_2030 = page.get_by_label("New API key").input_value()
    with studio.http() as client:
        listed = client.get("/v1/api-keys", headers={"Authorization": f"Bearer {until_2030}"})
        assert [k["expires_at"][:4] for k in listed.json()["items"]] == ["2030"]
    page.get_by_role("button", name="Done, I have saved it").click()
    expect(page.get_by_role("listitem").filter(has_text="Until 2030")).to_contain_text("2030")

    # The password: a wrong current one is refused in words; the right one ends the other sessions.
    with studio.http() as other:
        signed_in = other.post("/v1/auth/login", json={"email": account.email, "password": PASSWORD})
        assert signed_in.status_code == 200
        expect(page.get_by_text("logs you out of every other browser")).to_be_visible()
        page.get_by_label("Current password").fill("not my password at all")
        page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
        page.get_by_label("Confirm new password").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Change password").click()
        expect(page.get_by_role("alert")).to_contain_text("current password is not right")
        page.get_by_label("Current password").fill(PASSWORD)
        # The keys may have leaked with the old password: they go too, and the list says so.
        page.get_by_label("Also revoke all my API keys").check()
        page.get_by_role("button", name="Change password").click()
        expect(page.get_by_text("Password changed.")).to_be_visible()
        expect(page.get_by_text("your API keys were revoked")).to_be_visible()
        assert other.get("/v1/me").status_code == 401
        assert other.get("/v1/me", headers={"Authorization": f"Bearer {until_2030}"}).status_code == 401
        expect(page.get_by_text("You have no API keys.")).to_be_visible()
    account.password = NEW_PASSWORD

    # The security log lists what just happened.
    log = page.get_by_role("region", name="Security log")
    log.get_by_role("button", name="Refresh").click()
    expect(log.get_by_text("Password changed")).to_be_visible()
    expect(log.get_by_text("API key revoked")).to_have_count(2)  # by hand, then with the password
    expect(log.get_by_text("Failed login")).to_be_visible()

    # The export arrives as a ZIP file with its own name.
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Export my data").click()
    download = download_info.value
    assert re.fullmatch(r"studio-export-\d{8}-\d{6}\.zip", download.suggested_filename)
    with zipfile.ZipFile(io.BytesIO(download.path().read_bytes())) as archive:
        assert "README.txt" in archive.namelist()
    expect(page.get_by_role("link", name=re.compile(r"Download studio-export-"))).to_be_visible()

    # On a phone: every section fits, nothing scrolls sideways.
    page.set_viewport_size(PHONE)
    page.goto("/account")
    expect(page.get_by_role("heading", name="Delete my account")).to_be_visible()
    no_sideways_scroll(page)
    check_page(page, "account-phone", expected=((401, r"/v1/me/password"),))
    page.set_viewport_size({"width": 1280, "height": 800})
    check_page(page, "account", expected=((401, r"/v1/me/password"),))

    # Erasure: a wrong password changes nothing; the right one, confirmed, ends it all.
    page.get_by_role("button", name="Delete my account…").click()
    page.get_by_label("Your password").fill("not my password at all")
    page.get_by_label("I understand").check()
    page.get_by_role("button", name="Delete my account permanently").click()
    expect(page.get_by_role("alert")).to_contain_text("was not deleted")
    page.get_by_label("Your password").fill(account.password)
    page.get_by_role("button", name="Delete my account permanently").click()
    page.wait_for_url("**/login")
    expect(page.get_by_text("Your account and all of your data were deleted.")).to_be_visible()
    watch_of(page).assert_clean(expected=((401, r"/v1/me/password"), (401, r"/v1/me")))
    with studio.http() as client:
        gone = client.post("/v1/auth/login", json={"email": account.email, "password": account.password})
        assert gone.status_code == 401


def test_two_factor_authentication(studio: Studio, contexts: Callable[..., Any]) -> None:
    """Turned on from the account page with a code an authenticator would show (pyotp
    computes it), then asked for at login; a recovery code works once instead."""
    page = contexts().new_page()
    account = sign_up(page, "Ada Lovelace")
    page.goto("/account")
    section = page.get_by_role("region", name="Two-factor authentication")
    section.get_by_role("button", name="Set up").click()
    section.get_by_label("Your password").fill(account.password)
    section.get_by_role("button", name="Continue").click()
    secret = section.get_by_test_id("totp-secret").inner_text().replace(" ", "")
    assert re.fullmatch(r"[A-Z2-7]{32}", secret), secret
    expect(section.get_by_role("link", name="Open in an authenticator app")).to_have_attribute(
        "href", re.compile(r"^otpauth://totp/Studio:"))
    section.get_by_label("Type the six-digit code the app shows").fill("000000" if pyotp.TOTP(secret).now() != "000000"
                                                                       else "111111")
    section.get_by_role("button", name="Turn on").click()
    expect(section.get_by_role("alert")).to_contain_text("That code is not right")
    # The previous step's code: the logins below then use this step's.
    section.get_by_label("Type the six-digit code the app shows").fill(pyotp.TOTP(secret).at(time.time() - 30))
    section.get_by_role("button", name="Turn on").click()
    codes = section.get_by_role("list", name="Recovery codes").get_by_role("listitem")
    expect(codes).to_have_count(10)
    recovery = codes.first.inner_text().strip()
    check_page(page, "account-two-factor-codes", expected=((422, r"/v1/me/totp/confirm"),))
    section.get_by_role("button", name="I have saved them").click()
    expect(section.get_by_text("10 of 10 recovery codes left")).to_be_visible()

    # Another browser: the password, then the code.
    other = contexts().new_page()
    other.goto("/login")
    other.get_by_label("Email").fill(account.email)
    other.get_by_label("Password").fill(account.password)
    other.get_by_role("button", name="Log in").click()
    code_box = other.get_by_label("Code from your authenticator app")
    expect(code_box).to_be_focused()
    check_page(other, "login-two-factor", expected=((401, r"/v1/auth/login"),))
    code_box.fill(pyotp.TOTP(secret).now())
    other.get_by_role("button", name="Log in", exact=True).click()
    other.wait_for_url(lambda url: "/login" not in url)

    # A third: a recovery code instead, once.
    third = contexts().new_page()
    third.goto("/login")
    third.get_by_label("Email").fill(account.email)
    third.get_by_label("Password").fill(account.password)
    third.get_by_role("button", name="Log in").click()
    third.get_by_role("button", name="Lost your phone? Use a recovery code").click()
    third.get_by_label("Recovery code").fill(recovery)
    third.get_by_role("button", name="Log in", exact=True).click()
    third.wait_for_url(lambda url: "/login" not in url)
    page.reload()
    expect(page.get_by_role("region", name="Two-factor authentication").get_by_text(
        "9 of 10 recovery codes left")).to_be_visible()
    log = page.get_by_role("region", name="Security log")
    expect(log.get_by_text("Two-factor authentication turned on")).to_be_visible()
    expect(log.get_by_text("Logged in with a recovery code")).to_be_visible()


def test_the_ops_page_is_for_admins(studio: Studio, contexts: Callable[..., Any]) -> None:
    # Someone who is not an admin: told so, and nothing breaks.
    visitor = contexts().new_page()
    sign_up(visitor, "Linus")
    visitor.goto("/ops")
    expect(visitor.get_by_text("This page is for administrators.")).to_be_visible()
    expect(visitor.get_by_role("navigation", name="Main").get_by_role("link", name="Ops")).to_have_count(0)
    watch_of(visitor).assert_clean()

    # An admin sees the summary: readiness, the audit's how-to, backups, queue and pool.
    admin = studio.ensure_admin()
    page = contexts().new_page()
    log_in(page, admin)
    page.goto("/ops")
    expect(page.get_by_role("heading", level=1)).to_have_text("Ops")
    readiness = page.get_by_role("region", name="Readiness")
    expect(readiness.get_by_text("ready", exact=True)).to_be_visible()
    audit = page.get_by_role("region", name="Audit")
    expect(audit).to_contain_text("studio audit")  # nothing stored yet: how to run it
    expect(page.get_by_role("region", name="Backups")).to_contain_text("No backup has run yet.")
    queue = page.get_by_role("region", name="Job queue")
    for kind in ("Generation", "Training", "Storage cleanup", "Maintenance", "Chat titles"):
        expect(queue.get_by_role("rowheader", name=kind)).to_be_visible()
    expect(page.get_by_role("region", name="Database pool")).to_contain_text("In use")
    # `studio up`'s worker registered this host's node, live, with the local providers it can run.
    node = page.get_by_role("region", name="Workers").get_by_role("row").filter(
        has=page.get_by_role("rowheader", name=node_name(), exact=True))
    expect(node.get_by_text("live", exact=True)).to_be_visible()
    expect(node).to_contain_text("espeak")
    # `studio audit` on the server stores its run; the page shows its score and what failed.
    ran = studio.lab.run(["audit", "--format", "json"], studio.env, timeout=300)
    assert "Traceback" not in ran.stderr, ran.stderr
    report = json.loads(ran.stdout)
    with page.expect_response("**/v1/admin/ops"):
        page.get_by_role("button", name="Refresh").click()
    expect(audit).to_contain_text(f"{report['score']:.1f} / 10")
    failing = [c for c in report["checks"] if c["status"] in ("warn", "fail", "error")]
    if failing:
        expect(audit).to_contain_text(failing[0]["title"])
    check_page(page, "ops")
    node.scroll_into_view_if_needed()
    check_page(page, "ops-workers")
    page.set_viewport_size(PHONE)
    no_sideways_scroll(page)
    check_page(page, "ops-phone")
