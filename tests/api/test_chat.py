"""Chat over HTTP: conversations, keyset pages, message trees, isolation (K5, F19)."""

from __future__ import annotations

import uuid

from tests.api.conftest import Account


def new_conversation(account: Account, title: str = "chat") -> dict:
    r = account.client.post("/v1/conversations", json={"title": title})
    assert r.status_code == 201, r.text
    return r.json()


def post(account: Account, conversation_id: str, **body) -> dict:
    r = account.client.post(f"/v1/conversations/{conversation_id}/messages", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def test_conversation_lifecycle(alice: Account, admin_conn):
    created = new_conversation(alice, "first")
    assert created["title"] == "first" and created["system_prompt"] is None
    got = alice.client.get(f"/v1/conversations/{created['id']}").json()
    assert got == created

    patched = alice.client.patch(f"/v1/conversations/{created['id']}", json={"system_prompt": "Be brief."}).json()
    assert patched["title"] == "first" and patched["system_prompt"] == "Be brief."
    assert patched["updated_at"] > created["updated_at"]
    cleared = alice.client.patch(f"/v1/conversations/{created['id']}", json={"system_prompt": None}).json()
    assert cleared["system_prompt"] is None and cleared["title"] == "first"

    post(alice, created["id"], role="user", content="hello")
    assert alice.client.delete(f"/v1/conversations/{created['id']}").status_code == 204
    assert alice.client.get(f"/v1/conversations/{created['id']}").status_code == 404
    assert admin_conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 0  # cascaded


def test_conversation_pages_are_newest_first_and_disjoint(alice: Account, bob: Account):
    titles = [f"c{i}" for i in range(7)]
    for t in titles:
        new_conversation(alice, t)
    new_conversation(bob, "bob's")
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        body = alice.client.get("/v1/conversations", params=params).json()
        seen += [c["title"] for c in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(titles)) and pages == 3


def test_message_tree_edit_and_regenerate_make_branches(alice: Account):
    conv = new_conversation(alice)["id"]
    question = post(alice, conv, role="user", content="What is 2+2?")
    assert question["parent_id"] is None
    answer = post(alice, conv, role="assistant", content="4")
    assert answer["parent_id"] == question["id"]  # omitted parent: continues the latest message
    regenerated = post(alice, conv, role="assistant", content="Four.", parent_id=question["id"])
    edited = post(alice, conv, role="user", content="What is 3+3?", parent_id=None)  # an edited first turn
    follow_up = post(alice, conv, role="user", content="And 4+4?", parent_id=answer["id"])

    tree = alice.client.get(f"/v1/conversations/{conv}/messages").json()["items"]
    assert {m["id"]: m["parent_id"] for m in tree} == {
        question["id"]: None, answer["id"]: question["id"], regenerated["id"]: question["id"],
        edited["id"]: None, follow_up["id"]: answer["id"],
    }
    branch = alice.client.get(f"/v1/conversations/{conv}/messages", params={"leaf_id": follow_up["id"]}).json()
    assert [m["id"] for m in branch["items"]] == [question["id"], answer["id"], follow_up["id"]]
    other = alice.client.get(f"/v1/conversations/{conv}/messages", params={"leaf_id": regenerated["id"]}).json()
    assert [m["content"] for m in other["items"]] == ["What is 2+2?", "Four."]


def test_parent_must_belong_to_the_same_conversation(alice: Account, admin_conn):
    first, second = new_conversation(alice)["id"], new_conversation(alice)["id"]
    root = post(alice, first, role="user", content="in the first conversation")
    r = alice.client.post(f"/v1/conversations/{second}/messages",
                          json={"role": "user", "content": "x", "parent_id": root["id"]})
    assert r.status_code == 404
    r = alice.client.get(f"/v1/conversations/{first}/messages", params={"leaf_id": str(uuid.uuid4())})
    assert r.status_code == 404
    assert admin_conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 1


def test_another_users_conversation_is_404_for_every_verb(alice: Account, bob: Account, admin_conn):
    conv = new_conversation(alice, "private")
    message = post(alice, conv["id"], role="user", content="secret")
    before = admin_conn.execute("SELECT to_jsonb(c) FROM conversations c").fetchall()
    url = f"/v1/conversations/{conv['id']}"
    responses = [
        bob.client.get(url),
        bob.client.patch(url, json={"title": "mine now"}),
        bob.client.delete(url),
        bob.client.get(f"{url}/messages"),
        bob.client.get(f"{url}/messages", params={"leaf_id": message["id"]}),
        bob.client.post(f"{url}/messages", json={"role": "user", "content": "hi"}),
    ]
    assert [r.status_code for r in responses] == [404] * 6
    assert all(r.json()["error"]["code"] == "not_found" for r in responses)
    # Indistinguishable from an id that does not exist at all.
    assert bob.client.get(f"/v1/conversations/{uuid.uuid4()}").json() == responses[0].json()
    # Bob's own message may not hang under Alice's message either.
    bobs = new_conversation(bob)["id"]
    r = bob.client.post(f"/v1/conversations/{bobs}/messages",
                        json={"role": "user", "content": "hi", "parent_id": message["id"]})
    assert r.status_code == 404
    assert bob.client.get("/v1/conversations").json()["items"][0]["id"] == bobs
    assert len(bob.client.get("/v1/conversations").json()["items"]) == 1
    assert admin_conn.execute("SELECT to_jsonb(c) FROM conversations c WHERE c.id = %s",
                              (conv["id"],)).fetchall() == [r for r in before if r[0]["id"] == conv["id"]]
    assert admin_conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 1
