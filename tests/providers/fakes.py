"""Fake provider servers: small Starlette apps speaking each provider's HTTP protocol,
served by uvicorn on 127.0.0.1 in a background thread.

Every fake records the requests it receives (method, path, headers, body, arrival time).
Tests steer it through `state` (the fake's scripted behaviour, reset before each test)
and `queue(method, route, Reply(...))`: queued replies are served, in order, before the
route's normal handler runs again, which is how errors, 429s and slow answers are injected.
"""

from __future__ import annotations

import asyncio
import base64
import email.parser
import email.policy
import itertools
import json
import socket
import threading
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

KEY = "sk-test-SECRET-4f9c2d7e1a"  # the one API key every fake expects; must never leak
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
JPEG = b"\xff\xd8\xff\xe0" + b"jpeg-body" * 50
MP3 = b"ID3\x04\x00" + bytes(range(200)) * 20
WAV = b"RIFF\x00\x00\x00\x00WAVEfmt " + b"\x01\x02" * 500
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x07" * 3000
TAR = b"trained_model/lora.safetensors".ljust(512, b"\x00") + b"\x05" * 2048  # a trainer's weights archive
TRAINED_VERSION = "studio-tester/loras:" + "e" * 64


@dataclass
class Recorded:
    method: str
    path: str
    route: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    at: float  # time.monotonic() on arrival

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    """A canned reply; `delay` seconds pass before it is sent (a slow provider)."""
    status: int = 200
    json: Any = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def response(self) -> Response:
        if self.json is not None:
            return JSONResponse(self.json, self.status, headers=self.headers)
        return Response(self.body, self.status, headers=self.headers)


Handler = Callable[[Request, Recorded], Awaitable[Response]]


class FakeServer:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.state: dict[str, Any] = {}
        self.url = ""
        self._queued: dict[tuple[str, str], deque[Reply]] = defaultdict(deque)
        self._routes: list[Route] = []
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.routes()

    # -- for subclasses -------------------------------------------------------------------

    def routes(self) -> None:
        """Register the provider's routes with self.route(...)."""

    def defaults(self) -> dict[str, Any]:
        """The state a test starts from."""
        return {}

    def route(self, method: str, path: str, handler: Handler) -> None:
        async def endpoint(request: Request) -> Response:
            recorded = Recorded(method, request.url.path, path, dict(request.query_params),
                                {k.lower(): v for k, v in request.headers.items()},
                                await request.body(), time.monotonic())
            self.requests.append(recorded)
            queued = self._queued[(method, path)]
            if queued:
                reply = queued.popleft()
                await asyncio.sleep(reply.delay)
                return reply.response()
            return await handler(request, recorded)

        self._routes.append(Route(path, endpoint, methods=[method]))

    # -- for tests ------------------------------------------------------------------------

    def queue(self, method: str, route: str, *replies: Reply) -> None:
        self._queued[(method, route)].extend(replies)

    def received(self, method: str, route: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.route == route]

    def reset(self) -> None:
        self.requests.clear()
        self._queued.clear()
        self.state = self.defaults()

    def start(self) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(Starlette(routes=self._routes), lifespan="off", log_level="warning",
                                timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{type(self).__name__} did not start")
            time.sleep(0.01)
        self.reset()

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)


def sse(*payloads: Any) -> list[str]:
    """Server-sent events for chat chunks: dicts become JSON, strings go as they are."""
    return [f"data: {p if isinstance(p, str) else json.dumps(p)}\n\n" for p in payloads]


def delta(text: str | None = None, finish: str | None = None, role: str | None = None) -> dict[str, Any]:
    d = {k: v for k, v in (("role", role), ("content", text)) if v is not None}
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": d, "finish_reason": finish}]}


