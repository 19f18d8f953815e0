"""Datasets at the API tier: create, rename, list and delete; images streamed in one per
request (type checked against the bytes, size read by Pillow, the same file twice is one
image), captions one by one and in bulk (all or nothing); the limits (images per
dataset, datasets per user, the storage quota) refuse without keeping anything; deleting
removes the files through the storage outbox; another user's dataset answers 404."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from studio.config import API_ROLE
from tests.api.conftest import Account, Server, make_settings, serve, sign_up_and_log_in
from tests.api.test_generations import worker  # noqa: F401 - the worker fixture (it drains the outbox)


def picture(fmt: str = "PNG", size: tuple[int, int] = (48, 32), color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, fmt)
    return out.getvalue()


def new_dataset(account: Account, name: str = "Portraits") -> dict:
    r = account.client.post("/v1/datasets", json={"name": name, "description": "my cat"})
    assert r.status_code == 201, r.text
    return r.json()


def upload(account: Account, dataset_id: str, body: bytes, content_type: str = "image/png",
           caption: str | None = None):
    params = {"caption": caption} if caption is not None else {}
    return account.client.post(f"/v1/datasets/{dataset_id}/images", content=body, params=params,
                               headers={"Content-Type": content_type})


def stored_files(server: Server, owner: str) -> list[Path]:
    root = Path(server.settings.home_dir) / "storage" / "attachments" / owner / "datasets"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_a_dataset_is_created_renamed_listed_and_private(alice: Account, bob: Account):
    made = new_dataset(alice)
    assert (made["name"], made["description"], made["status"], made["image_count"], made["total_bytes"]) == (
        "Portraits", "my cat", "draft", 0, 0)
    second = new_dataset(alice, "  Landscapes ")
    assert second["name"] == "Landscapes"

    renamed = alice.client.patch(f"/v1/datasets/{made['id']}", json={"name": "Cats"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Cats"
    assert renamed.json()["description"] == "my cat"  # not given: kept
    cleared = alice.client.patch(f"/v1/datasets/{made['id']}", json={"description": None})
    assert cleared.json()["description"] is None and cleared.json()["name"] == "Cats"

    first = alice.client.get("/v1/datasets", params={"limit": 1}).json()
    assert [d["id"] for d in first["items"]] == [second["id"]] and first["next_cursor"]
    rest = alice.client.get("/v1/datasets", params={"limit": 1, "cursor": first["next_cursor"]}).json()
    assert [d["id"] for d in rest["items"]] == [made["id"]] and rest["next_cursor"] is None

    for bad in ({"name": ""}, {"name": "   "}, {"name": "x" * 201}, {"name": "ok", "owner": bob.id}, {}):
        r = alice.client.post("/v1/datasets", json=bad)
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["error"]["code"] == "validation_error"
    assert alice.client.patch(f"/v1/datasets/{made['id']}", json={"name": " "}).status_code == 422

    # Bob: nothing to see, nothing to touch, the same answer as for a dataset that does not exist.
    assert bob.client.get("/v1/datasets").json() == {"items": [], "next_cursor": None}
    for method, path, kwargs in [
        ("GET", f"/v1/datasets/{made['id']}", {}),
        ("PATCH", f"/v1/datasets/{made['id']}", {"json": {"name": "mine"}}),
        ("DELETE", f"/v1/datasets/{made['id']}", {}),
        ("GET", f"/v1/datasets/{made['id']}/images", {}),
        ("POST", f"/v1/datasets/{made['id']}/images", {"content": picture(), "headers": {"Content-Type": "image/png"}}),
        ("PUT", f"/v1/datasets/{made['id']}/captions",
         {"json": {"items": [{"image_id": str(uuid.uuid4()), "caption": "x"}]}}),
        ("GET", f"/v1/datasets/{uuid.uuid4()}", {}),
    ]:
        r = bob.client.request(method, path, **kwargs)
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["error"]["code"] == "not_found"
    assert alice.client.get(f"/v1/datasets/{made['id']}").json()["name"] == "Cats"


def test_images_stream_in_checked_and_the_same_file_twice_is_one_image(server: Server, alice: Account, bob: Account):
    dataset = new_dataset(alice)
    url = f"/v1/datasets/{dataset['id']}"
    png, jpeg, webp = picture("PNG", (48, 32)), picture("JPEG", (64, 40)), picture("WEBP", (20, 30))
    added = []
    for body, content_type, size in ((png, "image/png", (48, 32)), (jpeg, "image/jpeg", (64, 40)),
                                     (webp, "image/webp", (20, 30))):
        r = upload(alice, dataset["id"], body, content_type, caption="  a red square ")
        assert r.status_code == 201, r.text
        image = r.json()
        assert r.headers["location"] == f"{url}/images/{image['id']}"
        assert (image["width"], image["height"], image["size_bytes"], image["content_type"]) == (
            *size, len(body), content_type)
        assert image["caption"] == "a red square" and image["duplicate"] is False
        assert alice.client.get(image["url"]).content == body
        added.append(image)

    again = upload(alice, dataset["id"], png, caption="another caption")
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["id"] == added[0]["id"] and again.json()["caption"] == "a red square"
    # The same file in another dataset is an image there too.
    other = new_dataset(alice, "Other")
    assert upload(alice, other["id"], png).status_code == 201

    summary = alice.client.get(url).json()
    assert summary["image_count"] == 3 and summary["total_bytes"] == len(png) + len(jpeg) + len(webp)
    listed = alice.client.get(f"{url}/images", params={"limit": 2}).json()
    assert [i["id"] for i in listed["items"]] == [added[0]["id"], added[1]["id"]]
    tail = alice.client.get(f"{url}/images", params={"limit": 2, "cursor": listed["next_cursor"]}).json()
    assert [i["id"] for i in tail["items"]] == [added[2]["id"]] and tail["next_cursor"] is None
    # Bob cannot read the file either.
    assert bob.client.get(added[0]["url"]).status_code == 404

    kept = len(stored_files(server, alice.id))
    assert kept == 4  # three here, one in the other dataset; the duplicate was not kept
    refusals = [
        (b"hello, not a picture" * 20, "text/plain", 415, "unsupported_media_type"),
        (png, "image/jpeg", 415, "unsupported_media_type"),               # the bytes say PNG
        (png[:40] + b"\x00" * 400, "image/png", 415, "unreadable_image"),  # a PNG signature, then rubbish
        (b"\x89PNG\r\n\x1a\n", "image/png", 415, "unreadable_image"),     # nothing after the signature
        (b"", "image/png", 415, "unsupported_media_type"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * (3 * 1024 * 1024), "image/png", 413, "payload_too_large"),
    ]
    for body, content_type, status, code in refusals:
        r = upload(alice, dataset["id"], body, content_type)
        assert r.status_code == status, (content_type, len(body), r.text)
        assert r.json()["error"]["code"] == code
    assert upload(alice, dataset["id"], png, caption="x" * 2001).status_code == 422
    assert len(stored_files(server, alice.id)) == kept
    assert alice.client.get(url).json()["image_count"] == 3


def test_captions_one_by_one_and_in_bulk_all_or_nothing(alice: Account, bob: Account):
    dataset = new_dataset(alice)
    url = f"/v1/datasets/{dataset['id']}"
    ids = [upload(alice, dataset["id"], picture(color=(i, 0, 0))).json()["id"] for i in range(3)]

    one = alice.client.patch(f"{url}/images/{ids[0]}", json={"caption": " sks cat on a sofa "})
    assert one.status_code == 200 and one.json()["caption"] == "sks cat on a sofa"
    assert alice.client.patch(f"{url}/images/{ids[0]}", json={"caption": "  "}).json()["caption"] is None

    bulk = alice.client.put(f"{url}/captions", json={"items": [
        {"image_id": ids[0], "caption": "first"}, {"image_id": ids[1], "caption": "second"}]})
    assert bulk.status_code == 200 and bulk.json() == {"updated": 2}

    # One image of another dataset (bob's) in the list: nothing changes.
    bobs = new_dataset(bob)
    bobs_image = upload(bob, bobs["id"], picture()).json()["id"]
    mixed = alice.client.put(f"{url}/captions", json={"items": [
        {"image_id": ids[2], "caption": "third"}, {"image_id": bobs_image, "caption": "mine now"}]})
    assert mixed.status_code == 422 and mixed.json()["error"]["message"] == "items: an image is not in this dataset"
    captions = {i["id"]: i["caption"] for i in alice.client.get(f"{url}/images").json()["items"]}
    assert captions == {ids[0]: "first", ids[1]: "second", ids[2]: None}
    assert bob.client.get(f"/v1/datasets/{bobs['id']}/images").json()["items"][0]["caption"] is None
    assert bob.client.patch(f"{url}/images/{ids[0]}", json={"caption": "x"}).status_code == 404

    for bad in ({"items": []}, {"items": [{"image_id": ids[0], "caption": "a"}, {"image_id": ids[0], "caption": "b"}]},
                {"items": [{"image_id": "nope", "caption": "a"}]}, {"items": [{"image_id": ids[0], "caption": "x" * 2001}]}):
        assert alice.client.put(f"{url}/captions", json=bad).status_code == 422, bad


def test_deleting_images_and_datasets_removes_their_files(server: Server, alice: Account, worker,  # noqa: F811
                                                          admin_conn):
    dataset = new_dataset(alice)
    url = f"/v1/datasets/{dataset['id']}"
    ids = [upload(alice, dataset["id"], picture(color=(0, i, 0))).json()["id"] for i in range(3)]
    assert len(stored_files(server, alice.id)) == 3

    assert alice.client.delete(f"{url}/images/{ids[0]}").status_code == 204
    assert alice.client.delete(f"{url}/images/{ids[0]}").status_code == 404
    assert alice.client.get(url).json()["image_count"] == 2
    _wait_for_files(server, alice.id, 2, admin_conn)

    # A training run still queued on it needs its images; a finished one keeps its history.
    job = admin_conn.execute(
        "INSERT INTO public.training_jobs (user_id, dataset_id, total_steps) VALUES (%s, %s, 10) RETURNING id",
        (alice.id, dataset["id"])).fetchone()[0]
    refused = alice.client.delete(url)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "dataset_in_use"
    assert alice.client.get(url).json()["image_count"] == 2
    admin_conn.execute("UPDATE public.training_jobs SET status = 'succeeded' WHERE id = %s", (job,))

    assert alice.client.delete(url).status_code == 204
    assert alice.client.get(url).status_code == 404
    assert admin_conn.execute("SELECT dataset_id, status FROM public.training_jobs WHERE id = %s",
                              (job,)).fetchone() == (None, "succeeded")
    assert admin_conn.execute("SELECT count(*) FROM public.media_objects WHERE owner_id = %s",
                              (alice.id,)).fetchone() == (0,)
    _wait_for_files(server, alice.id, 0, admin_conn)


def _wait_for_files(server: Server, owner: str, count: int, admin_conn) -> None:
    deadline = time.monotonic() + 20
    while len(stored_files(server, owner)) != count or admin_conn.execute(
            "SELECT count(*) FROM public.storage_deletions").fetchone()[0]:
        assert time.monotonic() < deadline, "the outbox did not delete the files"
        time.sleep(0.1)


@pytest.fixture
def small_server(pg, db, tmp_path) -> Iterator[Server]:
    yield from serve(make_settings(home=tmp_path, max_datasets=2, max_dataset_images=2), pg.conninfo(API_ROLE, db))


def test_limits_refuse_and_keep_nothing(small_server: Server, admin_conn):
    carol = sign_up_and_log_in(small_server)
    try:
        first, _ = new_dataset(carol), new_dataset(carol, "Second")
        third = carol.client.post("/v1/datasets", json={"name": "Third"})
        assert third.status_code == 409 and third.json()["error"]["code"] == "dataset_limit"

        assert upload(carol, first["id"], picture(color=(1, 1, 1))).status_code == 201
        assert upload(carol, first["id"], picture(color=(2, 2, 2))).status_code == 201
        full = upload(carol, first["id"], picture(color=(3, 3, 3)))
        assert full.status_code == 409 and full.json()["error"]["code"] == "dataset_full"
        # A duplicate of an image it has is still answered: it adds nothing.
        assert upload(carol, first["id"], picture(color=(1, 1, 1))).status_code == 200

        # The storage quota counts every file of the user's.
        used = admin_conn.execute("SELECT sum(size_bytes) FROM public.media_objects WHERE owner_id = %s",
                                  (carol.id,)).fetchone()[0]
        admin_conn.execute("INSERT INTO public.quotas (user_id, storage_bytes) VALUES (%s, %s)", (carol.id, used + 10))
        big = picture(size=(64, 64), color=(9, 9, 9))
        over = upload(carol, new_dataset_id := _second(carol), big)
        assert over.status_code == 413 and over.json()["error"]["code"] == "storage_quota_exceeded", over.text
        assert carol.client.get(f"/v1/datasets/{new_dataset_id}").json()["image_count"] == 0
        assert len(stored_files(small_server, carol.id)) == 2
        plain = carol.client.post("/v1/uploads", content=big, headers={"Content-Type": "image/png"})
        assert plain.status_code == 413 and plain.json()["error"]["code"] == "storage_quota_exceeded"
    finally:
        carol.client.close()


def _second(account: Account) -> str:
    return next(d["id"] for d in account.client.get("/v1/datasets").json()["items"] if d["name"] == "Second")
