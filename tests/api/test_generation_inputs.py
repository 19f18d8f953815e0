"""Media in: a generation starts from the caller's own files. Image-to-image and inpainting
carry the input bytes (and the mask) to an OpenAI-style server's /images/edits (a fake
that parses the multipart form as OpenAI does); image-to-video composes an uploaded image
with the local ffmpeg provider through a real worker; someone else's media is 404 and
nothing is queued; a model without the capability says what it takes."""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.api.conftest import Account, Server, sign_up_and_log_in, studio_with_vendor
from tests.api.test_generations import model_id, wait_for
from tests.providers.conftest import serve_fake
from tests.providers.fakes import KEY, PNG, FakeOpenAI, Recorded

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")


class FakeOpenAIEdits(FakeOpenAI):
    """Also POST /v1/images/edits: multipart, `image` (or `image[]`), optional `mask`."""

    def routes(self) -> None:
        super().routes()
        self.route("POST", "/v1/images/edits", self._edits)

    async def _edits(self, request: Request, recorded: Recorded) -> Response:
        form = await request.form()
        fields: dict[str, Any] = {}
        for name, value in form.multi_items():
            fields.setdefault(name, []).append(await value.read() if hasattr(value, "read") else value)
        self.state.setdefault("edits", []).append(fields)
        if "image" not in fields and "image[]" not in fields:
            return JSONResponse({"error": {"message": "image is required", "type": "invalid_request_error"}}, 400)
        import base64
        return JSONResponse({"created": 1, "data": [{"b64_json": base64.b64encode(PNG).decode()}]})


@pytest.fixture(scope="module")
def vendor() -> Iterator[FakeOpenAIEdits]:
    yield from serve_fake(FakeOpenAIEdits())


@pytest.fixture
def studio(pg, db, tmp_path, vendor: FakeOpenAIEdits, admin_conn) -> Iterator[Server]:
    with studio_with_vendor(pg, db, tmp_path, vendor, admin_conn) as studio:
        studio.model("editor-1", "image", slug="editor", capabilities=["image", "image-to-image", "inpainting"])
        studio.model("painter-1", "image", slug="painter")  # text to image only
        yield studio


@pytest.fixture
def alice(studio: Server) -> Iterator[Account]:
    account = sign_up_and_log_in(studio, "alice@example.org")
    yield account
    account.client.close()


def png(tmp_path: Path, color: str, name: str) -> bytes:
    out = tmp_path / f"{name}.png"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"color={color}:s=64x64", "-frames:v", "1",
                    str(out)], check=True, timeout=60)
    return out.read_bytes()


def upload(account: Account, data: bytes, content_type: str = "image/png") -> str:
    r = account.client.post("/v1/uploads", content=data, headers={"Content-Type": content_type})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_inpainting_carries_the_image_and_mask_bytes(alice: Account, vendor: FakeOpenAIEdits, tmp_path: Path):
    image, mask = png(tmp_path, "red", "photo"), png(tmp_path, "white", "mask")
    body = {"type": "image", "model_id": model_id(alice, "editor"), "prompt": "a hat on the cat",
            "inputs": [{"media_id": upload(alice, image), "role": "image"},
                       {"media_id": upload(alice, mask), "role": "mask"}]}
    r = alice.client.post("/v1/generations", json=body)
    assert r.status_code == 202, r.text
    assert r.json()["inputs"] == body["inputs"]
    done = wait_for(alice, r.json()["id"], {"succeeded", "failed"})
    assert done["status"] == "succeeded", done
    # The generation says what it started from (to run it again); lists leave that out.
    assert alice.client.get(f"/v1/generations/{done['id']}").json()["inputs"] == body["inputs"]
    assert alice.client.get("/v1/generations").json()["items"][0]["inputs"] is None

    [edit] = vendor.state["edits"]
    assert edit["image"] == [image]
    # The mask (all white: paint everywhere) arrives as OpenAI takes it: fully transparent.
    [sent_mask] = edit["mask"]
    with Image.open(io.BytesIO(sent_mask)) as sent:
        assert (sent.format, sent.mode, sent.size) == ("PNG", "RGBA", (64, 64))
        assert sent.getchannel("A").getextrema() == (0, 0)
    assert edit["model"] == ["editor-1"] and edit["prompt"] == ["a hat on the cat"]
    [call] = vendor.received("POST", "/v1/images/edits")
    assert call.headers["authorization"] == f"Bearer {KEY}"
    assert vendor.received("POST", "/v1/images/generations") == []


