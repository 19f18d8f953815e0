"""ComfyUI: queue an API-format workflow, poll its history, download the files it saved.

The workflow is model_config["workflow"] (ComfyUI's "Save (API format)" JSON: node id ->
{"class_type", "inputs"}). The prompt goes into model_config["prompt_node"]'s
["prompt_field"] (default "text"), or, without a prompt_node, into every CLIPTextEncode
node whose text is the placeholder "{{prompt}}". Any other input whose value is exactly
"{{name}}" takes the generation's params[name] (seed, steps, width, negative_prompt...),
else model_config["defaults"][name].

Input media (image-to-image, inpainting, image-to-video, audio) are uploaded to ComfyUI's
input folder (POST /upload/image) first; the workflow names them with the placeholders
"{{image}}", "{{image_2}}"..., "{{mask}}" (white: where to paint, for a LoadImageMask)
and "{{audio}}", typically as a LoadImage node's "image" input. An input the workflow
has no placeholder for is an error, not silently ignored.

ComfyUI reports step progress only over its websocket; its HTTP queue says whether a
prompt is pending or running but not how far along, so this adapter reports none.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import mimetypes
import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import orjson

from studio.config import Settings
from studio.providers.base import (
    Connection,
    GenerationContext,
    GenerationTask,
    MediaOutput,
    Provider,
    ProviderError,
    ProviderUnavailable,
)
from studio.providers.http import ProviderHTTP

log = logging.getLogger("studio.providers.comfyui")

PLACEHOLDER = "{{prompt}}"
_PARAM = re.compile(r"\{\{(\w+)\}\}")
# History polling starts fast (small jobs finish in a second) and backs off to POLL_MAX.
POLL_FIRST, POLL_FACTOR, POLL_MAX = 0.1, 1.5, 2.0


def build_workflow(model_config: Mapping[str, Any], prompt: str,
                   params: Mapping[str, Any] | None = None, inputs: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A copy of the configured workflow with the params, the uploaded inputs' names
    (placeholder -> file name in ComfyUI's input folder) and the prompt substituted."""
    workflow = model_config.get("workflow")
    if isinstance(workflow, str):
        try:
            workflow = orjson.loads(workflow)
        except orjson.JSONDecodeError:
            raise ProviderError("comfyui: the configured workflow is not valid JSON") from None
    if not isinstance(workflow, dict) or not workflow or not all(
            isinstance(node, dict) and isinstance(node.get("inputs"), dict) for node in workflow.values()):
        raise ProviderError("comfyui: model config 'workflow' must be an API-format workflow "
                            "(node id -> {class_type, inputs})")
    workflow = copy.deepcopy(workflow)
    inputs = inputs or {}
    wanted = {match[1] for node in workflow.values() for value in node["inputs"].values()
              if isinstance(value, str) and (match := _PARAM.fullmatch(value))}
    if missing := sorted(set(inputs) - wanted):
        raise ProviderError("comfyui: the workflow has no input for " + ", ".join("{{%s}}" % m for m in missing)
                            + " (put the placeholder in a LoadImage node's image, for example)")
    _substitute_params(workflow, {**(params or {}), **inputs}, model_config.get("defaults") or {})

    node_id = model_config.get("prompt_node")
    if node_id is not None:
        field = model_config.get("prompt_field") or "text"
        node = workflow.get(str(node_id))
        if node is None:
            raise ProviderError(f"comfyui: the workflow has no node {node_id!r} (prompt_node)")
        node["inputs"][field] = prompt
        return workflow

    targets = [node for node in workflow.values()
               if node.get("class_type") == "CLIPTextEncode" and node["inputs"].get("text") == PLACEHOLDER]
    if not targets:
        raise ProviderError(f"comfyui: the workflow has no CLIPTextEncode node with text {PLACEHOLDER!r} "
                            "and no prompt_node is configured")
    for node in targets:
        node["inputs"]["text"] = prompt
    return workflow


def _substitute_params(workflow: dict[str, Any], params: Mapping[str, Any], defaults: Any) -> None:
    # Before the prompt goes in: a prompt that happens to read "{{seed}}" stays text.
    for node in workflow.values():
        for field, value in node["inputs"].items():
            match = _PARAM.fullmatch(value) if isinstance(value, str) else None
            if match is None or match[1] == "prompt":
                continue
            name = match[1]
            if params.get(name) is not None:
                node["inputs"][field] = params[name]
            elif isinstance(defaults, Mapping) and name in defaults:
                node["inputs"][field] = defaults[name]
            else:
                raise ProviderError(f"comfyui: the workflow expects {value} but neither params.{name} "
                                    f"nor the model config's defaults.{name} gives it")


def history_files(entry: Any) -> list[dict[str, str]]:
    """The saved files of a finished history entry: every {filename, subfolder, type:
    "output"} under any node's outputs ("images", "gifs", "audio", ...); previews
    (type "temp") are not results."""
    outputs = entry.get("outputs") if isinstance(entry, dict) else None
    if not isinstance(outputs, dict):
        raise ProviderError("comfyui: the history entry has no 'outputs' object")
    files = []
    for node_output in outputs.values():
        if not isinstance(node_output, dict):
            continue
        for items in node_output.values():
            for item in items if isinstance(items, list) else ():
                if (isinstance(item, dict) and isinstance(item.get("filename"), str)
                        and item.get("type", "output") == "output"):
                    subfolder = item.get("subfolder")
                    files.append({"filename": item["filename"], "type": "output",
                                  "subfolder": subfolder if isinstance(subfolder, str) else ""})
    return files