class FakeOpenAI(FakeServer):
    """/v1/images/generations, /v1/images/edits, /v1/audio/speech, /v1/chat/completions (SSE),
    /v1/audio/transcriptions."""

    SPEECH_TYPES: ClassVar[dict[str, str]] = {"mp3": "audio/mpeg", "wav": "audio/wav"}

    def defaults(self) -> dict[str, Any]:
        return {
            "images": None,              # None: one image per request, as the body asks
            "chat_events": sse(delta(role="assistant"), delta("Hel"), delta("lo, "), delta("world"),
                               delta(finish="stop"), "[DONE]"),
            "chat_delay": 0.01,          # seconds between events
            "chat_cut_after": None,      # drop the connection after this many events
            "chat_finished": threading.Event(),
            "models": ["llama3", "qwen2.5:7b"],   # GET /v1/models
            "transcript": "Hello from the recording.",   # what /v1/audio/transcriptions hears
            "transcriptions": [],        # each request's form, parsed: {name: FormPart}
            "edits": [],                 # each /v1/images/edits form, parsed: {name: FormPart}
        }

    def routes(self) -> None:
        self.route("GET", "/v1/models", self._models)
        self.route("POST", "/v1/images/generations", self._images)
        self.route("POST", "/v1/images/edits", self._edits)
        self.route("POST", "/v1/audio/speech", self._speech)
        self.route("POST", "/v1/chat/completions", self._chat)
        self.route("POST", "/v1/audio/transcriptions", self._transcriptions)
        self.route("GET", "/files/{name}", self._file)

    async def _models(self, request: Request, recorded: Recorded) -> Response:
        return JSONResponse({"object": "list", "data": [
            {"id": name, "object": "model", "created": 1700000000, "owned_by": "fake"} for name in self.state["models"]]})

    async def _images(self, request: Request, recorded: Recorded) -> Response:
        body = recorded.json()
        if self.state["images"] is not None:
            return JSONResponse(self.state["images"])
        if body.get("response_format") == "url":
            item = {"url": f"{self.url}/files/image.png"}
        else:
            item = {"b64_json": base64.b64encode(PNG).decode()}
        return JSONResponse({"created": 1, "data": [item] * int(body.get("n", 1))})

    async def _speech(self, request: Request, recorded: Recorded) -> Response:
        fmt = recorded.json().get("response_format", "mp3")
        data = WAV if fmt == "wav" else MP3

        async def chunks() -> AsyncIterator[bytes]:
            for i in range(0, len(data), 1000):
                yield data[i:i + 1000]
                await asyncio.sleep(0)

        return StreamingResponse(chunks(), media_type=self.SPEECH_TYPES.get(fmt, "application/octet-stream"))

    async def _chat(self, request: Request, recorded: Recorded) -> Response:
        events, pause = list(self.state["chat_events"]), self.state["chat_delay"]
        cut_after, finished = self.state["chat_cut_after"], self.state["chat_finished"]

        async def stream() -> AsyncIterator[bytes]:
            for index, event in enumerate(events):
                if index == cut_after:
                    # An exception mid-body makes uvicorn drop the connection without the
                    # final chunk: what the client sees when a provider dies mid-answer.
                    raise ConnectionAbortedError("fake: stream cut")
                if index:
                    await asyncio.sleep(pause)
                yield event.encode()
            finished.set()

        return StreamingResponse(stream(), media_type="text/event-stream")

    async def _file(self, request: Request, recorded: Recorded) -> Response:
        return Response(PNG, media_type="image/png")

    async def _transcriptions(self, request: Request, recorded: Recorded) -> Response:
        """Whisper's API: a multipart form with `file` and `model`; 400 without a file, as
        OpenAI answers; the text as JSON, or plain for response_format=text."""
        form = multipart_form(recorded)
        self.state["transcriptions"].append(form)
        if "file" not in form or form["file"].filename is None:
            return JSONResponse({"error": {"message": "Missing required parameter: 'file'.",
                                           "type": "invalid_request_error", "param": "file", "code": None}}, 400)
        if "model" not in form:
            return JSONResponse({"error": {"message": "Missing required parameter: 'model'.",
                                           "type": "invalid_request_error", "param": "model", "code": None}}, 400)
        if "response_format" in form and form["response_format"].text == "text":
            return Response(self.state["transcript"], media_type="text/plain")
        return JSONResponse({"text": self.state["transcript"]})

    async def _edits(self, request: Request, recorded: Recorded) -> Response:
        """Image edits as OpenAI takes them: a multipart form with `image` (or `image[]`),
        an optional `mask`, `prompt` and `model`; 400 without an image, as OpenAI answers.
        The "edited" image, as base64 JSON, is the image sent, so a test can tell which one
        it was and use it again."""
        form = multipart_form(recorded)
        self.state["edits"].append(form)
        image = form.get("image") or form.get("image[]")
        if image is None:
            return JSONResponse({"error": {"message": "Missing required parameter: 'image'.",
                                           "type": "invalid_request_error", "param": "image", "code": None}}, 400)
        n = int(form["n"].text) if "n" in form else 1
        return JSONResponse({"created": 1, "data": [{"b64_json": base64.b64encode(image.data).decode()}] * n})


