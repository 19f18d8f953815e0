"""Replicate: create, poll, cancel and download against a fake API (and a fake CDN on
another origin for the outputs)."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest

from studio.providers.base import MediaOutput, ProviderError
from studio.providers.replicate import Replicate, log_percent, log_step, prediction_outputs
from tests.providers.conftest import FakeContext, build, make_settings, make_task
from tests.providers.fakes import KEY, MP3, MP4, PNG, TAR, FakeReplicate, Reply

VERSION = "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa"
CREATE = ("POST", "/v1/predictions")
GET = ("GET", "/v1/predictions/{id}")
CANCEL = ("POST", "/v1/predictions/{id}/cancel")


def generate(fake: FakeReplicate, context: FakeContext, task=None, *, webhook_url: str | None = None,
             **overrides: Any) -> list[MediaOutput]:
    settings = make_settings(**{"replicate_base_url": f"{fake.url}/v1", "replicate_api_token": KEY, **overrides})

    async def scenario() -> list[MediaOutput]:
        provider = build(Replicate, settings.model_copy(update={"replicate_webhook_url": webhook_url}))
        try:
            return await provider.generate(task or make_task("image", f"acme/painter:{VERSION}"), context)
        finally:
            await provider.aclose()

    return asyncio.run(scenario())


def test_polls_to_success_and_downloads_from_the_cdn(replicate_fake, cdn_fake, context):
    replicate_fake.state["polls"][-1]["output"] = [f"{cdn_fake.url}/files/out-0.png",
                                                   f"{cdn_fake.url}/files/out-1.mp4"]

    outputs = generate(replicate_fake, context, make_task("video", f"acme/painter:{VERSION}", "a fox",
                                                          params={"fps": 24}))

    assert [(o.path.name, o.content_type) for o in outputs] == [("replicate-0.png", "image/png"),
                                                               ("replicate-1.mp4", "video/mp4")]
    assert [o.path.read_bytes() for o in outputs] == [PNG, MP4]
    [create] = replicate_fake.received(*CREATE)
    assert create.json() == {"version": VERSION, "input": {"prompt": "a fox", "fps": 24}}
    assert create.headers["authorization"] == f"Bearer {KEY}"
    assert context.provider_jobs == list(replicate_fake.state["remaining"])  # the id it created
    polls = replicate_fake.received(*GET)
    assert len(polls) == 3 and all(p.headers["authorization"] == f"Bearer {KEY}" for p in polls)
    assert context.progress_reports == [5, 60]
    # The CDN is another origin: it never sees the token.
    assert [r.path for r in cdn_fake.requests] == ["/files/out-0.png", "/files/out-1.mp4"]
    assert all("authorization" not in r.headers for r in cdn_fake.requests)


def test_unpinned_model_uses_the_models_endpoint_and_webhook(replicate_fake, context):
    generate(replicate_fake, context, make_task("image", "black-forest-labs/flux-schnell"),
             webhook_url="https://studio.example/v1/webhooks/replicate")

    [create] = replicate_fake.received("POST", "/v1/models/{owner}/{name}/predictions")
    assert create.path == "/v1/models/black-forest-labs/flux-schnell/predictions"
    assert create.json() == {"input": {"prompt": "a red fox"},
                             "webhook": "https://studio.example/v1/webhooks/replicate",
                             "webhook_events_filter": ["completed"]}


def test_input_media_go_as_data_uris(replicate_fake, context, tmp_path):
    image = tmp_path / "first.png"
    image.write_bytes(PNG)

    generate(replicate_fake, context, make_task("video", f"acme/animator:{VERSION}", inputs=(image,),
                                                model_config={"input_field": "image"}))

    sent = replicate_fake.received(*CREATE)[0].json()["input"]["image"]
    assert sent == "data:image/png;base64," + base64.b64encode(PNG).decode()


def test_content_type_falls_back_to_the_file_name(replicate_fake, context):
    replicate_fake.state["polls"] = [{"status": "succeeded", "output": f"{replicate_fake.url}/files/noext"}]

    [output] = generate(replicate_fake, context)

    # application/octet-stream and no extension: the bytes are kept, typed as generic.
    assert output.content_type == "application/octet-stream" and output.path.read_bytes() == MP3


def test_inline_data_uri_output(replicate_fake, context):
    uri = "data:audio/mpeg;base64," + base64.b64encode(MP3).decode()
    replicate_fake.state["polls"] = [{"status": "succeeded", "output": {"audio": uri, "text": "a caption"}}]

    [output] = generate(replicate_fake, context)

    assert (output.content_type, output.path.suffix, output.path.read_bytes()) == ("audio/mpeg", ".mp3", MP3)


def test_failed_prediction_surfaces_the_error(replicate_fake, context):
    replicate_fake.state["polls"] = [{"status": "processing"},
                                     {"status": "failed", "error": "CUDA out of memory", "logs": "..."}]

    with pytest.raises(ProviderError, match="failed: CUDA out of memory") as info:
        generate(replicate_fake, context)

    assert info.value.retryable is False
    assert replicate_fake.received(*CANCEL) == []


def test_succeeded_without_files_is_an_error(replicate_fake, context):
    replicate_fake.state["polls"] = [{"status": "succeeded", "output": ["just", "tokens"]}]

    with pytest.raises(ProviderError, match="without output files"):
        generate(replicate_fake, context)


def test_exceeding_the_max_wait_cancels_and_is_retryable(replicate_fake, context):
    replicate_fake.state["polls"] = [{"status": "processing"}]

    with pytest.raises(ProviderError, match=r"did not finish within 0\.3s") as info:
        generate(replicate_fake, context, replicate_max_wait_seconds=0.3, replicate_poll_seconds=0.05)

    assert info.value.retryable is True
    [cancel] = replicate_fake.received(*CANCEL)
    assert cancel.path == f"/v1/predictions/{context.provider_jobs[0]}/cancel"
    assert cancel.headers["authorization"] == f"Bearer {KEY}"


def test_user_cancel_cancels_the_prediction(replicate_fake, context):
    replicate_fake.state["polls"] = [{"status": "processing"}]
    settings = make_settings(replicate_base_url=f"{replicate_fake.url}/v1", replicate_api_token=KEY,
                             replicate_poll_seconds=0.05)

    async def scenario() -> None:
        provider = build(Replicate, settings)
        try:
            task = asyncio.create_task(provider.generate(make_task("image", f"a/b:{VERSION}"), context))
            async with asyncio.timeout(5):
                while not replicate_fake.received(*GET):  # running and polled at least once
                    await asyncio.sleep(0.01)
                context.cancel = True
                await task
        finally:
            await provider.aclose()

    with pytest.raises(ProviderError, match="cancelled by the user") as info:
        asyncio.run(scenario())

    assert info.value.retryable is False
    assert len(replicate_fake.received(*CANCEL)) == 1


@pytest.mark.parametrize(("create_reply", "message"), [
    ({"status": "starting"}, "no valid 'id'"),
    ({"id": "../../etc", "status": "starting"}, "no valid 'id'"),
    ({"id": "p1"}, "has no 'status'"),
    (["p1"], "not a JSON object"),
])
def test_malformed_creation_replies(replicate_fake, context, create_reply, message):
    replicate_fake.state["create_reply"] = create_reply

    with pytest.raises(ProviderError, match=message) as info:
        generate(replicate_fake, context)

    assert info.value.retryable is False and replicate_fake.received(*GET) == []


def test_malformed_poll_reply(replicate_fake, context):
    replicate_fake.state["polls"] = [["not", "an", "object"]]

    with pytest.raises(ProviderError, match="not a JSON object") as info:
        generate(replicate_fake, context)

    assert info.value.retryable is False


def test_a_poll_failing_within_budget_is_retried(replicate_fake, context):
    replicate_fake.queue(*GET, Reply(502, body=b"bad gateway"))

    assert generate(replicate_fake, context)
    assert len(replicate_fake.received(*GET)) == 4  # the 502 and the three scripted polls


def test_bad_model_name_is_refused_before_any_request(replicate_fake, context):
    with pytest.raises(ProviderError, match="not owner/name"):
        generate(replicate_fake, context, make_task("image", "no slash here"))
    assert replicate_fake.requests == []


def test_error_text_never_carries_the_token(replicate_fake, context):
    replicate_fake.state["polls"] = [{"status": "failed", "error": f"auth failed for {KEY}"}]

    with pytest.raises(ProviderError) as info:
        generate(replicate_fake, context)

    assert KEY not in str(info.value) and "[redacted]" in str(info.value)


def test_prediction_outputs():
    assert prediction_outputs({"output": "https://x/a.png"}) == ["https://x/a.png"]
    assert prediction_outputs({"output": ["https://x/a.png", "https://x/b.png"]}) == ["https://x/a.png",
                                                                                   "https://x/b.png"]
    assert prediction_outputs({"output": {"video": "https://x/v.mp4", "fps": 24, "frames": [["https://x/f.png"]]}}) \
        == ["https://x/v.mp4", "https://x/f.png"]
    assert prediction_outputs({"output": ["Once", " upon"]}) == []
    assert prediction_outputs({"status": "starting", "output": None}) == []
    assert prediction_outputs({}) == []
    with pytest.raises(ProviderError):
        prediction_outputs(["https://x/a.png"])  # type: ignore[arg-type]


def test_log_percent():
    assert log_percent("  3%|3    | 3/100\n 47%|####7   | 47/100 [00:05<00:06]") == 47
    assert log_percent("step 12.5% done") == 12
    assert log_percent("Using seed 1234") is None
    assert log_percent(None) is None
    assert log_percent("999%") == 100


def test_a_webhook_ends_the_wait_without_waiting_for_the_next_poll(replicate_fake, context):
    """With a webhook URL, polls are 15 s apart by default; the webhook's arrival makes
    the adapter fetch the prediction at once (its result is read from the API, as for
    any poll)."""
    replicate_fake.state["polls"] = [{"status": "succeeded", "output": [f"{replicate_fake.url}/files/out-0.png"]}]
    settings = make_settings(replicate_base_url=f"{replicate_fake.url}/v1", replicate_api_token=KEY,
                             replicate_poll_seconds_with_webhook=60)

    async def scenario() -> list[MediaOutput]:
        provider = build(Replicate, settings.model_copy(update={"replicate_webhook_url": "https://studio.example/v1/webhooks/replicate"}))
        try:
            task = asyncio.create_task(provider.generate(make_task("image", f"a/b:{VERSION}"), context))
            async with asyncio.timeout(20):  # a deadline for a broken adapter, far below the 60 s poll
                while not context.provider_jobs:
                    await asyncio.sleep(0.01)
                context.webhook()
                return await task
        finally:
            await provider.aclose()

    [output] = asyncio.run(scenario())

    assert output.path.read_bytes() == PNG
    assert context.webhook_waits == [True]
    assert len(replicate_fake.received(*GET)) == 1


# -- trainings (the hosted training backend) ----------------------------------------------

TRAINER = f"ostris/flux-dev-lora-trainer:{VERSION}"


def trainings(fake: FakeReplicate, scenario):
    settings = make_settings(replicate_base_url=f"{fake.url}/v1", replicate_api_token=KEY)

    async def run() -> Any:
        provider = build(Replicate, settings)
        try:
            return await scenario(provider)
        finally:
            await provider.aclose()

    return asyncio.run(run())


def test_a_training_is_created_followed_cancelled_and_its_weights_fetched(replicate_fake, tmp_path):
    archive = tmp_path / "dataset.zip"
    archive.write_bytes(b"PK\x05\x06" + b"\x00" * 18)

    async def scenario(provider: Replicate) -> tuple[Any, ...]:
        url = await provider.upload_file(archive, "application/zip")
        created = await provider.create_training(TRAINER, "me/loras", {"input_images": url, "steps": 4})
        polled = await provider.get_training(created["id"])
        await provider.cancel_training(created["id"])
        weights = await provider.fetch_weights(f"{replicate_fake.url}/files/trained_model.tar", tmp_path)
        return url, created, polled, weights

    url, created, polled, weights = trainings(replicate_fake, scenario)
    [upload] = replicate_fake.received("POST", "/v1/files")
    assert upload.headers["authorization"] == f"Bearer {KEY}"
    [(file_id, (name, content_type, data))] = replicate_fake.state["uploads"].items()
    assert (url, name, content_type, data) == (f"{replicate_fake.url}/v1/files/{file_id}", "dataset.zip",
                                               "application/zip", archive.read_bytes())
    [create] = replicate_fake.received("POST", "/v1/models/{owner}/{name}/versions/{version}/trainings")
    assert create.path == f"/v1/models/ostris/flux-dev-lora-trainer/versions/{VERSION}/trainings"
    assert create.json() == {"destination": "me/loras", "input": {"input_images": url, "steps": 4}}
    assert (created["status"], polled["status"]) == ("starting", "starting")
    assert [c.path for c in replicate_fake.received("POST", "/v1/trainings/{id}/cancel")] == [
        f"/v1/trainings/{created['id']}/cancel"]
    assert (weights.path.read_bytes(), weights.content_type) == (TAR, "application/x-tar")


@pytest.mark.parametrize(("trainer", "destination", "message"), [
    ("ostris/flux-dev-lora-trainer", "me/loras", "not owner/name:version"),
    (f"{TRAINER}x", "me/loras", "not owner/name:version"),
    (TRAINER, "loras", "not owner/name"),
])
def test_a_malformed_trainer_or_destination_is_refused_before_any_request(replicate_fake, trainer, destination,
                                                                          message):
    with pytest.raises(ProviderError, match=message):
        trainings(replicate_fake, lambda p: p.create_training(trainer, destination, {}))
    assert replicate_fake.requests == []


def test_an_upload_reply_without_its_url_is_an_error(replicate_fake, tmp_path):
    replicate_fake.queue("POST", "/v1/files", Reply(201, json={"id": "file1", "urls": {}}))
    archive = tmp_path / "dataset.zip"
    archive.write_bytes(b"zip")
    with pytest.raises(ProviderError, match="no 'urls.get'"):
        trainings(replicate_fake, lambda p: p.upload_file(archive, "application/zip"))


def test_log_step():
    bar = "flux_train_replicate:  10%|#         | 100/1000 [01:23<12:30,  1.20it/s, loss: 0.41]"
    assert log_step(bar) == (100, 1000)
    assert log_step(" 1%| | 1/4 [00:01]\r 75%|###### | 3/4 [00:03<00:01]") == (3, 4)
    assert log_step("Downloading 3/4 files") is None  # not a progress bar
    assert log_step("| 9/0 [") is None
    assert log_step(None) is None