def _failure(entry: dict[str, Any]) -> str | None:
    """Why the prompt failed, or None when it succeeded."""
    status = entry.get("status")
    if not isinstance(status, dict):
        return None  # older servers record no status; outputs tell the rest
    if status.get("status_str") != "error" and status.get("completed", True):
        return None
    for message in status.get("messages") or ():
        if isinstance(message, list) and len(message) == 2 and isinstance(message[1], dict):
            event, data = message
            if event == "execution_error":
                return f"{data.get('node_type', 'a node')} failed: {data.get('exception_message', '')}".strip()
            if event == "execution_interrupted":
                return "execution was interrupted"
    return "execution failed"


class ComfyUI(Provider):
    name: ClassVar[str] = "comfyui"
    media_types: ClassVar[frozenset[str]] = frozenset({"image", "video"})

    def __init__(self, settings: Settings, connection: Connection) -> None:
        self._settings = settings
        key = connection.api_key
        self._http = ProviderHTTP("comfyui", settings, base_url=connection.base_url,
                                  auth_headers={"Authorization": f"Bearer {key}"} if key else None)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def check(self) -> str | None:
        stats = await self._http.json("GET", self._http.url("system_stats"))
        system = stats.get("system") if isinstance(stats, dict) else None
        if not isinstance(system, dict):
            raise ProviderError("comfyui: GET /system_stats did not answer as ComfyUI does")
        version = system.get("comfyui_version")
        devices = [d.get("name") for d in stats.get("devices") or [] if isinstance(d, dict) and d.get("name")]
        return ("connected" + (f" to ComfyUI {version}" if isinstance(version, str) else "")
                + (f" on {', '.join(map(str, devices))}" if devices else ""))

    async def _upload_inputs(self, task: GenerationTask) -> dict[str, str]:
        """Each input file into ComfyUI's input folder, named after the generation (no
        clash with other users' files); placeholder name -> the name ComfyUI gave it."""
        named: list[tuple[str, Path]] = []
        counts: dict[str, int] = {}
        for path in task.inputs:
            kind = "audio" if (mimetypes.guess_type(path.name)[0] or "").startswith("audio/") else "image"
            counts[kind] = counts.get(kind, 0) + 1
            named.append((kind if counts[kind] == 1 else f"{kind}_{counts[kind]}", path))
        if task.mask is not None:
            named.append(("mask", task.mask))
        uploaded = {}
        for placeholder, path in named:
            name = f"studio-{task.generation_id}-{placeholder}{path.suffix}"
            reply = await self._http.json(
                "POST", self._http.url("upload/image"), data={"type": "input", "overwrite": "true"},
                files={"image": (name, path.read_bytes(), mimetypes.guess_type(path.name)[0] or "application/octet-stream")})
            stored = reply.get("name") if isinstance(reply, dict) else None
            if not isinstance(stored, str) or not stored:
                raise self._http.error("the /upload/image reply has no 'name'")
            subfolder = reply.get("subfolder")
            uploaded[placeholder] = f"{subfolder}/{stored}" if isinstance(subfolder, str) and subfolder else stored
        return uploaded

    async def generate(self, task: GenerationTask, context: GenerationContext) -> list[MediaOutput]:
        if reason := self.unavailable_reason():
            raise ProviderUnavailable(reason)
        workflow = build_workflow(task.model_config, task.prompt, task.params, await self._upload_inputs(task))
        reply = await self._http.json("POST", self._http.url("prompt"),
                                      json={"prompt": workflow, "client_id": uuid.uuid4().hex})
        prompt_id = reply.get("prompt_id") if isinstance(reply, dict) else None
        if not isinstance(prompt_id, str) or not prompt_id:
            raise self._http.error("the /prompt reply has no 'prompt_id'")
        await context.provider_job(prompt_id)

        entry = await self._wait(prompt_id, context)
        if (failure := _failure(entry)) is not None:
            raise self._http.error(f"prompt {prompt_id}: {failure}")
        files = history_files(entry)
        if not files:
            raise self._http.error(f"prompt {prompt_id} finished without saving any file")
        return [await self._http.download(self._http.url("view"), context.workdir, f"comfyui-{index}",
                                          name=file["filename"], params=file)
                for index, file in enumerate(files)]

    async def _wait(self, prompt_id: str, context: GenerationContext) -> dict[str, Any]:
        """Poll /history/{id} until the entry appears (ComfyUI writes it when the prompt
        finished, successfully or not), the user cancels, or the wait runs out."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._settings.comfyui_max_wait_seconds
        interval = POLL_FIRST
        while True:
            history = await self._http.json("GET", self._http.url(f"history/{prompt_id}"))
            if not isinstance(history, dict):
                raise self._http.error("the /history reply is not a JSON object")
            if (entry := history.get(prompt_id)) is not None:
                if not isinstance(entry, dict):
                    raise self._http.error(f"the history entry of prompt {prompt_id} is not an object")
                return entry
            if context.cancelled():
                await self._cancel(prompt_id)
                raise self._http.error(f"prompt {prompt_id} cancelled by the user")
            remaining = deadline - loop.time()
            if remaining <= 0:
                await self._cancel(prompt_id)
                raise self._http.error(f"prompt {prompt_id} did not finish within "
                                       f"{self._settings.comfyui_max_wait_seconds:g}s", retryable=True)
            await asyncio.sleep(min(interval, remaining))
            interval = min(POLL_MAX, interval * POLL_FACTOR)

    async def _cancel(self, prompt_id: str) -> None:
        """Best effort: drop it from the queue if still pending, interrupt it if running.
        The prompt_id makes /interrupt a no-op when another prompt is the one running."""
        for path, body in (("queue", {"delete": [prompt_id]}), ("interrupt", {"prompt_id": prompt_id})):
            try:
                await self._http.call("POST", self._http.url(path), json=body)
            except ProviderError as exc:
                log.warning("comfyui: could not cancel prompt %s (%s): %s", prompt_id, path, exc)