@dataclass
class FormPart:
    """One part of a multipart/form-data body, as a fake received it."""
    data: bytes
    filename: str | None
    content_type: str | None

    @property
    def text(self) -> str:
        return self.data.decode()


def multipart_form(recorded: Recorded) -> dict[str, FormPart]:
    """The parts of a recorded multipart/form-data body by name, read with the standard
    library's MIME parser (independent of Studio's own form reader); {} for another body."""
    head = f"Content-Type: {recorded.headers.get('content-type', '')}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + recorded.body)
    if not message.is_multipart():
        return {}
    form = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            payload = part.get_payload(decode=True)
            form[name] = FormPart(payload if isinstance(payload, bytes) else b"", part.get_filename(),
                                  part.get_content_type() if part["content-type"] else None)
    return form


class FakeReplicate(FakeServer):
    """/v1/predictions (create, get, cancel), /v1/models/{owner}/{name}/predictions, and
    /files/{name} for output downloads; trainings (create on a trainer's version, get,
    cancel) and the file store (POST /v1/files, whose uploads GET /v1/files/{id} serves)."""

    FILES: ClassVar[dict[str, tuple[bytes, str]]] = {"out-0.png": (PNG, "image/png"),
                                                     "out-1.mp4": (MP4, "video/mp4"),
                                                     "noext": (MP3, "application/octet-stream"),
                                                     "trained_model.tar": (TAR, "application/x-tar")}

    def defaults(self) -> dict[str, Any]:
        return {
            # What successive GETs of a prediction answer; the last one repeats.
            "polls": [{"status": "processing", "logs": "loading\n  5%|#         | 1/20"},
                      {"status": "processing", "logs": "loading\n  5%|#\n 60%|######    | 12/20"},
                      {"status": "succeeded", "output": [f"{self.url}/files/out-0.png"]}],
            "create_reply": None,  # a replacement for the creation reply
            # What successive GETs of a training answer; the last one repeats. Trainers
            # print tqdm bars with the step and the total to their logs.
            "training_polls": [
                {"status": "starting", "logs": ""},
                {"status": "processing", "logs": "flux_train_replicate:  25%|##5       | 1/4 [00:01<00:03, 1.0it/s]"},
                {"status": "processing", "logs": "1/4 [00:01<00:03]\rflux_train_replicate:  75%|#######5  | 3/4 "
                                                 "[00:03<00:01, 1.0it/s, lr: 4.0e-04 loss: 4.1e-01]"},
                {"status": "succeeded", "output": {"version": TRAINED_VERSION,
                                                   "weights": f"{self.url}/files/trained_model.tar"}}],
            "uploads": {},  # file id -> (name, content type, bytes)
        }

    def routes(self) -> None:
        self.route("POST", "/v1/files", self._upload)
        self.route("GET", "/v1/files/{id}", self._uploaded)
        self.route("POST", "/v1/models/{owner}/{name}/versions/{version}/trainings", self._train)
        self.route("GET", "/v1/trainings/{id}", self._training)
        self.route("POST", "/v1/trainings/{id}/cancel", self._cancel_training)
        self.route("POST", "/v1/predictions", self._create)
        self.route("POST", "/v1/models/{owner}/{name}/predictions", self._create)
        self.route("GET", "/v1/predictions/{id}", self._get)
        self.route("POST", "/v1/predictions/{id}/cancel", self._cancel)
        self.route("GET", "/files/{name}", self._file)
        self.route("GET", "/v1/account", self._account)
        self._ids = itertools.count(1)

    async def _account(self, request: Request, recorded: Recorded) -> Response:
        return JSONResponse({"type": "user", "username": "studio-tester", "name": "Studio Tester",
                             "github_url": "https://github.com/studio-tester"})

    async def _create(self, request: Request, recorded: Recorded) -> Response:
        if self.state["create_reply"] is not None:
            return JSONResponse(self.state["create_reply"], 201)
        prediction_id = f"pred{next(self._ids)}"
        self.state.setdefault("remaining", {})[prediction_id] = deque(self.state["polls"])
        return JSONResponse({"id": prediction_id, "status": "starting", "input": recorded.json()["input"],
                             "urls": {"get": f"{self.url}/v1/predictions/{prediction_id}",
                                      "cancel": f"{self.url}/v1/predictions/{prediction_id}/cancel"}}, 201)

    async def _get(self, request: Request, recorded: Recorded) -> Response:
        prediction_id = request.path_params["id"]
        remaining = self.state.get("remaining", {}).get(prediction_id)
        if remaining is None:
            return JSONResponse({"detail": "Not found."}, 404)
        step = remaining.popleft() if len(remaining) > 1 else remaining[0]
        if not isinstance(step, dict):
            return JSONResponse(step)  # malformed on purpose
        return JSONResponse({"id": prediction_id, "output": None, "logs": "", "error": None, **step})

    async def _cancel(self, request: Request, recorded: Recorded) -> Response:
        return JSONResponse({"id": request.path_params["id"], "status": "canceled"})

    async def _file(self, request: Request, recorded: Recorded) -> Response:
        data, content_type = self.FILES[request.path_params["name"]]
        return Response(data, media_type=content_type)

    async def _upload(self, request: Request, recorded: Recorded) -> Response:
        part = multipart_form(recorded).get("content")
        if part is None:
            return JSONResponse({"detail": "content: field required"}, 422)
        file_id = f"file{next(self._ids)}"
        self.state["uploads"][file_id] = (part.filename, part.content_type, part.data)
        return JSONResponse({"id": file_id, "name": part.filename, "content_type": part.content_type,
                             "size": len(part.data), "checksums": {}, "metadata": {},
                             "urls": {"get": f"{self.url}/v1/files/{file_id}"}}, 201)

    async def _uploaded(self, request: Request, recorded: Recorded) -> Response:
        name, content_type, data = self.state["uploads"][request.path_params["id"]]
        return Response(data, media_type=content_type)

    async def _train(self, request: Request, recorded: Recorded) -> Response:
        training_id = f"train{next(self._ids)}"
        self.state.setdefault("remaining", {})[training_id] = deque(self.state["training_polls"])
        p = request.path_params
        return JSONResponse({"id": training_id, "model": f"{p['owner']}/{p['name']}", "version": p["version"],
                             "input": recorded.json()["input"], "status": "starting", "logs": "", "output": None,
                             "error": None,
                             "urls": {"get": f"{self.url}/v1/trainings/{training_id}",
                                      "cancel": f"{self.url}/v1/trainings/{training_id}/cancel"}}, 201)

    async def _training(self, request: Request, recorded: Recorded) -> Response:
        return await self._get(request, recorded)  # the same shape as a prediction's

    async def _cancel_training(self, request: Request, recorded: Recorded) -> Response:
        training_id = request.path_params["id"]
        self.state.get("remaining", {})[training_id] = deque([{"status": "canceled"}])
        return JSONResponse({"id": training_id, "status": "canceled"})