def test_image_to_image_with_a_previous_result(alice: Account, vendor: FakeOpenAIEdits, tmp_path: Path):
    first = alice.client.post("/v1/generations", json={"type": "image", "model_id": model_id(alice, "painter"),
                                                       "prompt": "a cat"}).json()
    result = wait_for(alice, first["id"], {"succeeded", "failed"})
    [media] = result["result"]["media"]
    r = alice.client.post("/v1/generations", json={"type": "image", "model_id": model_id(alice, "editor"),
                                                   "prompt": "the same cat, at night",
                                                   "inputs": [{"media_id": media["id"]}]})
    assert r.status_code == 202, r.text
    assert wait_for(alice, r.json()["id"], {"succeeded", "failed"})["status"] == "succeeded"
    [edit] = vendor.state["edits"]
    assert edit["image"] == [PNG] and "mask" not in edit  # the earlier result's bytes


def test_image_to_video_composes_an_uploaded_image(alice: Account, tmp_path: Path):
    image = upload(alice, png(tmp_path, "blue", "frame"))
    r = alice.client.post("/v1/generations", json={
        "type": "video", "model_id": model_id(alice, "ffmpeg-video"), "prompt": "a blue frame",
        "params": {"duration_seconds": 1, "width": 64, "height": 64}, "inputs": [{"media_id": image}]})
    assert r.status_code == 202, r.text
    done = wait_for(alice, r.json()["id"], {"succeeded", "failed"}, timeout=90)
    assert done["status"] == "succeeded", done
    [video] = done["result"]["media"]
    assert video["content_type"] == "video/mp4"


def test_someone_elses_media_is_404_and_nothing_is_queued(studio: Server, alice: Account, admin_conn,
                                                         tmp_path: Path):
    bob = sign_up_and_log_in(studio, "bob@example.org")
    bobs = upload(bob, png(tmp_path, "green", "bobs"))
    r = alice.client.post("/v1/generations", json={"type": "image", "model_id": model_id(alice, "editor"),
                                                   "prompt": "steal", "inputs": [{"media_id": bobs}]})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", r.text
    assert admin_conn.execute("SELECT count(*) FROM jobs").fetchone() == (0,)
    assert admin_conn.execute("SELECT count(*) FROM generations").fetchone() == (0,)
    bob.client.close()


def test_a_model_without_the_capability_says_what_it_takes(alice: Account, admin_conn, tmp_path: Path):
    image = upload(alice, png(tmp_path, "red", "photo"))
    r = alice.client.post("/v1/generations", json={"type": "image", "model_id": model_id(alice, "painter"),
                                                   "prompt": "x", "inputs": [{"media_id": image}]})
    assert r.status_code == 422 and "inputs[0]" in r.json()["error"]["message"], r.text
    assert "takes no input media" in r.json()["error"]["message"]
    r = alice.client.post("/v1/generations", json={"type": "image", "model_id": model_id(alice, "editor"),
                                                   "prompt": "x", "inputs": [{"media_id": image, "role": "mask"}]})
    assert r.status_code == 422 and "exactly one image and one mask" in r.json()["error"]["message"], r.text
    audio = upload(alice, b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(28), "audio/wav")
    r = alice.client.post("/v1/generations", json={"type": "image", "model_id": model_id(alice, "editor"),
                                                   "prompt": "x", "inputs": [{"media_id": audio}]})
    assert r.status_code == 422 and "image/*" in r.json()["error"]["message"], r.text
    assert admin_conn.execute("SELECT count(*) FROM jobs").fetchone() == (0,)
