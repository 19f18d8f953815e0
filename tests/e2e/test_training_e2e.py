"""Local generation and LoRA training end to end on real `studio api` and `studio worker`
processes and the embedded PostgreSQL, with the tiny random-weight pipeline this test
builds into the home's models directory (no download):

1. a `studio worker` generates a 64x64 image in 2 steps: a decodable PNG of that size;
2. a worker SIGKILLed in the middle of a training run: its lease expires, another worker
   rescues the job and resumes the run from its last checkpoint (not from zero), and the
   run succeeds with exactly one loss per step.

Needs the `local` extra (`make test` installs it)."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest
from PIL import Image

from studio.providers.diffusers_local import installed

from .support import Lab, needs_postgres
from .support import client as _client
from .support import sign_up_and_log_in as _sign_up_and_log_in
from .support import superuser_sql as _sql
from .support import wait_generation as _wait_generation
from .test_generation_e2e import LEASE_SECONDS, RESCUE_EVERY, _serve, _start_worker, _worker_id

pytestmark = [pytest.mark.slow, needs_postgres]

if not installed():
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI runs local generation and training: `make test` installs the local extra")
    pytest.skip("the local extra (torch, diffusers) is not installed", allow_module_level=True)


def _tiny_model(home: Path, client, user_id: str) -> str:
    from studio.dev.tiny_model import build_tiny_pipeline

    build_tiny_pipeline(home / "models" / "tiny")
    _sql(home, "UPDATE users SET role = 'admin' WHERE id = %s", (user_id,))
    made = client.post("/v1/admin/models", json={"provider": "diffusers", "provider_model": "tiny", "type": "image",
                                                  "slug": "tiny-local"})
    assert made.status_code == 201, made.text
    return made.json()["id"]


def test_a_studio_worker_generates_locally_and_a_killed_run_resumes_from_its_checkpoint(lab: Lab):
    home = lab.home()
    api, port = _serve(lab, home)
    doomed = _start_worker(lab, home)
    with _client(port) as client:
        user = _sign_up_and_log_in(client)
        model = _tiny_model(home, client, user["id"])

        created = client.post("/v1/generations", json={"type": "image", "model_id": model, "prompt": "a red cat",
                                                        "params": {"width": 64, "height": 64, "steps": 2}})
        assert created.status_code == 202, created.text
        done = _wait_generation(client, created.json()["id"], {"succeeded", "failed"}, 180, [api, doomed])
        assert done["status"] == "succeeded", done
        png = client.get(done["result"]["media"][0]["url"]).content
        image = Image.open(io.BytesIO(png))
        assert (image.format, image.size) == ("PNG", (64, 64))

        dataset = client.post("/v1/datasets", json={"name": "Squares"}).json()["id"]
        for shade in (40, 120, 200):
            picture = io.BytesIO()
            Image.new("RGB", (80, 64), (shade, 90, 40)).save(picture, "PNG")
            added = client.post(f"/v1/datasets/{dataset}/images", content=picture.getvalue(),
                                headers={"Content-Type": "image/png"})
            assert added.status_code == 201, added.text
        steps = 400
        run = client.post("/v1/training-jobs", json={"dataset_id": dataset, "base_model_id": model, "hyperparams": {
            "steps": steps, "checkpoint_every": 10, "rank": 4, "resolution": 64, "batch_size": 2,
            "learning_rate": 1e-3, "sample_every": 0}}).json()

        deadline = time.monotonic() + 180
        while (state := client.get(f"/v1/training-jobs/{run['id']}").json())["checkpoint_step"] < 20:
            assert state["status"] in ("queued", "training"), state
            assert time.monotonic() < deadline, f"no checkpoint yet: {state}\n{doomed.describe()}"
            time.sleep(0.1)
        [(holder,)] = _sql(home, "SELECT worker_id FROM jobs WHERE payload->>'training_job_id' = %s", (run["id"],))
        assert holder == _worker_id(doomed)
        doomed.kill()  # SIGKILL, mid-run
        at_kill = client.get(f"/v1/training-jobs/{run['id']}").json()
        assert at_kill["status"] == "training" and at_kill["current_step"] < steps, at_kill
        resume_at = at_kill["checkpoint_step"]

        rescuer = _start_worker(lab, home)
        deadline = time.monotonic() + LEASE_SECONDS + RESCUE_EVERY + 300
        while (done := client.get(f"/v1/training-jobs/{run['id']}").json())["status"] not in ("succeeded", "failed"):
            assert time.monotonic() < deadline, f"the run did not finish: {done['status']}\n{rescuer.describe()}"
            time.sleep(0.5)
        assert done["status"] == "succeeded", (done["error"], rescuer.describe())
        assert len(done["loss_history"]) == steps
        assert done["loss_history"][:resume_at] == at_kill["loss_history"][:resume_at]
        assert f"training run {run['id']} resumes at step {resume_at}" in rescuer.output, rescuer.describe()
        assert "re-queued 1 job(s) whose worker stopped responding" in rescuer.output, rescuer.describe()
        assert _sql(home, "SELECT status, attempts, worker_id FROM jobs WHERE payload->>'training_job_id' = %s",
                    (run["id"],)) == [("succeeded", 2, _worker_id(rescuer))]
        assert client.get("/v1/trained-models").json()["items"][0]["training_job_id"] == run["id"]