class FakeElevenLabs(FakeServer):
    """/v1/text-to-speech/{voice_id}: MP3 streamed in chunks; /v1/voices."""

    def routes(self) -> None:
        self.route("POST", "/v1/text-to-speech/{voice_id}", self._speech)
        self.route("GET", "/v1/voices", self._voices)

    async def _voices(self, request: Request, recorded: Recorded) -> Response:
        return JSONResponse({"voices": [
            {"voice_id": "21m00Tcm4TlvDq8ikWAM", "name": "Rachel", "category": "premade", "labels": {}},
            {"voice_id": "pNInz6obpgDQGcFmaJgB", "name": "Adam", "category": "premade", "labels": {}}]})

    async def _speech(self, request: Request, recorded: Recorded) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            for i in range(0, len(MP3), 1024):
                yield MP3[i:i + 1024]
                await asyncio.sleep(0)

        return StreamingResponse(chunks(), media_type="audio/mpeg")


class FakeComfyUI(FakeServer):
    """/prompt, /history/{prompt_id}, /view, /queue and /interrupt."""

    FILES: ClassVar[dict[str, tuple[bytes, str]]] = {"ComfyUI_00001_.png": (PNG, "image/png"),
                                                     "clip_00001.mp4": (MP4, "video/mp4")}

    def defaults(self) -> dict[str, Any]:
        return {
            "pending_polls": 1,   # history answers {} this many times first
            "outputs": {"9": {"images": [{"filename": "ComfyUI_00001_.png", "subfolder": "", "type": "output"}]}},
            "status": {"status_str": "success", "completed": True, "messages": []},
            "history": None,      # a replacement for the whole /history reply
        }

    def routes(self) -> None:
        self.route("POST", "/prompt", self._prompt)
        self.route("GET", "/history/{prompt_id}", self._history)
        self.route("GET", "/view", self._view)
        self.route("POST", "/queue", self._empty)
        self.route("POST", "/interrupt", self._empty)
        self.route("GET", "/system_stats", self._system_stats)
        self.route("POST", "/upload/image", self._upload)

    async def _upload(self, request: Request, recorded: Recorded) -> Response:
        """ComfyUI's upload: a multipart form with the file as `image`, saved to its input
        folder; the answer names it as a LoadImage node takes it."""
        form = await request.form()
        upload = form.get("image")
        if upload is None or isinstance(upload, str):
            return Response("no image", 400)
        data = await upload.read()
        self.state.setdefault("uploads", {})[upload.filename] = (data, form.get("type"), form.get("overwrite"))
        return JSONResponse({"name": upload.filename, "subfolder": "", "type": form.get("type") or "input"})

    async def _system_stats(self, request: Request, recorded: Recorded) -> Response:
        return JSONResponse({"system": {"os": "posix", "ram_total": 25_769_803_776, "ram_free": 20_000_000_000,
                                        "comfyui_version": "0.3.27", "python_version": "3.11.2",
                                        "pytorch_version": "2.5.1", "embedded_python": False},
                             "devices": [{"name": "cpu", "type": "cpu", "index": None, "vram_total": 0,
                                          "vram_free": 0, "torch_vram_total": 0, "torch_vram_free": 0}]})

    async def _prompt(self, request: Request, recorded: Recorded) -> Response:
        return JSONResponse({"prompt_id": "c0ffee-1", "number": 1, "node_errors": {}})

    async def _history(self, request: Request, recorded: Recorded) -> Response:
        if self.state["history"] is not None:
            return JSONResponse(self.state["history"])
        if self.state["pending_polls"] > 0:
            self.state["pending_polls"] -= 1
            return JSONResponse({})
        prompt_id = request.path_params["prompt_id"]
        return JSONResponse({prompt_id: {"prompt": [1, prompt_id, {}, {}, ["9"]],
                                         "outputs": self.state["outputs"], "status": self.state["status"]}})

    async def _view(self, request: Request, recorded: Recorded) -> Response:
        found = self.FILES.get(request.query_params.get("filename", ""))
        if found is None or request.query_params.get("type") != "output":
            return Response(status_code=404)
        return Response(found[0], media_type=found[1])

    async def _empty(self, request: Request, recorded: Recorded) -> Response:
        return Response(status_code=200)


