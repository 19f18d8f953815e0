"""Training at the API tier and for real: LoRA runs start from a dataset and a local
diffusers model (validated: an empty dataset, another user's dataset or run, a model
that cannot be trained, too many at once), run on a real worker with the tiny
random-weight pipeline (losses recorded, checkpoints, weights stored, a trained model
listed, a notification), stop when cancelled, and resume from their checkpoint when
their worker goes away mid-run. Needs the `local` extra (`make test` installs it)."""

from __future__ import annotations

import io
import json
import math
import os
import struct
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from PIL import Image

from studio.config import WORKER_ROLE
from studio.providers.diffusers_local import installed
from tests.api.conftest import Account, Server, make_admin, sign_up_and_log_in
from tests.api.test_generations import WorkerThread

if not installed():
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI runs training: `make test` installs the local extra")
    pytest.skip("the local extra (torch, diffusers) is not installed", allow_module_level=True)

SMALL = {"rank": 4, "learning_rate": 1e-3, "resolution": 64, "batch_size": 2, "seed": 5, "trigger_word": "sks"}


def picture(color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (80, 64), color).save(out, "PNG")
    return out.getvalue()


def base_model(server: Server, admin_conn, *, build: bool = True) -> str:
    if build:
        from studio.dev.tiny_model import build_tiny_pipeline

        folder = Path(server.settings.home_dir) / "models" / "tiny"
        if not folder.exists():
            build_tiny_pipeline(folder)
    admin = make_admin(sign_up_and_log_in(server), admin_conn)
    r = admin.client.post("/v1/admin/models", json={"provider": "diffusers", "provider_model": "tiny",
                                                    "type": "image", "slug": f"tiny-{uuid.uuid4().hex[:6]}"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def dataset_with_images(account: Account, count: int = 3) -> str:
    dataset = account.client.post("/v1/datasets", json={"name": "Squares"}).json()
    for i in range(count):
        r = account.client.post(f"/v1/datasets/{dataset['id']}/images", content=picture((60 * i, 200, 40)),
                                params={"caption": f"a square number {i}"}, headers={"Content-Type": "image/png"})
        assert r.status_code == 201, r.text
    return dataset["id"]


def start(account: Account, dataset_id: str, model_id: str, **hyper: object):
    return account.client.post("/v1/training-jobs", json={"dataset_id": dataset_id, "base_model_id": model_id,
                                                          "hyperparams": {**SMALL, **hyper}})


def wait_run(account: Account, run_id: str, until, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        run = account.client.get(f"/v1/training-jobs/{run_id}").json()
        if until(run):
            return run
        assert time.monotonic() < deadline, f"the run did not get there: {run}"
        time.sleep(0.2)


def test_starting_a_run_is_validated(server: Server, alice: Account, bob: Account, admin_conn):
    model = base_model(server, admin_conn, build=False)
    empty = alice.client.post("/v1/datasets", json={"name": "Empty"}).json()["id"]
    refused = start(alice, empty, model)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "dataset_empty"

    dataset = dataset_with_images(alice, 1)
    bobs = dataset_with_images(bob, 1)
    assert start(alice, bobs, model).status_code == 404
    assert start(alice, dataset, str(uuid.uuid4())).status_code == 404
    espeak = next(m["id"] for m in alice.client.get("/v1/models").json()["items"] if m["slug"] == "espeak-en")
    assert start(alice, dataset, espeak).status_code == 422  # an audio model
    for bad in ({"rank": 0}, {"resolution": 65}, {"trigger_word": "two words"}, {"learning_rate": 1},
                {"steps": 0}, {"optimizer": "sgd"}):
        r = start(alice, dataset, model, **bad)
        assert r.status_code == 422, (bad, r.text)
    assert admin_conn.execute("SELECT count(*) FROM public.training_jobs").fetchone() == (0,)

    first = start(alice, dataset, model, steps=10)
    assert first.status_code == 202, first.text
    run = first.json()
    assert first.headers["location"] == f"/v1/training-jobs/{run['id']}"
    assert (run["status"], run["total_steps"], run["current_step"], run["name"]) == ("queued", 10, 0, "Squares")
    assert run["hyperparams"]["rank"] == 4 and "steps" not in run["hyperparams"]
    assert admin_conn.execute("SELECT kind, payload->>'training_job_id' FROM public.jobs").fetchall() == [
        ("training", run["id"])]
    second = start(alice, dataset, model)
    assert second.status_code == 429 and second.json()["error"]["code"] == "training_limit"
    # A dataset a run still needs stays.
    assert alice.client.delete(f"/v1/datasets/{dataset}").status_code == 409

    assert bob.client.get(f"/v1/training-jobs/{run['id']}").status_code == 404
    assert bob.client.post(f"/v1/training-jobs/{run['id']}/cancel").status_code == 404
    assert bob.client.get("/v1/training-jobs").json()["items"] == []
    cancelled = alice.client.post(f"/v1/training-jobs/{run['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "canceled"
    again = alice.client.post(f"/v1/training-jobs/{run['id']}/cancel")
    assert again.status_code == 409 and again.json()["error"]["code"] == "training_finished"
    assert start(alice, dataset, model).status_code == 202  # room again


def _safetensors_keys(blob: bytes) -> list[str]:
    (length,) = struct.unpack("<Q", blob[:8])
    return [k for k in json.loads(blob[8:8 + length]) if k != "__metadata__"]


def test_a_lora_trains_on_a_real_worker_and_becomes_a_model(server: Server, alice: Account, bob: Account, pg, db,
                                                            admin_conn):
    model = base_model(server, admin_conn)
    dataset = dataset_with_images(alice)
    run = start(alice, dataset, model, steps=6, checkpoint_every=3, sample_every=3, sample_steps=2).json()
    stored = Path(server.settings.home_dir) / "storage" / "media" / alice.id / "training" / run["id"]
    worker = WorkerThread(server.settings, pg.conninfo(WORKER_ROLE, db))
    try:
        done = wait_run(alice, run["id"], lambda r: r["status"] in ("succeeded", "failed", "canceled"))
        # The checkpoint goes once the run is done (the worker drains the outbox); the weights stay.
        deadline = time.monotonic() + 20
        while [p.name for p in stored.iterdir() if p.name.startswith("checkpoint")]:
            assert time.monotonic() < deadline, list(stored.iterdir())
            time.sleep(0.2)
        assert sorted(p.name.split("-")[0] for p in stored.iterdir()) == ["lora", "sample", "sample"]
    finally:
        worker.stop()
    assert done["status"] == "succeeded", done
    assert (done["current_step"], done["progress"], done["error"]) == (6, 100, None)
    assert len(done["loss_history"]) == 6 and all(math.isfinite(x) and x > 0 for x in done["loss_history"])
    assert done["checkpoint_step"] == 3 and done["trained_model_id"]
    # A sample image at steps 3 and 6, the owner's files.
    assert [s["step"] for s in done["samples"]] == [3, 6]
    for sample in done["samples"]:
        shown = Image.open(io.BytesIO(alice.client.get(sample["url"]).content))
        assert (shown.format, shown.size) == ("PNG", (64, 64))
        assert bob.client.get(sample["url"]).status_code == 404

    listed = alice.client.get("/v1/trained-models").json()["items"]
    assert [m["id"] for m in listed] == [done["trained_model_id"]]
    trained = listed[0]
    assert (trained["name"], trained["training_job_id"], trained["base_model_id"]) == ("Squares", run["id"], model)
    assert trained["metrics"]["final_loss"] == done["loss_history"][-1]
    weights = alice.client.get(f"/v1/media/{trained['weights_media_id']}")
    assert weights.status_code == 200 and len(weights.content) == trained["weights_bytes"]
    keys = _safetensors_keys(weights.content)
    assert keys and all("lora" in k for k in keys), keys[:5]
    assert bob.client.get(f"/v1/media/{trained['weights_media_id']}").status_code == 404
    assert bob.client.get(f"/v1/trained-models/{trained['id']}").status_code == 404

    notes = alice.client.get("/v1/notifications").json()["items"]
    assert [(n["kind"], n["title"], n["data"]["training_job_id"]) for n in notes] == [
        ("training", "Training finished", run["id"])]

    # The trained model is in alice's model list (nobody else's) and generates: with the
    # same seed, its LoRA changes the base model's image; at strength 0 it is the base model.
    listed_models = {m["id"]: m for m in alice.client.get("/v1/models").json()["items"]}
    mine = listed_models[trained["id"]]
    assert (mine["base_model_id"], mine["type"], mine["available"]) == (model, "image", True)
    assert "lora_scale" in mine["parameters"]["properties"]
    assert trained["id"] not in {m["id"] for m in bob.client.get("/v1/models").json()["items"]}
    refused = bob.client.post("/v1/generations", json={"type": "image", "model_id": trained["id"], "prompt": "sks"})
    assert refused.status_code == 404
    worker = WorkerThread(server.settings, pg.conninfo(WORKER_ROLE, db))
    try:
        made = {label: _generate(alice, model_id, params) for label, model_id, params in [
            ("base", model, {}), ("trained", trained["id"], {}), ("off", trained["id"], {"lora_scale": 0})]}
    finally:
        worker.stop()
    images = {label: content for label, (content, _) in made.items()}
    assert images["trained"] != images["base"] and images["off"] == images["base"]
    # The generation says which model was chosen (its model_id is the base model's).
    generation = made["trained"][1]
    assert (generation["model_id"], generation["params"]["trained_model_id"]) == (model, trained["id"])
    assert [i["role"] for i in generation["inputs"]] == ["lora"]
    assert "trained_model_id" not in made["base"][1]["params"]
    sent_back = alice.client.post("/v1/generations", json={"type": "image", "model_id": trained["id"], "prompt": "x",
                                                            "params": generation["params"]})
    assert sent_back.status_code == 422 and "trained_model_id" in sent_back.text

    renamed = alice.client.patch(f"/v1/trained-models/{trained['id']}", json={"name": "Squares v1"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Squares v1"
    assert alice.client.delete(f"/v1/trained-models/{trained['id']}").status_code == 204
    assert alice.client.get(f"/v1/media/{trained['weights_media_id']}").status_code == 404
    assert alice.client.get(f"/v1/training-jobs/{run['id']}").json()["trained_model_id"] is None


def _generate(account: Account, model_id: str, params: dict) -> tuple[bytes, dict]:
    created = account.client.post("/v1/generations", json={
        "type": "image", "model_id": model_id, "prompt": "sks, a square",
        "params": {"width": 64, "height": 64, "steps": 2, "seed": 21, **params}})
    assert created.status_code == 202, created.text
    generation = created.json()
    deadline = time.monotonic() + 120
    while generation["status"] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, generation
        time.sleep(0.2)
        generation = account.client.get(f"/v1/generations/{generation['id']}").json()
    assert generation["status"] == "succeeded", generation
    return account.client.get(generation["result"]["media"][0]["url"]).content, generation


def test_a_cancelled_run_stops_and_an_interrupted_one_resumes_from_its_checkpoint(
        server: Server, alice: Account, pg, db, admin_conn):
    model = base_model(server, admin_conn)
    dataset = dataset_with_images(alice)
    conninfo = pg.conninfo(WORKER_ROLE, db)

    # Cancelled while training: it stops within seconds, and no model is made.
    long = start(alice, dataset, model, steps=5000, checkpoint_every=1000).json()
    worker = WorkerThread(server.settings, conninfo)
    try:
        wait_run(alice, long["id"], lambda r: r["current_step"] >= 2)
        assert alice.client.post(f"/v1/training-jobs/{long['id']}/cancel").status_code == 200
        deadline = time.monotonic() + 30
        while admin_conn.execute("SELECT status FROM public.jobs WHERE payload->>'training_job_id' = %s",
                                 (long["id"],)).fetchone()[0] != "canceled":
            assert time.monotonic() < deadline, "the worker did not stop the cancelled run"
            time.sleep(0.2)
        stopped_at = alice.client.get(f"/v1/training-jobs/{long['id']}").json()
        assert stopped_at["status"] == "canceled" and stopped_at["current_step"] < 5000
        assert stopped_at["trained_model_id"] is None

        # Interrupted after a checkpoint: the worker goes away (its job is given back), and
        # another worker carries on from the checkpoint, not from zero.
        run = start(alice, dataset, model, steps=200, checkpoint_every=4).json()
        wait_run(alice, run["id"], lambda r: r["checkpoint_step"] >= 8)
    finally:
        worker.stop()
    given_back = alice.client.get(f"/v1/training-jobs/{run['id']}").json()
    assert given_back["status"] == "queued" and given_back["current_step"] < 200, given_back
    resume_at = given_back["checkpoint_step"]
    assert resume_at >= 8

    worker = WorkerThread(server.settings, conninfo)
    try:
        done = wait_run(alice, run["id"], lambda r: r["status"] in ("succeeded", "failed"))
    finally:
        worker.stop()
    assert done["status"] == "succeeded", done
    # One loss per step: the steps before the checkpoint were not trained again.
    assert len(done["loss_history"]) == 200
    assert len(given_back["loss_history"]) >= resume_at
    assert done["loss_history"][:resume_at] == given_back["loss_history"][:resume_at]
    attempts = admin_conn.execute("SELECT attempts FROM public.jobs WHERE payload->>'training_job_id' = %s",
                                  (run["id"],)).fetchone()[0]
    assert attempts == 1  # given back, not failed: the interrupted attempt was not spent


def test_a_run_is_followed_live_on_the_event_stream(server: Server, alice: Account, bob: Account, pg, db,
                                                    admin_conn):
    model = base_model(server, admin_conn)
    dataset = dataset_with_images(alice)
    seen: dict[str, list] = {"alice": [], "bob": []}

    def follow(account: Account, name: str, until_done: bool) -> None:
        with account.client.stream("GET", "/v1/events", timeout=httpx.Timeout(10, read=60)) as response:
            assert response.status_code == 200
            kind = None
            for line in response.iter_lines():
                if line.startswith("event: "):
                    kind = line.removeprefix("event: ")
                elif line.startswith("data: ") and kind == "training":
                    seen[name].append(json.loads(line.removeprefix("data: ")))
                    if until_done and seen[name][-1]["status"] in ("succeeded", "failed"):
                        return

    alice_stream = threading.Thread(target=follow, args=(alice, "alice", True), daemon=True)
    bob_stream = threading.Thread(target=follow, args=(bob, "bob", True), daemon=True)
    alice_stream.start()
    bob_stream.start()
    time.sleep(1)  # both streams are open before the run starts
    run = start(alice, dataset, model, steps=40, checkpoint_every=20).json()
    worker = WorkerThread(server.settings, pg.conninfo(WORKER_ROLE, db))
    try:
        alice_stream.join(180)
        done = alice.client.get(f"/v1/training-jobs/{run['id']}").json()
    finally:
        worker.stop()
    assert not alice_stream.is_alive(), seen["alice"][-3:]
    events = seen["alice"]
    assert {e["id"] for e in events} == {run["id"]}
    assert [e["status"] for e in events][0] == "queued" and events[-1]["status"] == "succeeded"
    assert events[-1]["trained_model_id"] == done["trained_model_id"]
    steps = [e["current_step"] for e in events]
    assert steps == sorted(steps) and len(set(steps)) >= 3  # progress arrived step by step, not only at the end
    # The losses, put together from the events, are the run's: each step's loss exactly once.
    losses: list[float] = []
    for event in events:
        assert event["losses"]["from_step"] == len(losses), event["losses"]
        losses += event["losses"]["values"]
    assert losses == done["loss_history"] and len(losses) == 40
    assert seen["bob"] == []  # bob's stream is still open and saw nothing of alice's run
