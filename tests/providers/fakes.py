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
    """/v1/images/generations, /v1/audio/speech, /v1/chat/completions (SSE)."""

    SPEECH_TYPES: ClassVar[dict[str, str]] = {"mp3": "audio/mpeg", "wav": "audio/wav"}

    def defaults(self) -> dict[str, Any]:
        return {
            "images": None,              # None: one image per request, as the body asks
            "chat_events": sse(delta(role="assistant"), delta("Hel"), delta("lo, "), delta("world"),
                               delta(finish="stop"), "[DONE]"),
            "chat_delay": 0.01,          # seconds between events
            "chat_cut_after": None,      # drop the connection after this many events
            "chat_finished": threading.Event(),
        }

    def routes(self) -> None:
        self.route("POST", "/v1/images/generations", self._images)
        self.route("POST", "/v1/audio/speech", self._speech)
        self.route("POST", "/v1/chat/completions", self._chat)
        self.route("GET", "/files/{name}", self._file)

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


class FakeReplicate(FakeServer):
    """/v1/predictions (create, get, cancel), /v1/models/{owner}/{name}/predictions, and
    /files/{name} for output downloads."""

    FILES: ClassVar[dict[str, tuple[bytes, str]]] = {"out-0.png": (PNG, "image/png"),
                                                     "out-1.mp4": (MP4, "video/mp4"),
                                                     "noext": (MP3, "application/octet-stream")}

    def defaults(self) -> dict[str, Any]:
        return {
            # What successive GETs of a prediction answer; the last one repeats.
            "polls": [{"status": "processing", "logs": "loading\n  5%|#         | 1/20"},
                      {"status": "processing", "logs": "loading\n  5%|#\n 60%|######    | 12/20"},
                      {"status": "succeeded", "output": [f"{self.url}/files/out-0.png"]}],
            "create_reply": None,  # a replacement for the creation reply
        }

    def routes(self) -> None:
        self.route("POST", "/v1/predictions", self._create)
        self.route("POST", "/v1/models/{owner}/{name}/predictions", self._create)
        self.route("GET", "/v1/predictions/{id}", self._get)
        self.route("POST", "/v1/predictions/{id}/cancel", self._cancel)
        self.route("GET", "/files/{name}", self._file)
        self._ids = itertools.count(1)

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


class FakeElevenLabs(FakeServer):
    """/v1/text-to-speech/{voice_id}: MP3 streamed in chunks."""

    def routes(self) -> None:
        self.route("POST", "/v1/text-to-speech/{voice_id}", self._speech)

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