# -- chat vendors with their own protocols: Anthropic, Gemini, Ollama ----------------------


def _chat_state() -> dict[str, Any]:
    """What every streaming chat fake starts from (see _scripted)."""
    return {
        "delay": 0.01,                   # seconds between chunks
        "cut_after": None,               # drop the connection before this chunk
        "finished": threading.Event(),   # set once every chunk was sent
        "abandoned": threading.Event(),  # set when the client went away before the end
    }


def _scripted(state: dict[str, Any], chunks: list[str | bytes], media_type: str) -> StreamingResponse:
    """Sends `chunks` as they are, each its own write (bytes may split a character)."""
    pause, cut_after = state["delay"], state["cut_after"]
    finished, abandoned = state["finished"], state["abandoned"]

    async def stream() -> AsyncIterator[bytes]:
        ended = False
        try:
            for index, chunk in enumerate(chunks):
                if index == cut_after:
                    ended = True
                    # uvicorn drops the connection without the final chunk (see FakeOpenAI).
                    raise ConnectionAbortedError("fake: stream cut")
                if index:
                    await asyncio.sleep(pause)
                yield chunk if isinstance(chunk, bytes) else chunk.encode()
            ended = True
            finished.set()
        finally:
            # Starlette cancels the body once uvicorn reports the client's disconnect
            # (or the generator is closed unfinished): the client went away.
            if not ended:
                abandoned.set()

    return StreamingResponse(stream(), media_type=media_type)


