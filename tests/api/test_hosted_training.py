"""The hosted training backend against a fake Replicate speaking its trainings API: an
admin gives a Replicate image model a trainer; a user's run uploads the dataset as a zip,
creates the training, follows its steps, and on success stores the weights and lists a
trained model that generates at the provider with its LoRA. Failure, cancel, a worker
taking a run over (no second training), and a webhook waking the run are covered too.
Needs no torch: hosted training runs on any worker."""

from __future__ import annotations

import base64
import io
import time
import uuid
import zipfile
from collections import deque
from collections.abc import Iterator

import orjson
import pytest
from PIL import Image

from studio.config import WORKER_ROLE
from studio.webhooks.signatures import decode_secret, sign
from tests.api.conftest import Account, VendorStudio, sign_up_and_log_in, studio_with_vendor
from tests.api.test_generations import WorkerThread
from tests.providers.conftest import serve_fake
from tests.providers.fakes import TAR, TRAINED_VERSION, FakeReplicate

TRAINER = "ostris/flux-dev-lora-trainer:" + "a" * 64
TRAINING = {"trainer": TRAINER, "destination": "studio-tester/loras", "inputs": {"optimizer": "adamw8bit"}}
TRAINING_ROUTE = "/v1/models/{owner}/{name}/versions/{version}/trainings"
SECRET = "whsec_" + base64.b64encode(b"replicate-test-signing-key-32byt").decode()
HYPER = {"steps": 4, "rank": 16, "learning_rate": 4e-4, "resolution": 512, "batch_size": 1, "seed": 7,
         "trigger_word": "zqx"}


@pytest.fixture(scope="module")
def vendor() -> Iterator[FakeReplicate]:
    yield from serve_fake(FakeReplicate())


def studio(pg, db, tmp_path, vendor, admin_conn, **settings: object):
    return studio_with_vendor(pg, db, tmp_path, vendor, admin_conn, kind="replicate",
                              **{"replicate_training_poll_seconds": 0.2, "replicate_poll_seconds": 0.2, **settings})


def hosted_model(studio: VendorStudio, **extra: object) -> str:
    model = studio.model("black-forest-labs/flux-dev-lora", "image", slug=f"flux-{uuid.uuid4().hex[:6]}",
                         training=TRAINING, **extra)
    assert model["training"] == {**TRAINING, "lora_field": "lora_weights"}
    return model["id"]


def picture(color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (80, 64), color).save(out, "PNG")
    return out.getvalue()


def dataset(account: Account, count: int = 2) -> str:
    created = account.client.post("/v1/datasets", json={"name": "Faces"}).json()
    for i in range(count):
        r = account.client.post(f"/v1/datasets/{created['id']}/images", content=picture((90 * i, 30, 200)),
                                params={"caption": f"a face number {i}"}, headers={"Content-Type": "image/png"})
        assert r.status_code == 201, r.text
    return created["id"]


def start(account: Account, dataset_id: str, model_id: str) -> dict:
    r = account.client.post("/v1/training-jobs", json={"dataset_id": dataset_id, "base_model_id": model_id,
                                                       "hyperparams": HYPER})
    assert r.status_code == 202, r.text
    return r.json()


