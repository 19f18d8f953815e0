"""Structured logs (F7): one JSON object per line, carrying the request id (API) or the
job id (workers) of whatever was running when the line was written.

The request id is the one the client sees in `X-Request-Id`; it also reaches the
database as the transaction's `application_name` ("studio-api <request id>", see
db/scopes.py), so a slow statement in PostgreSQL's log or in pg_stat_activity leads
straight back to the request, and the request's log line to the statement.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

request_id_var: ContextVar[str | None] = ContextVar("studio_request_id", default=None)
job_id_var: ContextVar[str | None] = ContextVar("studio_job_id", default=None)

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


def stamp_context_ids() -> None:
    """Copy the current request and job ids onto every log record when it is created,
    so a handler that formats it later (another thread, a test's capture) still has
    them. Idempotent."""
    current = logging.getLogRecordFactory()
    if getattr(current, "_studio_stamps", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        # Not named request_id/job_id: `extra={"request_id": ...}` must stay allowed.
        record.ctx_request_id = request_id_var.get()
        record.ctx_job_id = job_id_var.get()
        return record

    factory._studio_stamps = True  # type: ignore[attr-defined]  # a marker on the function, read above
    logging.setLogRecordFactory(factory)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,  # several API processes (STUDIO_API_WORKERS) share one stream
        }
        for name, var in (("request_id", request_id_var), ("job_id", job_id_var)):
            value = getattr(record, name, None) or getattr(record, f"ctx_{name}", None) or var.get()
            if value:
                entry[name] = value
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in entry and not key.startswith("ctx_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    """For a person at a terminal: the usual line, plus the ids when there are some."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = [f"{name}={value}" for name, var in (("request", request_id_var), ("job", job_id_var))
               if (value := getattr(record, f"{name}_id", None) or getattr(record, f"ctx_{name}_id", None)
                   or var.get())]
        return f"{line} [{' '.join(ids)}]" if ids else line


def configure(*, json_format: bool | None = None, level: int = logging.INFO) -> None:
    """Root logging to stderr. `json_format` None: JSON unless stderr is a terminal."""
    stamp_context_ids()
    if json_format is None:
        json_format = not sys.stderr.isatty()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_format else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Uvicorn's own loggers go through the root handler too (one format per process).
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