def _page(items: list[dict[str, Any]], start: int, size: int) -> tuple[list[dict[str, Any]], bool]:
    return items[start:start + size], start + size < len(items)


def anthropic_event(kind: str, **fields: Any) -> str:
    """One Messages API event: its name, and data repeating it as "type"."""
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **fields})}\n\n"


def anthropic_stream(*texts: str, model: str = "claude-test-1", input_tokens: int = 25,
                     output_tokens: int = 12, end: bool = True) -> list[str]:
    """A whole streamed answer as the API sends it; `end=False` stops before message_delta."""
    message = {"id": "msg_01XFDUDYJgAACzvnptvVoYEL", "type": "message", "role": "assistant", "model": model,
               "content": [], "stop_reason": None, "stop_sequence": None,
               "usage": {"input_tokens": input_tokens, "cache_creation_input_tokens": 0,
                         "cache_read_input_tokens": 0, "output_tokens": 1}}
    events = [anthropic_event("message_start", message=message),
              anthropic_event("content_block_start", index=0, content_block={"type": "text", "text": ""}),
              anthropic_event("ping"),
              *(anthropic_event("content_block_delta", index=0, delta={"type": "text_delta", "text": text})
                for text in texts),
              anthropic_event("content_block_stop", index=0)]
    if end:
        events += [anthropic_event("message_delta", delta={"stop_reason": "end_turn", "stop_sequence": None},
                                   usage={"output_tokens": output_tokens}),
                   anthropic_event("message_stop")]
    return events


def anthropic_error(status: int, kind: str, message: str) -> Reply:
    return Reply(status, json={"type": "error", "error": {"type": kind, "message": message}})


class FakeAnthropic(FakeServer):
    """/v1/messages (server-sent events) and /v1/models (paged with after_id), refusing
    what the real API refuses: no key, no anthropic-version, no max_tokens, a system role."""

    VERSION = "2023-06-01"

    def defaults(self) -> dict[str, Any]:
        return {
            **_chat_state(),
            "texts": ["Hel", "lo, ", "world"],
            "events": None,      # a replacement for the whole stream
            "models": [{"type": "model", "id": f"claude-test-{i}", "display_name": f"Claude Test {i}",
                        "created_at": "2025-05-14T00:00:00Z"} for i in range(1, 6)],
            "page_size": 2,      # at most this many models per page, whatever the limit asked
        }

    def routes(self) -> None:
        self.route("POST", "/v1/messages", self._messages)
        self.route("GET", "/v1/models", self._models)

    def _refusal(self, recorded: Recorded) -> Response | None:
        if recorded.headers.get("x-api-key") != KEY:
            return anthropic_error(401, "authentication_error", "invalid x-api-key").response()
        if recorded.headers.get("anthropic-version") != self.VERSION:
            return anthropic_error(400, "invalid_request_error", "anthropic-version: header is required").response()
        return None

    async def _messages(self, request: Request, recorded: Recorded) -> Response:
        if (refusal := self._refusal(recorded)) is not None:
            return refusal
        body = recorded.json()
        for required in ("model", "max_tokens", "messages"):
            if required not in body:
                return anthropic_error(400, "invalid_request_error", f"{required}: Field required").response()
        for index, message in enumerate(body["messages"]):
            if message.get("role") not in ("user", "assistant"):
                return anthropic_error(400, "invalid_request_error",
                                       f"messages.{index}.role: Input should be 'user' or 'assistant'").response()
        if body.get("stream") is not True:
            return anthropic_error(400, "invalid_request_error", "fake: only streamed requests").response()
        events = self.state["events"]
        if events is None:
            events = anthropic_stream(*self.state["texts"], model=body["model"])
        return _scripted(self.state, list(events), "text/event-stream; charset=utf-8")

    async def _models(self, request: Request, recorded: Recorded) -> Response:
        if (refusal := self._refusal(recorded)) is not None:
            return refusal
        models: list[dict[str, Any]] = self.state["models"]
        ids = [m["id"] for m in models]
        after = recorded.query.get("after_id")
        start = ids.index(after) + 1 if after in ids else 0
        page, more = _page(models, start, min(int(recorded.query.get("limit", 20)), self.state["page_size"]))
        return JSONResponse({"data": page, "has_more": more,
                             "first_id": page[0]["id"] if page else None,
                             "last_id": page[-1]["id"] if page else None})


