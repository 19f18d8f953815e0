"""Sharing by link (expiry, revocation, escaping, CSP, nothing else visible) and
uploads (streamed, size and type checked on the server, private to the owner)."""

from __future__ import annotations

import struct
import uuid
import zlib
from datetime import UTC, datetime, timedelta

import httpx

from tests.api.conftest import Account, Server


def png(width: int = 2, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def shared_conversation(account: Account) -> str:
    conversation = account.client.post("/v1/conversations", json={"title": "<b>Plans</b> & ideas"}).json()
    url = f"/v1/conversations/{conversation['id']}/messages"
    account.client.post(url, json={"role": "user", "content": "<script>alert('x')</script>Hi <em>there</em>"})
    account.client.post(url, json={"role": "assistant",
                                   "content": "<a href=\"javascript:alert(1)\" onclick=\"x()\">link</a> "
                                              "<strong>bold</strong>\nsecond line"})
    return conversation["id"]


def test_share_page_escapes_sanitizes_and_locks_down(server: Server, alice: Account, anon: httpx.Client):
    conversation_id = shared_conversation(alice)
    share = alice.client.post("/v1/shares", json={"conversation_id": conversation_id})
    assert share.status_code == 201
    body = share.json()
    assert len(body["slug"]) >= 22 and body["url"] == f"/s/{body['slug']}"

    page = anon.get(body["url"])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "frame-ancestors 'none'" in csp
    html = page.text
    assert "&lt;b&gt;Plans&lt;/b&gt; &amp; ideas" in html          # the title is escaped
    assert "<script>" not in html and "alert('x')" not in html     # the script is gone
    assert "<em>there</em>" in html and "<strong>bold</strong>" in html  # allowed rich text stays
    assert "javascript:" not in html and "onclick" not in html
    assert "second line" in html and "<br>" in html
    assert anon.get("/static/share.css").status_code == 200

    as_json = anon.get(body["url"], params={"format": "json"}).json()
    assert [m["role"] for m in as_json["messages"]] == ["user", "assistant"]
    assert "user_id" not in str(as_json) and alice.id not in str(as_json)


def test_generation_share_serves_its_media_only(server: Server, alice: Account, anon: httpx.Client, admin_conn):
    upload = alice.client.post("/v1/uploads", content=png(), headers={"Content-Type": "image/png"}).json()
    model = admin_conn.execute("SELECT id FROM model_registry WHERE slug = 'espeak-en'").fetchone()[0]
    generation = admin_conn.execute(
        "INSERT INTO generations (user_id, model_id, type, provider, prompt, status)"
        " VALUES (%s, %s, 'audio', 'espeak', 'shared prompt', 'succeeded') RETURNING id", (alice.id, model)).fetchone()[0]
    admin_conn.execute("UPDATE media_objects SET generation_id = %s, bucket = 'attachments' WHERE id = %s",
                       (generation, upload["id"]))
    other = alice.client.post("/v1/uploads", content=png(3, 3), headers={"Content-Type": "image/png"}).json()

    share = alice.client.post("/v1/shares", json={"generation_id": str(generation)}).json()
    item = anon.get(share["url"], headers={"Accept": "application/json"}).json()
    assert item["generation"]["prompt"] == "shared prompt"
    [media] = item["media"]
    assert media["url"] == f"/s/{share['slug']}/media/{upload['id']}"
    assert anon.get(media["url"]).content == png()
    # The same slug does not open another of alice's files, nor her private URLs.
    assert anon.get(f"/s/{share['slug']}/media/{other['id']}").status_code == 404
    assert anon.get(f"/v1/media/{upload['id']}").status_code == 401
    assert "<img" in anon.get(share["url"]).text


def test_revoked_expired_and_guessed_links_are_404(server: Server, alice: Account, bob: Account,
                                                   anon: httpx.Client, admin_conn):
    conversation_id = shared_conversation(alice)
    share = alice.client.post("/v1/shares", json={"conversation_id": conversation_id}).json()
    assert anon.get(share["url"]).status_code == 200
    # Bob can neither revoke nor list alice's share.
    assert bob.client.delete(f"/v1/shares/{share['id']}").status_code == 404
    assert bob.client.get("/v1/shares").json()["items"] == []
    assert alice.client.get("/v1/shares").json()["items"][0]["id"] == share["id"]
    assert alice.client.delete(f"/v1/shares/{share['id']}").status_code == 204
    assert anon.get(share["url"]).status_code == 404
    assert alice.client.get("/v1/shares").json()["items"] == []

    soon = alice.client.post("/v1/shares", json={
        "conversation_id": conversation_id,
        "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}).json()
    assert anon.get(soon["url"]).status_code == 200
    admin_conn.execute("UPDATE shared_content SET expires_at = now() - interval '1 second' WHERE id = %s",
                       (soon["id"],))
    assert anon.get(soon["url"]).status_code == 404

    for guess in ("short", "x" * 32, soon["slug"][:-1] + ("A" if soon["slug"][-1] != "A" else "B")):
        assert anon.get(f"/s/{guess}").status_code == 404
    # Sharing what is not yours is a 404 too.
    assert bob.client.post("/v1/shares", json={"conversation_id": conversation_id}).status_code == 404
    assert alice.client.post("/v1/shares", json={"conversation_id": conversation_id,
                                                 "generation_id": str(uuid.uuid4())}).status_code == 422
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    assert alice.client.post("/v1/shares", json={"conversation_id": conversation_id,
                                                 "expires_at": past}).status_code == 422


def test_upload_round_trip_and_privacy(server: Server, alice: Account, bob: Account, admin_conn):
    data = png(16, 16)
    r = alice.client.post("/v1/uploads", content=data, headers={"Content-Type": "image/png"})
    assert r.status_code == 201, r.text
    uploaded = r.json()
    assert uploaded["size"] == len(data) and uploaded["content_type"] == "image/png"
    assert alice.client.get(uploaded["url"]).content == data
    assert bob.client.get(uploaded["url"]).status_code == 404
    assert alice.client.get(f"{uploaded['url']}/url").json() == {"url": uploaded["url"], "expires_in": None}
    assert bob.client.get(f"{uploaded['url']}/url").status_code == 404
    key = admin_conn.execute("SELECT key FROM media_objects WHERE id = %s", (uploaded["id"],)).fetchone()[0]
    assert key.startswith(f"{alice.id}/uploads/")


def test_upload_limits_change_nothing(server: Server, alice: Account, admin_conn):
    storage_dir = server.settings.home_dir / "storage" / "attachments"

    def files() -> list:
        return [p for p in storage_dir.rglob("*") if p.is_file()] if storage_dir.exists() else []

    wrong_type = alice.client.post("/v1/uploads", content=png(), headers={"Content-Type": "audio/mpeg"})
    assert wrong_type.status_code == 415
    text = alice.client.post("/v1/uploads", content=b"just text" * 100, headers={"Content-Type": "image/png"})
    assert text.status_code == 415
    not_allowed = alice.client.post("/v1/uploads", content=b"MZ" + b"\x00" * 500,
                                    headers={"Content-Type": "application/x-msdownload"})
    assert not_allowed.status_code == 415

    limit = server.settings.max_upload_bytes
    def too_big():
        yield png()
        sent = len(png())
        while sent <= limit:
            yield b"\x00" * 65536
            sent += 65536
    big = alice.client.post("/v1/uploads", content=too_big(), headers={"Content-Type": "image/png"})
    assert big.status_code == 413
    assert admin_conn.execute("SELECT count(*) FROM media_objects").fetchone()[0] == 0
    assert files() == []


def insert_generation(admin_conn, account: Account, prompt: str) -> str:
    model = admin_conn.execute("SELECT id FROM model_registry WHERE slug = 'espeak-en'").fetchone()[0]
    return str(admin_conn.execute(
        "INSERT INTO generations (user_id, model_id, type, provider, prompt, status)"
        " VALUES (%s, %s, 'audio', 'espeak', %s, 'succeeded') RETURNING id", (account.id, model, prompt)).fetchone()[0])


def test_shares_filtered_by_item_typed_and_paged(server: Server, alice: Account, bob: Account, admin_conn):
    first, second = insert_generation(admin_conn, alice, "first"), insert_generation(admin_conn, alice, "second")
    conversation_id = shared_conversation(alice)
    links = [alice.client.post("/v1/shares", json={"generation_id": first}).json() for _ in range(3)]
    other = alice.client.post("/v1/shares", json={"generation_id": second}).json()
    chat = alice.client.post("/v1/shares", json={"conversation_id": conversation_id}).json()
    assert set(links[0]) == {"id", "slug", "url", "generation_id", "conversation_id", "expires_at", "revoked_at",
                             "created_at"}
    assert links[0]["generation_id"] == first and links[0]["conversation_id"] is None

    # One generation's links, newest first, in keyset pages that keep the filter.
    page1 = alice.client.get("/v1/shares", params={"generation_id": first, "limit": 2}).json()
    assert [s["id"] for s in page1["items"]] == [links[2]["id"], links[1]["id"]] and page1["next_cursor"]
    page2 = alice.client.get("/v1/shares", params={"generation_id": first, "limit": 2,
                                                   "cursor": page1["next_cursor"]}).json()
    assert [s["id"] for s in page2["items"]] == [links[0]["id"]] and page2["next_cursor"] is None
    assert [s["id"] for s in alice.client.get("/v1/shares", params={"generation_id": second}).json()["items"]] \
        == [other["id"]]
    assert [s["id"] for s in alice.client.get("/v1/shares", params={"conversation_id": conversation_id})
            .json()["items"]] == [chat["id"]]
    assert len(alice.client.get("/v1/shares").json()["items"]) == 5
    # A revoked link leaves the list.
    assert alice.client.delete(f"/v1/shares/{links[1]['id']}").status_code == 204
    assert [s["id"] for s in alice.client.get("/v1/shares", params={"generation_id": first}).json()["items"]] \
        == [links[2]["id"], links[0]["id"]]

    # Another user's item filters to nothing, and their links are 404s.
    assert bob.client.get("/v1/shares", params={"generation_id": first}).json() == {"items": [], "next_cursor": None}
    assert bob.client.get("/v1/shares", params={"conversation_id": conversation_id}).json()["items"] == []
    assert bob.client.delete(f"/v1/shares/{links[0]['id']}").status_code == 404
    assert bob.client.post("/v1/shares", json={"generation_id": first}).status_code == 404

    # Bad input is a 422 (or 400 for a cursor) with the error JSON.
    for params in ({"generation_id": "not-a-uuid"}, {"conversation_id": "1"}, {"limit": 0}, {"limit": 101}):
        response = alice.client.get("/v1/shares", params=params)
        assert response.status_code == 422, params
        assert response.json()["error"]["code"] == "validation_error"
    response = alice.client.get("/v1/shares", params={"cursor": "!!"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_cursor"
    response = alice.client.post("/v1/shares", json={"generation_id": first, "extra": 1})
    assert response.status_code == 422 and response.json()["error"]["code"] == "validation_error"


def test_dead_link_is_a_not_found_page_for_browsers_and_json_for_clients(server: Server, alice: Account,
                                                                         anon: httpx.Client):
    share = alice.client.post("/v1/shares", json={"conversation_id": shared_conversation(alice)}).json()
    assert alice.client.delete(f"/v1/shares/{share['id']}").status_code == 204
    for url in (share["url"], "/s/" + "x" * 32, "/s/short"):
        page = anon.get(url, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
        assert "This link does not work" in page.text and "revoked" in page.text
        assert "default-src 'none'" in page.headers["content-security-policy"]
        for as_json in (anon.get(url, headers={"Accept": "application/json"}), anon.get(url, params={"format": "json"})):
            assert as_json.status_code == 404 and as_json.json()["error"]["code"] == "not_found"