def wait_run(account: Account, run_id: str, until, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        run = account.client.get(f"/v1/training-jobs/{run_id}").json()
        if until(run):
            return run
        assert time.monotonic() < deadline, f"the run did not get there: {run}"
        time.sleep(0.1)


def test_admins_give_a_replicate_image_model_a_hosted_trainer(pg, db, tmp_path, vendor, admin_conn):
    with studio(pg, db, tmp_path, vendor, admin_conn, worker=False) as s:
        trainable = hosted_model(s)
        plain = s.model("black-forest-labs/flux-schnell", "image", slug="schnell")["id"]
        video = s.model("minimax/video-01", "video", slug="clip")["id"]
        admin = s.admin.client
        # Only a Replicate image model trains at its provider; the trainer and destination are checked.
        r = admin.patch(f"/v1/admin/models/{video}", json={"training": TRAINING})
        assert r.status_code == 422 and "Replicate image model" in r.text
        for bad in ({**TRAINING, "trainer": "ostris/flux-dev-lora-trainer"},  # no version
                    {**TRAINING, "destination": "no-owner"}, {**TRAINING, "inputs": {"bad key": 1}},
                    {**TRAINING, "surprise": True}):
            r = admin.patch(f"/v1/admin/models/{plain}", json={"training": bad})
            assert r.status_code == 422, (bad, r.text)
        listed = {m["id"]: m for m in admin.get("/v1/admin/models").json()["items"]}
        assert listed[plain]["training"] is None and listed[trainable]["training"]["trainer"] == TRAINER

        user = sign_up_and_log_in(s)
        flags = {m["id"]: m["trainable"] for m in user.client.get("/v1/models").json()["items"]}
        assert (flags[trainable], flags[plain], flags[video]) == (True, False, False)
        data = dataset(user, 1)
        r = user.client.post("/v1/training-jobs", json={"dataset_id": data, "base_model_id": plain})
        assert r.status_code == 422 and r.json()["error"]["code"] == "not_trainable"
        # Taken away again: the model no longer trains.
        assert admin.patch(f"/v1/admin/models/{trainable}", json={"training": None}).json()["training"] is None
        r = user.client.post("/v1/training-jobs", json={"dataset_id": data, "base_model_id": trainable})
        assert r.status_code == 422
        assert not vendor.received("POST", TRAINING_ROUTE)


def test_a_hosted_run_trains_at_the_provider_and_its_model_generates_there(pg, db, tmp_path, vendor, admin_conn):
    with studio(pg, db, tmp_path, vendor, admin_conn) as s:
        model = hosted_model(s)
        alice, bob = sign_up_and_log_in(s), sign_up_and_log_in(s)
        polls = vendor.state["training_polls"]
        vendor.state["training_polls"] = polls[:3]  # it stays at step 3 of 4 until the test goes on
        run = start(alice, dataset(alice), model)

        at_three = wait_run(alice, run["id"], lambda r: r["current_step"] == 3)
        assert at_three["status"] == "training" and at_three["provider_job_id"]
        assert at_three["loss_history"] == [] and at_three["progress"] == 75.0

        # What the provider received: the dataset as a zip of images and captions, and a
        # training of the model's trainer version into its destination.
        [upload] = vendor.received("POST", "/v1/files")
        assert upload.headers["authorization"].startswith("Bearer ")
        [created] = vendor.received("POST", TRAINING_ROUTE)
        assert created.path == "/v1/models/ostris/flux-dev-lora-trainer/versions/" + "a" * 64 + "/trainings"
        body = created.json()
        assert body["destination"] == "studio-tester/loras" and "webhook" not in body
        inputs = body["input"]
        [file_id] = vendor.state["uploads"]
        assert inputs == {"optimizer": "adamw8bit", "input_images": f"{vendor.url}/v1/files/{file_id}", "steps": 4,
                          "lora_rank": 16, "learning_rate": 4e-4, "batch_size": 1, "resolution": "512", "seed": 7,
                          "autocaption": False, "trigger_word": "zqx"}
        name, content_type, data = vendor.state["uploads"][file_id]
        assert (name, content_type) == ("dataset.zip", "application/zip")
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            files = {n: archive.read(n) for n in archive.namelist()}
        captions = sorted(v.decode() for n, v in files.items() if n.endswith(".txt"))
        assert captions == ["a face number 0", "a face number 1"]
        assert sum(v.startswith(b"\x89PNG") for v in files.values()) == 2

        vendor.state["remaining"][at_three["provider_job_id"]].append(polls[3])
        done = wait_run(alice, run["id"], lambda r: r["status"] != "training")
        assert (done["status"], done["current_step"], done["progress"]) == ("succeeded", 4, 100.0), done
        trained = alice.client.get(f"/v1/trained-models/{done['trained_model_id']}").json()
        assert trained["provider_weights"] == TRAINED_VERSION
        assert alice.client.get(f"/v1/media/{trained['weights_media_id']}").content == TAR
        assert bob.client.get(f"/v1/trained-models/{trained['id']}").status_code == 404
        notes = alice.client.get("/v1/notifications").json()["items"]
        assert [(n["kind"], n["title"]) for n in notes] == [("training", "Training finished")]

        # It is in alice's model list and generates at the provider: the base model with
        # the trained version as its LoRA, at the strength asked for.
        mine = {m["id"]: m for m in alice.client.get("/v1/models").json()["items"]}[trained["id"]]
        assert (mine["provider"], mine["base_model_id"], mine["trainable"]) == ("replicate", model, False)
        assert "lora_scale" in mine["parameters"]["properties"]
        r = alice.client.post("/v1/generations", json={"type": "image", "model_id": trained["id"],
                                                       "prompt": "zqx smiling", "params": {"lora_scale": 0.8}})
        assert r.status_code == 202, r.text
        generation = r.json()
        assert generation["params"]["trained_model_id"] == trained["id"]
        deadline = time.monotonic() + 30
        while generation["status"] not in ("succeeded", "failed"):
            assert time.monotonic() < deadline, generation
            time.sleep(0.1)
            generation = alice.client.get(f"/v1/generations/{generation['id']}").json()
        assert generation["status"] == "succeeded", generation
        [prediction] = vendor.received("POST", "/v1/models/{owner}/{name}/predictions")
        assert prediction.path == "/v1/models/black-forest-labs/flux-dev-lora/predictions"
        assert prediction.json()["input"] == {"prompt": "zqx smiling", "lora_scale": 0.8,
                                              "lora_weights": TRAINED_VERSION}

        # "Run again" sends the recorded parameters back: accepted, the LoRA set by the server.
        again = {k: v for k, v in generation["params"].items() if k != "trained_model_id"}
        r = alice.client.post("/v1/generations", json={"type": "image", "model_id": trained["id"],
                                                       "prompt": "zqx", "params": again})
        assert r.status_code == 202 and r.json()["params"]["lora_weights"] == TRAINED_VERSION, r.text
        # Bob cannot use it.
        r = bob.client.post("/v1/generations", json={"type": "image", "model_id": trained["id"], "prompt": "x"})
        assert r.status_code == 404


def test_a_failed_hosted_training_fails_the_run_and_tells_its_owner(pg, db, tmp_path, vendor, admin_conn):
    with studio(pg, db, tmp_path, vendor, admin_conn) as s:
        model = hosted_model(s)
        alice = sign_up_and_log_in(s)
        vendor.state["training_polls"] = [{"status": "processing", "logs": " 25%|##        | 1/4 [00:01<00:03]"},
                                          {"status": "failed", "error": "CUDA out of memory on the trainer"}]
        run = start(alice, dataset(alice), model)
        done = wait_run(alice, run["id"], lambda r: r["status"] not in ("queued", "training"))
        assert done["status"] == "failed" and "CUDA out of memory on the trainer" in done["error"], done
        assert done["trained_model_id"] is None
        notes = alice.client.get("/v1/notifications").json()["items"]
        assert [(n["kind"], n["title"]) for n in notes] == [("training", "Training failed")]
        assert len(vendor.received("POST", TRAINING_ROUTE)) == 1  # a failure at the provider is not retried


def test_a_cancelled_hosted_run_cancels_its_training_at_the_provider(pg, db, tmp_path, vendor, admin_conn):
    with studio(pg, db, tmp_path, vendor, admin_conn) as s:
        model = hosted_model(s)
        alice = sign_up_and_log_in(s)
        vendor.state["training_polls"] = [{"status": "processing", "logs": " 50%|#####     | 2/4 [00:02<00:02]"}]
        run = start(alice, dataset(alice), model)
        training = wait_run(alice, run["id"], lambda r: r["current_step"] == 2)["provider_job_id"]
        r = alice.client.post(f"/v1/training-jobs/{run['id']}/cancel")
        assert r.status_code == 200 and r.json()["status"] == "canceled", r.text
        deadline = time.monotonic() + 20
        while not vendor.received("POST", "/v1/trainings/{id}/cancel"):
            assert time.monotonic() < deadline, "the training at the provider was not cancelled"
            time.sleep(0.1)
        assert [c.path for c in vendor.received("POST", "/v1/trainings/{id}/cancel")] == [
            f"/v1/trainings/{training}/cancel"]
        assert alice.client.get(f"/v1/training-jobs/{run['id']}").json()["status"] == "canceled"


def test_a_worker_taking_a_hosted_run_over_follows_its_training(pg, db, tmp_path, vendor, admin_conn):
    with studio(pg, db, tmp_path, vendor, admin_conn, worker=False) as s:
        model = hosted_model(s)
        alice = sign_up_and_log_in(s)
        polls = vendor.state["training_polls"]
        vendor.state["training_polls"] = polls[:3]
        run = start(alice, dataset(alice), model)
        first = WorkerThread(s.settings, pg.conninfo(WORKER_ROLE, db))
        try:
            training = wait_run(alice, run["id"], lambda r: r["current_step"] == 3)["provider_job_id"]
        finally:
            first.stop()  # gives the run back: queued again, its training still going at the provider
        assert alice.client.get(f"/v1/training-jobs/{run['id']}").json()["status"] == "queued"
        vendor.state["remaining"][training].append(polls[3])
        second = WorkerThread(s.settings, pg.conninfo(WORKER_ROLE, db))
        try:
            done = wait_run(alice, run["id"], lambda r: r["status"] not in ("queued", "training"))
        finally:
            second.stop()
        assert done["status"] == "succeeded" and done["provider_job_id"] == training, done
        # One training and one upload: the second worker followed the first one's.
        assert len(vendor.received("POST", TRAINING_ROUTE)) == 1 and len(vendor.received("POST", "/v1/files")) == 1
        assert not vendor.received("POST", "/v1/trainings/{id}/cancel")


def test_a_signed_webhook_wakes_a_hosted_run_at_once(pg, db, tmp_path, vendor, admin_conn):
    """Polls are an hour apart here: only the webhook can end the run within the test."""
    with studio(pg, db, tmp_path, vendor, admin_conn, replicate_training_poll_seconds=3600,
                webhook_secret_replicate=SECRET,
                replicate_webhook_url="https://studio.example.org/v1/webhooks/replicate") as s:
        model = hosted_model(s)
        alice = sign_up_and_log_in(s)
        polls = vendor.state["training_polls"]
        vendor.state["training_polls"] = [polls[1]]
        run = start(alice, dataset(alice), model)
        training = wait_run(alice, run["id"], lambda r: r["current_step"] == 1)["provider_job_id"]
        [created] = vendor.received("POST", TRAINING_ROUTE)
        assert created.json()["webhook"] == "https://studio.example.org/v1/webhooks/replicate"
        assert created.json()["webhook_events_filter"] == ["completed"]

        vendor.state["remaining"][training] = deque([polls[3]])  # the next poll sees it finished
        body = orjson.dumps({"id": training, "status": "succeeded", "output": polls[3]["output"]})
        delivery, now = f"msg_{uuid.uuid4().hex}", int(time.time())
        with s.client() as hook:
            r = hook.post("/v1/webhooks/replicate", content=body, headers={
                "webhook-id": delivery, "webhook-timestamp": str(now), "content-type": "application/json",
                "webhook-signature": sign(decode_secret(SECRET), delivery, now, body)})
        assert r.status_code == 202, r.text
        done = wait_run(alice, run["id"], lambda r: r["status"] != "training", timeout=30)
        assert done["status"] == "succeeded", done
