"""Local generation and LoRA training end to end on real `studio api` and `studio worker`
processes and the embedded PostgreSQL, with the tiny random-weight pipeline this test
builds into the home's models directory (no download):

1. a `studio worker` generates a 64x64 image in 2 steps: a decodable PNG of that size;
2. a worker SIGKILLed in the middle of a training run: its lease expires, another worker
   rescues the job and resumes the run from its last checkpoint (not from zero), and the
   run succeeds with exactly one loss per step;
3. a mixed fleet: an API host and a worker without the local extra (torch, diffusers,
   transformers and peft unimportable in their processes), and a GPU worker with it. The
   local model is usable exactly while a worker offers it, and its generations and
   training runs go to that worker only; a job accepted while none is running waits,
   and runs when one comes back.

Needs the `local` extra (`make test` installs it)."""

from __future__ import annotations

import io
import os
import re
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


def _without_the_local_extra(base: Path) -> dict[str, str]:
    """The environment of a host where the local extra is not installed: a sitecustomize
    makes its packages unimportable (importlib.util.find_spec answers None for them), as
    on an API host that never installed them."""
    site = base / "no-local-extra"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(
        "import sys\n"
        "for name in ('torch', 'diffusers', 'transformers', 'peft', 'accelerate'):\n"
        "    sys.modules[name] = None\n")
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}


def _offers(worker) -> set[str]:
    found = re.search(r"offers ([^)]*)\)", worker.output)
    assert found, worker.describe()
    return set(found.group(1).split(", "))


def _listed(client, model_id: str) -> dict:
    return next(m for m in client.get("/v1/models").json()["items"] if m["id"] == model_id)


def _wait_available(client, model_id: str, available: bool, procs, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while (model := _listed(client, model_id))["available"] is not available:
        assert time.monotonic() < deadline, f"the model never became available={available}: {model}\n" + "\n".join(
            p.describe() for p in procs)
        time.sleep(0.2)
    return model


def test_an_api_host_without_the_local_extra_hands_local_work_to_a_worker_with_it(lab: Lab):
    home = lab.home()
    bare = _without_the_local_extra(lab.base)
    api, port = _serve(lab, home, **bare)
    plain = _start_worker(lab, home, STUDIO_WORKER_NODE="cpu-node", **bare)
    assert "diffusers" not in _offers(plain)
    image = {"type": "image", "prompt": "a red cat", "params": {"width": 64, "height": 64, "steps": 2}}
    with _client(port) as client:
        user = _sign_up_and_log_in(client)
        model = _tiny_model(home, client, user["id"])

        # Nobody can run it: not the API host, not the only worker.
        listed = _listed(client, model)
        assert listed["available"] is False and "local extra" in listed["unavailable_reason"], listed
        refused = client.post("/v1/generations", json=image | {"model_id": model})
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "model_unavailable", refused.text

        gpu = _start_worker(lab, home, STUDIO_WORKER_NODE="gpu-node")
        assert "diffusers" in _offers(gpu)
        _wait_available(client, model, True, [api, plain, gpu])

        created = client.post("/v1/generations", json=image | {"model_id": model})
        assert created.status_code == 202, created.text
        done = _wait_generation(client, created.json()["id"], {"succeeded", "failed"}, 180, [api, plain, gpu])
        assert done["status"] == "succeeded", done
        picture = Image.open(io.BytesIO(client.get(done["result"]["media"][0]["url"]).content))
        assert (picture.format, picture.size) == ("PNG", (64, 64))

        # Training starts from the API host too, and runs on the worker with the extra.
        dataset = client.post("/v1/datasets", json={"name": "Squares"}).json()["id"]
        for shade in (40, 200):
            square = io.BytesIO()
            Image.new("RGB", (64, 64), (shade, 90, 40)).save(square, "PNG")
            added = client.post(f"/v1/datasets/{dataset}/images", content=square.getvalue(),
                                headers={"Content-Type": "image/png"})
            assert added.status_code == 201, added.text
        run = client.post("/v1/training-jobs", json={"dataset_id": dataset, "base_model_id": model, "hyperparams": {
            "steps": 4, "rank": 4, "resolution": 64, "batch_size": 1, "sample_every": 0}})
        assert run.status_code == 202, run.text
        deadline = time.monotonic() + 180
        while (trained := client.get(f"/v1/training-jobs/{run.json()['id']}").json())["status"] not in (
                "succeeded", "failed", "canceled"):
            assert time.monotonic() < deadline, f"the run did not finish: {trained}\n{gpu.describe()}"
            time.sleep(0.3)
        assert trained["status"] == "succeeded", (trained["error"], gpu.describe())

        # The GPU worker stops. Work accepted meanwhile is not handed to the worker that
        # cannot run it: it waits, and runs when a worker with the extra comes back.
        assert gpu.terminate() == 0, gpu.describe()
        waiting = client.post("/v1/generations", json=image | {"model_id": model})
        assert waiting.status_code == 202, waiting.text
        time.sleep(3 * 2.0)  # three of the plain worker's polls (and its NOTIFY wake-up)
        assert client.get(f"/v1/generations/{waiting.json()['id']}").json()["status"] == "queued"
        back = _start_worker(lab, home, STUDIO_WORKER_NODE="gpu-node")
        done = _wait_generation(client, waiting.json()["id"], {"succeeded", "failed"}, 180, [api, plain, back])
        assert done["status"] == "succeeded", done

    local_jobs = _sql(home, "SELECT kind, requires, worker_id, status FROM jobs WHERE requires IS NOT NULL"
                            " ORDER BY created_at")
    assert [(kind, requires, status) for kind, requires, _, status in local_jobs] == [
        ("generation", "diffusers", "succeeded"), ("training", "diffusers", "succeeded"),
        ("generation", "diffusers", "succeeded")]
    assert [worker for *_, worker, _ in local_jobs] == [_worker_id(gpu), _worker_id(gpu), _worker_id(back)]
    assert _sql(home, "SELECT name, capabilities->'provides' ? 'diffusers' FROM node_resources ORDER BY name") == [
        ("cpu-node", False), ("gpu-node", True)]
