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
    # The addressed conversation exists; the parent the body names is not in it.
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"
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
    # The same answer as for a parent that does not exist at all (test above).
    assert r.status_code == 422 and r.json()["error"]["message"] == (
        "the request refers to a resource that does not exist")
    assert bob.client.get("/v1/conversations").json()["items"][0]["id"] == bobs
    assert len(bob.client.get("/v1/conversations").json()["items"]) == 1
    assert admin_conn.execute("SELECT to_jsonb(c) FROM conversations c WHERE c.id = %s",
                              (conv["id"],)).fetchall() == [r for r in before if r[0]["id"] == conv["id"]]
    assert admin_conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 1


# --------------------------------------------------------------------------- title search


def titles(account: Account, **params) -> list[str]:
    r = account.client.get("/v1/conversations", params=params)
    assert r.status_code == 200, r.text
    return [c["title"] for c in r.json()["items"]]


def test_title_search_ignores_case_and_takes_wildcards_literally(alice: Account, bob: Account):
    for title in ("Trip to Paris", "paris notes", "100% done", "1000 done", "a_b test", "axb test",
                  "back\\slash", "backslash", "Other"):
        new_conversation(alice, title)
    new_conversation(bob, "Paris, bob's")
    assert titles(alice, q="PARIS") == ["paris notes", "Trip to Paris"]  # newest first, Alice's only
    assert titles(alice, q="%") == ["100% done"]
    assert titles(alice, q="0% d") == ["100% done"]
    assert titles(alice, q="_") == ["a_b test"]
    assert titles(alice, q="a_b") == ["a_b test"]
    assert titles(alice, q="\\") == ["back\\slash"]
    assert titles(alice, q="k\\s") == ["back\\slash"]
    assert titles(alice, q="nothing like it") == []
    assert len(titles(alice, q="")) == 9  # every title contains the empty text
    assert titles(bob, q="paris") == ["Paris, bob's"]


def test_title_search_pages_with_its_cursor(alice: Account):
    for i in range(7):
        new_conversation(alice, f"match {i}")
        new_conversation(alice, f"other {i}")
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3, "q": "MATCH"} | ({"cursor": cursor} if cursor else {})
        body = alice.client.get("/v1/conversations", params=params).json()
        seen += [c["title"] for c in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"match {i}" for i in reversed(range(7))] and pages == 3
    # A cursor is a position, whatever the filter of the page that gave it.
    unfiltered = alice.client.get("/v1/conversations", params={"limit": 2}).json()
    assert [c["title"] for c in unfiltered["items"]] == ["other 6", "match 6"]
    assert titles(alice, q="match", cursor=unfiltered["next_cursor"]) == [f"match {i}" for i in reversed(range(6))]


def test_title_search_refuses_bad_input_with_a_clear_error(alice: Account):
    new_conversation(alice, "x" * 200)
    assert titles(alice, q="x" * 200) == ["x" * 200]  # the longest title fits
    for q in ("x" * 201, "a\x00b"):
        r = alice.client.get("/v1/conversations", params={"q": q})
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["code"] == "validation_error" and error["details"][0]["loc"] == ["query", "q"]
    r = alice.client.get("/v1/conversations", params={"q": "x", "cursor": "garbage"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_cursor"
