"""Local generation through the whole path: an admin registers a diffusers model whose
folder is in the worker's models directory (a tiny random-weight pipeline the test
builds), a user asks for a 64x64 image in 2 steps, a real worker makes it, and the user
downloads a PNG of that size; the same seed gives the same image, and the model's
parameter schema is the provider's. Needs the `local` extra (`make test` installs it)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image

from studio.providers.diffusers_local import installed
from tests.api.conftest import Account, Server, make_admin, sign_up_and_log_in
from tests.api.test_generations import wait_for, worker  # noqa: F401 - the worker fixture

if not installed():
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI runs local generation: `make test` installs the local extra")
    pytest.skip("the local extra (torch, diffusers) is not installed", allow_module_level=True)


def test_a_worker_generates_on_its_own_device(server: Server, alice: Account, worker, admin_conn):  # noqa: F811
    from studio.dev.tiny_model import build_tiny_pipeline

    build_tiny_pipeline(Path(server.settings.home_dir) / "models" / "tiny")
    admin = make_admin(sign_up_and_log_in(server), admin_conn)
    r = admin.client.post("/v1/admin/models", json={
        "provider": "diffusers", "provider_model": "tiny", "type": "image", "slug": "tiny-local",
        "capabilities": ["image", "image-to-image", "inpainting"]})
    assert r.status_code == 201, r.text
    model = next(m for m in alice.client.get("/v1/models").json()["items"] if m["slug"] == "tiny-local")
    assert model["available"] is True, model
    assert {"steps", "seed", "strength", "width", "height"} <= set(model["parameters"]["properties"])

    bad = alice.client.post("/v1/generations", json={"type": "image", "model_id": model["id"], "prompt": "a cat",
                                                      "params": {"width": 65}})
    assert bad.status_code == 422, bad.text

    images = []
    for _ in range(2):
        created = alice.client.post("/v1/generations", json={
            "type": "image", "model_id": model["id"], "prompt": "a red cat",
            "params": {"width": 64, "height": 64, "steps": 2, "seed": 11}})
        assert created.status_code == 202, created.text
        done = wait_for(alice, created.json()["id"], {"succeeded", "failed"}, timeout=180)
        assert done["status"] == "succeeded", done
        media = done["result"]["media"]
        assert [m["content_type"] for m in media] == ["image/png"]
        body = alice.client.get(media[0]["url"]).content
        image = Image.open(io.BytesIO(body))
        assert (image.format, image.size) == ("PNG", (64, 64))
        images.append(body)
    assert images[0] == images[1]