def gemini_chunk(text: str | None = None, *, finish: str | None = None, prompt_tokens: int = 9,
                 answer_tokens: int | None = None) -> dict[str, Any]:
    """One GenerateContentResponse of a stream; every chunk carries the counts so far."""
    candidate: dict[str, Any] = {"content": {"parts": [{"text": text}] if text is not None else [], "role": "model"},
                                 "index": 0}
    if finish:
        candidate["finishReason"] = finish
    usage: dict[str, Any] = {"promptTokenCount": prompt_tokens}
    if answer_tokens is not None:
        usage.update(candidatesTokenCount=answer_tokens, totalTokenCount=prompt_tokens + answer_tokens)
    return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": "gemini-test-flash",
            "responseId": "fake-response-1"}


def gemini_sse(*chunks: Any) -> list[str]:
    """Gemini's framing: CRLF line ends."""
    return [f"data: {json.dumps(chunk)}\r\n\r\n" for chunk in chunks]


def gemini_error(status: int, code: str, message: str) -> Reply:
    return Reply(status, json={"error": {"code": status, "message": message, "status": code}})


class FakeGemini(FakeServer):
    """/v1beta/models/{model}:streamGenerateContent?alt=sse and /v1beta/models (paged
    with pageToken), refusing a missing or wrong x-goog-api-key, a key in the URL, an
    unknown model, and turns that do not alternate."""

    def defaults(self) -> dict[str, Any]:
        return {
            **_chat_state(),
            "chunks": None,     # a replacement for the whole stream (dicts)
            "models": [
                {"name": "models/gemini-test-flash", "displayName": "Gemini Test Flash",
                 "supportedGenerationMethods": ["generateContent", "countTokens"]},
                {"name": "models/text-embedding-test", "displayName": "Embedding Test",
                 "supportedGenerationMethods": ["embedContent"]},
                {"name": "models/gemini-test-pro", "displayName": "Gemini Test Pro",
                 "supportedGenerationMethods": ["generateContent", "countTokens", "createCachedContent"]},
                {"name": "models/imagen-test", "displayName": "Imagen Test",
                 "supportedGenerationMethods": ["predict"]},
                {"name": "models/gemini-test-lite", "displayName": "Gemini Test Lite",
                 "supportedGenerationMethods": ["generateContent"]},
            ],
            "page_size": 2,
        }

    def routes(self) -> None:
        self.route("POST", "/v1beta/models/{model}:streamGenerateContent", self._generate)
        self.route("GET", "/v1beta/models", self._models)

    def _refusal(self, recorded: Recorded) -> Response | None:
        if "key" in recorded.query:
            return gemini_error(400, "INVALID_ARGUMENT", "fake: the key belongs in x-goog-api-key").response()
        if recorded.headers.get("x-goog-api-key") != KEY:
            return gemini_error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.").response()
        return None

    async def _generate(self, request: Request, recorded: Recorded) -> Response:
        if (refusal := self._refusal(recorded)) is not None:
            return refusal
        if recorded.query.get("alt") != "sse":
            return gemini_error(400, "INVALID_ARGUMENT", "fake: only alt=sse is served").response()
        model = f"models/{request.path_params['model']}"
        if model not in [m["name"] for m in self.state["models"]]:
            return gemini_error(404, "NOT_FOUND", f"{model} is not found for API version v1beta, or is not "
                                                  "supported for generateContent.").response()
        contents = recorded.json().get("contents") or []
        roles = [c.get("role") for c in contents]
        if (not contents or any(not c.get("parts") for c in contents) or set(roles) - {"user", "model"}
                or any(a == b for a, b in itertools.pairwise(roles))):
            return gemini_error(400, "INVALID_ARGUMENT", "Please ensure that multiturn requests alternate "
                                                         "between user and model.").response()
        chunks = self.state["chunks"]
        if chunks is None:
            chunks = [gemini_chunk("Hel"), gemini_chunk("lo, "),
                      gemini_chunk("world", finish="STOP", answer_tokens=3)]
        return _scripted(self.state, list(gemini_sse(*chunks)), "text/event-stream")

    async def _models(self, request: Request, recorded: Recorded) -> Response:
        if (refusal := self._refusal(recorded)) is not None:
            return refusal
        token = recorded.query.get("pageToken", "")
        # Opaque to the client; here, where the page starts.
        start = int(token.removeprefix("fake-token-")) if token else 0
        page, more = _page(self.state["models"], start,
                           min(int(recorded.query.get("pageSize", 50)), self.state["page_size"]))
        reply: dict[str, Any] = {"models": page}
        if more:  # the last page has no nextPageToken at all
            reply["nextPageToken"] = f"fake-token-{start + len(page)}"
        return JSONResponse(reply)


