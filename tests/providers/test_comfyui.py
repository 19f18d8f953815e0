"""ComfyUI: workflow substitution, /prompt, /history polling, /view downloads, cancel."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from studio.providers.base import MediaOutput, ProviderError
from studio.providers.comfyui import ComfyUI, build_workflow, history_files
from tests.providers.conftest import FakeContext, build, make_settings, make_task
from tests.providers.fakes import MP4, PNG, FakeComfyUI, Reply

PROMPT = ("POST", "/prompt")
HISTORY = ("GET", "/history/{prompt_id}")

WORKFLOW = {
    "3": {"class_type": "KSampler", "inputs": {"seed": "{{seed}}", "steps": "{{steps}}", "cfg": 7,
                                               "positive": ["6", 0], "negative": ["7", 0]}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "{{prompt}}", "clip": ["4", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry, lowres", "clip": ["4", 1]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
}
CONFIG = {"workflow": WORKFLOW, "defaults": {"seed": 42, "steps": 20}}


def generate(fake: FakeComfyUI, context: FakeContext, task=None, **overrides: Any) -> list[MediaOutput]:
    settings = make_settings(**{"comfyui_base_url": fake.url, **overrides})

    async def scenario() -> list[MediaOutput]:
        provider = build(ComfyUI, settings)
        try:
            return await provider.generate(task or make_task("image", "sdxl", "a fox", model_config=CONFIG),
                                           context)
        finally:
            await provider.aclose()

    return asyncio.run(scenario())


def test_queues_the_substituted_workflow_polls_and_downloads(comfyui_fake, context):
    original = copy.deepcopy(CONFIG)

    [output] = generate(comfyui_fake, context, make_task("image", "sdxl", "a fox", params={"seed": 7},
                                                         model_config=CONFIG))

    assert (output.path.name, output.content_type) == ("comfyui-0.png", "image/png")
    assert output.path.read_bytes() == PNG
    [queued] = comfyui_fake.received(*PROMPT)
    body = queued.json()
    assert body["prompt"]["6"]["inputs"]["text"] == "a fox"
    assert body["prompt"]["7"]["inputs"]["text"] == "blurry, lowres"
    assert body["prompt"]["3"]["inputs"] == {**WORKFLOW["3"]["inputs"], "seed": 7, "steps": 20}
    assert isinstance(body["client_id"], str) and body["client_id"]
    assert CONFIG == original  # the model config is never modified
    assert context.provider_jobs == ["c0ffee-1"]
    polls = comfyui_fake.received(*HISTORY)
    assert len(polls) == 2 and polls[0].path == "/history/c0ffee-1"  # pending once, then done
    [view] = comfyui_fake.received("GET", "/view")
    assert view.query == {"filename": "ComfyUI_00001_.png", "subfolder": "", "type": "output"}


def test_every_saved_file_is_downloaded_and_previews_skipped(comfyui_fake, context):
    comfyui_fake.state["pending_polls"] = 0
    comfyui_fake.state["outputs"] = {
        "9": {"images": [{"filename": "ComfyUI_00001_.png", "subfolder": "", "type": "output"}]},
        "12": {"gifs": [{"filename": "clip_00001.mp4", "subfolder": "video", "type": "output",
                         "format": "video/h264-mp4"}], "animated": [True]},
        "20": {"images": [{"filename": "preview.png", "subfolder": "", "type": "temp"}]},
    }

    outputs = generate(comfyui_fake, context)

    assert [(o.path.name, o.content_type, o.path.read_bytes()) for o in outputs] == [
        ("comfyui-0.png", "image/png", PNG), ("comfyui-1.mp4", "video/mp4", MP4)]
    assert [r.query["subfolder"] for r in comfyui_fake.received("GET", "/view")] == ["", "video"]


def test_prompt_node_and_field(comfyui_fake, context):
    workflow = {"1": {"class_type": "PrimitiveString", "inputs": {"value": ""}},
                "9": {"class_type": "SaveImage", "inputs": {"images": ["1", 0]}}}

    generate(comfyui_fake, context, make_task("image", prompt="{{seed}} stays text", model_config={
        "workflow": workflow, "prompt_node": "1", "prompt_field": "value"}))

    assert comfyui_fake.received(*PROMPT)[0].json()["prompt"]["1"]["inputs"]["value"] == "{{seed}} stays text"


@pytest.mark.parametrize(("model_config", "message"), [
    ({}, "must be an API-format workflow"),
    ({"workflow": "{not json"}, "not valid JSON"),
    ({"workflow": {"1": {"class_type": "X"}}}, "must be an API-format workflow"),
    ({"workflow": {"7": WORKFLOW["7"]}}, "no CLIPTextEncode node with text '{{prompt}}'"),
    ({**CONFIG, "prompt_node": "99"}, "no node '99'"),
    ({"workflow": WORKFLOW}, "expects {{seed}} but neither params.seed nor"),
])
def test_bad_workflow_config_is_refused_before_any_request(comfyui_fake, context, model_config, message):
    with pytest.raises(ProviderError, match=message) as info:
        generate(comfyui_fake, context, make_task("image", model_config=model_config))

    assert info.value.retryable is False and comfyui_fake.requests == []


def test_workflow_may_be_a_json_string():
    workflow = build_workflow({"workflow": '{"6": {"class_type": "CLIPTextEncode", "inputs": {"text": "{{prompt}}"}}}'},
                              "hi")
    assert workflow["6"]["inputs"]["text"] == "hi"


def test_validation_error_is_surfaced(comfyui_fake, context):
    comfyui_fake.queue(*PROMPT, Reply(400, json={
        "error": {"type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed validation",
                  "details": ""}, "node_errors": {"3": {"errors": []}}}))

    with pytest.raises(ProviderError, match=r"HTTP 400 .*Prompt outputs failed validation") as info:
        generate(comfyui_fake, context)

    assert info.value.retryable is False


def test_execution_error_is_surfaced(comfyui_fake, context):
    comfyui_fake.state["status"] = {"status_str": "error", "completed": False, "messages": [
        ["execution_start", {"prompt_id": "c0ffee-1"}],
        ["execution_error", {"node_type": "KSampler", "exception_message": "CUDA out of memory"}]]}

    with pytest.raises(ProviderError, match="KSampler failed: CUDA out of memory") as info:
        generate(comfyui_fake, context)

    assert info.value.retryable is False and comfyui_fake.received("GET", "/view") == []


def test_no_saved_files_is_an_error(comfyui_fake, context):
    comfyui_fake.state["outputs"] = {"20": {"images": [{"filename": "p.png", "subfolder": "", "type": "temp"}]}}

    with pytest.raises(ProviderError, match="without saving any file"):
        generate(comfyui_fake, context)


@pytest.mark.parametrize(("history", "message"), [
    (["c0ffee-1"], "not a JSON object"),
    ({"c0ffee-1": "done"}, "is not an object"),
    ({"c0ffee-1": {"status": {"status_str": "success"}}}, "no 'outputs' object"),
])
def test_malformed_history(comfyui_fake, context, history, message):
    comfyui_fake.state["history"] = history

    with pytest.raises(ProviderError, match=message) as info:
        generate(comfyui_fake, context)

    assert info.value.retryable is False


def test_exceeding_the_max_wait_cancels_and_is_retryable(comfyui_fake, context):
    comfyui_fake.state["pending_polls"] = 10**6

    with pytest.raises(ProviderError, match=r"did not finish within 0\.4s") as info:
        generate(comfyui_fake, context, comfyui_max_wait_seconds=0.4)

    assert info.value.retryable is True
    assert [r.json() for r in comfyui_fake.received("POST", "/queue")] == [{"delete": ["c0ffee-1"]}]
    assert [r.json() for r in comfyui_fake.received("POST", "/interrupt")] == [{"prompt_id": "c0ffee-1"}]


def test_user_cancel_cancels_the_prompt(comfyui_fake, context):
    comfyui_fake.state["pending_polls"] = 10**6
    settings = make_settings(comfyui_base_url=comfyui_fake.url)

    async def scenario() -> None:
        provider = build(ComfyUI, settings)
        try:
            task = asyncio.create_task(provider.generate(make_task("image", model_config=CONFIG), context))
            async with asyncio.timeout(5):
                while not comfyui_fake.received(*HISTORY):
                    await asyncio.sleep(0.01)
                context.cancel = True
                await task
        finally:
            await provider.aclose()

    with pytest.raises(ProviderError, match="cancelled by the user") as info:
        asyncio.run(scenario())

    assert info.value.retryable is False
    assert len(comfyui_fake.received("POST", "/queue")) == 1
    assert len(comfyui_fake.received("POST", "/interrupt")) == 1


def test_history_files_ignores_non_file_outputs():
    entry = {"outputs": {"1": {"text": ["hello"], "images": "oops"}, "2": "x",
                         "3": {"images": [{"filename": "a.png"}, {"subfolder": "x"}]}}}
    assert history_files(entry) == [{"filename": "a.png", "type": "output", "subfolder": ""}]


INPAINT = {**WORKFLOW,
           "10": {"class_type": "LoadImage", "inputs": {"image": "{{image}}"}},
           "11": {"class_type": "LoadImageMask", "inputs": {"image": "{{mask}}", "channel": "red"}}}


def test_input_media_are_uploaded_and_named_in_the_workflow(comfyui_fake, context, tmp_path):
    image, mask = tmp_path / "input-0.png", tmp_path / "input-1.png"
    image.write_bytes(PNG)
    mask.write_bytes(PNG[::-1])
    task = make_task("image", "sdxl", "a fox in snow", inputs=[image], mask=mask,
                     model_config={**CONFIG, "workflow": INPAINT})

    generate(comfyui_fake, context, task)

    uploads = comfyui_fake.state["uploads"]
    image_name, mask_name = f"studio-{task.generation_id}-image.png", f"studio-{task.generation_id}-mask.png"
    assert uploads == {image_name: (PNG, "input", "true"), mask_name: (PNG[::-1], "input", "true")}
    [queued] = comfyui_fake.received(*PROMPT)
    nodes = queued.json()["prompt"]
    assert nodes["10"]["inputs"] == {"image": image_name}
    assert nodes["11"]["inputs"] == {"image": mask_name, "channel": "red"}
    assert nodes["6"]["inputs"]["text"] == "a fox in snow"


def test_an_input_the_workflow_cannot_take_is_an_error(comfyui_fake, context, tmp_path):
    image = tmp_path / "input-0.png"
    image.write_bytes(PNG)
    with pytest.raises(ProviderError, match=r"no input for \{\{image\}\}"):
        generate(comfyui_fake, context, make_task("image", "sdxl", "a fox", inputs=[image], model_config=CONFIG))
    assert not comfyui_fake.received(*PROMPT)  # nothing queued
