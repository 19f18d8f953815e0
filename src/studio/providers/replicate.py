"""Replicate's HTTP API: create a prediction, poll it to a final state, download its output.

`provider_model` is either "owner/name" (the model's latest version, via
POST /models/{owner}/{name}/predictions) or "owner/name:version" / a bare version id (via
POST /predictions). The prediction id is recorded as soon as it exists, so a webhook can
find the generation; `prediction_outputs` reads the output URLs of a webhook body too.

Trainings (the hosted training backend, studio.training.hosted) use the same
create-then-poll shape: a file uploaded through POST /files, POST
/models/{owner}/{name}/versions/{version}/trainings, GET /trainings/{id}, POST
/trainings/{id}/cancel. A training's output names the new version and its weights.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import mimetypes
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote_to_bytes

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
from studio.providers.http import ProviderHTTP, extension_for

log = logging.getLogger("studio.providers.replicate")

FINAL_STATES = frozenset({"succeeded", "failed", "canceled"})
_MODEL = re.compile(r"[\w.-]+/[\w.-]+")
_VERSION = re.compile(r"[0-9a-f]{64}")
_PREDICTION_ID = re.compile(r"[\w-]{1,128}")
_PERCENT = re.compile(r"(\d{1,3})(?:\.\d+)?%")
_TRAINER = re.compile(r"([\w.-]+)/([\w.-]+):([0-9a-f]{64})")
# A tqdm line of a trainer's logs: "...| 420/1000 [..." (the step and the total).
_STEP = re.compile(r"\|\s*(\d{1,7})/(\d{1,7})\s*\[")


def prediction_outputs(payload: Mapping[str, Any]) -> list[str]:
    """The output file URLs of a prediction (a GET /predictions/{id} reply or a webhook
    body), in order. `output` is a URL, a list of URLs, or for some models an object or
    nested lists of them; other values (text from language models) are not files."""
    if not isinstance(payload, Mapping):
        raise ProviderError("replicate: the prediction is not a JSON object")
    urls: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            if value.startswith(("https://", "http://", "data:")):
                urls.append(value)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, Mapping):
            for item in value.values():
                walk(item)

    walk(payload.get("output"))
    return urls


def log_percent(logs: Any) -> int | None:
    """Replicate has no progress field; most models print tqdm bars ("42%|####  |") to
    their logs, so the last percentage there is the best estimate."""
    if not isinstance(logs, str):
        return None
    found = _PERCENT.findall(logs[-4096:])
    return min(100, int(found[-1])) if found else None


def log_step(logs: Any) -> tuple[int, int] | None:
    """The last (step, total) a trainer printed to its logs, if any."""
    if not isinstance(logs, str):
        return None
    found = _STEP.findall(logs[-8192:])
    if not found:
        return None
    step, total = (int(x) for x in found[-1])
    return (min(step, total), total) if total > 0 else None


class Replicate(Provider):
    name: ClassVar[str] = "replicate"
    media_types: ClassVar[frozenset[str]] = frozenset({"image", "audio", "video"})

    def __init__(self, settings: Settings, connection: Connection) -> None:
        """Replicate POSTs the finished prediction to settings.replicate_webhook_url when
        it is set (optional; polling alone is enough)."""
        self._settings = settings
        self._webhook_url = settings.replicate_webhook_url
        self._token = connection.api_key
        self._http = ProviderHTTP("replicate", settings, base_url=connection.base_url,
                                  auth_headers={"Authorization": f"Bearer {self._token}"} if self._token else None)

    def unavailable_reason(self) -> str | None:
        return None if self._token else "its connection has no API token: add one on the admin's Connections page"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def check(self) -> str | None:
        if reason := self.unavailable_reason():
            raise ProviderUnavailable(reason)
        account = await self._http.json("GET", self._http.url("account"))
        name = account.get("username") if isinstance(account, dict) else None
        return f"connected as {name}" if isinstance(name, str) else "connected: the token is accepted"

    async def generate(self, task: GenerationTask, context: GenerationContext) -> list[MediaOutput]:
        if reason := self.unavailable_reason():
            raise ProviderUnavailable(reason)
        path, body = self._create_request(task)
        prediction = self._checked(await self._http.json("POST", self._http.url(path), json=body))
        prediction_id = prediction["id"]
        await context.provider_job(prediction_id)
        prediction = await self._wait(prediction, context)

        status = prediction["status"]
        if status == "failed":
            raise self._http.error(f"prediction {prediction_id} failed: {_error_text(prediction.get('error'))}")
        if status == "canceled":
            raise self._http.error(f"prediction {prediction_id} was canceled")
        urls = prediction_outputs(prediction)
        if not urls:
            raise self._http.error(f"prediction {prediction_id} succeeded without output files")
        return [await self._fetch(url, context.workdir, f"replicate-{index}")
                for index, url in enumerate(urls)]

    def _create_request(self, task: GenerationTask) -> tuple[str, dict[str, Any]]:
        model, _, version = task.provider_model.strip().partition(":")
        inputs: dict[str, Any] = {"prompt": task.prompt, **task.params}
        # Input media (e.g. the first frame of a video) go in as data URIs under the
        # model's own input name, given by model_config["input_field"].
        field = task.model_config.get("input_field")
        if task.inputs and isinstance(field, str):
            uris = [_data_uri(path) for path in task.inputs]
            inputs.setdefault(field, uris[0] if len(uris) == 1 else uris)
        # An inpainting model's mask, under model_config["mask_field"] (e.g. "mask").
        mask_field = task.model_config.get("mask_field")
        if task.mask is not None and isinstance(mask_field, str):
            inputs.setdefault(mask_field, _data_uri(task.mask))
        body: dict[str, Any] = {"input": inputs}
        if self._webhook_url:
            body.update(webhook=self._webhook_url, webhook_events_filter=["completed"])
        if not version and _VERSION.fullmatch(model):
            model, version = "", model
        if version:
            return "predictions", {"version": version, **body}
        if _MODEL.fullmatch(model):
            return f"models/{model}/predictions", body
        raise ProviderError(f"replicate: model {task.provider_model!r} is not owner/name[:version]")

    async def _wait(self, prediction: dict[str, Any], context: GenerationContext) -> dict[str, Any]:
        """Poll until a final state, the user cancels, or replicate_max_wait_seconds pass.
        Between polls it waits for the prediction's webhook: its arrival triggers the
        next poll at once, so the result is fetched (and checked) the same way."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._settings.replicate_max_wait_seconds
        prediction_id, reported = prediction["id"], None
        interval = (self._settings.replicate_poll_seconds_with_webhook if self._webhook_url
                    else self._settings.replicate_poll_seconds)
        while prediction["status"] not in FINAL_STATES:
            if context.cancelled():
                await self._cancel(prediction_id)
                raise self._http.error(f"prediction {prediction_id} cancelled by the user")
            remaining = deadline - loop.time()
            if remaining <= 0:
                await self._cancel(prediction_id)
                raise self._http.error(
                    f"prediction {prediction_id} did not finish within "
                    f"{self._settings.replicate_max_wait_seconds:g}s", retryable=True)
            # A webhook (when configured) ends the wait at once; polling stays the
            # fallback for a webhook that never comes.
            await context.webhook_arrived(min(interval, remaining))
            if context.cancelled():
                continue  # cancel at the top of the loop without another poll
            prediction = self._checked(
                await self._http.json("GET", self._http.url(f"predictions/{prediction_id}")))
            percent = log_percent(prediction.get("logs"))
            if percent is not None and percent != reported:
                await context.progress(percent)
                reported = percent
        return prediction

    # -- trainings ---------------------------------------------------------------------------

    async def upload_file(self, path: Path, content_type: str) -> str:
        """Puts a file in the account's file store; returns the URL a model input takes."""
        if reason := self.unavailable_reason():
            raise ProviderUnavailable(reason)
        # Bytes, not a file object: a retried attempt sends the whole file again.
        reply = await self._http.json("POST", self._http.url("files"),
                                      files={"content": (path.name, path.read_bytes(), content_type)})
        url = reply.get("urls", {}).get("get") if isinstance(reply, dict) else None
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise self._http.error("the file upload reply has no 'urls.get'")
        return url

    async def create_training(self, trainer: str, destination: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Starts a training of `trainer` ("owner/name:version") into `destination`
        ("owner/name", a model of the account); returns the training."""
        if reason := self.unavailable_reason():
            raise ProviderUnavailable(reason)
        match = _TRAINER.fullmatch(trainer.strip())
        if match is None:
            raise ProviderError(f"replicate: the trainer {trainer!r} is not owner/name:version", retryable=False)
        if not _MODEL.fullmatch(destination.strip()):
            raise ProviderError(f"replicate: the destination {destination!r} is not owner/name", retryable=False)
        owner, name, version = match.groups()
        body: dict[str, Any] = {"destination": destination.strip(), "input": dict(inputs)}
        if self._webhook_url:
            body.update(webhook=self._webhook_url, webhook_events_filter=["completed"])
        return self._checked(await self._http.json(
            "POST", self._http.url(f"models/{owner}/{name}/versions/{version}/trainings"), json=body))

    async def get_training(self, training_id: str) -> dict[str, Any]:
        return self._checked(await self._http.json("GET", self._http.url(f"trainings/{training_id}")))

    async def cancel_training(self, training_id: str) -> None:
        """Best effort, as for predictions: the run is stopping anyway."""
        try:
            await self._http.call("POST", self._http.url(f"trainings/{training_id}/cancel"))
        except ProviderError as exc:
            log.warning("replicate: could not cancel training %s: %s", training_id, exc)

    async def fetch_weights(self, url: str, workdir: Path) -> MediaOutput:
        """A finished training's weights file (another origin: no token sent)."""
        return await self._http.download(url, workdir, "weights")

    @staticmethod
    def error_text(training: Mapping[str, Any]) -> str:
        return _error_text(training.get("error"))

    async def _cancel(self, prediction_id: str) -> None:
        """Best effort: the task is failing anyway, so a failed cancel is only logged."""
        try:
            await self._http.call("POST", self._http.url(f"predictions/{prediction_id}/cancel"))
        except ProviderError as exc:
            log.warning("replicate: could not cancel prediction %s: %s", prediction_id, exc)

    async def _fetch(self, url: str, workdir: Path, stem: str) -> MediaOutput:
        if url.startswith("data:"):
            return _write_data_uri(url, workdir, stem, self._settings.max_result_bytes)
        # replicate.delivery is another origin: ProviderHTTP sends it no token.
        return await self._http.download(url, workdir, stem)

    def _checked(self, prediction: Any) -> dict[str, Any]:
        """The prediction with the fields we rely on, or a clear error."""
        if not isinstance(prediction, dict):
            raise self._http.error("the prediction reply is not a JSON object")
        if not isinstance(prediction.get("id"), str) or not _PREDICTION_ID.fullmatch(prediction["id"]):
            raise self._http.error("the prediction reply has no valid 'id'")
        if not isinstance(prediction.get("status"), str):
            raise self._http.error(f"prediction {prediction['id']} has no 'status'")
        return prediction


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        error = error.get("detail") or error.get("message") or error
    text = " ".join(str(error or "no error message").split())
    return text[:500]


def _data_uri(path: Path) -> str:
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{content_type};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _write_data_uri(uri: str, workdir: Path, stem: str, cap: int) -> MediaOutput:
    """Small outputs may come inline: data:<type>[;base64],<data>."""
    header, sep, payload = uri[5:].partition(",")
    if not sep or len(payload) * 3 // 4 > cap:
        raise ProviderError("replicate: an inline output is malformed or too large")
    content_type = header.split(";")[0].strip().lower() or "application/octet-stream"
    try:
        data = (base64.b64decode(payload, validate=True) if header.endswith(";base64")
                else unquote_to_bytes(payload))
    except (binascii.Error, ValueError):
        raise ProviderError("replicate: an inline output is not valid base64") from None
    path = workdir / f"{stem}{extension_for(content_type)}"
    path.write_bytes(data)
    return MediaOutput(path=path, content_type=content_type)