def ollama_line(text: str = "", *, model: str = "llama3.2:latest", done: bool = False,
                prompt_tokens: int = 26, answer_tokens: int = 3) -> dict[str, Any]:
    line: dict[str, Any] = {"model": model, "created_at": "2025-01-01T00:00:00.000000Z",
                            "message": {"role": "assistant", "content": text}, "done": done}
    if done:
        line.update(done_reason="stop", total_duration=4883583458, load_duration=1334875,
                    prompt_eval_count=prompt_tokens, prompt_eval_duration=342546000,
                    eval_count=answer_tokens, eval_duration=4535599000)
    return line


def ndjson(*lines: Any) -> list[str]:
    return [f"{line if isinstance(line, str) else json.dumps(line)}\n" for line in lines]


class FakeOllama(FakeServer):
    """/api/chat (newline-delimited JSON) and /api/tags. With state["key"] set, requests
    without that bearer token are refused, as an authenticating proxy would."""

    def defaults(self) -> dict[str, Any]:
        return {
            **_chat_state(),
            "lines": None,     # a replacement for the whole stream (dicts or raw strings, one a line)
            "raw": None,       # or chunks sent exactly as they are (framing tests)
            "key": None,
            "models": [
                {"name": "llama3.2:latest", "model": "llama3.2:latest", "size": 2019393189,
                 "details": {"format": "gguf", "family": "llama", "families": ["llama"],
                             "parameter_size": "3.2B", "quantization_level": "Q4_K_M"}},
                {"name": "llava:7b", "model": "llava:7b", "size": 4733363377,
                 "details": {"format": "gguf", "family": "llama", "families": ["llama", "clip"],
                             "parameter_size": "7B", "quantization_level": "Q4_0"}},
                {"name": "llama3.2-vision:11b", "model": "llama3.2-vision:11b", "size": 7901829417,
                 "details": {"format": "gguf", "family": "mllama", "families": ["mllama"],
                             "parameter_size": "9.8B", "quantization_level": "Q4_K_M"}},
                {"name": "qwen2.5:0.5b", "model": "qwen2.5:0.5b", "size": 397821319,
                 "details": {"format": "gguf", "family": "qwen2", "families": None,
                             "parameter_size": "494.03M", "quantization_level": "Q4_K_M"}},
            ],
        }

    def routes(self) -> None:
        self.route("POST", "/api/chat", self._chat)
        self.route("GET", "/api/tags", self._tags)

    def _refusal(self, recorded: Recorded) -> Response | None:
        if self.state["key"] and recorded.headers.get("authorization") != f"Bearer {self.state['key']}":
            return JSONResponse({"error": "unauthorized"}, 401)
        return None

    async def _chat(self, request: Request, recorded: Recorded) -> Response:
        if (refusal := self._refusal(recorded)) is not None:
            return refusal
        body = recorded.json()
        model = body.get("model")
        if model not in [m["name"] for m in self.state["models"]]:
            return JSONResponse({"error": f'model "{model}" not found, try pulling it first'}, 404)
        for message in body.get("messages", []):
            if message.get("role") not in ("system", "user", "assistant", "tool"):
                return JSONResponse({"error": f"invalid role: {message.get('role')}"}, 400)
        if self.state["raw"] is not None:
            return _scripted(self.state, self.state["raw"], "application/x-ndjson")
        lines = self.state["lines"]
        if lines is None:
            lines = [ollama_line("Hel", model=model), ollama_line("lo, ", model=model),
                     ollama_line("world", model=model), ollama_line(model=model, done=True)]
        return _scripted(self.state, list(ndjson(*lines)), "application/x-ndjson")

    async def _tags(self, request: Request, recorded: Recorded) -> Response:
        if (refusal := self._refusal(recorded)) is not None:
            return refusal
        return JSONResponse({"models": self.state["models"]})
